"""Handing items to annotators: leases with a timeout, breadth-first, never over the overlap.

Contract (all functions take a connection inside one *write* transaction):

- ``claim`` returns the annotator's live lease on the task if there is one (begin/continue),
  else leases a new item. An item is offered only while its ``held_count`` (round-1 leases that
  are live or done) is below the task's overlap; the increment is one ``UPDATE ... WHERE
  held_count < overlap ... RETURNING``, so two annotators can never both take the last slot.
  On SQLite the store's ``BEGIN IMMEDIATE`` serialises writers; on PostgreSQL the candidate row
  is picked with ``FOR UPDATE SKIP LOCKED`` and re-checked by the UPDATE.
- Breadth-first: items with the most holders (but still below k) go first, then task order,
  so items reach k verdicts before new items are opened. A task with the ``adaptive`` setting
  draws the pair of models first (``annotate.adaptive``), then takes that pair's item the
  same way.
- An annotator never gets an item they already did or skipped; their own expired lease on an
  item can be taken up again.
- Expired leases (``expires_at`` past) are released by claims (status ``expired``, the item's
  ``held_count`` goes back down): at most once a second per task and process under the real
  clock, on every claim that is given ``now``.
- Round trips (PostgreSQL, where each costs the server a wait on the network): the common
  claim is two statements (task + live lease; slot + lease upsert as one CTE), the common
  completion one (the lease marked done).
- A completion never writes the item row: how many verdicts an item has is counted from its
  done round-1 leases (``done_per_item``). The item row is what every claim of it locks, so a
  completion that updated it waited for those claims to commit, and under load the waits
  chained (a PostgreSQL benchmark's p99 went from 0.2 s to 1-2 s in bursts).
"""

from __future__ import annotations

import logging
import random
import time
import weakref
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Optional

from typing import Any

from sqlalchemy import (Connection, DateTime, Integer, Row, String, and_, bindparam, case,
                        exists, func, literal, null, select, update)
from sqlalchemy.dialects import postgresql, sqlite

from arena.store.annotation_schema import Assignment, Task, TaskItem, TaskMember
from arena.store.schema import utcnow
from annotate import gold, probes

log = logging.getLogger(__name__)

LIVE = "leased"


@dataclass(frozen=True)
class Lease:
    assignment_id: int
    item_id: int
    task_id: int
    first: Optional[str]
    expires_at: datetime
    resumed: bool  # True when the annotator already held it (continue)
    task: Optional[Row] = None  # the task row the claim read (scale, criteria, mode, ...)


# The hot path (every next / submit) runs these prebuilt statements: building a SQLAlchemy
# expression costs more CPU than running it on SQLite, and prebuilt ones hit the compiled
# cache at once. Bind names carry a "p_" prefix (column names are reserved in SET clauses).
P = bindparam
_EXPIRE = (update(Assignment)
           .where(Assignment.task_id == P("p_tid"), Assignment.status == LIVE,
                  Assignment.expires_at < P("p_now"))
           .values(status="expired")
           .returning(Assignment.item_id, Assignment.round))
_RELEASE_HELD = (update(TaskItem).where(TaskItem.id == P("p_item"))
                 .values(held_count=TaskItem.held_count - P("p_n")))
_LIVE = (select(Assignment.id, Assignment.item_id, Assignment.first, Assignment.expires_at)
         .where(Assignment.task_id == P("p_tid"), Assignment.annotator_id == P("p_uid"),
                Assignment.status == LIVE)
         .order_by(Assignment.id).limit(1))
_RENEW = update(Assignment).where(Assignment.id == P("p_aid")).values(expires_at=P("p_exp"))
# Whether the user may work on the task: it is not restricted to chosen annotators, or they are
# one of them (annotate.members). Evaluated in the claim's own statement: no extra round trip.
MEMBER = (Task.restricted.is_(False)) | exists().where(
    TaskMember.task_id == Task.id, TaskMember.user_id == P("p_uid"))
_MEMBER = MEMBER
_TASK = select(Task.status, Task.archived, Task.overlap, Task.lease_seconds, Task.settings,
               Task.scale, Task.criteria, Task.mode, _MEMBER.label("member")
               ).where(Task.id == P("p_tid"))
