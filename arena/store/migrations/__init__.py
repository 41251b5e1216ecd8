"""The store's one migration history (Alembic), shared by the pipeline, annotation app and viewer.

Revisions live in ``versions/`` (frozen DDL: each spells out its tables and columns, never the
live models); docs/store.md says how to add one. ``upgrade`` runs on every ``Store.open(url)``
and via ``arena db upgrade``:

- an up-to-date store costs two small queries and no lock;
- otherwise it takes the migration lock (``locks``), re-reads the revision (another process may
  have upgraded meanwhile: then it does nothing) and runs the pending revisions in one
  transaction;
- a store made before Alembic (``arena_schema_version`` rows 1 and 2, no ``alembic_version``)
  is checked and stamped at 0001 first (``legacy``);
- a store at a revision this code does not know (made by a newer arena), or with arena tables
  but no version at all, is refused with a plain MigrationError; nothing is written.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Optional

from sqlalchemy import Connection, Engine

from arena.errors import ArenaError
from arena.store.db import read_transaction
from arena.store.migrations import legacy, runner
from arena.store.migrations.locks import migration_lock

log = logging.getLogger(__name__)


class MigrationError(ArenaError):
    """The store's schema cannot be brought to this code's: the message says why and what to do."""


@dataclass(frozen=True)
class Status:
    """Where a store stands. ``current`` is None for an empty or pre-Alembic store."""

    current: Optional[str]
    head: str
    pending: list[tuple[str, str]]  # (revision, description), oldest first
    legacy_versions: Optional[tuple[int, ...]] = None

    @property
    def up_to_date(self) -> bool:
        return not self.pending and self.legacy_versions is None


@dataclass(frozen=True)
class Upgraded:
    """What ``upgrade`` did: the revision a pre-Alembic store was stamped at, and the revisions
    applied in order (both empty when the store was already up to date)."""

    stamped: Optional[str] = None
    applied: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.stamped or self.applied)


def head() -> str:
    """The newest revision this code knows."""
    return runner.head()


def status(engine: Engine) -> Status:
    """Read where the store stands; writes nothing. Raises MigrationError as ``upgrade`` would."""
    with read_transaction(engine) as conn:
        state = runner.read_state(conn)
        _refuse_unusable(conn, state, _where(engine))
    current = state.revisions[0] if state.revisions else None
    if state.legacy_versions is not None:
        current = None
        todo = runner.pending(legacy.STAMP_REVISION)
    else:
        todo = runner.pending(current)
    return Status(current, head(), todo, state.legacy_versions)


def upgrade(engine: Engine) -> Upgraded:
    """Bring the store to the head revision (see the module docstring); return what was done.

    Raises MigrationError (or legacy.LegacyStoreError, a subclass of ArenaError) for a store
    this code cannot upgrade; database errors propagate with the transaction rolled back.
    """
    with read_transaction(engine) as conn:  # no write lock on SQLite for the common case
        state = runner.read_state(conn)
    if state.revisions == (head(),):
        return Upgraded()  # the fast path: no lock, no Alembic context
    with migration_lock(engine):
        with runner.transaction(engine) as conn:  # SQLite: BEGIN IMMEDIATE, the write lock
            state = runner.read_state(conn)  # another process may have upgraded while we waited
            if state.revisions == (head(),):
                return Upgraded()
            _refuse_unusable(conn, state, _where(engine))
            stamp = legacy.STAMP_REVISION if state.legacy_versions is not None else None
            if stamp:
                log.info("store %s predates Alembic (arena_schema_version %s): stamping it at "
                         "revision %s", _where(engine), list(state.legacy_versions or ()), stamp)
            applied = runner.run(conn, stamp=stamp)
    for rev in applied:
        log.info("applied store revision %s", rev)
    return Upgraded(stamp, applied)


def _refuse_unusable(conn: Connection, state: runner.StoreState, where: str) -> None:
    if state.revisions:
        unknown = [r for r in state.revisions if not runner.known(r)]
        if unknown:
            raise MigrationError(
                f"the store {where} is at schema revision {', '.join(unknown)}, which this code "
                f"does not know (its newest is {head()}): it was upgraded by a newer arena; "
                f"upgrade the arena package")
        if len(state.revisions) > 1:
            raise MigrationError(f"the store {where} records several schema revisions "
                                 f"({', '.join(state.revisions)}); this code expects one")
        return
    if state.legacy_versions is not None:
        legacy.check(conn, where, state.legacy_versions, state.tables)
        return
    ours = sorted(state.tables & set(legacy.A8040FD_COLUMNS))
    if ours:
        raise MigrationError(
            f"the store {where} has arena tables ({', '.join(ours[:4])}"
            f"{', ...' if len(ours) > 4 else ''}) but no schema version (neither alembic_version "
            f"nor arena_schema_version): it was not made by arena's migrations; use an empty "
            f"database or schema")


def _where(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=True)


__all__ = ["MigrationError", "Status", "Upgraded", "head", "status", "upgrade"]
