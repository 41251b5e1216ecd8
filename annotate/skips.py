"""Skips: the items annotators passed over, with their reasons, for the dashboard and exports.

A skip is an ``Assignment`` with status ``skipped`` and ``skip_reason`` "<reason>" or
"<reason>: <details>" (``annotate.review``); it is never a verdict. Annotators are named by
pseudonym unless ``real_names``. Nothing here writes.
"""

from __future__ import annotations

from collections import Counter
from typing import Any, Iterator

from sqlalchemy import Connection, select

from arena.errors import InputError
from arena.store.annotation_schema import Assignment, TaskItem, User
from annotate.export import FORMATS, write_rows

REASONS = ("cannot judge (outside my knowledge)", "text is broken or empty",
           "question is unclear", "other")
FIELDS = ("assignment_id", "task_id", "item_id", "question_id", "model_a", "model_b",
          "annotator", "round", "reason", "detail", "skipped_at")


def split_reason(text: str | None) -> tuple[str, str]:
    """(reason, details) of a stored skip reason."""
    text = text or ""
    for r in REASONS:
        if text == r:
            return r, ""
        if text.startswith(r + ": "):
            return r, text[len(r) + 2:]
    return text, ""


def rows(conn: Connection, task_id: int, *, real_names: bool = False) -> Iterator[dict[str, Any]]:
    """The task's skips, oldest first (dicts with ``FIELDS``)."""
    name = User.username if real_names else User.pseudonym
    q = (select(Assignment.id, Assignment.round, Assignment.skip_reason, Assignment.finished_at,
                TaskItem.id.label("item_id"), TaskItem.question_id, TaskItem.model_a,
                TaskItem.model_b, name.label("who"))
         .join(TaskItem, TaskItem.id == Assignment.item_id)
         .join(User, User.id == Assignment.annotator_id)
         .where(Assignment.task_id == task_id, Assignment.status == "skipped")
         .order_by(Assignment.finished_at, Assignment.id))
    for r in conn.execute(q):
        reason, detail = split_reason(r.skip_reason)
        yield {"assignment_id": r.id, "task_id": task_id, "item_id": r.item_id,
               "question_id": r.question_id, "model_a": r.model_a, "model_b": r.model_b,
               "annotator": r.who, "round": r.round, "reason": reason, "detail": detail,
               "skipped_at": r.finished_at.isoformat() if r.finished_at else None}


def summary(conn: Connection, task_id: int) -> list[tuple[str, int]]:
    """(reason, count), most frequent first."""
    got = Counter(split_reason(t)[0] for t in conn.execute(
        select(Assignment.skip_reason).where(Assignment.task_id == task_id,
                                             Assignment.status == "skipped")).scalars())
    return got.most_common()


def export_text(conn: Connection, task_id: int, fmt: str, *, real_names: bool = False) -> str:
    """The skips as JSONL or CSV (CSV cells made inert as in ``annotate.export``)."""
    if fmt not in FORMATS:
        raise InputError(f"format must be one of {', '.join(FORMATS)}", field="format")
    return write_rows(rows(conn, task_id, real_names=real_names), fmt, FIELDS)
