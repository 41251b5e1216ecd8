"""The store: one schema in SQLite (default) or PostgreSQL, opened through one resolver."""

from __future__ import annotations

import logging
from contextlib import contextmanager
from typing import Iterator

from sqlalchemy import Connection, Engine
from sqlalchemy.orm import Session

from arena.store import migrations
from arena.store.db import describe, make_engine, read_transaction, resolve_db_url

log = logging.getLogger(__name__)


class Store:
    """An open store: an engine plus helpers for transactions and sessions.

    ``Store.open(url)`` brings the store to the code's schema (``arena.store.migrations``: an
    empty store gets every revision, an older one the pending ones, a pre-Alembic one is
    stamped first), under a lock so concurrent first starts do not collide; a store ahead of
    the code is refused with MigrationError. ``upgrade=False`` opens it as it is.

    Transactions: ``begin()`` writes (on SQLite ``BEGIN IMMEDIATE``: one writer at a time,
    queued), ``read()`` only reads, from one snapshot (on SQLite a deferred ``BEGIN`` that never
    blocks a writer; REPEATABLE READ, READ ONLY on PostgreSQL). Use ``read()`` wherever
    nothing is written.
    """

    def __init__(self, engine: Engine, url: str) -> None:
        self.engine = engine
        self.url = url

    @classmethod
    def open(cls, url: str, *, upgrade: bool = True, readonly: bool = False) -> "Store":
        engine = make_engine(url, readonly=readonly)
        if upgrade:
            # A read-only engine cannot migrate: a writable one does it, then goes.
            migrator = make_engine(url) if readonly else engine
            try:
                migrations.upgrade(migrator)
            except BaseException:
                engine.dispose()
                raise
            finally:
                if migrator is not engine:
                    migrator.dispose()
        return cls(engine, url)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def begin(self) -> Iterator[Connection]:
        """A connection in one write transaction: committed on success, rolled back on error."""
        with self.engine.begin() as conn:
            yield conn

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A connection in one read-only transaction (one snapshot); a write in it fails."""
        with read_transaction(self.engine) as conn:
            yield conn

    @contextmanager
    def session(self) -> Iterator[Session]:
        """An ORM session in one transaction."""
        with Session(self.engine, expire_on_commit=False) as s, s.begin():
            yield s

    def describe(self) -> str:
        return describe(self.url)

    def close(self) -> None:
        self.engine.dispose()


def open_store(cli_url: str | None = None, config_url: str | None = None, *,
               readonly: bool = False) -> Store:
    """Resolve the URL (CLI > ARENA_DB > config > default) and open the store."""
    url = resolve_db_url(cli_url, config_url)
    return Store.open(url, readonly=readonly)


__all__ = ["Store", "open_store", "resolve_db_url"]
