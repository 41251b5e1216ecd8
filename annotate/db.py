"""The app's handle on the store, bound through Flask-SQLAlchemy.

``fsa`` is the app's ``flask_sqlalchemy.SQLAlchemy`` extension, on the project's one metadata
(``arena.store.schema.Base.metadata``) and with the engines the rest of the project uses
(``arena.store.db.make_engine``: the same pool sizes, SQLite pragmas and ``BEGIN IMMEDIATE``).
Its default bind is the writer; on SQLite a second bind, ``reader``, issues a plain ``BEGIN``
so page views never wait behind the write lock (on PostgreSQL the reader is the writer).
``fsa.session`` is an ORM session on the same engines; the hot paths use Core connections from
``read()`` / ``write()`` below, which run on the same engines.

Both point at the same database the pipeline uses, found by the one resolver.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from contextlib import contextmanager
from typing import Any, Callable, Iterator, TypeVar

from flask import Flask, current_app
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import Connection, Engine, make_url
from sqlalchemy.exc import DBAPIError

from arena.store import Store
from arena.store.db import make_engine
from arena.store.schema import Base

log = logging.getLogger(__name__)

T = TypeVar("T")
EXT = "arena_store"
READER = "reader"
# Writer engine id -> a read transaction on the same store, for work that must not hold the
# SQLite write lock (annotate.adaptive's background plans).
READERS: dict[int, Callable[[], Any]] = {}


class ArenaSQLAlchemy(SQLAlchemy):
    """Flask-SQLAlchemy with the project's engines.

    Flask-SQLAlchemy would make a relative SQLite path relative to the instance folder and
    build engines with its own defaults; the store must be the file the one resolver named
    (relative to the working directory, as for every entry point) and opened the way
    ``arena.store.db.make_engine`` opens it.
    """

    def _apply_driver_defaults(self, options: dict[str, Any], app: Flask) -> None:
        return None

    def _make_engine(self, bind_key: str | None, options: dict[str, Any],
                     app: Flask) -> Engine:
        return make_engine(str(options["url"]), readonly=bind_key == READER)


# Bound to each app in ``init_app`` (the Flask tutorial's pattern: one extension object, bound
# in the factory). It holds no connection and reads no environment at import.
fsa = ArenaSQLAlchemy(metadata=Base.metadata)


class AppStore:
    """The writer and reader stores of one app (engines owned by ``fsa``)."""

    def __init__(self, url: str, writer: Engine, reader: Engine) -> None:
        self.writer = Store(writer, url)
        # SQLite has one writer at a time. Threads of this process queue on a lock instead of
        # in SQLite's busy handler, whose growing sleeps (up to 100 ms each) make long tails;
        # other processes (the pipeline) still wait on the busy timeout.
        self.write_lock: threading.Lock | None = (
            threading.Lock() if self.writer.dialect == "sqlite" else None)
        # Across processes (``arena annotate --workers N``) writers queue on a file lock next
        # to the database: a fair OS queue instead of the busy handler's sleeps.
        self.file_lock: _FileLock | None = None
        if self.writer.dialect == "sqlite":
            database = make_url(url).database
            if database and database != ":memory:" and not database.startswith("file:"):
                self.file_lock = _FileLock(database + "-annotate.lock")
        self.reader = Store(reader, url) if reader is not writer else self.writer
        READERS[id(self.writer.engine)] = self.reader.begin
        self.url = url
        from annotate.present import ContentCache

        self.content = ContentCache()  # rendered item content for the JSON API
        self.users: dict[int, tuple[float, Any]] = {}  # auth.load_user's short cache

    @classmethod
    def open(cls, url: str) -> "AppStore":
        """The same store outside a Flask app (scripts, tests): engines made here, with the
        same options as ``fsa``'s."""
        Store.open(url).close()
        writer = make_engine(url)
        reader = make_engine(url, readonly=True) \
            if make_url(url).get_backend_name() == "sqlite" else writer
        return cls(url, writer, reader)

    @property
    def dialect(self) -> str:
        return self.writer.dialect

    def close(self) -> None:
        READERS.pop(id(self.writer.engine), None)
        if self.file_lock is not None:
            self.file_lock.close()
        self.writer.close()
        if self.reader is not self.writer:
            self.reader.close()


