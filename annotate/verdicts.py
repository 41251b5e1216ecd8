"""Human verdicts: validate a submission, store it as a Judgment, edit by superseding.

Contract:
- ``parse_verdict`` turns form/JSON fields into a ``Verdict`` for the task's scale, mapping
  the annotator's *displayed* choice (left / right) to the battle's model_a / model_b through
  the assignment's ``first``. Bad input raises InputError naming the field; nothing is written.
- ``submit`` stores one verdict per assignment: the lease is marked done in the same
  transaction, and the ``submission_id`` is unique, so a double click or a retried request
  stores one row (the repeat returns the first row's id with ``duplicate=True``).
- ``edit`` appends a new row whose ``supersedes_id`` is the annotator's current verdict on
  that assignment; old rows stay (append-only).
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Mapping, Optional

from sqlalchemy import Connection, Row, bindparam, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import aliased

from arena.errors import InputError
from arena.store.annotation_schema import Assignment, Task, TaskItem
from arena.store.schema import Judgment, utcnow
from arena.types import JudgeKind, Outcome
from annotate import assign
from annotate.gold import GOLD_KIND
from annotate.timeutil import as_utc
from annotate.validate import check_text, float_field

log = logging.getLogger(__name__)

CHOICES = ("left", "right", "tie", "both_bad")
HUMAN_KINDS = (JudgeKind.HUMAN.value, GOLD_KIND)
MAX_COMMENT = 5000
SCALE_MAX = {"1-5": 5, "1-10": 10}
MAX_ELAPSED_MS = 7 * 86400 * 1000.0


class Conflict(Exception):
    """The submission cannot be stored (lease gone, already submitted); nothing was written."""


class TaskClosed(Conflict):
    """The task is paused, closed or archived: no verdict is taken or changed."""


def check_open(status: Optional[str], archived: Optional[bool]) -> None:
    """Raise TaskClosed unless a task with this status takes verdicts."""
    if archived:
        raise TaskClosed("this task is archived: verdicts can no longer be given or changed")
    if status != "active":
        raise TaskClosed(f"this task is {status}: verdicts can no longer be given or changed"
                         + (" until an admin resumes it" if status == "paused" else ""))


@dataclass
class Verdict:
    outcome: Optional[str] = None  # relative to model_a / model_b
    choice: Optional[str] = None  # as displayed: left | right | tie | both_bad
    score: Optional[float] = None
    scores: Optional[dict[str, int]] = None
    comment: Optional[str] = None
    meta: dict[str, Any] = field(default_factory=dict)


def new_submission_id() -> str:
    return secrets.token_hex(16)


def scale_max(task_scale: str, settings: Mapping[str, Any]) -> int:
    if task_scale == "rubric":
        return int(settings.get("criteria_max", 5))
    return SCALE_MAX.get(task_scale, 0)


def choice_to_outcome(choice: str, first: Optional[str]) -> str:
    """Map a displayed choice to an outcome relative to model_a/model_b."""
    if choice == "tie":
        return Outcome.TIE.value
    if choice == "both_bad":
        return Outcome.BOTH_BAD.value
    shown_first = first or "A"
    other = "B" if shown_first == "A" else "A"
    return shown_first if choice == "left" else other


def outcome_to_choice(outcome: Optional[str], first: Optional[str]) -> Optional[str]:
    """The displayed choice that produced ``outcome`` for an annotator who saw ``first`` left."""
    if outcome in (None, ""):
        return None
    if outcome == Outcome.TIE.value:
        return "tie"
    if outcome == Outcome.BOTH_BAD.value:
        return "both_bad"
    return "left" if outcome == (first or "A") else "right"


def _int_in(value: Any, lo: int, hi: int, field_name: str) -> int:
    try:
        n = int(str(value).strip())
    except (TypeError, ValueError):
        raise InputError(f"expected a whole number from {lo} to {hi}, got {value!r}",
                         field=field_name) from None
    if not lo <= n <= hi:
        raise InputError(f"expected a whole number from {lo} to {hi}, got {n}", field=field_name)
    return n


def parse_verdict(task_scale: str, criteria: list[str], settings: Mapping[str, Any],
                  first: Optional[str], data: Mapping[str, Any]) -> Verdict:
    """Validate submitted fields for the task's scale; raise InputError naming the field."""
    comment = data.get("comment")
    if comment is not None:
        if not isinstance(comment, str):
            raise InputError("expected text", field="comment")
        comment = check_text(comment, "comment", MAX_COMMENT).strip() or None
    if task_scale == "pairwise":
        choice = data.get("choice")
        if choice not in CHOICES:
            raise InputError(f"choice must be one of {', '.join(CHOICES)}", field="choice")
        return Verdict(outcome=choice_to_outcome(str(choice), first), choice=str(choice),
                       comment=comment)
    if task_scale in SCALE_MAX:
        score = _int_in(data.get("score"), 1, SCALE_MAX[task_scale], "score")
        return Verdict(score=float(score), comment=comment)
    if task_scale == "rubric":
        top = scale_max(task_scale, settings)
        raw = data.get("scores")
        scores = {}
        for i, crit in enumerate(criteria):
            value = raw.get(crit) if isinstance(raw, Mapping) else data.get(f"score_{i}")
            scores[crit] = _int_in(value, 1, top, f"score[{crit}]")
        return Verdict(scores=scores, comment=comment)
    raise InputError(f"task has an unknown scale {task_scale!r}", field="scale")


