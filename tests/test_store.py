"""The store: migrations, resolver precedence, SQLite concurrency."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, insert, select

from arena.store import Store, migrations, resolve_db_url
from arena.store.db import DEFAULT_URL
from arena.store.schema import Judgment, Question

pytestmark = pytest.mark.db


def test_empty_store_is_migrated_to_head(store: Store) -> None:
    st = migrations.status(store.engine)
    assert st.current == migrations.head() and st.up_to_date
    assert not migrations.upgrade(store.engine)  # idempotent: nothing stamped or applied


def test_resolver_precedence() -> None:
    env = {"ARENA_DB": "sqlite:///env.db"}
    assert resolve_db_url("sqlite:///cli.db", "sqlite:///cfg.db", env) == "sqlite:///cli.db"
    assert resolve_db_url(None, "sqlite:///cfg.db", env) == "sqlite:///env.db"
    assert resolve_db_url(None, "sqlite:///cfg.db", {}) == "sqlite:///cfg.db"
    assert resolve_db_url(None, None, {}) == DEFAULT_URL
    assert resolve_db_url("postgresql://u@h/db", None, {}) == "postgresql+psycopg://u@h/db"


def test_concurrent_writers_lose_nothing(store: Store) -> None:
    with store.begin() as conn:
        conn.execute(insert(Question), [dict(id="s/q", source="s", local_id="q", category="",
                                              turns=["hi"], meta={}, content_hash="x")])

    def writer(k: int) -> None:
        s = Store.open(store.url)
        for i in range(25):
            with s.begin() as conn:
                n = conn.execute(select(func.count()).select_from(Judgment)).scalar_one()
                conn.execute(insert(Judgment).values(
                    mode="pairwise-all", question_id="s/q", model_a="a", model_b="b",
                    judge_kind="human", judge_id=f"w{k}", outcome="A", meta={"seen": n}))
        s.close()

    threads = [threading.Thread(target=writer, args=(k,)) for k in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with store.begin() as conn:
        assert conn.execute(select(func.count()).select_from(Judgment)).scalar_one() == 150


def test_ingest_counts_are_exact_and_idempotent(store: Store) -> None:
    from arena.store.ingest import AnswerRecord, QuestionRecord, add_answers, add_judgments, \
        add_questions

    with store.begin() as conn:
        s = add_questions(conn, [QuestionRecord(turns=["q1"], local_id="1"),
                                 QuestionRecord(turns=["q2"], local_id="2")], "src")
        assert (s.inserted, s.unchanged) == (2, 0)
        recs = [AnswerRecord(question_id="src/1", model="m", turns=["a"]),
                AnswerRecord(question_id="src/2", model="m", turns=["b"])]
        assert add_answers(conn, recs).inserted == 2
        again = add_answers(conn, recs)
        assert (again.inserted, again.unchanged) == (0, 2)
        row = dict(mode="pairwise-all", question_id="src/1", model_a="m", model_b="n",
                   judge_kind="human", judge_id="h", outcome="A", submission_id="sub-1")
        assert add_judgments(conn, [row]) == 1
        assert add_judgments(conn, [row]) == 0  # a retried submit stores one verdict
    with store.begin() as conn:
        assert conn.execute(select(func.count()).select_from(Judgment)).scalar_one() == 1


def test_reimport_with_different_text_names_both(store: Store) -> None:
    from arena.errors import InputError
    from arena.store.ingest import QuestionRecord, add_questions

    with store.begin() as conn:
        add_questions(conn, [QuestionRecord(turns=["What is 2+2?"], local_id="7")], "src")
    with pytest.raises(InputError) as err:
        with store.begin() as conn:
            add_questions(conn, [QuestionRecord(turns=["Name a colour."], local_id="7", line=3)],
                          "src", file="new.jsonl")
    msg = str(err.value)
    assert "new.jsonl:3" in msg and "What is 2+2?" in msg and "Name a colour." in msg
