"""The store: one schema in SQLite (default) or PostgreSQL, opened through one resolver."""

from __future__ import annotations

import logging
from contextlib import contextmanager
from typing import Iterator

from sqlalchemy import Connection, Engine
from sqlalchemy.orm import Session

from arena.store import migrations
from arena.store.db import describe, make_engine, resolve_db_url

log = logging.getLogger(__name__)


class Store:
    """An open store: an engine plus helpers for transactions and sessions.

    ``Store.open(url)`` migrates an empty store automatically; a store behind the code's schema
    is upgraded too (migrations are additive), and one ahead of it is refused.
    """

    def __init__(self, engine: Engine, url: str) -> None:
        self.engine = engine
        self.url = url

    @classmethod
    def open(cls, url: str, *, upgrade: bool = True, readonly: bool = False) -> "Store":
        engine = make_engine(url, readonly=readonly)
        if upgrade:
            migrations.upgrade(engine)
        return cls(engine, url)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def begin(self) -> Iterator[Connection]:
        """A connection in one transaction: committed on success, rolled back on error."""
        with self.engine.begin() as conn:
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
