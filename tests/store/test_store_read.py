"""Read transactions (``Store.read()``) never take the write lock: on SQLite (WAL) a long read
does not block or fail a writer, and a writer does not block a read; writes keep
``BEGIN IMMEDIATE`` (issue 13: "a 2-second read made another writer fail with 'database is
locked'")."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy import func, insert, select

from arena.store import Store
from arena.store.schema import Question

pytestmark = pytest.mark.db

ROOT = Path(__file__).resolve().parents[2]

# A writer in another process that gives up after 1 s of waiting for a lock (SQLite's busy
# timeout; on PostgreSQL lock_timeout), and prints how long its write transaction took.
WRITER = r"""
import sys, time
import sqlalchemy as sa
from arena.store import Store
store = Store.open(sys.argv[1])
with store.engine.connect() as conn:
    if conn.dialect.name == "sqlite":
        conn.connection.dbapi_connection.execute("PRAGMA busy_timeout=1000")
    t = time.monotonic()
    with conn.begin():
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql("SET LOCAL lock_timeout = '1s'")
        conn.execute(sa.text("INSERT INTO questions (id, source, local_id, category, turns, "
                             "meta, content_hash, seq, created_at) VALUES ('s/w', 's', 'w', '', "
                             "'[]', '{}', 'x', 0, CURRENT_TIMESTAMP)"))
    print(f"{time.monotonic() - t:.3f}")
store.close()
"""


def _question(qid: str) -> dict:
    return dict(id=qid, source="s", local_id=qid, category="", turns=["hi"], meta={},
                content_hash="x")


def _count(conn: sa.Connection) -> int:
    return conn.execute(select(func.count()).select_from(Question)).scalar_one()


def test_a_two_second_read_neither_blocks_nor_fails_a_writer(store: Store) -> None:
    with store.begin() as conn:
        conn.execute(insert(Question), [_question("s/1")])
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    t0 = time.monotonic()
    with store.read() as conn:
        assert _count(conn) == 1  # the snapshot starts here
        proc = subprocess.run([sys.executable, "-c", WRITER, store.url], env=env,
                              capture_output=True, text=True, timeout=60)
        assert proc.returncode == 0, proc.stderr[-1500:]  # not "database is locked"
        assert float(proc.stdout) < 0.5  # the writer did not wait for this read
        assert _count(conn) == 1  # committed meanwhile, but not in this snapshot
        time.sleep(max(0.0, 2.0 - (time.monotonic() - t0)))  # held open for 2 s in all
        assert _count(conn) == 1
    with store.read() as conn:
        assert _count(conn) == 2


def test_a_writer_holding_the_lock_does_not_block_a_read(store: Store) -> None:
    with store.begin() as conn:
        conn.execute(insert(Question), [_question("s/1")])
    locked, release = threading.Event(), threading.Event()

    def writer() -> None:
        with store.begin() as conn:
            conn.execute(insert(Question), [_question("s/2")])
            locked.set()
            release.wait(10)

    t = threading.Thread(target=writer)
    t.start()
    try:
        assert locked.wait(10)
        start = time.monotonic()
        with store.read() as conn:
            assert _count(conn) == 1  # the uncommitted row is not seen
        assert time.monotonic() - start < 0.5
    finally:
        release.set()
        t.join()


def test_load_verdicts_reads_while_another_process_writes(store: Store) -> None:
    """``load_verdicts(store)`` uses a read transaction: it does not queue behind a writer."""
    from arena.ratings.selection import load_verdicts

    locked, release = threading.Event(), threading.Event()
    other = Store.open(store.url)

    def writer() -> None:
        with other.begin() as conn:
            conn.execute(insert(Question), [_question("s/3")])
            locked.set()
            release.wait(10)

    t = threading.Thread(target=writer)
    t.start()
    try:
        assert locked.wait(10)
        start = time.monotonic()
        frame = load_verdicts(store)
        assert len(frame) == 0 and time.monotonic() - start < 1.0
    finally:
        release.set()
        t.join()
        other.close()


def test_a_write_inside_a_read_transaction_fails_and_the_connection_writes_again(
        store: Store) -> None:
    with pytest.raises(sa.exc.DBAPIError, match="readonly database|read-only transaction"):
        with store.read() as conn:
            conn.execute(insert(Question), [_question("s/1")])
    for i in range(3):  # the pooled connection switches back and forth
        with store.begin() as conn:
            conn.execute(insert(Question), [_question(f"s/{i}")])
        with store.read() as conn:
            assert _count(conn) == i + 1


def test_write_transactions_still_take_the_write_lock_first(store: Store) -> None:
    """SQLite: ``begin()`` is BEGIN IMMEDIATE, so a second writer waits at BEGIN instead of
    failing on a lock upgrade after it has read (the deadlock deferred BEGIN would allow)."""
    if store.dialect != "sqlite":
        pytest.skip("BEGIN IMMEDIATE is SQLite's")
    with store.begin() as conn:
        conn.execute(select(1))
        raw = conn.connection.dbapi_connection
        assert raw.in_transaction
        other = Store.open(store.url)
        try:
            with other.engine.connect() as c2:
                c2.connection.dbapi_connection.execute("PRAGMA busy_timeout=100")
                with pytest.raises(sa.exc.OperationalError, match="locked"):
                    with c2.begin():
                        pass  # BEGIN IMMEDIATE itself waits for (here: gives up on) the lock
        finally:
            other.close()
