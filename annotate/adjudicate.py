"""Adjudication: an admin resolves a disagreement with their own verdict on the item.

- The verdict is a ``Judgment`` with ``judge_kind = "human-adjudicated"``, the admin as
  ``annotator_id``, ``meta.item_id`` and ``meta.adjudication``; a second adjudication of the
  same item supersedes the first (``supersedes_id``; append-only as every verdict).
  Pairwise outcomes are given in model terms (the admin sees the names): A = model_a.
- How it counts is the task setting ``adjudication`` (``MODES``):
  ``final`` (default) - on an adjudicated item the adjudicated verdict replaces the
  annotators' verdicts in the task's leaderboard; ``extra`` - it counts as one more verdict;
  ``ignore`` - it is shown and exported, never counted.
  Agreement and annotator statistics never include it (it is not an annotator's work), and
  gold verdicts (``human-gold``) are never counted by any setting.
- Machine leaderboards (pipeline, battle browser) read the kinds their config lists
  (``ratings.judge_kinds``); ``human-adjudicated`` is not among the defaults, so adjudicated
  verdicts enter them only when a config names that kind.
Raises InputError for bad fields, LookupError for an item that is not the task's; nothing is
written then.
"""

from __future__ import annotations

import logging
from typing import Any, Iterable, Mapping, Optional

from sqlalchemy import Connection, and_, func, or_, select
from sqlalchemy.orm import aliased

from arena.errors import InputError
from arena.store.annotation_schema import Assignment, Task, TaskItem, User
from arena.store.schema import Answer, Document, Judgment, Question, Reference, utcnow
from arena.types import Outcome
from annotate import assign, verdicts
from annotate.gold import GOLD_KIND

log = logging.getLogger(__name__)

ADJUDICATED_KIND = "human-adjudicated"
MODES = ("final", "extra", "ignore")
DEFAULT_MODE = "final"
OUTCOMES = tuple(o.value for o in Outcome)


def mode_of(settings: Optional[Mapping[str, Any]]) -> str:
    """The task's adjudication setting (``DEFAULT_MODE`` when unset or unknown)."""
    got = (settings or {}).get("adjudication", DEFAULT_MODE)
    return got if got in MODES else DEFAULT_MODE


def check_mode(value: Any) -> str:
    if value not in MODES:
        raise InputError(f"adjudication must be one of {', '.join(MODES)}",
                         field="adjudication")
    return str(value)


_DONE = (select(func.count()).where(Assignment.item_id == TaskItem.id, *assign.ITEM_VERDICT)
         .scalar_subquery())
_ITEM = (select(TaskItem, Task.scale, Task.criteria, Task.settings, Task.mode.label("task_mode"),
                _DONE.label("done"))
         .join(Task, Task.id == TaskItem.task_id))


def _item(conn: Connection, task_id: int, item_id: int) -> Any:
    row = conn.execute(_ITEM.where(TaskItem.id == item_id, TaskItem.task_id == task_id)).first()
    if row is None:
        raise LookupError(item_id)
    return row


def _parse(it: Any, data: Mapping[str, Any]) -> verdicts.Verdict:
    if it.scale == "pairwise":
        outcome = str(data.get("outcome") or "").upper()
        if outcome not in OUTCOMES:
            raise InputError(f"outcome must be one of {', '.join(OUTCOMES)}", field="outcome")
        comment = data.get("comment")
        v = verdicts.parse_verdict("pairwise", [], {}, "A",
                                   {"choice": {"A": "left", "B": "right", "TIE": "tie",
                                               "BOTH_BAD": "both_bad"}[outcome],
                                    "comment": comment})
        v.choice = None  # the admin chose in model terms, not a displayed side
        return v
    return verdicts.parse_verdict(it.scale, list(it.criteria or []), it.settings or {}, None,
                                  data)


def current(conn: Connection, task_id: int, item_id: int) -> Optional[Any]:
    """The item's current (not superseded) adjudicated verdict, or None."""
    newer = aliased(Judgment)
    return conn.execute(select(Judgment).where(
        Judgment.task_id == task_id, Judgment.judge_kind == ADJUDICATED_KIND,
        Judgment.meta["item_id"].as_integer() == item_id,
        ~select(newer.id).where(newer.supersedes_id == Judgment.id).exists())
        .order_by(Judgment.id.desc()).limit(1)).first()


def adjudicate(conn: Connection, task_id: int, item_id: int, admin_id: int,
               data: Mapping[str, Any], submission_id: str) -> int:
    """Store the admin's verdict on the item (superseding an earlier adjudication); return
    its id. A repeated ``submission_id`` returns the stored row's id."""
    if not submission_id or not isinstance(submission_id, str) or len(submission_id) > 64:
        raise InputError("submission_id is required (at most 64 characters)",
                         field="submission_id")
    dup = conn.execute(select(Judgment.id, Judgment.annotator_id)
                       .where(Judgment.submission_id == submission_id)).first()
    if dup is not None:
        if dup.annotator_id != admin_id:
            raise InputError("this submission id belongs to someone else",
                             field="submission_id")
        return int(dup.id)
    it = _item(conn, task_id, item_id)
    if it.kind == "gold":
        raise InputError("gold items have a known answer; there is nothing to adjudicate",
                         field="item_id")
    v = _parse(it, data)
    before = current(conn, task_id, item_id)
    single = it.answer_b_id is None
    row = {
        "mode": it.task_mode, "battle_id": it.battle_id,
        "answer_id": it.answer_a_id if single else None, "question_id": it.question_id,
        "model_a": it.model_a, "model_b": it.model_b, "answer_a_id": it.answer_a_id,
        "answer_b_id": it.answer_b_id, "first": None if single else "A",
        "judge_kind": ADJUDICATED_KIND, "judge_id": f"adjudicator:{admin_id}",
        "policy": None if single else "none", "outcome": v.outcome, "score_a": v.score,
        "scores": v.scores, "annotator_id": admin_id, "task_id": task_id, "round": None,
        "submission_id": submission_id, "comment": v.comment,
        "supersedes_id": int(before.id) if before is not None else None,
        "parse_status": "ok", "created_at": utcnow(),
        "meta": {"item_id": item_id, "adjudication": True, "scale": it.scale},
    }
    jid = conn.execute(Judgment.__table__.insert().values(**row).returning(Judgment.id)
                       ).scalar_one()
    log.info("task %d item %d adjudicated by user %d (judgment %d)", task_id, item_id,
             admin_id, jid)
    return int(jid)