# The task row and the user's live lease in one round trip (the common claim, when no expiry
# is due): a left join gives one row with NULL lease columns when there is no live lease.
_TASK_LIVE = (select(Task.status, Task.archived, Task.overlap, Task.lease_seconds,
                     Task.settings, Task.scale, Task.criteria, Task.mode,
                     _MEMBER.label("member"), Assignment.id.label("live_id"),
                     Assignment.item_id.label("live_item"), Assignment.first.label("live_first"))
              .outerjoin(Assignment, and_(Assignment.task_id == Task.id,
                                          Assignment.annotator_id == P("p_uid"),
                                          Assignment.status == LIVE))
              .where(Task.id == P("p_tid")).order_by(Assignment.id).limit(1))


@dataclass(frozen=True)
class TaskRow:
    """The task columns a claim reads (as ``_TASK``), when a caller has them already."""

    status: str
    archived: bool
    overlap: int
    lease_seconds: int
    settings: Any
    scale: str
    criteria: Any
    mode: str
    member: bool


def _open_for(task: Optional[Row]) -> bool:
    """Whether a claim may hand out items of this task row to its user."""
    return task is not None and task.status == "active" and not task.archived \
        and bool(task.member)


def expire_leases(conn: Connection, task_id: int, now: Optional[datetime] = None) -> int:
    """Release every lease of the task whose time is up; return how many."""
    now = now or utcnow()
    rows = conn.execute(_EXPIRE, {"p_tid": task_id, "p_now": now}).all()
    per_item: dict[int, int] = {}
    for item_id, rnd in rows:
        if rnd == 1:
            per_item[item_id] = per_item.get(item_id, 0) + 1
    for item_id in sorted(per_item):  # fixed order: no lock-order deadlocks between releasers
        conn.execute(_RELEASE_HELD, {"p_item": item_id, "p_n": per_item[item_id]})
    if rows:
        log.info("task %d: released %d expired lease(s)", task_id, len(rows))
    return len(rows)


EXPIRY_EVERY_S = 1.0
_last_expiry: "weakref.WeakKeyDictionary[Any, dict[int, float]]" = weakref.WeakKeyDictionary()


def _expiry_due(conn: Connection, task_id: int) -> bool:
    """Whether this process should release the task's expired leases now: at most once a
    second per task and engine (a lease ends at most a second late; it saves a statement on
    nearly every claim). Claims given an explicit ``now`` always release."""
    per_task = _last_expiry.setdefault(conn.engine, {})
    t = time.monotonic()
    if t - per_task.get(task_id, -1e9) < EXPIRY_EVERY_S:
        return False
    per_task[task_id] = t
    return True


def live_lease(conn: Connection, task_id: int, user_id: int) -> Optional[Row]:
    """The user's live lease on the task (id, item_id, first, expires_at), or None."""
    return conn.execute(_LIVE, {"p_tid": task_id, "p_uid": user_id}).first()


