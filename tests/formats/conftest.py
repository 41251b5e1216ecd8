"""Fixtures for the format tests: a second empty store (round trips import into it)."""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Iterator

import pytest

from arena.store import Store


@pytest.fixture
def other_store(tmp_path: Path) -> Iterator[Store]:
    """Another empty store of the same kind as ``store`` (SQLite file or PostgreSQL schema)."""
    pg_url = os.environ.get("ARENA_TEST_PG")  # as the suite's root conftest reads it
    if not pg_url:
        s = Store.open(f"sqlite:///{tmp_path / 'other.db'}")
        yield s
        s.close()
        return
    import sqlalchemy as sa

    schema = "t_" + uuid.uuid4().hex[:12]
    admin = sa.create_engine(pg_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    sep = "&" if "?" in pg_url else "?"
    s = Store.open(f"{pg_url}{sep}options=-csearch_path%3D{schema}")
    try:
        yield s
    finally:
        s.close()
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        admin.dispose()