@dataclass(frozen=True)
class Stored:
    judgment_id: int
    duplicate: bool
    task_id: Optional[int] = None
    # The task as read with the verdict (``assign.TaskRow``), for a claim in the same
    # transaction; None when the verdict was a repeat.
    task: Optional[Any] = None


_CTX = (select(Assignment.id, Assignment.status, Assignment.first, Assignment.round,
               Assignment.leased_at, Assignment.task_id, Assignment.judgment_id,
               TaskItem.id.label("item_id"), TaskItem.question_id, TaskItem.battle_id,
               TaskItem.answer_a_id, TaskItem.answer_b_id, TaskItem.model_a, TaskItem.model_b,
               TaskItem.kind.label("item_kind"), Task.mode, Task.scale, Task.criteria,
               Task.settings, Task.status.label("task_status"),
               Task.archived.label("task_archived"), Task.overlap.label("task_overlap"),
               Task.lease_seconds.label("task_lease_seconds"),
               assign.MEMBER.label("task_member"),
               # the submission id's row, if stored already (idempotent submit): one query
               select(Judgment.id).where(Judgment.submission_id == bindparam("p_sub"))
               .scalar_subquery().label("dup_id"),
               select(Judgment.annotator_id).where(Judgment.submission_id == bindparam("p_sub"))
               .scalar_subquery().label("dup_user"))
        .join(TaskItem, TaskItem.id == Assignment.item_id)
        .join(Task, Task.id == Assignment.task_id)
        .where(Assignment.id == bindparam("p_aid"), Assignment.annotator_id == bindparam("p_uid")))


def _context(conn: Connection, assignment_id: int, user_id: int,
             submission_id: str = "") -> Optional[Row]:
    return conn.execute(_CTX, {"p_aid": assignment_id, "p_uid": user_id,
                               "p_sub": submission_id}).first()


def assignment_context(conn: Connection, assignment_id: int, user_id: int) -> Optional[Row]:
    """The assignment joined with its item and task, or None if it is not the user's."""
    return _context(conn, assignment_id, user_id)


def _row(ctx, user_id: int, v: Verdict, submission_id: str,  # type: ignore[no-untyped-def]
         time_on_task_s: Optional[float], supersedes: Optional[int]) -> dict[str, Any]:
    single = ctx.answer_b_id is None
    return {
        "mode": ctx.mode, "battle_id": ctx.battle_id,
        "answer_id": ctx.answer_a_id if single else None,
        "question_id": ctx.question_id, "model_a": ctx.model_a, "model_b": ctx.model_b,
        "answer_a_id": ctx.answer_a_id, "answer_b_id": ctx.answer_b_id,
        "first": ctx.first, "judge_id": f"human:{user_id}",
        # A verdict on a gold item is a quality check: a kind no leaderboard reads.
        "judge_kind": GOLD_KIND if ctx.item_kind == "gold" else JudgeKind.HUMAN.value,
        "policy": "random_order" if not single else None,
        "outcome": v.outcome, "score_a": v.score, "scores": v.scores,
        "annotator_id": user_id, "task_id": ctx.task_id, "round": ctx.round,
        "submission_id": submission_id, "time_on_task_s": time_on_task_s,
        "comment": v.comment, "supersedes_id": supersedes, "parse_status": "ok",
        "meta": {"assignment_id": ctx.id, "item_id": ctx.item_id, "scale": ctx.scale,
                 **({"choice": v.choice} if v.choice else {}), **v.meta},
    }


