"""Handing items to annotators: leases with a timeout, breadth-first, never over the overlap.

Contract (all functions take a connection inside one *write* transaction):

- ``claim`` returns the annotator's live lease on the task if there is one (begin/continue),
  else leases a new item. An item is offered only while its ``held_count`` (round-1 leases that
  are live or done) is below the task's overlap; the increment is one ``UPDATE ... WHERE
  held_count < overlap ... RETURNING``, so two annotators can never both take the last slot.
  On SQLite the store's ``BEGIN IMMEDIATE`` serialises writers; on PostgreSQL the candidate row
  is picked with ``FOR UPDATE SKIP LOCKED`` and re-checked by the UPDATE.
- Breadth-first: items with the most holders (but still below k) go first, then task order,
  so items reach k verdicts before new items are opened.
- An annotator never gets an item they already did or skipped; their own expired lease on an
  item can be taken up again.
- Expired leases (``expires_at`` past) are released on every claim: status ``expired`` and the
  item's ``held_count`` goes back down.
"""

from __future__ import annotations

import logging
import random
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Optional

from sqlalchemy import Connection, Row, and_, exists, func, select, update

from arena.store.annotation_schema import Assignment, Task, TaskItem
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


def expire_leases(conn: Connection, task_id: int, now: Optional[datetime] = None) -> int:
    """Release every lease of the task whose time is up; return how many."""
    now = now or utcnow()
    rows = conn.execute(
        update(Assignment)
        .where(Assignment.task_id == task_id, Assignment.status == LIVE,
               Assignment.expires_at < now)
        .values(status="expired")
        .returning(Assignment.item_id, Assignment.round)).all()
    per_item: dict[int, int] = {}
    for item_id, rnd in rows:
        if rnd == 1:
            per_item[item_id] = per_item.get(item_id, 0) + 1
    for item_id in sorted(per_item):  # fixed order: no lock-order deadlocks between releasers
        conn.execute(update(TaskItem).where(TaskItem.id == item_id)
                     .values(held_count=TaskItem.held_count - per_item[item_id]))
    if rows:
        log.info("task %d: released %d expired lease(s)", task_id, len(rows))
    return len(rows)


def live_lease(conn: Connection, task_id: int, user_id: int) -> Optional[Row]:
    """The user's live lease on the task (id, item_id, first, expires_at), or None."""
    return conn.execute(
        select(Assignment.id, Assignment.item_id, Assignment.first, Assignment.expires_at)
        .where(Assignment.task_id == task_id, Assignment.annotator_id == user_id,
               Assignment.status == LIVE)
        .order_by(Assignment.id).limit(1)).first()


def claim(conn: Connection, task_id: int, user_id: int, *, rng: Optional[random.Random] = None,
          now: Optional[datetime] = None) -> Optional[Lease]:
    """Return the user's live lease on the task, or lease a new item; None when none is left.

    Returns None also for a task that is not active. Sides: for a pairwise item the side shown
    first is drawn at random and kept on the assignment (server only). Order of choice: a due
    swap probe (``annotate.probes``), a gold item with the task's ``gold_share`` chance
    (``annotate.gold``), a normal item (breadth-first), any gold item left, any probe left.
    """
    now = now or utcnow()
    task = conn.execute(select(Task.status, Task.overlap, Task.lease_seconds, Task.settings)
                        .where(Task.id == task_id)).first()
    if task is None or task.status != "active":
        return None
    expire_leases(conn, task_id, now)
    expires = now + timedelta(seconds=int(task.lease_seconds))
    mine = live_lease(conn, task_id, user_id)
    if mine is not None:
        conn.execute(update(Assignment).where(Assignment.id == mine.id)
                     .values(expires_at=expires))
        return Lease(mine.id, mine.item_id, task_id, mine.first, expires, True)

    rng = rng or random  # type: ignore[assignment]
    settings = task.settings or {}
    swap_share, swap_gap = probes.settings_of(settings)
    if swap_share > 0:
        due = probes.due_probe(conn, task_id, user_id, swap_share, swap_gap)
        if due is not None:
            aid, first = probes.lease_probe(conn, task_id, user_id, due, now, expires)
            return Lease(aid, int(due.item_id), task_id, first, expires, False)
    has_gold = int(settings.get("gold_items") or 0) > 0
    item_id = None
    if has_gold and rng.random() < gold.rule_of(settings)[0]:
        item_id = gold.take_gold(conn, task_id, user_id)
    if item_id is None:
        item_id = _take_slot(conn, task_id, user_id, int(task.overlap))
    if item_id is None and has_gold:
        item_id = gold.take_gold(conn, task_id, user_id)
    if item_id is None:
        if swap_share > 0:
            due = probes.due_probe(conn, task_id, user_id, swap_share, swap_gap, force=True)
            if due is not None:
                aid, first = probes.lease_probe(conn, task_id, user_id, due, now, expires)
                return Lease(aid, int(due.item_id), task_id, first, expires, False)
        return None
    item = conn.execute(select(TaskItem.answer_b_id).where(TaskItem.id == item_id)).first()
    first = None
    if item.answer_b_id is not None:
        first = rng.choice("AB")
    old = conn.execute(select(Assignment.id, Assignment.first).where(
        Assignment.item_id == item_id, Assignment.annotator_id == user_id,
        Assignment.round == 1)).first()
    if old is not None:  # the user's own expired lease: take it up again, same sides
        conn.execute(update(Assignment).where(Assignment.id == old.id).values(
            status=LIVE, leased_at=now, expires_at=expires, finished_at=None))
        return Lease(old.id, item_id, task_id, old.first, expires, False)
    aid = conn.execute(Assignment.__table__.insert().values(
        item_id=item_id, task_id=task_id, annotator_id=user_id, round=1, status=LIVE,
        first=first, leased_at=now, expires_at=expires).returning(Assignment.id)).scalar_one()
    return Lease(int(aid), item_id, task_id, first, expires, False)


