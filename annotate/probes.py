"""Swap probes: an item an annotator already judged comes back to them later, sides swapped.

Task settings (``Task.settings``): ``swap_share`` (0-1, share of an annotator's pairwise
items that are probed; 0 = off) and ``swap_gap`` (how many of their later verdicts must come
in between, default 3, so the repeat is not recognised at once).

Contract (inside the claim's write transaction):
- Which items are probed is a fixed, seeded draw per (task, item, annotator): the share holds
  whatever the order of work, and a rerun picks the same items.
- A probe is an ``Assignment`` with ``round = 2`` and ``first`` the opposite of round 1; it
  never touches ``held_count`` and is not counted among an item's verdicts (those count
  distinct annotators), so the overlap rule is unaffected. Its verdict is a normal human
  judgment with ``round = 2``.
- ``due_probe`` returns the oldest probed verdict that has ``swap_gap`` later verdicts
  (``force``: any, once the annotator has nothing new left). A skipped probe is not offered
  again; an expired one is.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any, Mapping, Optional

from sqlalchemy import Connection, Row, and_, select, update
from sqlalchemy.orm import aliased

from arena.store.annotation_schema import Assignment

PROBE_ROUND = 2
DEFAULT_GAP = 3


def settings_of(settings: Optional[Mapping[str, Any]]) -> tuple[float, int]:
    """(swap_share, swap_gap) from a task's settings, clamped to sane values."""
    s = settings or {}
    try:
        share = min(max(float(s.get("swap_share") or 0.0), 0.0), 1.0)
        gap = max(int(s.get("swap_gap", DEFAULT_GAP)), 0)
    except (TypeError, ValueError):
        return 0.0, DEFAULT_GAP
    return share, gap


def picked(task_id: int, item_id: int, user_id: int, share: float) -> bool:
    """The fixed draw: is this annotator's item probed?"""
    if share <= 0:
        return False
    h = hashlib.sha256(f"swap:{task_id}:{item_id}:{user_id}".encode()).digest()
    return int.from_bytes(h[:4], "big") / 2 ** 32 < share


def due_probe(conn: Connection, task_id: int, user_id: int, share: float, gap: int,
              force: bool = False) -> Optional[Row]:
    """The round-1 assignment to probe now (item_id, first, probe_id, probe_status) or None."""
    a1, a2 = Assignment, aliased(Assignment)
    rows = conn.execute(
        select(a1.item_id, a1.first, a2.id.label("probe_id"), a2.status.label("probe_status"))
        .outerjoin(a2, and_(a2.item_id == a1.item_id, a2.annotator_id == a1.annotator_id,
                            a2.round == PROBE_ROUND))
        .where(a1.task_id == task_id, a1.annotator_id == user_id, a1.round == 1,
               a1.status == "done")
        .order_by(a1.finished_at, a1.id)).all()
    n = len(rows)
    for pos, r in enumerate(rows):
        if r.first is None or (r.probe_id is not None and r.probe_status != "expired"):
            continue
        if not picked(task_id, r.item_id, user_id, share):
            continue
        if force or n - 1 - pos >= gap:
            return r
    return None


def lease_probe(conn: Connection, task_id: int, user_id: int, probe: Row, now: datetime,
                expires: datetime) -> tuple[int, str]:
    """Lease the probe (sides swapped); return (assignment id, first)."""
    first = "B" if probe.first == "A" else "A"
    if probe.probe_id is not None:  # an expired probe lease: take it up again
        conn.execute(update(Assignment).where(Assignment.id == probe.probe_id).values(
            status="leased", leased_at=now, expires_at=expires, finished_at=None))
        return int(probe.probe_id), first
    aid = conn.execute(Assignment.__table__.insert().values(
        item_id=probe.item_id, task_id=task_id, annotator_id=user_id, round=PROBE_ROUND,
        status="leased", first=first, leased_at=now, expires_at=expires)
        .returning(Assignment.id)).scalar_one()
    return int(aid), first
