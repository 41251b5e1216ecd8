"""Shared fixtures: a real store (SQLite in tmp_path, or PostgreSQL in a fresh schema).

Tests that touch the database are marked ``db``. By default they run on SQLite; with
``ARENA_TEST_PG`` set to a PostgreSQL URL (``.ci/run`` sets it) the ``store_url`` fixture gives
each test its own schema on that server and drops it afterwards.
"""

from __future__ import annotations

import os
import sys
import uuid
from pathlib import Path
from typing import Iterator

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from arena.store import Store  # noqa: E402

PG_URL = os.environ.get("ARENA_TEST_PG")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "db: touches the store; run again on PostgreSQL in CI")
    config.addinivalue_line("markers", "browser: drives Debian's chromium through Playwright")
    config.addinivalue_line("markers", "slow: takes more than a few seconds")


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch) -> None:
    # A developer's own ARENA_DB / API keys must never leak into tests.
    for var in ("ARENA_DB", "ARENA_CONFIG", "OPENAI_API_KEY"):
        monkeypatch.delenv(var, raising=False)


def _pg_schema_url(base: str, schema: str) -> str:
    sep = "&" if "?" in base else "?"
    return f"{base}{sep}options=-csearch_path%3D{schema}"


@pytest.fixture
def store_url(tmp_path: Path) -> Iterator[str]:
    """A URL for an empty store: SQLite in tmp_path, or a fresh PostgreSQL schema."""
    if not PG_URL:
        yield f"sqlite:///{tmp_path / 'arena.db'}"
        return
    import sqlalchemy as sa

    schema = "t_" + uuid.uuid4().hex[:12]
    admin = sa.create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    try:
        yield _pg_schema_url(PG_URL, schema)
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        admin.dispose()


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    s = Store.open(store_url)
    try:
        yield s
    finally:
        s.close()