def counted_ids(conn: Connection, task_id: int, rounds: Iterable[int],
                mode: Optional[str] = None) -> list[int]:
    """Ids of the task's verdicts a leaderboard counts under the adjudication ``mode``
    (default: the task's setting): annotators' verdicts of the given rounds, with the current
    adjudicated verdicts replacing them (``final``), added (``extra``) or not (``ignore``).
    Superseded rows are left to the ratings' own selection (a correction replaces its row)."""
    if mode is None:
        mode = mode_of(conn.execute(select(Task.settings).where(Task.id == task_id)).scalar())
    rounds = list(rounds)
    human = conn.execute(select(Judgment.id, Judgment.meta["item_id"].as_integer())
                         .where(Judgment.task_id == task_id, Judgment.judge_kind == "human",
                                Judgment.round.in_(rounds))).all()
    if mode == "ignore":
        return [int(j) for j, _ in human]
    adj = conn.execute(select(Judgment.id, Judgment.meta["item_id"].as_integer())
                       .where(Judgment.task_id == task_id,
                              Judgment.judge_kind == ADJUDICATED_KIND)).all()
    out = [int(j) for j, _ in adj]  # superseded ones drop out in load_verdicts
    settled = {int(i) for _, i in adj if i is not None}
    out += [int(j) for j, item in human if mode == "extra" or item not in settled]
    return out


def adjudicated_items(conn: Connection, task_id: int) -> set[int]:
    """Items of the task that have an adjudicated verdict."""
    return {int(i) for i in conn.execute(
        select(Judgment.meta["item_id"].as_integer()).where(
            Judgment.task_id == task_id, Judgment.judge_kind == ADJUDICATED_KIND)).scalars()
        if i is not None}


def item_page(conn: Connection, task_id: int, item_id: int) -> dict[str, Any]:
    """Everything the adjudication page shows: the item, its question, document, references
    (with their authors: admins may know them), both answers with model names, every verdict
    on the same pair of answers (annotators, gold checks, adjudications, LLM judges) with
    comments, and the skips with their reasons. Raises LookupError."""
    it = _item(conn, task_id, item_id)
    q = conn.execute(select(Question.turns, Question.category, Question.document_id)
                     .where(Question.id == it.question_id)).first()
    document = conn.execute(select(Document.text).where(Document.id == q.document_id)
                            ).scalar() if q.document_id else None
    refs = conn.execute(select(Reference.author, Reference.turns)
                        .where(Reference.question_id == it.question_id)
                        .order_by(Reference.author)).all()
    ids = [a for a in (it.answer_a_id, it.answer_b_id) if a is not None]
    texts = dict(conn.execute(select(Answer.id, Answer.turns).where(Answer.id.in_(ids))).all())
    if it.answer_b_id is None:
        same = Judgment.answer_id == it.answer_a_id
    else:
        same = and_(Judgment.question_id == it.question_id, or_(
            and_(Judgment.model_a == it.model_a, Judgment.model_b == it.model_b),
            and_(Judgment.model_a == it.model_b, Judgment.model_b == it.model_a)))
    newer = aliased(Judgment)
    rows = conn.execute(
        select(Judgment.id, Judgment.judge_kind, Judgment.judge_id, Judgment.outcome,
               Judgment.score_a, Judgment.scores, Judgment.first, Judgment.round,
               Judgment.comment, Judgment.rationale, Judgment.model_a, Judgment.model_b,
               Judgment.supersedes_id, Judgment.task_id, Judgment.created_at,
               Judgment.time_on_task_s, User.pseudonym, User.username,
               select(newer.id).where(newer.supersedes_id == Judgment.id).exists()
               .label("superseded"))
        .join(User, User.id == Judgment.annotator_id, isouter=True)
        .where(same, Judgment.judge_kind.in_(
            ("human", GOLD_KIND, ADJUDICATED_KIND, "llm", "metric", "imported")))
        .order_by(Judgment.id)).all()
    skips = conn.execute(
        select(Assignment.id, Assignment.round, Assignment.skip_reason, Assignment.finished_at,
               User.pseudonym)
        .join(User, User.id == Assignment.annotator_id)
        .where(Assignment.item_id == item_id, Assignment.status == "skipped")
        .order_by(Assignment.id)).all()
    return {"item": it, "question": list(q.turns or []), "category": q.category or "",
            "document": document, "document_id": q.document_id if document else None,
            "references": [(a, list(t or [])) for a, t in refs],
            "answers": [(m, list(texts.get(a) or [])) for m, a in
                        ((it.model_a, it.answer_a_id), (it.model_b, it.answer_b_id))
                        if a is not None],
            "verdicts": rows, "skips": skips, "current": current(conn, task_id, item_id),
            "mode": mode_of(it.settings)}
