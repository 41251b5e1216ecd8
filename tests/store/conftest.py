"""Fixtures for the store's own tests: several empty stores per test, on the suite's dialect."""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Callable, Iterator

import pytest
import sqlalchemy as sa

PG_URL = os.environ.get("ARENA_TEST_PG")


def _pg_schema_url(base: str, schema: str) -> str:
    sep = "&" if "?" in base else "?"
    return f"{base}{sep}options=-csearch_path%3D{schema}"


@pytest.fixture
def new_store_url(tmp_path: Path) -> Iterator[Callable[[], str]]:
    """A factory of URLs of empty stores: SQLite files in tmp_path, or fresh PostgreSQL
    schemas (dropped afterwards) when ``ARENA_TEST_PG`` is set."""
    schemas: list[str] = []
    count = iter(range(1_000_000))
    admin = sa.create_engine(PG_URL, isolation_level="AUTOCOMMIT") if PG_URL else None

    def make() -> str:
        if admin is None:
            return f"sqlite:///{tmp_path / f'store{next(count)}.db'}"
        schema = "t_" + uuid.uuid4().hex[:12]
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
        schemas.append(schema)
        return _pg_schema_url(PG_URL, schema)

    yield make
    if admin is not None:
        with admin.connect() as conn:
            for schema in schemas:
                conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        admin.dispose()
