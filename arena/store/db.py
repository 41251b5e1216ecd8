"""Opening the store: the one URL resolver and engine set-up every entry point uses.

Resolution order (DESIGN.md section 1): ``--db URL`` > environment ``ARENA_DB`` > config
``store.url`` > ``sqlite:///outputs/arena.db`` in the working directory.

SQLite is set up for several writers at once (the pipeline and the annotation app on one
file): WAL journal, a busy timeout, and ``BEGIN IMMEDIATE`` for every write transaction so two
writers never deadlock upgrading a read lock; a writer waits its turn instead of failing.
Read transactions (``read_transaction``, ``Store.read()``) start with a plain deferred
``BEGIN`` instead: in WAL mode they take no lock that a writer waits on, and they read one
snapshot (fixed at their first SELECT) for as long as they stay open.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url

from arena.errors import ConfigError

log = logging.getLogger(__name__)

DEFAULT_URL = "sqlite:///outputs/arena.db"
ENV_VAR = "ARENA_DB"

# The execution option that marks a connection's transactions as read-only (see
# ``read_transaction``); the SQLite engine's "begin" handler reads it.
READ_ONLY_OPTION = "arena_read_only"


def resolve_db_url(cli_url: str | None = None, config_url: str | None = None,
                   environ: dict[str, str] | None = None) -> str:
    """Return the store URL by precedence: CLI > ``ARENA_DB`` > config > default."""
    env = os.environ if environ is None else environ
    for candidate in (cli_url, env.get(ENV_VAR), config_url):
        if candidate:
            return normalise_url(candidate)
    return DEFAULT_URL


def normalise_url(url: str) -> str:
    """Accept a bare file path as SQLite and ``postgresql://`` as psycopg 3."""
    if "://" not in url:
        return f"sqlite:///{url}"
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def make_engine(url: str, *, readonly: bool = False) -> Engine:
    """Create an engine for ``url``; creates the SQLite file's folder when missing.

    Raises ConfigError for an unparseable URL or an unsupported database.
    """
    try:
        parsed = make_url(url)
    except Exception as exc:  # sqlalchemy raises ArgumentError with a terse message
        raise ConfigError(f"store URL {url!r} is not a database URL: {exc}") from exc
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return _sqlite_engine(url, parsed.database, readonly=readonly)
    if backend == "postgresql":
        # No pre-ping: it costs a round trip (BEGIN + SELECT 1) on every checkout, a third
        # of the statements of the annotation server's short transactions. A connection the
        # server dropped fails its next statement instead; SQLAlchemy then discards the
        # whole pool (callers that can rerun their transaction do: annotate.db.write), and
        # connections are renewed every 30 minutes so idle ones are not cut by firewalls.
        # pool_size: as many kept connections as a multi-threaded server runs threads
        # (waitress: 16). Connections beyond it are closed when returned, so a busy server
        # would open a new one (a new server process, cold caches) every few requests.
        return create_engine(url, pool_pre_ping=False, pool_recycle=1800, pool_size=20,
                             max_overflow=30)
    raise ConfigError(f"store URL {url!r}: only sqlite and postgresql are supported")


def _wal(cur: Any, tries: int = 100) -> None:
    """Switch a (new) database file to WAL. The switch needs the file to itself and, when
    several processes open a brand-new store at once, SQLite can answer "database is locked"
    at once instead of waiting its busy timeout; the mode is persistent, so retry until one
    of them has switched it (then there is nothing left to do)."""
    for attempt in range(tries):
        try:
            if str(cur.execute("PRAGMA journal_mode").fetchone()[0]).lower() == "wal":
                return
            cur.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or attempt == tries - 1:
                raise
            time.sleep(0.05)


def _sqlite_engine(url: str, database: str | None, *, readonly: bool) -> Engine:
    if database and database != ":memory:" and not database.startswith("file:"):
        Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    # A pool as large as a multi-threaded server needs (waitress runs 16+ threads).
    engine = create_engine(url, connect_args={"timeout": 60, "check_same_thread": False},
                           pool_size=20, max_overflow=40)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record):  # type: ignore[no-untyped-def]
        # Let SQLAlchemy's "begin" event issue BEGIN itself (pysqlite's implicit BEGIN is
        # DEFERRED, which deadlocks two writers that both read first).
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        _wal(cur)
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=60000")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):  # type: ignore[no-untyped-def]
        read = bool(readonly or conn.get_execution_options().get(READ_ONLY_OPTION, False))
        # query_only makes a write inside a read transaction fail ("attempt to write a
        # readonly database") as PostgreSQL's READ ONLY does, instead of taking the write lock
        # unannounced. A pragma outside any transaction, set only when the pooled connection
        # switches between reading and writing.
        info = conn.connection.info
        if info.get("query_only", False) != read:
            conn.exec_driver_sql(f"PRAGMA query_only={int(read)}")
            info["query_only"] = read
        conn.exec_driver_sql("BEGIN" if read else "BEGIN IMMEDIATE")

    return engine


@contextmanager
def read_transaction(engine: Engine) -> Iterator[Connection]:
    """A connection in one read-only transaction, rolled back at the end.

    Every statement in it sees one snapshot of the store, and a write in it fails (so a
    mistake shows on both databases, not only on one):
    SQLite: a deferred ``BEGIN`` with ``PRAGMA query_only`` (no write lock: in WAL mode it
    never blocks a writer nor waits for one; the snapshot is fixed at its first SELECT).
    PostgreSQL: ``BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY`` (psycopg writes both into
    its BEGIN: no extra round trip). A read-only transaction never fails serialization checks.

    Why a per-connection flag and not a second engine: one pool serves both kinds (a second
    engine would double the connections held), and an in-memory SQLite database is private
    to its pool, so a second engine would see a different, empty database.
    """
    with engine.connect() as conn:
        conn.execution_options(**{READ_ONLY_OPTION: True})
        if engine.dialect.name == "postgresql":
            conn.execution_options(isolation_level="REPEATABLE READ", postgresql_readonly=True)
        with conn.begin() as tx:
            yield conn
            tx.rollback()  # nothing to keep; a rollback ends a read-only transaction cheapest


def describe(url: str) -> str:
    """The URL with any password masked, for logs and reports."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "<unparseable url>"
