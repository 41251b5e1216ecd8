"""The annotator's pages (``review`` blueprint) and JSON endpoints (``api`` blueprint).

Pages: task list with begin/continue, the review page of one leased item, skip, "my
verdicts" with edit. JSON: ``POST /api/tasks/<id>/next`` and ``POST /api/assignments/<id>/
verdict`` (session cookie + ``X-CSRF-Token`` header). An annotator only ever reaches their own
assignments and verdicts: anything else is a 404, never a hint that it exists.
"""

from __future__ import annotations

import logging
from typing import Any, Optional

from flask import (Blueprint, abort, flash, g, jsonify, redirect, render_template, request,
                   url_for)
from sqlalchemy import select

from arena.errors import InputError
from arena.store.schema import Question
from annotate import assign, db, members, present, validate, verdicts
from annotate.skips import REASONS as SKIP_REASONS

log = logging.getLogger(__name__)

bp = Blueprint("review", __name__)
api = Blueprint("api", __name__, url_prefix="/api")



def _uid() -> int:
    return int(g.user["id"])


def _task_or_404(task_id: int) -> Any:
    """The task if this user may see it (``annotate.members``), else a 404."""
    with db.read() as conn:
        task = members.task_for(conn, task_id, _uid())
    if task is None:
        abort(404)
    return task


@bp.route("/")
def index() -> Any:
    uid = _uid()
    with db.read() as conn:
        rows = [(t, present.progress(conn, t.id, uid)) for t in members.visible_tasks(conn, uid)]
    return render_template("index.html", rows=rows, title=present.public_title)


@bp.route("/tasks/<int:task_id>/next", methods=["POST"])
def next_item(task_id: int) -> Any:
    """Begin or continue: the live lease, else a new one; else the 'all done' page."""
    task = _task_or_404(task_id)
    lease = db.write(lambda c: assign.claim(c, task_id, _uid()))
    if lease is None:
        with db.read() as conn:
            prog = present.progress(conn, task_id, _uid())
        return render_template("done.html", task=task, progress=prog,
                               title=present.public_title(task))
    return redirect(url_for("review.item", assignment_id=lease.assignment_id))


def _render_item(ctx: Any, *, edit_of: Optional[Any] = None, error: Optional[str] = None,
                 status: int = 200) -> Any:
    top = verdicts.scale_max(ctx.scale, ctx.settings or {})
    with db.read() as conn:
        view = present.item_view(conn, ctx, top)
        prog = present.progress(conn, ctx.task_id, _uid())
    chosen = None
    if edit_of is not None:
        chosen = {"choice": verdicts.outcome_to_choice(edit_of.outcome, edit_of.first),
                  "score": int(edit_of.score_a) if edit_of.score_a is not None else None,
                  "scores": edit_of.scores or {}, "comment": edit_of.comment or ""}
    return render_template("review.html", v=view, progress=prog, edit_of=edit_of,
                           chosen=chosen, submission_id=verdicts.new_submission_id(),
                           skip_reasons=SKIP_REASONS, error=error), status


@bp.route("/a/<int:assignment_id>")
def item(assignment_id: int) -> Any:
    with db.read() as conn:
        ctx = verdicts.assignment_context(conn, assignment_id, _uid())
    if ctx is None:
        abort(404)
    if ctx.status != assign.LIVE:
        if ctx.judgment_id:
            return redirect(url_for("review.edit", judgment_id=ctx.judgment_id))
        return redirect(url_for("review.index"))
    return _render_item(ctx)


@bp.route("/a/<int:assignment_id>/submit", methods=["POST"])
def submit(assignment_id: int) -> Any:
    uid = _uid()
    form = request.form
    try:
        elapsed = verdicts.elapsed_seconds(form.get("elapsed_ms"))
        stored = db.write(lambda c: verdicts.submit(
            c, assignment_id, uid, form.to_dict(), form.get("submission_id", ""), elapsed))
    except LookupError:
        abort(404)
    except InputError as err:
        with db.read() as conn:
            ctx = verdicts.assignment_context(conn, assignment_id, uid)
        if ctx is None:
            abort(404)
        return _render_item(ctx, error=str(err), status=400)
    except verdicts.TaskClosed as err:
        abort(409, description=str(err))
    except verdicts.Conflict as err:
        flash(str(err))
        return redirect(url_for("review.index"))
    with db.read() as conn:
        ctx = verdicts.assignment_context(conn, assignment_id, uid)
    if stored.duplicate:
        log.info("duplicate submit for assignment %d ignored", assignment_id)
    # Straight on to the next item of the same task.
    return next_item(ctx.task_id)


@bp.route("/a/<int:assignment_id>/skip", methods=["POST"])
def skip(assignment_id: int) -> Any:
    uid = _uid()
    reason = (request.form.get("reason") or "").strip()
    detail = (request.form.get("detail") or "").strip()[:1000]
    with db.read() as conn:
        ctx = verdicts.assignment_context(conn, assignment_id, uid)
    if ctx is None:
        abort(404)
    if reason not in SKIP_REASONS:
        return _render_item(ctx, error="field 'reason': choose a reason to skip", status=400)
    text = f"{reason}: {detail}" if detail else reason
    db.write(lambda c: assign.release(c, assignment_id, uid, status="skipped", reason=text))
    return next_item(ctx.task_id)