def _take_slot(conn: Connection, task_id: int, user_id: int, overlap: int) -> Optional[int]:
    """Increment ``held_count`` of the best open item for this user; return its id."""
    not_mine = ~exists().where(and_(Assignment.item_id == TaskItem.id,
                                    Assignment.annotator_id == user_id,
                                    Assignment.round == 1,
                                    Assignment.status != "expired"))
    candidate = (select(TaskItem.id)
                 .where(TaskItem.task_id == task_id, TaskItem.held_count < overlap,
                        TaskItem.kind == "normal", not_mine)
                 .order_by(TaskItem.held_count.desc(), TaskItem.seq, TaskItem.id)
                 .limit(1))
    postgres = conn.dialect.name == "postgresql"
    if postgres:
        candidate = candidate.with_for_update(skip_locked=True, of=TaskItem)
    stmt = (update(TaskItem)
            .where(TaskItem.id == candidate.scalar_subquery(), TaskItem.held_count < overlap)
            .values(held_count=TaskItem.held_count + 1)
            .returning(TaskItem.id))
    for attempt in range(20):
        got = conn.execute(stmt).scalar()
        if got is not None:
            return int(got)
        if not postgres:
            return None
        # SKIP LOCKED may have skipped rows that others hold only for a moment: look again
        # (without locks) whether any open item is left before saying "none".
        left = conn.execute(select(func.count()).select_from(TaskItem).where(
            TaskItem.task_id == task_id, TaskItem.held_count < overlap,
            TaskItem.kind == "normal", not_mine)).scalar_one()
        if not left:
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


def complete(conn: Connection, assignment_id: int, user_id: int,
             now: Optional[datetime] = None) -> Optional[int]:
    """Mark the user's lease done; return its item id, or None if it cannot be completed.

    A lease that expired but whose slot is still free is taken up again (a slow annotator
    keeps their work); one whose slot went to someone else returns None.
    """
    now = now or utcnow()
    row = conn.execute(update(Assignment).where(
        Assignment.id == assignment_id, Assignment.annotator_id == user_id,
        Assignment.status == LIVE).values(status="done", finished_at=now)
        .returning(Assignment.item_id, Assignment.round)).first()
    rnd = row.round if row is not None else None
    if row is None:
        late = conn.execute(select(Assignment.item_id, Assignment.round, Task.overlap)
                            .join(Task, Task.id == Assignment.task_id)
                            .where(Assignment.id == assignment_id,
                                   Assignment.annotator_id == user_id,
                                   Assignment.status == "expired")).first()
        if late is None:
            return None
        if late.round == 1:
            got = conn.execute(update(TaskItem).where(
                TaskItem.id == late.item_id, TaskItem.held_count < late.overlap)
                .values(held_count=TaskItem.held_count + 1).returning(TaskItem.id)).first()
            if got is None:
                return None
        conn.execute(update(Assignment).where(Assignment.id == assignment_id)
                     .values(status="done", finished_at=now))
        item_id, rnd = late.item_id, late.round
    else:
        item_id = row.item_id
    if rnd == 1:  # a swap probe (round 2) is a second look, not another annotator's verdict
        conn.execute(update(TaskItem).where(TaskItem.id == item_id)
                     .values(done_count=TaskItem.done_count + 1))
    return int(item_id)
