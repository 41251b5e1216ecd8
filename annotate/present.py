"""What an annotator sees for one assignment, built on the server.

The view never contains model names, answer ids or which side is ``model_a``: the two answers
are given as ``left`` / ``right`` in the order this annotator's assignment fixed. Nor does it
name the task (annotators see its public title, ``public_title``) or the authors of reference
answers ("Reference 1", "Reference 2", ...): either could tell which side is a baseline. All text is
rendered through ``arena.render`` (markdown with HTML off, then the sanitiser); a document
is passed as plain text (the template escapes it).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

from markupsafe import Markup
from sqlalchemy import Connection, bindparam, func, select
from sqlalchemy.orm import aliased

from arena.store.annotation_schema import Assignment, Task, TaskItem
from arena.store.schema import Answer, Document, Question, Reference
from arena.render import markdown
from annotate import assign


@dataclass
class Shown:
    label: str  # "A" (shown first / left) or "B"
    turns: list[Markup]


def public_title(task: Any) -> str:
    """What annotators call a task: its public title, else "Task <id>" (never its name)."""
    title = getattr(task, "public_title", None)
    return str(title) if title else f"Task {task.id}"


def reference_labels(n: int) -> list[str]:
    return ["Reference" if n == 1 else f"Reference {i + 1}" for i in range(n)]


@dataclass
class ItemView:
    assignment_id: int
    task_id: int
    task_title: str
    task_status: str
    mode: str
    scale: str
    criteria: list[str]
    criteria_max: int
    question_turns: list[Markup]
    category: str
    document: Optional[str]
    document_id: Optional[str] = None
    references: list[tuple[str, list[Markup]]] = field(default_factory=list)
    answers: list[Shown] = field(default_factory=list)
    guidelines: Markup = Markup("")


def _turns(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    return [str(t) if t is not None else "" for t in value]


def item_view(conn: Connection, ctx: Any, criteria_max: int) -> ItemView:
    """Build the view of an assignment context (``verdicts.assignment_context``)."""
    task = conn.execute(select(Task.id, Task.public_title, Task.status, Task.archived,
                               Task.show_references, Task.guidelines)
                        .where(Task.id == ctx.task_id)).first()
    q = conn.execute(select(Question.turns, Question.category, Question.document_id)
                     .where(Question.id == ctx.question_id)).first()
    doc = None
    if q.document_id:
        doc = conn.execute(select(Document.text).where(Document.id == q.document_id)).scalar()
    refs: list[tuple[str, list[Markup]]] = []
    if task.show_references:
        rows = conn.execute(select(Reference.turns).where(
            Reference.question_id == ctx.question_id).order_by(Reference.author)).scalars().all()
        refs = [(label, [markdown(t) for t in _turns(turns)])
                for label, turns in zip(reference_labels(len(rows)), rows)]
    ids = [ctx.answer_a_id] if ctx.answer_b_id is None else (
        [ctx.answer_a_id, ctx.answer_b_id] if (ctx.first or "A") == "A"
        else [ctx.answer_b_id, ctx.answer_a_id])
    texts = dict(conn.execute(select(Answer.id, Answer.turns).where(Answer.id.in_(ids))).all())
    answers = [Shown(label, [markdown(t) for t in _turns(texts.get(aid))])
               for label, aid in zip("AB", ids)]
    return ItemView(
        assignment_id=ctx.id, task_id=ctx.task_id, task_title=public_title(task),
        task_status="archived" if task.archived else task.status, mode=ctx.mode,
        scale=ctx.scale, criteria=list(ctx.criteria or []), criteria_max=criteria_max,
        question_turns=[markdown(t) for t in _turns(q.turns)], category=q.category or "",
        document=doc, document_id=q.document_id if doc is not None else None,
        references=refs, answers=answers,
        guidelines=markdown(task.guidelines) if task.guidelines else Markup(""))


@dataclass
class Progress:
    mine_done: int
    mine_skipped: int
    task_items: int
    task_complete: int  # items with ``overlap`` verdicts
    open_for_me: int  # items I could still be given

    @property
    def my_total(self) -> int:
        return self.mine_done + self.open_for_me


def progress(conn: Connection, task_id: int, user_id: int) -> Progress:
    """Counts for the progress bar and the task list."""
    overlap = conn.execute(select(Task.overlap).where(Task.id == task_id)).scalar() or 1
    counts = dict(conn.execute(select(Assignment.status, func.count()).where(
        Assignment.task_id == task_id, Assignment.annotator_id == user_id,
        Assignment.round == 1).group_by(Assignment.status)).all())
    items = conn.execute(select(func.count()).select_from(TaskItem)
                         .where(TaskItem.task_id == task_id)).scalar_one()
    complete = assign.complete_items(conn, task_id, overlap)
    touched = select(Assignment.item_id).where(
        Assignment.task_id == task_id, Assignment.annotator_id == user_id,
        Assignment.round == 1, Assignment.status != "expired")
    open_for_me = conn.execute(select(func.count()).select_from(TaskItem).where(
        TaskItem.task_id == task_id, TaskItem.held_count < overlap,
        TaskItem.id.not_in(touched))).scalar_one()
    live = counts.get("leased", 0)
    return Progress(mine_done=counts.get("done", 0), mine_skipped=counts.get("skipped", 0),
                    task_items=int(items), task_complete=int(complete),
                    open_for_me=int(open_for_me) + int(live))


# --- the JSON API's item content, cached per item ---------------------------------------------

@dataclass(frozen=True)
class ItemContent:
    """Everything an item shows that never changes: questions, answers and documents are
    immutable rows, and a task's ``show_references`` is fixed at creation."""

    answer_a_id: int
    answer_b_id: Optional[int]
    question_turns: tuple[str, ...]
    category: str
    document: Optional[str]
    document_id: Optional[str]
    references: tuple[tuple[str, tuple[str, ...]], ...]  # (label, turns): no author
    answers: dict[int, tuple[str, ...]]


