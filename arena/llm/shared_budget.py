"""``max_calls`` / ``max_cost`` that hold across every worker of a config (kept in the store).

A :class:`SharedBudget` is a :class:`arena.llm.limits.Budget` whose allowance comes from a
*round* row (``budget_rounds``): the workers of one config and stage that run at the same time
share one round; its ``calls`` and ``cost`` columns book what they reserved. A worker reserves
a block of calls (and their worst-case cost) with one conditional UPDATE, which the database
applies only while the round stays within the caps, then spends the block locally; what it did
not use is given back when it closes, and the real cost of each call replaces its worst case.
So the caps are never passed, whatever the number of workers; a worker may stop a little
before a cap while a sibling still holds an unused block.

Rounds: a worker joins the round of its key whose ``last_seen`` is within the lease (a sibling
is alive: each worker touches its round every third of the lease), else it opens the next one
(``generation`` + 1, unique per key, so two workers starting together open one round). A run
started after every worker of the last round ended gets a fresh budget, as a single run always
did. Reservations touch the store once per block, not per call.
"""

from __future__ import annotations

import logging
import threading
from datetime import timedelta
from typing import Any, Optional

from sqlalchemy import func, select, update
from sqlalchemy.dialects import postgresql, sqlite

from arena.claims import now_utc
from arena.llm.limits import Budget, PriceTable, worst_case_cost
from arena.llm.types import ChatRequest, ChatResult
from arena.store.schema import BudgetRound

log = logging.getLogger(__name__)

BLOCK = 16


class SharedBudget(Budget):
    """A Budget booked in the store (see the module docstring). Thread-safe; never raises
    from ``reserve`` for a cap (returns the reason, as Budget does). ``close()`` gives the
    unused allowance back and stops the heartbeat."""

    def __init__(self, store: Any, key: str, max_calls: Optional[int] = None,
                 max_cost: Optional[float] = None, *, lease_s: float = 120.0,
                 block: int = BLOCK) -> None:
        super().__init__(max_calls, max_cost)
        self.store = store
        self.key = key[:200]
        self.lease_s = lease_s
        self.block = max(1, block)
        self.round_id = self._join_round()
        self._calls_left = 0  # allowance held locally
        self._cost_left = 0.0
        self._stop = threading.Event()
        self._beat = threading.Thread(target=self._heartbeat, daemon=True,
                                      name="budget-heartbeat")
        self._beat.start()

    # -- rounds --------------------------------------------------------------------------------
    def _join_round(self) -> int:
        R = BudgetRound.__table__.c
        for _ in range(5):
            now = now_utc()
            with self.store.begin() as conn:
                row = conn.execute(select(R.id, R.generation, R.last_seen).where(
                    R.key == self.key).order_by(R.generation.desc()).limit(1)).first()
                if row is not None and _aware(row.last_seen) > now - timedelta(
                        seconds=self.lease_s):
                    conn.execute(update(BudgetRound.__table__).where(R.id == row.id)
                                 .values(last_seen=now))
                    return int(row.id)
                gen = (row.generation + 1) if row is not None else 1
                mod = postgresql if conn.dialect.name == "postgresql" else sqlite
                got = conn.execute(mod.insert(BudgetRound.__table__).values(
                    key=self.key, generation=gen, calls=0, cost=0.0, started_at=now,
                    last_seen=now).on_conflict_do_nothing(
                    index_elements=["key", "generation"]).returning(R.id)).scalar()
                if got is not None:
                    return int(got)
            # a sibling opened this generation a moment ago: join it on the next pass
        raise RuntimeError(f"could not open a budget round for {self.key!r}")

    def _heartbeat(self) -> None:
        R = BudgetRound.__table__.c
        while not self._stop.wait(self.lease_s / 3):
            try:
                with self.store.begin() as conn:
                    conn.execute(update(BudgetRound.__table__).where(R.id == self.round_id)
                                 .values(last_seen=now_utc()))
            except Exception:
                log.warning("could not touch budget round %s", self.round_id, exc_info=True)

    # -- Budget --------------------------------------------------------------------------------
    def reserve(self, req: ChatRequest, price: Optional[PriceTable]) -> Optional[str]:
        with self._lock:
            if self.stopped:
                return self.stopped
            worst = worst_case_cost(req, price)
            short_calls = self._calls_left < 1
            if short_calls or (self.max_cost is not None and self._cost_left < worst):
                self._refill(worst)
            calls_ok = self._calls_left >= 1
            cost_ok = self.max_cost is None or self._cost_left >= worst
            if not (calls_ok and cost_ok):
                if self.max_calls is not None and self._round_calls() >= self.max_calls \
                        and not calls_ok:
                    self.stopped = (f"max_calls={self.max_calls} reached (across this "
                                    f"config's workers)")
                else:
                    self.stopped = (f"max_cost={self.max_cost:g} USD would be passed (across "
                                    f"this config's workers; next call up to {worst:.4f})")
                return self.stopped
            self._calls_left -= 1
            self._cost_left -= worst
            self.calls += 1
            self.reserved += worst
            return None

    def settle(self, req: ChatRequest, res: ChatResult, price: Optional[PriceTable]) -> float:
        cost = super().settle(req, res, price)
        with self._lock:
            # the worst case was booked in the round; what the call did not cost is allowance
            self._cost_left += worst_case_cost(req, price) - cost
        return cost

    def _round_calls(self) -> int:
        R = BudgetRound.__table__.c
        with self.store.begin() as conn:
            return int(conn.execute(select(R.calls).where(R.id == self.round_id)).scalar_one())

    def _refill(self, worst: float) -> None:
        """Book another block in the round (called with the lock held)."""
        R = BudgetRound.__table__.c
        n = self.block
        while n >= 1:
            cost = worst * n if self.max_cost is not None else 0.0
            conds = [R.id == self.round_id]
            if self.max_calls is not None:
                conds.append(R.calls + n <= self.max_calls)
            if self.max_cost is not None:
                conds.append(R.cost + cost <= self.max_cost + 1e-12)
            with self.store.begin() as conn:
                res = conn.execute(update(BudgetRound.__table__).where(*conds).values(
                    calls=R.calls + n, cost=R.cost + cost, last_seen=now_utc()))
            if res.rowcount:
                self._calls_left += n
                self._cost_left += cost
                return
            n //= 2

    def close(self) -> None:
        """Give the unused allowance back to the round (siblings may use it)."""
        self._stop.set()
        R = BudgetRound.__table__.c
        with self._lock:
            calls, cost = self._calls_left, max(0.0, self._cost_left)
            self._calls_left, self._cost_left = 0, 0.0
        if calls or cost:
            try:
                with self.store.begin() as conn:
                    conn.execute(update(BudgetRound.__table__).where(R.id == self.round_id)
                                 .values(calls=func.max(R.calls - calls, 0)
                                         if conn.dialect.name == "sqlite"
                                         else func.greatest(R.calls - calls, 0),
                                         cost=R.cost - cost))
            except Exception:
                log.warning("could not give back the budget of round %s", self.round_id,
                            exc_info=True)


def _aware(ts: Any) -> Any:
    from datetime import timezone

    return ts if ts.tzinfo else ts.replace(tzinfo=timezone.utc)


def make_budget(store: Any, key: str, max_calls: Optional[int], max_cost: Optional[float], *,
                lease_s: float = 120.0) -> Budget:
    """A SharedBudget when a cap is set (caps hold across workers), else a plain Budget."""
    if max_calls is None and max_cost is None:
        return Budget()
    return SharedBudget(store, key, max_calls, max_cost, lease_s=lease_s)


__all__ = ["SharedBudget", "make_budget"]
