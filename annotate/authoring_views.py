"""Admin pages for authoring (``authoring`` blueprint, ``/admin/authoring``, admins only):
open a long-document set (an uploaded L-Eval file or a stored source), browse its documents,
begin or continue, write / edit the instruction-reference pairs of one document beside the
document (with its search), export the set as L-Eval jsonl. The logic is
``annotate.authoring``; bad input is shown back with the field named and writes nothing."""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path
from typing import Any

from flask import (Blueprint, Response, abort, flash, g, redirect, render_template, request,
                   url_for)
from sqlalchemy import func, select
from werkzeug.utils import secure_filename

from arena.errors import InputError
from arena.store.annotation_schema import AuthoringDocument, AuthoringSet
from arena.store.schema import Question
from annotate import authoring, db, validate
from annotate.importer import check_file

log = logging.getLogger(__name__)

bp = Blueprint("authoring", __name__, url_prefix="/admin/authoring")


@bp.before_request
def _admins_only() -> None:
    if g.get("user") is None or g.user["role"] != "admin":
        abort(403)


def _set(conn: Any, set_id: int) -> Any:
    st = conn.execute(select(AuthoringSet).where(AuthoringSet.id == set_id)).first()
    if st is None:
        abort(404)
    return st


def _index(error: str | None = None, status: int = 200, form: Any = None) -> Any:
    with db.read() as conn:
        sets = conn.execute(
            select(AuthoringSet.id, AuthoringSet.name, AuthoringSet.source,
                   AuthoringSet.new_pairs_num, func.count(AuthoringDocument.id).label("docs"),
                   func.count(AuthoringDocument.done_at).label("done"))
            .outerjoin(AuthoringDocument, AuthoringDocument.set_id == AuthoringSet.id)
            .group_by(AuthoringSet.id, AuthoringSet.name, AuthoringSet.source,
                      AuthoringSet.new_pairs_num).order_by(AuthoringSet.id)).all()
        sources = conn.execute(select(Question.source).where(Question.document_id.is_not(None))
                               .distinct().order_by(Question.source)).scalars().all()
    return render_template("admin/authoring_index.html", sets=sets, sources=sources,
                           error=error, form=form or {}), status


@bp.route("/", methods=["GET", "POST"])
def index() -> Any:
    """The sets, and the form that opens a new one."""
    if request.method == "GET":
        return _index()
    f = request.form
    upload = request.files.get("file")
    try:
        n_new = validate.int_field(f.get("new_pairs_num"), "new_pairs_num", 0,
                                   authoring.MAX_NEW_PAIRS, 1)
        name = f.get("name", "")
        if upload is not None and upload.filename:
            source = (f.get("source") or "").strip() or \
                Path(secure_filename(upload.filename) or "documents").stem.split(".")[0]
            with tempfile.TemporaryDirectory(prefix="arena-authoring-") as tmp:
                path = Path(tmp) / (secure_filename(upload.filename) or "documents.jsonl")
                upload.save(path)
                check_file(path)
                set_id = db.write(lambda c: authoring.open_set(
                    c, name, source=source, path=path, new_pairs_num=n_new or 0,
                    created_by=g.user["id"]))
        else:
            source = (f.get("existing") or "").strip()
            if not source:
                raise InputError("upload an L-Eval file or choose a stored source",
                                 field="file")
            set_id = db.write(lambda c: authoring.open_set(
                c, name, source=source, new_pairs_num=n_new or 0, created_by=g.user["id"]))
    except InputError as err:
        return _index(str(err), 400, f)
    flash("Set opened.")
    return redirect(url_for("authoring.view_set", set_id=set_id)), 303


@bp.route("/<int:set_id>")
def view_set(set_id: int) -> Any:
    """Browse the set's documents; begin (the first) or continue (the first not done)."""
    with db.read() as conn:
        st = _set(conn, set_id)
        docs = authoring.documents(conn, set_id)
        resume = authoring.next_open(conn, set_id)
    return render_template("admin/authoring_set.html", st=st, docs=docs, resume=resume)


@bp.route("/<int:set_id>/docs/<int:seq>", methods=["GET", "POST"])
def edit_document(set_id: int, seq: int) -> Any:
    """One document with its pairs: edit them, add up to ``new_pairs_num`` new ones."""
    with db.read() as conn:
        st = _set(conn, set_id)
        try:
            doc = authoring.document(conn, set_id, seq)
        except LookupError:
            abort(404)
        pairs = authoring.current_pairs(conn, doc.id)
        n_docs = conn.execute(select(func.count()).select_from(AuthoringDocument)
                              .where(AuthoringDocument.set_id == set_id)).scalar_one()
    if request.method == "GET":
        return _page(st, doc, pairs, n_docs)
    f = request.form
    shown = validate.int_field(f.get("shown"), "shown", 0, 10_000, 0) or 0
    given = [(f.get(f"instruction_{k}", ""), f.get(f"reference_{k}", "")) for k in range(shown)]
    action = f.get("action", "save")
    try:
        got = db.write(lambda c: authoring.save_pairs(c, set_id, seq, given, g.user["id"],
                                                      done=action == "done"))
    except InputError as err:
        return _page(st, doc, pairs, n_docs, error=str(err), given=given, status=400)
    flash(f"Saved: {got['added']} new, {got['changed']} changed, {got['deleted']} removed "
          f"pair(s).")
    if action == "done":
        with db.read() as conn:
            nxt = authoring.next_open(conn, set_id)
        if nxt is None:
            flash("Every document of the set is done.")
            return redirect(url_for("authoring.view_set", set_id=set_id)), 303
        return redirect(url_for("authoring.edit_document", set_id=set_id, seq=nxt)), 303
    return redirect(url_for("authoring.edit_document", set_id=set_id, seq=seq)), 303


def _page(st: Any, doc: Any, pairs: list[authoring.Pair], n_docs: int, *,
          error: str | None = None, given: list[tuple[str, str]] | None = None,
          status: int = 200) -> Any:
    rows = [(p.instruction, p.reference, p.version) for p in pairs] + \
        [("", "", 0)] * int(st.new_pairs_num)
    if given is not None:  # show back what was sent
        rows = [(i, r, rows[k][2] if k < len(rows) else 0) for k, (i, r) in enumerate(given)]
    return render_template("admin/authoring_doc.html", st=st, doc=doc, rows=rows,
                           n_docs=n_docs, error=error), status


@bp.route("/<int:set_id>/export.jsonl")
def export(set_id: int) -> Any:
    """The set's current pairs as L-Eval jsonl."""
    with db.read() as conn:
        st = _set(conn, set_id)
        text = authoring.export_text(conn, set_id)
    name = secure_filename(f"{st.source}-authored") or f"set-{set_id}"
    return Response(text, mimetype="application/x-ndjson", headers={
        "Content-Disposition": f'attachment; filename="{name}.jsonl"'})
