"""Admin pages for adjudication (``adjudicate`` blueprint, under ``/admin``, admins only):
the paginated list of disagreements with their question text, and the item page (document,
question, references, both answers with model names, every verdict and comment, the skips)
with the form that stores the admin's verdict (``annotate.adjudicate``)."""

from __future__ import annotations

import logging
import math
from typing import Any

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from sqlalchemy import select

from arena.errors import InputError
from arena.render import markdown
from arena.store.annotation_schema import Task
from arena.store.schema import Question
from annotate import adjudicate, db, validate, verdicts

log = logging.getLogger(__name__)

bp = Blueprint("adjudicate", __name__, url_prefix="/admin")
PAGE_SIZE = 25
SNIPPET = 200


@bp.before_request
def _admins_only() -> None:
    if g.get("user") is None or g.user["role"] != "admin":
        abort(403)


def _task(conn: Any, task_id: int) -> Any:
    t = conn.execute(select(Task).where(Task.id == task_id)).first()
    if t is None:
        abort(404)
    return t


def snippet(turns: Any, n: int = SNIPPET) -> str:
    """The first turn of a question, cut to ``n`` characters (plain text)."""
    first = str((turns or [""])[0] if isinstance(turns, list) else turns or "")
    first = " ".join(first.split())
    return first[:n] + ("…" if len(first) > n else "")


def disagreement_page(conn: Any, task_id: int, page: int, size: int = PAGE_SIZE
                      ) -> dict[str, Any]:
    """One page of the task's disagreements, each with its question's text and whether it is
    adjudicated already; ``pages`` is how many there are."""
    from annotate import dashboard

    every = dashboard.disagreements(conn, task_id, limit=None)
    pages = max(1, math.ceil(len(every) / size))
    page = min(max(page, 1), pages)
    rows = every[(page - 1) * size: page * size]
    qids = sorted({d.question_id for d in rows})
    texts = dict(conn.execute(select(Question.id, Question.turns)
                              .where(Question.id.in_(qids))).all()) if qids else {}
    done = adjudicate.adjudicated_items(conn, task_id)
    return {"rows": [(d, snippet(texts.get(d.question_id)), d.item_id in done) for d in rows],
            "page": page, "pages": pages, "total": len(every), "adjudicated": len(done)}


@bp.route("/tasks/<int:task_id>/disagreements")
def disagreements(task_id: int) -> Any:
    page = validate.int_field(request.args.get("page"), "page", 1, 100_000, 1) or 1
    with db.read() as conn:
        t = _task(conn, task_id)
        data = disagreement_page(conn, task_id, page)
    return render_template("admin/disagreements.html", t=t, d=data,
                           mode=adjudicate.mode_of(t.settings))


@bp.route("/tasks/<int:task_id>/items/<int:item_id>")
def item(task_id: int, item_id: int) -> Any:
    """The adjudication page of one item."""
    with db.read() as conn:
        t = _task(conn, task_id)
        try:
            data = adjudicate.item_page(conn, task_id, item_id)
        except LookupError:
            abort(404)
    return render_template(
        "admin/item.html", t=t, it=data["item"], data=data,
        question=[markdown(str(x)) for x in data["question"]],
        references=[(a, [markdown(str(x)) for x in turns]) for a, turns in data["references"]],
        answers=[(m, [markdown(str(x)) for x in turns]) for m, turns in data["answers"]],
        submission_id=verdicts.new_submission_id(), back=request.args.get("back", ""))


@bp.route("/tasks/<int:task_id>/items/<int:item_id>/adjudicate", methods=["POST"])
def submit(task_id: int, item_id: int) -> Any:
    f = request.form
    admin = int(g.user["id"])
    try:
        db.write(lambda c: adjudicate.adjudicate(c, task_id, item_id, admin, f.to_dict(),
                                                 f.get("submission_id", "")))
    except LookupError:
        abort(404)
    except InputError as err:
        flash(str(err))
        return redirect(url_for("adjudicate.item", task_id=task_id, item_id=item_id)), 303
    flash(f"Item {item_id} adjudicated.")
    back = f.get("back", "")
    if back.isdigit():
        return redirect(url_for("adjudicate.disagreements", task_id=task_id, page=int(back))), 303
    return redirect(url_for("adjudicate.item", task_id=task_id, item_id=item_id)), 303