def claim(conn: Connection, task_id: int, user_id: int, *, rng: Optional[random.Random] = None,
          now: Optional[datetime] = None, after: Optional[TaskRow] = None) -> Optional[Lease]:
    """Return the user's live lease on the task, or lease a new item; None when none is left.

    Returns None also for a task that is not active, is archived, or is restricted to chosen
    annotators without this user. ``after``: the task row read by a verdict this user just
    stored in the same transaction (``verdicts.Stored.task``): that lease was their live one,
    so the claim need not read the task and look for a live lease again. Sides: for a
    pairwise item the side shown first is drawn at random and kept on the assignment (server
    only). Order of choice: a due
    swap probe (``annotate.probes``), a gold item with the task's ``gold_share`` chance
    (``annotate.gold``), a normal item (breadth-first), any gold item left, any probe left.
    """
    real_clock = now is None
    now = now or utcnow()
    due = real_clock is False or _expiry_due(conn, task_id)
    if after is not None and not due:
        task = after  # read a moment ago in this transaction; no live lease is left
        if not _open_for(task):  # type: ignore[arg-type]
            return None
        live = None
    elif due:
        task = conn.execute(_TASK, {"p_tid": task_id, "p_uid": user_id}).first()
        if not _open_for(task):
            return None
        expire_leases(conn, task_id, now)
        mine = live_lease(conn, task_id, user_id)
        live = (mine.id, mine.item_id, mine.first) if mine is not None else None
    else:  # the common case: task and live lease in one statement
        task = conn.execute(_TASK_LIVE, {"p_tid": task_id, "p_uid": user_id}).first()
        if not _open_for(task):
            return None
        live = (task.live_id, task.live_item, task.live_first) \
            if task.live_id is not None else None
    expires = now + timedelta(seconds=int(task.lease_seconds))
    if live is not None:
        conn.execute(_RENEW, {"p_aid": live[0], "p_exp": expires})
        return Lease(int(live[0]), int(live[1]), task_id, live[2], expires, True, task)

    rng = rng or random  # type: ignore[assignment]
    settings = task.settings or {}
    swap_share, swap_gap = probes.settings_of(settings)
    if swap_share > 0:
        due = probes.due_probe(conn, task_id, user_id, swap_share, swap_gap)
        if due is not None:
            aid, first = probes.lease_probe(conn, task_id, user_id, due, now, expires)
            return Lease(aid, int(due.item_id), task_id, first, expires, False, task)
    has_gold = int(settings.get("gold_items") or 0) > 0
    item_id: Optional[int] = None
    pairwise: Optional[bool] = None  # known from the slot's RETURNING, else looked up
    if has_gold and rng.random() < gold.rule_of(settings)[0]:
        item_id = gold.take_gold(conn, task_id, user_id)
    # The adaptive module (numpy, the ratings) loads only for tasks that use it.
    adaptive_on = task.scale == "pairwise" and bool(settings.get("adaptive"))
    if item_id is None and adaptive_on:
        # The next pair by how much it is expected to tell about the ranking; nothing when
        # the stop rule closed every pair (annotate.adaptive).
        from annotate import adaptive

        slot = adaptive.take_slot(conn, task_id, user_id, task, rng, sync=not real_clock)
        if slot is not None:
            item_id, pairwise = slot
    elif item_id is None and conn.dialect.name == "postgresql":
        # One round trip: take the best open slot and write the lease in one statement.
        # Nothing comes back when SKIP LOCKED found no row: the loop below looks again.
        got = conn.execute(_take_and_lease_pg(), {
            "p_tid": task_id, "p_uid": user_id, "p_overlap": int(task.overlap),
            "p_first": rng.choice("AB"), "p_now": now, "p_exp": expires}).first()
        if got is not None:
            return Lease(int(got.id), int(got.item_id), task_id, got.first, expires, False,
                         task)
    if item_id is None and not adaptive_on:
        slot = _take_slot(conn, task_id, user_id, int(task.overlap))
        if slot is not None:
            item_id, pairwise = slot
    if item_id is None and has_gold:
        item_id = gold.take_gold(conn, task_id, user_id)
    if item_id is None:
        if swap_share > 0:
            due = probes.due_probe(conn, task_id, user_id, swap_share, swap_gap, force=True)
            if due is not None:
                aid, first = probes.lease_probe(conn, task_id, user_id, due, now, expires)
                return Lease(aid, int(due.item_id), task_id, first, expires, False, task)
        return None
    if pairwise is None:
        pairwise = conn.execute(_HAS_B, {"p_item": item_id}).scalar() is not None
    first = rng.choice("AB") if pairwise else None
    # One upsert: a new round-1 lease, or the user's own expired lease on this item taken up
    # again (same sides: ``first`` is not overwritten).
    got = conn.execute(_upsert_lease(conn.dialect.name), {
        "item_id": item_id, "task_id": task_id, "annotator_id": user_id, "round": 1,
        "status": LIVE, "first": first, "leased_at": now, "expires_at": expires}).one()
    return Lease(int(got.id), item_id, task_id, got.first, expires, False, task)


_HAS_B = select(TaskItem.answer_b_id).where(TaskItem.id == P("p_item"))
_UPSERTS: dict[str, Any] = {}


def _upsert_lease(dialect: str) -> Any:
    stmt = _UPSERTS.get(dialect)
    if stmt is None:
        mod = postgresql if dialect == "postgresql" else sqlite
        ins = mod.insert(Assignment)
        stmt = ins.on_conflict_do_update(
            index_elements=["item_id", "annotator_id", "round"],
            set_={"status": ins.excluded.status, "leased_at": ins.excluded.leased_at,
                  "expires_at": ins.excluded.expires_at, "finished_at": None},
        ).returning(Assignment.id, Assignment.first)
        _UPSERTS[dialect] = stmt
    return stmt


_SLOTS: dict[str, tuple[Any, Any]] = {}