_EXISTING = select(Judgment.id, Judgment.annotator_id, Judgment.meta, Judgment.task_id).where(
    Judgment.submission_id == bindparam("p_sub"))
_INSERTS: dict[str, Any] = {}


def _existing(conn: Connection, submission_id: str, user_id: int) -> Optional[Any]:
    """The stored row (id, task_id) under this submission id, if it is the user's."""
    row = conn.execute(_EXISTING, {"p_sub": submission_id}).first()
    if row is None:
        return None
    if row.annotator_id != user_id:
        raise Conflict("this submission id belongs to someone else")
    return row


def _check_submission_id(submission_id: Any) -> None:
    if not isinstance(submission_id, str) or not submission_id or len(submission_id) > 64:
        raise InputError("submission_id is required (at most 64 characters)",
                         field="submission_id")


def elapsed_seconds(value: Any) -> Optional[float]:
    """The page's ``elapsed_ms`` as seconds: None when absent, else a finite number of
    milliseconds from 0 to 7 days (InputError naming ``elapsed_ms`` otherwise)."""
    ms = float_field(value, "elapsed_ms", 0.0, MAX_ELAPSED_MS)
    return ms / 1000.0 if ms is not None else None


def _time_on_task(leased_at: Optional[datetime], client_s: Optional[float],
                  now: datetime) -> Optional[float]:
    # The page reports visible time; trust it only up to the server's own elapsed time.
    server = (now - as_utc(leased_at)).total_seconds() if leased_at else None
    if client_s is None or client_s < 0:
        return round(server, 3) if server is not None else None
    return round(min(client_s, server) if server is not None else client_s, 3)


def _insert_stmt(dialect: str) -> Any:
    stmt = _INSERTS.get(dialect)
    if stmt is None:
        mod = postgresql if dialect == "postgresql" else sqlite
        stmt = mod.insert(Judgment).on_conflict_do_nothing(
            index_elements=["submission_id"]).returning(Judgment.id)
        _INSERTS[dialect] = stmt
    return stmt


def _insert(conn: Connection, row: dict[str, Any], now: datetime) -> tuple[int, bool]:
    """Insert one verdict row (ON CONFLICT on submission_id does nothing); return (its id,
    whether this call stored it).

    When the submission id is taken, the row found under it must be this one (same
    annotator and assignment): it is then the same submission, stored by a request that ran
    at the same time (on PostgreSQL the insert waited for that request to commit). Otherwise
    the id was reused for something else and Conflict rolls the caller's transaction back.
    """
    data = {"meta": {}, "parse_status": "ok", **row, "created_at": now}
    got = conn.execute(_insert_stmt(conn.dialect.name), data).scalar()
    if got is not None:
        return int(got), True
    old = conn.execute(_EXISTING, {"p_sub": row["submission_id"]}).first()
    if old is None or old.annotator_id != row["annotator_id"] or \
            (old.meta or {}).get("assignment_id") != row["meta"]["assignment_id"]:
        raise Conflict("a verdict with this submission id already exists")
    return int(old.id), False


