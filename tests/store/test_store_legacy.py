"""Stores as users have them: built by a8040fd's code, upgraded in place, every row intact;
stores this code cannot upgrade are refused with a plain message and left as they were."""

from __future__ import annotations

from typing import Callable

import pytest
import sqlalchemy as sa
from sqlalchemy import insert, select

import a8040fd_rows
import a8040fd_schema
import schema_facts
from arena.cli import main
from arena.errors import ArenaError
from arena.store import Store, migrations
from arena.store.db import make_engine
from arena.store.migrations import MigrationError
from arena.store.schema import Judgment

pytestmark = pytest.mark.db


def _legacy_store(url: str) -> None:
    a8040fd_schema.build_legacy_store(url)
    engine = make_engine(url)
    with engine.begin() as conn:
        a8040fd_rows.fill(conn)
    engine.dispose()


def _snapshot(url: str) -> tuple[list[str], dict]:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return schema_facts.catalog(conn), a8040fd_rows.read_all(conn)
    finally:
        engine.dispose()


def test_an_a8040fd_store_upgrades_in_place_with_every_row_intact(
        new_store_url: Callable[[], str]) -> None:
    url = new_store_url()
    _legacy_store(url)
    _, before = _snapshot(url)
    assert {t: r for t, r in before.items() if t != "arena_schema_version"} == \
        a8040fd_rows.expected()
    assert [r["version"] for r in before["arena_schema_version"]] == [1, 2]

    engine = make_engine(url)
    try:
        status = migrations.status(engine)
        assert status.current is None and status.legacy_versions == (1, 2)
        assert [rev for rev, _ in status.pending] == ["0002", "0003", "0004", "0005", "0006"]
        done = migrations.upgrade(engine)
        assert (done.stamped, done.applied) == ("0001", ["0002", "0003", "0004", "0005", "0006"])
        assert migrations.upgrade(engine).applied == []
        assert migrations.status(engine).up_to_date
    finally:
        engine.dispose()

    _, after = _snapshot(url)
    legacy_after = after.pop("arena_schema_version")
    assert legacy_after[:2] == before.pop("arena_schema_version")
    # Version 3: arena releases from before Alembic refuse the store from now on.
    assert [r["version"] for r in legacy_after] == [1, 2, 3]
    assert after == {t: r for t, r in a8040fd_rows.expected_upgraded().items()}

    # Today's code works on it: new columns are empty, new rows go in after the old ids.
    store = Store.open(url)
    try:
        with store.read() as conn:
            rows = conn.execute(select(Judgment.id, Judgment.fingerprint, Judgment.preference)
                                .order_by(Judgment.id)).all()
        assert rows == [(i, None, None) for i in range(1, 6)]
        with store.begin() as conn:
            new_id = conn.execute(insert(Judgment).values(
                mode="pairwise-all", question_id="mt/81", model_a="alpha", model_b="beta",
                judge_kind="llm", judge_id="j", fingerprint="f" * 64, preference=1.25,
                outcome="A", meta={}).returning(Judgment.id)).scalar_one()
        assert new_id == 6
    finally:
        store.close()


def test_the_frozen_fixture_is_today_s_schema_and_fills_every_column() -> None:
    for name, rows in a8040fd_rows.ROWS.items():
        columns = set(a8040fd_schema.METADATA.tables[name].c.keys())
        for row in rows:
            assert set(row) == columns, name
        if len(rows) > 1:  # nullable columns are NULL somewhere and set somewhere
            for col in a8040fd_schema.METADATA.tables[name].c:
                if col.nullable:
                    values = [r[col.name] for r in rows]
                    assert any(v is not None for v in values), f"{name}.{col.name}"


def test_a_store_missing_a_column_is_refused_and_left_alone(
        new_store_url: Callable[[], str]) -> None:
    url = new_store_url()
    a8040fd_schema.build_legacy_store(url)
    engine = make_engine(url)
    with engine.begin() as conn:  # an early development build had no excluded_note
        conn.exec_driver_sql("ALTER TABLE users DROP COLUMN excluded_note")
    before = _catalog(engine)
    engine.dispose()
    with pytest.raises(ArenaError) as err:
        Store.open(url)
    assert "users.excluded_note" in str(err.value) and "pre-Alembic" in str(err.value)
    engine = make_engine(url)
    assert _catalog(engine) == before
    assert "alembic_version" not in sa.inspect(engine).get_table_names()  # nothing stamped
    engine.dispose()


def _catalog(engine: sa.Engine) -> list[str]:
    with engine.connect() as conn:
        return schema_facts.catalog(conn)


def test_a_store_from_a_newer_arena_is_refused(new_store_url: Callable[[], str],
                                               capsys: pytest.CaptureFixture[str]) -> None:
    url = new_store_url()
    Store.open(url).close()
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql("UPDATE alembic_version SET version_num = '0999'")
    engine.dispose()
    with pytest.raises(MigrationError, match="0999, which this code does not know.*upgrade "
                                             "the arena package"):
        Store.open(url)
    assert main(["db", "status", "--db", url]) == 2
    assert "0999" in capsys.readouterr().err
    # A pre-Alembic store with a version above 2 was made by a newer arena too.
    url2 = new_store_url()
    a8040fd_schema.build_legacy_store(url2)
    engine = make_engine(url2)
    with engine.begin() as conn:
        conn.exec_driver_sql("INSERT INTO arena_schema_version (version, applied_at) "
                             "VALUES (7, CURRENT_TIMESTAMP)")
    engine.dispose()
    with pytest.raises(ArenaError, match=r"version\(s\) \[7\].*newer arena"):
        Store.open(url2)


def test_tables_without_any_version_are_refused(new_store_url: Callable[[], str]) -> None:
    url = new_store_url()
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE questions (id VARCHAR(10) PRIMARY KEY)")
    engine.dispose()
    with pytest.raises(MigrationError, match="arena tables \\(questions\\) but no schema version"):
        Store.open(url)
    engine = make_engine(url)
    assert "alembic_version" not in sa.inspect(engine).get_table_names()
    engine.dispose()
