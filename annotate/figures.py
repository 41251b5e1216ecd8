"""The dashboard's agreement figures, computed off the request when they are expensive.

``arena.ratings.agreement`` compares every pair of raters (Cohen's kappa, per bootstrap round):
with 100 annotators that is about 5,000 pairs, seconds of work without CIs and far more with
them. A page must not wait for that. So:

- a task whose human votes come from at most ``INLINE_RATERS`` raters is computed while the
  page renders (with the requested bootstrap rounds), as before;
- a larger one is computed in a background thread (one per task at a time) on the app's
  reader, with bootstrap CIs only while the rater pairs stay within ``BOOT_BUDGET`` (pairs x
  rounds); the page shows the last result with its age and the number of verdicts it used, or
  "computing" until the first one is ready. A result is reused until the task's verdicts
  change (the count and newest id of its human and LLM verdicts).
Nothing here writes; errors in the background keep the previous result and are logged.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Optional

from sqlalchemy import Connection, func, select

from arena.store.schema import Judgment

log = logging.getLogger(__name__)

INLINE_RATERS = 20
BOOT_BUDGET = 20_000  # rater pairs x bootstrap rounds a background run may spend


@dataclass
class Figures:
    report: Any  # dashboard.AgreementReport
    signature: tuple[int, int]
    rounds: int
    computed_at: float  # time.time()
    seconds: float  # how long it took

    @property
    def age_s(self) -> float:
        return time.time() - self.computed_at


def signature(conn: Connection, task_id: int) -> tuple[int, int]:
    """(count, newest id) of the verdicts the figures read: the task's human ones and every
    LLM one (they are compared on the task's items)."""
    n, top = conn.execute(select(func.count(), func.max(Judgment.id)).where(
        (Judgment.task_id == task_id) | (Judgment.judge_kind == "llm"))).one()
    return int(n or 0), int(top or 0)


def raters(conn: Connection, task_id: int) -> int:
    return int(conn.execute(select(func.count(Judgment.annotator_id.distinct())).where(
        Judgment.task_id == task_id, Judgment.judge_kind == "human")).scalar_one())


def rounds_for(n_raters: int, wanted: int) -> int:
    """Bootstrap rounds a background run can afford for ``n_raters`` raters."""
    pairs = max(n_raters * (n_raters - 1) // 2, 1)
    return min(wanted, max(BOOT_BUDGET // pairs - 1, 0))


class AgreementCache:
    def __init__(self) -> None:
        self._done: dict[tuple[str, int], Figures] = {}
        self._busy: set[tuple[str, int]] = set()
        self._lock = threading.Lock()

    def get(self, conn: Connection, store_key: str, task_id: int, wanted_rounds: int,
            reader: Optional[Callable[[], Any]]) -> tuple[Optional[Figures], bool]:
        """(the figures to show or None, whether newer ones are being computed)."""
        from annotate import dashboard

        key = (store_key, task_id)
        sig = signature(conn, task_id)
        with self._lock:
            have = self._done.get(key)
        if have is not None and have.signature == sig:
            return have, False
        n = raters(conn, task_id)
        if n <= INLINE_RATERS or reader is None:
            t0 = time.perf_counter()
            rep = dashboard.agreement_report(conn, task_id, rounds=wanted_rounds)
            fig = Figures(rep, sig, wanted_rounds, time.time(), time.perf_counter() - t0)
            with self._lock:
                self._done[key] = fig
            return fig, False
        with self._lock:
            if key not in self._busy:
                self._busy.add(key)
                threading.Thread(target=self._compute, daemon=True,
                                 args=(key, reader, task_id, rounds_for(n, wanted_rounds)),
                                 name=f"agreement-{task_id}").start()
        return have, True

    def _compute(self, key: tuple[str, int], reader: Callable[[], Any], task_id: int,
                 rounds: int) -> None:
        from annotate import dashboard

        try:
            t0 = time.perf_counter()
            with reader() as conn:
                sig = signature(conn, task_id)
                rep = dashboard.agreement_report(conn, task_id, rounds=rounds)
            with self._lock:
                self._done[key] = Figures(rep, sig, rounds, time.time(),
                                          time.perf_counter() - t0)
            log.info("agreement figures of task %d took %.1f s", task_id,
                     time.perf_counter() - t0)
        except Exception:  # noqa: BLE001 - the previous figures stay
            log.exception("agreement figures of task %d could not be computed", task_id)
        finally:
            with self._lock:
                self._busy.discard(key)


AGREEMENT = AgreementCache()


class FrameCache:
    """The dashboard's verdict loads per (store, task), kept while ``signature`` holds."""

    def __init__(self, size: int = 8) -> None:
        self.size = size
        self._data: dict[tuple[str, int], tuple[tuple[int, int], dict[Any, Any]]] = {}
        self._lock = threading.Lock()

    def shared(self, store_key: str, task_id: int, sig: tuple[int, int]) -> dict[Any, Any]:
        with self._lock:
            got = self._data.get((store_key, task_id))
            if got is not None and got[0] == sig:
                return got[1]
            if len(self._data) >= self.size:
                self._data.pop(next(iter(self._data)))
            fresh: dict[Any, Any] = {}
            self._data[(store_key, task_id)] = (sig, fresh)
            return fresh


FRAMES = FrameCache()