def open_item_conditions(dialect: str, *extra: Any) -> tuple[Any, ...]:
    """The slot rule, shared with ``annotate.adaptive``: items of the task (``p_tid``) held
    by fewer than ``p_overlap`` annotators, normal (not probes), not already the user's
    (``p_uid``) in round 1 unless that lease expired; ``extra`` narrows it further."""
    mine = select(Assignment.id).where(and_(Assignment.item_id == TaskItem.id,
                                            Assignment.annotator_id == P("p_uid"),
                                            Assignment.round == 1,
                                            Assignment.status != "expired"))
    if dialect == "postgresql":
        # OFFSET 0 keeps the check a per-candidate probe of uq_assignment (item, annotator,
        # round). Pulled up into an anti-join, PostgreSQL planned a fresh task (no
        # statistics yet) as a rescan of all of the annotator's assignments for every
        # candidate item: 7 ms per claim after 300 verdicts, against 0.5 ms with the probe.
        mine = mine.offset(0)
    not_mine = ~mine.exists()
    return (TaskItem.task_id == P("p_tid"), TaskItem.held_count < P("p_overlap"),
            TaskItem.kind == "normal", *extra, not_mine)


def take_statement(dialect: str, *where: Any) -> Any:
    """Take one slot of the best open item matching ``where`` (most holders first, then
    task order): ``UPDATE ... RETURNING (id, answer_b_id)``, skipping rows locked by a
    concurrent claim on PostgreSQL; no row when none is left."""
    candidate = (select(TaskItem.id).where(*where)
                 .order_by(TaskItem.held_count.desc(), TaskItem.seq, TaskItem.id).limit(1))
    if dialect == "postgresql":
        candidate = candidate.with_for_update(skip_locked=True, of=TaskItem)
    return (update(TaskItem)
            .where(TaskItem.id == candidate.scalar_subquery(),
                   TaskItem.held_count < P("p_overlap"))
            .values(held_count=TaskItem.held_count + 1)
            .returning(TaskItem.id, TaskItem.answer_b_id))


def _slot_statements(dialect: str) -> tuple[Any, Any]:
    """(take, count-open) for this dialect, built once."""
    got = _SLOTS.get(dialect)
    if got is not None:
        return got
    open_items = open_item_conditions(dialect)
    take = take_statement(dialect, *open_items)
    left = select(func.count()).select_from(TaskItem).where(*open_items)
    _SLOTS[dialect] = (take, left)
    return take, left


_TAKE_LEASE_PG: list[Any] = []


def _take_and_lease_pg() -> Any:
    """PostgreSQL: the slot's UPDATE ... RETURNING as a CTE feeding the lease upsert (the
    same statements as ``_take_slot`` + ``_upsert_lease``, one round trip). ``p_first`` is
    the side drawn for a pair; a single-answer item gets NULL."""
    if _TAKE_LEASE_PG:
        return _TAKE_LEASE_PG[0]
    take, _ = _slot_statements("postgresql")
    slot = take.cte("slot")
    ins = postgresql.insert(Assignment).from_select(
        ["item_id", "task_id", "annotator_id", "round", "status", "first", "leased_at",
         "expires_at"],
        select(slot.c.id, P("p_tid", type_=Integer), P("p_uid", type_=Integer), literal(1),
               literal(LIVE), case((slot.c.answer_b_id.is_(None), null()),
                                   else_=P("p_first", type_=String)),
               P("p_now", type_=DateTime(timezone=True)),
               P("p_exp", type_=DateTime(timezone=True))))
    stmt = ins.on_conflict_do_update(
        index_elements=["item_id", "annotator_id", "round"],
        set_={"status": ins.excluded.status, "leased_at": ins.excluded.leased_at,
              "expires_at": ins.excluded.expires_at, "finished_at": None},
    ).returning(Assignment.id, Assignment.item_id, Assignment.first).add_cte(slot)
    _TAKE_LEASE_PG.append(stmt)
    return stmt


def _take_slot(conn: Connection, task_id: int, user_id: int, overlap: int
               ) -> Optional[tuple[int, bool]]:
    """Increment ``held_count`` of the best open item for this user; return (its id, whether
    it is a pair)."""
    postgres = conn.dialect.name == "postgresql"
    take, left = _slot_statements(conn.dialect.name)
    params = {"p_tid": task_id, "p_uid": user_id, "p_overlap": overlap}
    for attempt in range(20):
        got = conn.execute(take, params).first()
        if got is not None:
            return int(got.id), got.answer_b_id is not None
        if not postgres:
            return None
        # SKIP LOCKED may have skipped rows that others hold only for a moment: look again
        # (without locks) whether any open item is left before saying "none".
        if not conn.execute(left, params).scalar_one():
            return None
        time.sleep(0.005 * (attempt + 1))
    return None