def submit(conn: Connection, assignment_id: int, user_id: int, data: Mapping[str, Any],
           submission_id: str, client_elapsed_s: Optional[float] = None,
           now: Optional[datetime] = None) -> Stored:
    """Store the verdict for a live lease (see module docstring).

    Raises InputError for bad fields, LookupError when the assignment is not the user's,
    Conflict when the lease is gone or already answered with another submission id.
    Three statements on the common path: context (with the duplicate check), insert,
    complete (the lease row only: the item row, which claims lock, is not written).
    """
    now = now or utcnow()
    _check_submission_id(submission_id)
    ctx = _context(conn, assignment_id, user_id, submission_id)
    if ctx is None:
        dup = _existing(conn, submission_id, user_id)
        if dup is not None:
            return Stored(int(dup.id), True, dup.task_id)
        raise LookupError(assignment_id)
    if ctx.dup_id is not None:
        if ctx.dup_user != user_id:
            raise Conflict("this submission id belongs to someone else")
        return Stored(int(ctx.dup_id), True, ctx.task_id)
    check_open(ctx.task_status, ctx.task_archived)
    verdict = parse_verdict(ctx.scale, list(ctx.criteria or []), ctx.settings or {}, ctx.first,
                            data)
    tot = _time_on_task(ctx.leased_at, client_elapsed_s, now)
    row = _row(ctx, user_id, verdict, submission_id, tot, None)
    jid, ours = _insert(conn, row, now)  # rolled back with the transaction if the lease is gone
    if not ours or ctx.judgment_id == jid:
        # The same submission, stored by our own retry that ran at the same time: its
        # success is this request's answer too (the lease is already done with it).
        return Stored(jid, True, ctx.task_id)
    if assign.complete(conn, assignment_id, user_id, now, judgment_id=jid,
                       time_on_task_s=tot) is None:
        if ctx.status == "done":
            raise Conflict("this item already has your verdict; edit it from 'My verdicts'")
        raise Conflict("this item's lease ended and it went to another annotator")
    # The lease just completed was the user's one live lease of the task (a claim keeps at
    # most one): a claim in this transaction may skip reading the task again. Not after a
    # late submit of an expired lease, when another may be live.
    task = assign.TaskRow(ctx.task_status, ctx.task_archived, ctx.task_overlap,
                          ctx.task_lease_seconds, ctx.settings, ctx.scale, ctx.criteria,
                          ctx.mode, ctx.task_member) if ctx.status == assign.LIVE else None
    return Stored(jid, False, ctx.task_id, task)


def current_verdict(conn: Connection, judgment_id: int, user_id: int) -> Optional[Row]:
    """The user's human judgment row, or None when it is not theirs."""
    return conn.execute(select(Judgment).where(
        Judgment.id == judgment_id, Judgment.annotator_id == user_id,
        Judgment.judge_kind.in_(HUMAN_KINDS))).first()


def edit(conn: Connection, judgment_id: int, user_id: int, data: Mapping[str, Any],
         submission_id: str, now: Optional[datetime] = None) -> Stored:
    """Append a verdict superseding the user's current one on the same assignment.

    ``judgment_id`` may be any row of the chain; the newest one is superseded. Raises
    LookupError when the judgment is not the user's, InputError for bad fields.
    """
    now = now or utcnow()
    _check_submission_id(submission_id)
    dup = _existing(conn, submission_id, user_id)
    if dup is not None:
        return Stored(int(dup.id), True, dup.task_id)
    old = current_verdict(conn, judgment_id, user_id)
    if old is None:
        raise LookupError(judgment_id)
    aid = (old.meta or {}).get("assignment_id")
    # Lock the assignment row first: two edits at once must not both supersede one row.
    q = select(Assignment.judgment_id).where(Assignment.id == aid,
                                             Assignment.annotator_id == user_id)
    if conn.dialect.name == "postgresql":
        q = q.with_for_update()
    latest = conn.execute(q).scalar()
    if latest is None:
        raise LookupError(judgment_id)
    ctx = _context(conn, int(aid), user_id)
    check_open(ctx.task_status, ctx.task_archived)
    verdict = parse_verdict(ctx.scale, list(ctx.criteria or []), ctx.settings or {}, ctx.first,
                            data)
    verdict.meta["edit_of"] = int(latest)
    row = _row(ctx, user_id, verdict, submission_id, old.time_on_task_s, int(latest))
    jid, ours = _insert(conn, row, now)
    if not ours:
        return Stored(jid, True, ctx.task_id)
    conn.execute(update(Assignment).where(Assignment.id == aid).values(judgment_id=jid))
    return Stored(jid, False, ctx.task_id)


def my_verdicts(conn: Connection, task_id: int, user_id: int) -> list[Any]:
    """The user's current (not superseded) verdicts on a task, newest first."""
    newer = aliased(Judgment)
    return list(conn.execute(
        select(Judgment.id, Judgment.outcome, Judgment.first, Judgment.score_a,
               Judgment.scores, Judgment.comment, Judgment.created_at, Judgment.question_id,
               Judgment.supersedes_id)
        .where(Judgment.task_id == task_id, Judgment.annotator_id == user_id,
               Judgment.judge_kind.in_(HUMAN_KINDS),
               ~select(newer.id).where(newer.supersedes_id == Judgment.id).exists())
        .order_by(Judgment.id.desc())).all())
