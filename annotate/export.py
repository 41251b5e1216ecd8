"""Export a task's human verdicts as JSONL or CSV.

Annotators are named by their pseudonym (``User.pseudonym``, e.g. ``ann-3f9c01a2b4c5``) unless
``real_names=True`` is asked for explicitly. Each row carries the display order (``first``:
which of model_a / model_b was shown on the left, and the left / right model names), the
round (2 = a swap probe), time on task, the item kind (gold checks are marked) and, for a
correction, the verdict it supersedes. By default only current verdicts are exported
(``include_superseded`` adds the replaced ones). CSV cells hold JSON for rubric scores.

Untrusted text is made harmless for the programs that open exports: a CSV cell that starts
with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return gets a leading ``'`` (a
spreadsheet would run it as a formula: ``=HYPERLINK(...)``), and a number that is not finite is
written as ``null`` (JSON has no ``NaN``).
"""

from __future__ import annotations

import csv
import io
import json
import math
from typing import Any, Iterator

from sqlalchemy import Connection, select
from sqlalchemy.orm import aliased

from arena.errors import InputError
from arena.store.annotation_schema import TaskItem, User
from arena.store.schema import Judgment
from annotate.verdicts import HUMAN_KINDS

FORMATS = ("jsonl", "csv")
FIELDS = ("judgment_id", "task_id", "item_id", "item_kind", "question_id", "model_a", "model_b",
          "annotator", "round", "first", "left_model", "right_model", "outcome", "choice",
          "score", "scores", "comment", "time_on_task_s", "created_at", "supersedes_id",
          "superseded")


def rows(conn: Connection, task_id: int, *, real_names: bool = False,
         include_superseded: bool = False) -> Iterator[dict[str, Any]]:
    """The task's verdict rows (dicts with ``FIELDS``), oldest first."""
    newer = aliased(Judgment)
    superseded = select(newer.id).where(newer.supersedes_id == Judgment.id).exists()
    name_col = User.username if real_names else User.pseudonym
    q = (select(Judgment, name_col.label("who"), superseded.label("is_old"),
                TaskItem.kind.label("item_kind"))
         .join(User, User.id == Judgment.annotator_id, isouter=True)
         .join(TaskItem, TaskItem.id == Judgment.meta["item_id"].as_integer(), isouter=True)
         .where(Judgment.task_id == task_id, Judgment.judge_kind.in_(HUMAN_KINDS))
         .order_by(Judgment.created_at, Judgment.id))
    if not include_superseded:
        q = q.where(~superseded)
    for j in conn.execute(q):
        who, is_old, kind = j.who, j.is_old, j.item_kind
        meta = j.meta or {}
        left, right = (j.model_a, j.model_b) if (j.first or "A") == "A" else (j.model_b, j.model_a)
        yield {
            "judgment_id": j.id, "task_id": j.task_id, "item_id": meta.get("item_id"),
            "item_kind": kind or "normal", "question_id": j.question_id,
            "model_a": j.model_a, "model_b": j.model_b,
            "annotator": who if who is not None else f"user-{j.annotator_id}",
            "round": j.round, "first": j.first,
            "left_model": left if j.model_b is not None else None,
            "right_model": right if j.model_b is not None else None,
            "outcome": j.outcome, "choice": meta.get("choice"), "score": j.score_a,
            "scores": j.scores, "comment": j.comment, "time_on_task_s": j.time_on_task_s,
            "created_at": j.created_at.isoformat() if j.created_at else None,
            "supersedes_id": j.supersedes_id, "superseded": bool(is_old),
        }


def export_text(conn: Connection, task_id: int, fmt: str, *, real_names: bool = False,
                include_superseded: bool = False) -> str:
    """The export as text (UTF-8 when written; CJK is kept as is, not escaped).

    Raises InputError for an unknown format."""
    if fmt not in FORMATS:
        raise InputError(f"format must be one of {', '.join(FORMATS)}", field="format")
    data = rows(conn, task_id, real_names=real_names, include_superseded=include_superseded)
    return write_rows(data, fmt, FIELDS)


FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: Any) -> Any:
    """A value as a CSV cell: JSON for lists and dicts, text that cannot start a formula."""
    if isinstance(value, (dict, list)):
        value = json.dumps(finite(value), ensure_ascii=False, allow_nan=False)
    if isinstance(value, float) and not math.isfinite(value):
        return ""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def finite(value: Any) -> Any:
    """``value`` with every non-finite float replaced by None (recursively)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [finite(v) for v in value]
    return value


def write_rows(data: Any, fmt: str, fields: tuple[str, ...]) -> str:
    """Rows (dicts with ``fields``) as JSONL or CSV text, made safe as described above."""
    if fmt == "jsonl":
        return "".join(json.dumps(finite(r), ensure_ascii=False, allow_nan=False) + "\n"
                       for r in data)
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=fields, lineterminator="\n")
    w.writeheader()
    for r in data:
        w.writerow({k: csv_cell(v) for k, v in r.items()})
    return buf.getvalue()