_A, _B = aliased(Answer), aliased(Answer)
_CONTENT = (select(TaskItem.answer_a_id, TaskItem.answer_b_id, TaskItem.question_id,
                   Question.turns.label("q_turns"), Question.category, Document.text.label("doc"),
                   Document.id.label("doc_id"),
                   Task.show_references, _A.turns.label("a_turns"), _B.turns.label("b_turns"))
            .select_from(TaskItem)
            .join(Task, Task.id == TaskItem.task_id)
            .join(Question, Question.id == TaskItem.question_id)
            .outerjoin(Document, Document.id == Question.document_id)
            .join(_A, _A.id == TaskItem.answer_a_id)
            .outerjoin(_B, _B.id == TaskItem.answer_b_id)
            .where(TaskItem.id == bindparam("p_item")))
_REFS = (select(Reference.turns)
         .where(Reference.question_id == bindparam("p_q")).order_by(Reference.author))


class ContentCache:
    """A bounded, thread-safe LRU of ``ItemContent`` by item id (one per app)."""

    def __init__(self, size: int = 4096) -> None:
        self.size = size
        self._data: OrderedDict[int, ItemContent] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, conn_factory: Callable[[], Any], item_id: int) -> Optional[ItemContent]:
        with self._lock:
            hit = self._data.get(item_id)
            if hit is not None:
                self._data.move_to_end(item_id)
                return hit
        with conn_factory() as conn:
            row = conn.execute(_CONTENT, {"p_item": item_id}).first()
            if row is None:
                return None
            refs = conn.execute(_REFS, {"p_q": row.question_id}).scalars().all() \
                if row.show_references else []
        answers = {row.answer_a_id: tuple(str(markdown(t)) for t in _turns(row.a_turns))}
        if row.answer_b_id is not None:
            answers[row.answer_b_id] = tuple(str(markdown(t)) for t in _turns(row.b_turns))
        content = ItemContent(
            answer_a_id=row.answer_a_id, answer_b_id=row.answer_b_id,
            question_turns=tuple(str(markdown(t)) for t in _turns(row.q_turns)),
            category=row.category or "", document=row.doc, document_id=row.doc_id,
            references=tuple((label, tuple(str(markdown(t)) for t in _turns(ts)))
                             for label, ts in zip(reference_labels(len(refs)), refs)),
            answers=answers)
        with self._lock:
            self._data[item_id] = content
            while len(self._data) > self.size:
                self._data.popitem(last=False)
        return content


def shown_order(content: ItemContent, first: Optional[str]) -> list[tuple[str, ...]]:
    """The answers' turns in display order for an assignment's ``first``."""
    if content.answer_b_id is None:
        return [content.answers[content.answer_a_id]]
    ids = [content.answer_a_id, content.answer_b_id]
    if (first or "A") == "B":
        ids.reverse()
    return [content.answers[i] for i in ids]
