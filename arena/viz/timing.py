"""Where a script run's time goes: named phases, recorded per run (server-side breakdown).

``app.main`` calls ``start()`` at the top of each run and ``finish()`` at the end; cached
functions wrap their work in ``with phase("name"):``, so a phase appears only when it ran
(a cache miss). ``last_run()`` gives the most recent run of this thread (the script thread of
a session; ``bench/viz.py`` reads it after ``AppTest.run``), and ``?timing=1`` shows it in the
sidebar. Nothing here changes what a page shows.
"""

from __future__ import annotations

import threading
import time
from contextlib import contextmanager
from typing import Iterator

_local = threading.local()
_last: list[tuple[str, float]] = []
_lock = threading.Lock()


def start() -> None:
    _local.phases = []
    _local.t0 = time.perf_counter()


@contextmanager
def phase(name: str) -> Iterator[None]:
    """Time the enclosed block as ``name`` (nested phases are recorded on their own)."""
    t = time.perf_counter()
    try:
        yield
    finally:
        phases = getattr(_local, "phases", None)
        if phases is not None:
            phases.append((name, time.perf_counter() - t))


def finish() -> list[tuple[str, float]]:
    """Close the run: its phases plus ("script total", seconds)."""
    phases = list(getattr(_local, "phases", []))
    t0 = getattr(_local, "t0", None)
    if t0 is not None:
        phases.append(("script total", time.perf_counter() - t0))
    with _lock:
        _last[:] = phases
    return phases


def elapsed() -> float:
    """Seconds since this thread's run started (0 outside a run)."""
    t0 = getattr(_local, "t0", None)
    return 0.0 if t0 is None else time.perf_counter() - t0


def current() -> list[tuple[str, float]]:
    """The phases recorded so far in this thread's run."""
    return list(getattr(_local, "phases", []))


def last_run() -> list[tuple[str, float]]:
    """The phases of the most recently finished run (any thread)."""
    with _lock:
        return list(_last)


def summarise(phases: list[tuple[str, float]]) -> dict[str, float]:
    """Seconds per phase name (repeated phases summed), in order of first appearance."""
    out: dict[str, float] = {}
    for name, s in phases:
        out[name] = out.get(name, 0.0) + s
    return out