@bp.route("/tasks/<int:task_id>/mine")
def mine(task_id: int) -> Any:
    task = _task_or_404(task_id)
    uid = _uid()
    with db.read() as conn:
        rows = verdicts.my_verdicts(conn, task_id, uid)
        prog = present.progress(conn, task_id, uid)
        qids = list({r.question_id for r in rows})
        questions = dict(conn.execute(select(Question.id, Question.turns)
                                      .where(Question.id.in_(qids))).all()) if qids else {}
    items = []
    for r in rows:
        turns = questions.get(r.question_id) or [""]
        first_turn = str(turns[0]) if turns else ""
        items.append({"id": r.id, "question": first_turn[:160] + ("…" if len(first_turn) > 160
                                                                  else ""),
                      "choice": verdicts.outcome_to_choice(r.outcome, r.first),
                      "score": r.score_a, "scores": r.scores, "comment": r.comment,
                      "edited": r.supersedes_id is not None, "created_at": r.created_at})
    return render_template("mine.html", task=task, items=items, progress=prog,
                           title=present.public_title(task))


@bp.route("/verdicts/<int:judgment_id>/edit", methods=["GET", "POST"])
def edit(judgment_id: int) -> Any:
    uid = _uid()
    with db.read() as conn:
        old = verdicts.current_verdict(conn, judgment_id, uid)
        aid = (old.meta or {}).get("assignment_id") if old is not None else None
        ctx = verdicts.assignment_context(conn, int(aid), uid) if aid else None
        if ctx is not None and ctx.judgment_id and ctx.judgment_id != judgment_id:
            old = verdicts.current_verdict(conn, ctx.judgment_id, uid)  # newest of the chain
    if old is None or ctx is None:
        abort(404)
    if request.method == "GET":
        return _render_item(ctx, edit_of=old)
    form = request.form
    try:
        db.write(lambda c: verdicts.edit(c, old.id, uid, form.to_dict(),
                                         form.get("submission_id", "")))
    except LookupError:
        abort(404)
    except InputError as err:
        return _render_item(ctx, edit_of=old, error=str(err), status=400)
    except verdicts.TaskClosed as err:
        abort(409, description=str(err))
    flash("Verdict updated.")
    return redirect(url_for("review.mine", task_id=ctx.task_id))


# --- JSON endpoints ---

def _item_json(lease: assign.Lease) -> dict[str, Any]:
    # The hot path: the task row came with the claim, the item's rendered content from the
    # app's cache (one query on a miss): no further database work for a served item.
    task = lease.task
    content = db.app_store().content.get(db.read_once, lease.item_id)
    if task is None or content is None:  # gone between claim and read: cannot happen
        abort(404)
    criteria = list(task.criteria or [])
    return {
        "assignment_id": lease.assignment_id, "task_id": lease.task_id, "scale": task.scale,
        "criteria": criteria, "criteria_max": verdicts.scale_max(task.scale, task.settings or {}),
        "question": list(content.question_turns), "document": content.document,
        "document_id": content.document_id,
        "references": [{"label": a, "turns": list(ts)} for a, ts in content.references],
        "answers": [{"label": label, "turns": list(turns)}
                    for label, turns in zip("AB", present.shown_order(content, lease.first))],
        "expires_at": lease.expires_at.isoformat(), "resumed": lease.resumed,
        "submission_id": verdicts.new_submission_id(),
    }


@api.route("/tasks/<int:task_id>/next", methods=["POST"])
def api_next(task_id: int) -> Any:
    uid = _uid()
    lease = db.write(lambda c: assign.claim(c, task_id, uid))
    if lease is None:
        _task_or_404(task_id)  # an unknown (or hidden) task is a 404, a finished one "done"
        return jsonify(done=True), 200
    return jsonify(done=False, item=_item_json(lease))


@api.route("/assignments/<int:assignment_id>/verdict", methods=["POST"])
def api_verdict(assignment_id: int) -> Any:
    """Store a verdict; with ``"next": true`` also lease the next item of the same task in the
    same transaction and answer it as ``next`` (``{done, item}``, as ``/api/tasks/<id>/next``):
    one request per item instead of two. A retried request gets the same verdict and the same
    next item (the live lease)."""
    uid = _uid()
    try:
        data = validate.json_body()
        elapsed = verdicts.elapsed_seconds(data.get("elapsed_ms"))
        want_next = data.get("next") is True

        def do(c: Any) -> tuple[verdicts.Stored, Optional[assign.Lease]]:
            stored = verdicts.submit(c, assignment_id, uid, data,
                                     data.get("submission_id") or "", elapsed)
            lease = assign.claim(c, stored.task_id, uid, after=stored.task) \
                if want_next and stored.task_id is not None else None
            return stored, lease

        stored, lease = db.write(do)
    except LookupError:
        abort(404)
    except InputError as err:
        return jsonify(error="Bad Request", detail=str(err), field=err.field), 400
    except verdicts.Conflict as err:
        return jsonify(error="Conflict", detail=str(err)), 409
    out: dict[str, Any] = {"judgment_id": stored.judgment_id, "duplicate": stored.duplicate}
    if want_next:
        out["next"] = {"done": lease is None, **({"item": _item_json(lease)} if lease else {})}
    return jsonify(out)
