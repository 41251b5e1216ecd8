"""The revisions themselves: 0001 is a8040fd's schema, head is the models', history is linear."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Callable

import pytest
import sqlalchemy as sa

import a8040fd_rows
import a8040fd_schema
import schema_facts
from arena.store import Store, migrations
from arena.store.db import make_engine
from arena.store.migrations import legacy, locks, runner

pytestmark = pytest.mark.db


def _legacy_with_rows(url: str) -> sa.Engine:
    """An a8040fd store holding ``a8040fd_rows``; the caller disposes of the engine."""
    a8040fd_schema.build_legacy_store(url)
    engine = make_engine(url)
    with engine.begin() as conn:
        a8040fd_rows.fill(conn)
    return engine


def _migrated(url: str, target: str) -> sa.Engine:
    engine = make_engine(url)
    with runner.transaction(engine) as conn:
        runner.run(conn, target=target)
    return engine


def test_revision_0001_is_exactly_the_a8040fd_schema(new_store_url: Callable[[], str]) -> None:
    old_url, new_url = new_store_url(), new_store_url()
    a8040fd_schema.build_legacy_store(old_url)
    old, new = make_engine(old_url), _migrated(new_url, "0001")
    try:
        with old.connect() as a, new.connect() as b:
            assert schema_facts.catalog(b) == schema_facts.catalog(a)
            assert schema_facts.reflected(b) == schema_facts.reflected(a)
            assert len(schema_facts.reflected(a)) == 13  # the comparison saw every table
    finally:
        old.dispose()
        new.dispose()


def test_head_matches_the_models(store: Store) -> None:
    """A model changed without a revision (or a revision that misses part of it) fails here."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    import arena.store.annotation_schema  # noqa: F401  (registers the annotation tables)
    from arena.store.schema import Base

    with store.engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True,
                                                     "compare_server_default": True})
        diff = compare_metadata(ctx, Base.metadata)
    assert diff == []


def test_revision_0002_adds_fingerprint_and_preference(new_store_url: Callable[[], str]) -> None:
    engine = _migrated(new_store_url(), "0001")
    try:
        with runner.transaction(engine) as conn:
            runner.run(conn)  # 0001 -> head
        cols = {c["name"]: c for c in sa.inspect(engine).get_columns("judgments")}
        assert str(cols["fingerprint"]["type"].compile(engine.dialect)) == "VARCHAR(64)"
        assert cols["fingerprint"]["nullable"] and cols["preference"]["nullable"]
        assert isinstance(cols["preference"]["type"], sa.Float)
        indexes = {i["name"]: i for i in sa.inspect(engine).get_indexes("judgments")}
        assert indexes["ix_judgments_fingerprint"]["column_names"] == ["fingerprint"]
        assert not indexes["ix_judgments_fingerprint"]["unique"]
    finally:
        engine.dispose()


def test_revision_0006_counts_done_items_from_the_assignments(
        new_store_url: Callable[[], str]) -> None:
    """0006 drops ``task_items.done_count``; its downgrade puts back each item's count of done
    round-1 leases (the rule the column followed), not zeros."""
    engine = _legacy_with_rows(new_store_url())
    try:
        migrations.upgrade(engine)
        assert "done_count" not in {c["name"] for c in sa.inspect(engine).get_columns(
            "task_items")}
        with engine.begin() as conn:  # a swap probe (round 2) is not another verdict
            conn.execute(sa.text(
                "INSERT INTO assignments (item_id, task_id, annotator_id, round, status, "
                "leased_at) VALUES (1, 1, 2, 2, 'done', CURRENT_TIMESTAMP)"))
        with runner.transaction(engine) as conn:
            assert runner.run(conn, target="0005", downgrade=True) == ["0006"]
        with engine.connect() as conn:
            got = conn.execute(sa.text("SELECT id, done_count FROM task_items ORDER BY id")).all()
        # item 1: one done round-1 lease (and a probe); item 2: a skipped lease only
        assert [tuple(r) for r in got] == [(1, 1), (2, 0)]
        col = {c["name"]: c for c in sa.inspect(engine).get_columns("task_items")}["done_count"]
        assert not col["nullable"] and col["default"] is None
    finally:
        engine.dispose()


