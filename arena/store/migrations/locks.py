"""One migrator at a time: a lock held around "check the revision, upgrade if behind".

Without it, N processes opening an empty store at once all see "no tables" and all run
CREATE TABLE; on PostgreSQL the losers fail with UniqueViolation on ``pg_type`` (issue 13), on
SQLite with "table already exists". With it, the first upgrades and the others, once they get
the lock, re-read the revision and find nothing to do.

- PostgreSQL: a session advisory lock on a fixed key, taken on a connection of its own in
  autocommit (so it spans the migration's transaction on another connection and no snapshot
  predates it), released explicitly, then that connection is closed. Advisory
  locks are per database, so stores in other databases never wait on each other; stores in
  other schemas of the same database do (briefly: only while one of them migrates).
- SQLite file: ``fcntl.flock`` on ``<database file>.lock`` beside it. The lock file is left in
  place (removing it would let a late process lock a new file while another holds the old).
- In-memory SQLite: no lock (nothing else can see the database).
"""

from __future__ import annotations

import logging
import os
from contextlib import contextmanager
from typing import Iterator, Optional

from sqlalchemy import Engine, text

log = logging.getLogger(__name__)

# A fixed key, the same for every arena process: the first 8 bytes of
# sha256(b"arena.store.migrations") as a signed 64-bit integer.
PG_LOCK_KEY = 7422562862657947714


@contextmanager
def migration_lock(engine: Engine) -> Iterator[None]:
    """Hold the store's migration lock for the duration of the block (waits for it)."""
    dialect = engine.dialect.name
    if dialect == "postgresql":
        with _pg_lock(engine):
            yield
        return
    if dialect == "sqlite":
        path = sqlite_lock_path(engine.url.database)
        if path is not None:
            with _file_lock(path):
                yield
            return
    yield


def sqlite_lock_path(database: Optional[str]) -> Optional[str]:
    """``<file>.lock`` for a SQLite database file; None for an in-memory database."""
    if not database or database == ":memory:":
        return None
    if database.startswith("file:"):  # a URI filename: file:path?mode=...
        path, _, query = database[len("file:"):].partition("?")
        if "mode=memory" in query or not path or path == ":memory:":
            return None
        database = path
    return os.path.expanduser(database) + ".lock"


@contextmanager
def _pg_lock(engine: Engine) -> Iterator[None]:
    conn = engine.connect().execution_options(isolation_level="AUTOCOMMIT")
    # Out of the pool: closed for good afterwards (which also ends any lock still held), so
    # migrating leaves the pool as it found it, not one connection larger.
    conn.detach()
    try:
        got = conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": PG_LOCK_KEY}).scalar()
        if not got:
            log.info("waiting for another process to finish migrating the store")
            conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": PG_LOCK_KEY})
        try:
            yield
        finally:
            try:
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": PG_LOCK_KEY})
            except Exception:
                conn.invalidate()  # the session may be gone; closing it releases the lock
                raise
    finally:
        conn.close()


@contextmanager
def _file_lock(path: str) -> Iterator[None]:
    try:
        import fcntl
    except ImportError:  # not POSIX: no file locks; concurrent first starts are not guarded
        log.debug("no fcntl: migrating %s without a file lock", path)
        yield
        return
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log.info("waiting for another process to finish migrating the store (%s)", path)
            fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