class _FileLock:
    """An exclusive ``flock`` on a file, held by one thread of this process at a time (the
    caller holds the thread lock). Opened lazily, so each forked worker has its own."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.fd: int | None = None

    def __enter__(self) -> None:
        import fcntl

        if self.fd is None:
            self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(self.fd, fcntl.LOCK_EX)

    def __exit__(self, *exc: object) -> None:
        import fcntl

        if self.fd is not None:
            fcntl.flock(self.fd, fcntl.LOCK_UN)

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


def init_app(app: Flask, url: str) -> AppStore:
    """Migrate the store if needed, bind ``fsa`` to the app and return the app's store.

    Raises ConfigError for a bad URL and the store's own errors for an unreachable database.
    """
    Store.open(url).close()  # the project's migration path (an empty or older store)
    app.config["SQLALCHEMY_DATABASE_URI"] = url
    binds = {READER: url} if make_url(url).get_backend_name() == "sqlite" else {}
    app.config["SQLALCHEMY_BINDS"] = binds
    fsa.init_app(app)
    with app.app_context():
        writer = fsa.engines[None]
        reader = fsa.engines[READER] if binds else writer
    store = AppStore(url, writer, reader)
    app.extensions[EXT] = store
    return store


def app_store() -> AppStore:
    return current_app.extensions[EXT]  # type: ignore[no-any-return]


@contextmanager
def read() -> Iterator[Connection]:
    """A read-only transaction on the current app's store."""
    with app_store().reader.begin() as conn:
        yield conn


# The tables a review request reads or writes (and those their foreign keys check).
HOT_TABLES = ("users", "tasks", "task_members", "task_items", "assignments", "judgments",
              "questions", "answers", "documents", "references", "battles")


def warm_pool(store: AppStore, n: int) -> None:
    """PostgreSQL: open ``n`` connections now (they stay in the pool), so a server's first
    burst of requests does not wait on ``n`` new server processes at once, and have each
    plan one query on every table a review request touches: a new server process loads
    those tables' and indexes' catalog entries on first use (about 6 ms per connection
    here), which otherwise lands on the first requests, all at once. No-op on SQLite."""
    if store.dialect != "postgresql":
        return
    conns = [store.writer.engine.connect() for _ in range(n)]
    try:
        for conn in conns:
            for table in HOT_TABLES:
                conn.exec_driver_sql(f'SELECT * FROM "{table}" LIMIT 0').close()
            conn.rollback()
    finally:
        for conn in conns:
            conn.close()


@contextmanager
def read_once() -> Iterator[Connection]:
    """Reads that need no snapshot shared by their statements (rows that never change, such
    as an item's content): on PostgreSQL in autocommit, without the BEGIN and COMMIT round
    trips; elsewhere the same as ``read()``."""
    st = app_store()
    if st.dialect != "postgresql":
        with read() as conn:
            yield conn
        return
    with st.reader.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        yield conn


def write(fn: Callable[[Connection], T], store: AppStore | None = None, attempts: int = 5) -> T:
    """Run ``fn(conn)`` in one write transaction; retry on PostgreSQL deadlock/serialization.

    ``fn`` must be safe to rerun (it runs in a fresh transaction each time). Other database
    errors propagate after rollback.
    """
    st = store or app_store()
    for attempt in range(1, attempts + 1):
        try:
            if st.write_lock is not None:
                with st.write_lock:
                    if st.file_lock is not None:
                        with st.file_lock, st.writer.begin() as conn:
                            return fn(conn)
                    with st.writer.begin() as conn:
                        return fn(conn)
            with st.writer.begin() as conn:
                return fn(conn)
        except DBAPIError as exc:
            code = getattr(getattr(exc, "orig", None), "sqlstate", None)
            # 40P01 deadlock_detected, 40001 serialization_failure: safe to retry. So is a
            # connection the database had dropped (the engine does not ping on checkout;
            # SQLAlchemy has discarded the pool's connections): once, on a fresh one.
            if exc.connection_invalidated and attempt == 1:
                log.warning("database connection was lost; retrying the write once")
                continue
            if code in ("40P01", "40001") and attempt < attempts:
                log.info("retrying a write after %s (attempt %d)", code, attempt)
                time.sleep(0.01 * attempt)
                continue
            raise
    raise AssertionError("unreachable")


def describe_store(app: Flask) -> str:
    """The app's store URL with any password masked."""
    return app.extensions[EXT].writer.describe()  # type: ignore[no-any-return]
