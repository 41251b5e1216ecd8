"""Helpers for the research-feature tests: annotate through the real claim / submit code."""

from __future__ import annotations

import random
from typing import Callable, Optional

from arena.store import Store
from annotate import assign, verdicts


def claim(store: Store, tid: int, uid: int, seed: int = 0) -> Optional[assign.Lease]:
    with store.begin() as conn:
        return assign.claim(conn, tid, uid, rng=random.Random(seed))


def submit_outcome(store: Store, lease: assign.Lease, uid: int, outcome: str,
                   elapsed_ms: float = 3000) -> int:
    """Submit the choice that means ``outcome`` (A / B / TIE / BOTH_BAD, relative to the
    battle's model_a) for whatever side this lease showed first."""
    if outcome in ("TIE", "BOTH_BAD"):
        choice = outcome.lower()
    else:
        choice = "left" if (lease.first or "A") == outcome else "right"
    with store.begin() as conn:
        return verdicts.submit(conn, lease.assignment_id, uid, {"choice": choice},
                               verdicts.new_submission_id(), elapsed_ms / 1000).judgment_id


def item_of(store: Store, lease: assign.Lease) -> tuple[str, str, str, str]:
    """(question, model_a, model_b, kind) of the lease's item."""
    from sqlalchemy import select

    from arena.store.annotation_schema import TaskItem

    with store.begin() as conn:
        r = conn.execute(select(TaskItem.question_id, TaskItem.model_a, TaskItem.model_b,
                                TaskItem.kind).where(TaskItem.id == lease.item_id)).one()
    return r.question_id, r.model_a, r.model_b, r.kind


def work(store: Store, tid: int, uid: int, decide: Callable[[tuple, assign.Lease], str],
         limit: int = 1000, seed: int = 0) -> list[tuple[assign.Lease, str]]:
    """Claim and submit until the task has nothing left for ``uid``; return what was done."""
    done = []
    for k in range(limit):
        lease = claim(store, tid, uid, seed + k)
        if lease is None:
            return done
        outcome = decide(item_of(store, lease), lease)
        submit_outcome(store, lease, uid, outcome)
        done.append((lease, outcome))
    raise AssertionError("task never ran out of items")
