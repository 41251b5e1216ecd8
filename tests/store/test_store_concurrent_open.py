"""Concurrent first starts: 8 processes open one empty store at the same moment; all succeed,
one migrates, the others wait for it and find nothing to do (issue 13: with 4 processes on
PostgreSQL, 1-3 crashed with UniqueViolation on pg_type)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from arena.store import Store, migrations

pytestmark = [pytest.mark.db, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
N = 8

# Each child imports everything and loads the revisions first, says it is ready, then waits
# for the start signal, so the 8 calls to Store.open start within a millisecond or two.
CHILD = r"""
import logging, sys, time
from pathlib import Path
logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(name)s: %(message)s")
from arena.store import Store
from arena.store.migrations import runner
import alembic.runtime.environment, alembic.operations  # noqa: F401  (warm imports)
runner.script_directory()
url, ready, go = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
ready.touch()
while not go.exists():
    time.sleep(0.0005)
store = Store.open(url)
store.close()
print("opened")
"""


def test_eight_processes_open_an_empty_store_at_once(store_url: str, tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    go = tmp_path / "go"
    procs = []
    for i in range(N):
        ready = tmp_path / f"ready{i}"
        procs.append((ready, subprocess.Popen(
            [sys.executable, "-c", CHILD, store_url, str(ready), str(go)], env=env,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)))
    deadline = time.monotonic() + 120
    while not all(r.exists() for r, _ in procs):
        assert time.monotonic() < deadline, "children did not start"
        assert all(p.poll() is None for _, p in procs), [p.communicate() for _, p in procs]
        time.sleep(0.01)
    go.touch()
    results = [p.communicate(timeout=120) + (p.returncode,) for _, p in procs]

    failed = [(rc, err[-2000:]) for out, err, rc in results if rc != 0 or "opened" not in out]
    assert failed == []
    # Exactly one process ran the revisions; the 7 others waited and found the store at head.
    applied = [line for _, err, _ in results for line in err.splitlines()
               if "applied store revision" in line]
    assert len(applied) == len(migrations.runner.pending(None)), applied
    migrators = [err for _, err, _ in results if "applied store revision" in err]
    assert len(migrators) == 1

    store = Store.open(store_url, upgrade=False)
    try:
        assert migrations.status(store.engine).up_to_date
        with store.read() as conn:
            assert conn.execute(sa.text("SELECT count(*) FROM alembic_version")).scalar() == 1
    finally:
        store.close()