def release(conn: Connection, assignment_id: int, user_id: int, *, status: str,
            reason: Optional[str] = None, now: Optional[datetime] = None) -> bool:
    """End a live lease without a verdict (``skipped`` with a reason); frees the slot.

    Returns False when the lease is not the user's or not live (nothing changes then).
    """
    now = now or utcnow()
    row = conn.execute(update(Assignment).where(
        Assignment.id == assignment_id, Assignment.annotator_id == user_id,
        Assignment.status == LIVE).values(status=status, skip_reason=reason, finished_at=now)
        .returning(Assignment.item_id, Assignment.round)).first()
    if row is None:
        return False
    if row.round == 1:
        conn.execute(update(TaskItem).where(TaskItem.id == row.item_id)
                     .values(held_count=TaskItem.held_count - 1))
    return True


_COMPLETE = (update(Assignment)
             .where(Assignment.id == P("p_aid"), Assignment.annotator_id == P("p_uid"),
                    Assignment.status == LIVE)
             .values(status="done", finished_at=P("p_now"), judgment_id=P("p_jid"),
                     time_on_task_s=P("p_tot"))
             .returning(Assignment.item_id))
_LATE = (select(Assignment.item_id, Assignment.round, Task.overlap)
         .join(Task, Task.id == Assignment.task_id)
         .where(Assignment.id == P("p_aid"), Assignment.annotator_id == P("p_uid"),
                Assignment.status == "expired"))
_RETAKE = (update(TaskItem)
           .where(TaskItem.id == P("p_item"), TaskItem.held_count < P("p_overlap"))
           .values(held_count=TaskItem.held_count + 1).returning(TaskItem.id))
_FINISH_LATE = (update(Assignment).where(Assignment.id == P("p_aid"))
                .values(status="done", finished_at=P("p_now"), judgment_id=P("p_jid"),
                        time_on_task_s=P("p_tot")))


# The leases that count as an item's verdicts: done, round 1. Swap probes (round 2) are a
# second look by the same annotator, not another annotator's verdict.
ITEM_VERDICT = (Assignment.status == "done", Assignment.round == 1)


def done_per_item(task_id: Any = None) -> Any:
    """(item_id, done): the number of verdicts (``ITEM_VERDICT``) of each item that has any,
    as a subquery; of one task when ``task_id`` is given."""
    where = list(ITEM_VERDICT)
    if task_id is not None:
        where.append(Assignment.task_id == task_id)
    return (select(Assignment.item_id, func.count().label("done")).where(*where)
            .group_by(Assignment.item_id).subquery("done_per_item"))


def complete_items(conn: Connection, task_id: int, overlap: int) -> int:
    """How many items of the task have ``overlap`` round-1 verdicts (or more: an admin may
    lower the overlap after verdicts came in)."""
    done = done_per_item(task_id)
    return int(conn.execute(select(func.count()).select_from(done)
                            .where(done.c.done >= overlap)).scalar_one())


def complete(conn: Connection, assignment_id: int, user_id: int,
             now: Optional[datetime] = None, *, judgment_id: Optional[int] = None,
             time_on_task_s: Optional[float] = None) -> Optional[int]:
    """Mark the user's lease done (with its verdict's id and time on task); return its item
    id, or None if it cannot be completed (nothing is changed then).

    A lease that expired but whose slot is still free is taken up again (a slow annotator
    keeps their work); one whose slot went to someone else returns None. The common case is
    one statement on the assignment row; the item row is written only to take a slot back.
    """
    now = now or utcnow()
    params = {"p_aid": assignment_id, "p_uid": user_id, "p_now": now, "p_jid": judgment_id,
              "p_tot": time_on_task_s}
    row = conn.execute(_COMPLETE, params).first()
    if row is not None:
        return int(row.item_id)
    late = conn.execute(_LATE, {"p_aid": assignment_id, "p_uid": user_id}).first()
    if late is None:
        return None
    if late.round == 1:
        got = conn.execute(_RETAKE, {"p_item": late.item_id,
                                     "p_overlap": late.overlap}).first()
        if got is None:
            return None
    conn.execute(_FINISH_LATE, params)
    return int(late.item_id)
