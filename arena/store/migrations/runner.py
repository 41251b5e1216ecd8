"""Alembic, configured in code: the script directory, the store's state, running revisions.

This module is what an Alembic project's ``env.py`` and ``alembic.ini`` would hold: the
revision files live in ``versions/`` beside it (package data), and migrations run on a
connection the caller owns, all pending revisions inside the caller's one transaction (DDL is
transactional on SQLite and PostgreSQL, so an upgrade that fails leaves the store untouched).

Alembic is imported lazily: opening an up-to-date store (the common case) never needs it.
"""

from __future__ import annotations

import functools
import logging
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Iterator, Optional

from sqlalchemy import Connection, Engine, inspect, text

from arena.errors import ArenaError

if TYPE_CHECKING:  # pragma: no cover
    from alembic.config import Config
    from alembic.script import ScriptDirectory

log = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
VERSION_TABLE = "alembic_version"
LEGACY_TABLE = "arena_schema_version"


@dataclass(frozen=True)
class StoreState:
    """What a store says about its schema, read without a lock.

    ``revisions``: the rows of ``alembic_version`` (empty when the table is missing);
    ``legacy_versions``: the rows of the pre-Alembic ``arena_schema_version`` when the store has
    that table and no ``alembic_version`` (a store made by arena before Alembic), else None;
    ``tables``: every table name in the store (its current schema on PostgreSQL).
    """

    revisions: tuple[str, ...]
    legacy_versions: Optional[tuple[int, ...]]
    tables: frozenset[str]

    @property
    def empty(self) -> bool:
        return not self.revisions and self.legacy_versions is None


def read_state(conn: Connection) -> StoreState:
    """Read the store's schema state on ``conn`` (two or three small queries)."""
    tables = frozenset(inspect(conn).get_table_names())
    revisions: tuple[str, ...] = ()
    legacy: Optional[tuple[int, ...]] = None
    if VERSION_TABLE in tables:
        revisions = tuple(sorted(conn.execute(text(
            f"SELECT version_num FROM {VERSION_TABLE}")).scalars()))
    elif LEGACY_TABLE in tables:
        legacy = tuple(sorted(conn.execute(text(f"SELECT version FROM {LEGACY_TABLE}")).scalars()))
    return StoreState(revisions, legacy, tables)


@functools.lru_cache(maxsize=None)
def _alembic(location: str) -> tuple["Config", "ScriptDirectory"]:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    cfg = Config()  # in memory: no alembic.ini
    cfg.set_main_option("script_location", location)
    script = ScriptDirectory.from_config(cfg)
    heads = script.get_heads()
    if len(heads) != 1:
        raise RuntimeError(f"the store's migrations in {location} have {len(heads)} heads "
                           f"({', '.join(heads)}); each revision must revise the one before")
    return cfg, script


def script_directory(location: str = str(HERE)) -> "ScriptDirectory":
    """The revision files under ``location`` (this package by default), read once per process.

    Caching matters: the test suite opens hundreds of stores, and loading the revision map
    imports every revision file.
    """
    return _alembic(location)[1]


def head(location: str = str(HERE)) -> str:
    """The newest revision this code knows."""
    return script_directory(location).get_current_head()  # type: ignore[return-value]


def known(revision: str, location: str = str(HERE)) -> bool:
    return revision in _revision_ids(location)


@functools.lru_cache(maxsize=None)
def _revision_ids(location: str) -> frozenset[str]:
    return frozenset(s.revision for s in script_directory(location).walk_revisions())


def pending(current: Optional[str], target: str = "head",
            location: str = str(HERE)) -> list[tuple[str, str]]:
    """(revision, one-line description) of each revision after ``current`` up to ``target``,
    oldest first; ``current`` None means an empty store."""
    script = script_directory(location)
    revs = list(script.iterate_revisions(target, current or "base"))
    return [(s.revision, (s.doc or "").strip()) for s in reversed(revs)]


@contextmanager
def transaction(engine: Engine) -> Iterator[Connection]:
    """A connection in the one transaction a migration runs in; committed if the block ends
    normally, rolled back on error.

    SQLite: foreign keys are switched off around the transaction and checked before COMMIT,
    the procedure SQLite documents for schema changes. A batch migration recreates a table
    (create a copy, copy the rows, drop the old, rename); with foreign keys on, dropping a
    table that other rows reference fails (or, deferred, still counts as a violation at
    COMMIT, since the copy was filled before the drop). ``PRAGMA foreign_keys`` cannot change
    inside a transaction, hence on the raw connection before BEGIN. A violation that remains
    is reported and nothing is committed.
    """
    with engine.connect() as conn:
        if conn.dialect.name != "sqlite":
            with conn.begin():
                yield conn
            return
        raw = conn.connection.dbapi_connection
        raw.execute("PRAGMA foreign_keys=OFF")  # before the BEGIN: no transaction yet
        try:
            with conn.begin():
                yield conn
                broken = conn.exec_driver_sql("PRAGMA foreign_key_check").all()
                if broken:
                    raise ArenaError(
                        f"the migration would leave {len(broken)} row(s) whose foreign key "
                        f"points nowhere (first: table {broken[0][0]}, rowid {broken[0][1]}, "
                        f"referring to {broken[0][2]}); nothing was changed")
        finally:
            try:
                raw.execute("PRAGMA foreign_keys=ON")
            except Exception:
                conn.invalidate()  # never pool a connection without its foreign keys
                raise


def run(conn: Connection, *, target: str = "head", stamp: Optional[str] = None,
        downgrade: bool = False, location: str = str(HERE)) -> list[str]:
    """Migrate the store on ``conn`` (in the caller's transaction, from ``transaction``) to
    ``target``.

    ``stamp``: first record that revision without running it (a pre-Alembic store whose schema
    is that revision's). Returns the revisions applied (or reverted), in order.
    """
    from alembic.runtime.environment import EnvironmentContext

    cfg, script = _alembic(location)
    applied: list[str] = []

    def steps(rev, _context):  # type: ignore[no-untyped-def]
        if downgrade:
            return script._downgrade_revs(target, rev)
        return script._upgrade_revs(target, rev)

    def on_apply(*, step, **_kw):  # type: ignore[no-untyped-def]
        applied.append(step.up_revision_id)  # the upper revision, in either direction

    with EnvironmentContext(cfg, script, fn=steps, destination_rev=target) as env:
        # render_as_batch: what `alembic revision --autogenerate` would write for SQLite, which
        # cannot ALTER most things in place (docs/store.md: adding a revision).
        env.configure(connection=conn, target_metadata=None, render_as_batch=True,
                      on_version_apply=on_apply)
        ctx = env.get_context()
        if stamp is not None:
            ctx.stamp(script, stamp)
        with env.begin_transaction():
            env.run_migrations()
    return applied