def test_legacy_column_list_is_revision_0001(new_store_url: Callable[[], str]) -> None:
    engine = _migrated(new_store_url(), "0001")
    try:
        insp = sa.inspect(engine)
        have = {t: tuple(c["name"] for c in insp.get_columns(t))
                for t in insp.get_table_names() if t != "alembic_version"}
        assert have == legacy.A8040FD_COLUMNS
    finally:
        engine.dispose()


def test_downgrade_and_upgrade_keep_the_rows(new_store_url: Callable[[], str]) -> None:
    """0002's downgrade recreates ``judgments`` on SQLite (batch mode), a table other tables
    reference, with foreign keys on: the rows and references survive both directions."""
    engine = _legacy_with_rows(new_store_url())
    try:
        assert migrations.upgrade(engine).applied == ["0002", "0003", "0004", "0005", "0006"]
        with runner.transaction(engine) as conn:
            assert runner.run(conn, target="0001", downgrade=True) == [
                "0006", "0005", "0004", "0003", "0002"]
        cols = {c["name"] for c in sa.inspect(engine).get_columns("judgments")}
        assert "fingerprint" not in cols and "preference" not in cols
        with runner.transaction(engine) as conn:
            assert runner.run(conn) == ["0002", "0003", "0004", "0005", "0006"]
        with engine.begin() as conn:
            rows = a8040fd_rows.read_all(conn)
            if conn.dialect.name == "sqlite":
                assert conn.exec_driver_sql("PRAGMA foreign_key_check").all() == []
                # the pooled connection has its foreign keys back on
                assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        expected = a8040fd_rows.expected_upgraded()  # data changes are not undone by downgrades
        assert {t: r for t, r in rows.items() if t != "arena_schema_version"} == expected
        assert migrations.status(engine).up_to_date
    finally:
        engine.dispose()


def test_a_migration_that_breaks_a_foreign_key_changes_nothing(store: Store) -> None:
    from arena.errors import ArenaError

    # SQLite checks at the end of the migration's transaction, PostgreSQL at the statement.
    expected = ArenaError if store.dialect == "sqlite" else sa.exc.IntegrityError
    with pytest.raises(expected, match="foreign key"):
        with runner.transaction(store.engine) as conn:
            conn.execute(sa.text("INSERT INTO battles (question_id, model_a, model_b, "
                                 "created_at) VALUES ('nowhere', 'a', 'b', CURRENT_TIMESTAMP)"))
    with store.read() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM battles")).scalar() == 0


def test_history_is_linear_and_named_by_revision() -> None:
    script = runner.script_directory()
    revs = list(reversed(list(script.walk_revisions())))
    assert [r.revision for r in revs] == [f"{i:04d}" for i in range(1, len(revs) + 1)]
    for i, rev in enumerate(revs):
        assert rev.down_revision == (revs[i - 1].revision if i else None)
        assert Path(rev.path).name.startswith(rev.revision + "_")
        assert (rev.doc or "").strip(), f"{rev.path}: the docstring's first line describes it"
        # Frozen DDL: a revision never builds tables from the live models.
        source = Path(rev.path).read_text()
        assert not re.search(r"^\s*(from|import) arena\.store\.(schema|annotation_schema)"
                             r"|\.create_all\(", source, re.M), rev.path
    assert migrations.head() == revs[-1].revision


def test_advisory_lock_key_is_the_documented_hash() -> None:
    digest = hashlib.sha256(b"arena.store.migrations").digest()[:8]
    assert locks.PG_LOCK_KEY == int.from_bytes(digest, "big", signed=True)
