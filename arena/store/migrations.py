"""The store's one migration history, shared by the pipeline, the annotation app and viewer.

Each migration is a numbered function run inside one transaction; applied versions are
recorded in ``arena_schema_version``. ``upgrade`` runs automatically on an empty store and
via ``arena db upgrade``. A store newer than this code is refused rather than guessed at.
"""

from __future__ import annotations

import logging
from typing import Callable

from sqlalchemy import Connection, Engine, inspect, select

from arena.errors import ArenaError
from arena.store import schema

log = logging.getLogger(__name__)

Migration = Callable[[Connection], None]


def _v1_spine(conn: Connection) -> None:
    tables = [t.__table__ for t in schema.SPINE_TABLES]  # type: ignore[attr-defined]
    schema.Base.metadata.create_all(conn, tables=tables)


MIGRATIONS: dict[int, tuple[str, Migration]] = {
    1: ("spine: questions, documents, references, models, answers, battles, judgments", _v1_spine),
}


def register(version: int, description: str, fn: Migration) -> None:
    """Add a migration (used by modules that own their tables, e.g. the annotation app)."""
    if version in MIGRATIONS and MIGRATIONS[version][1] is not fn:
        raise RuntimeError(f"migration {version} registered twice")
    MIGRATIONS[version] = (description, fn)


def _load_all() -> None:
    # Table-owning modules register their migrations on import.
    import arena.store.annotation_schema  # noqa: F401


def current_version(engine: Engine) -> int:
    """0 for an empty store, else the highest applied migration."""
    with engine.connect() as conn:
        if not inspect(conn).has_table(schema.SchemaVersion.__tablename__):
            return 0
        versions = conn.execute(select(schema.SchemaVersion.version)).scalars().all()
    return max(versions, default=0)


def head() -> int:
    _load_all()
    return max(MIGRATIONS)


def upgrade(engine: Engine) -> list[int]:
    """Apply every pending migration; return the versions applied (empty when up to date)."""
    _load_all()
    have = current_version(engine)
    if have > head():
        raise ArenaError(f"the store is at schema version {have}, newer than this code "
                         f"({head()}); upgrade the arena package")
    applied = []
    for version in sorted(v for v in MIGRATIONS if v > have):
        description, fn = MIGRATIONS[version]
        with engine.begin() as conn:
            if version == 1 or inspect(conn).has_table(schema.SchemaVersion.__tablename__):
                # Another process may have applied it while we waited for the lock.
                if inspect(conn).has_table(schema.SchemaVersion.__tablename__):
                    done = conn.execute(select(schema.SchemaVersion.version).where(
                        schema.SchemaVersion.version == version)).first()
                    if done:
                        continue
            fn(conn)
            conn.execute(schema.SchemaVersion.__table__.insert().values(version=version))
        log.info("applied migration %d: %s", version, description)
        applied.append(version)
    return applied
