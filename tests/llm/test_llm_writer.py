"""The result writer: each result durable within the promised 200 ms, and a steady stream of
results grouped into few commits (the CPU per result depends on it)."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import func, select

from arena.llm.writer import ResultWriter
from arena.store import Store
from arena.store.ingest import QuestionRecord, add_questions
from arena.store.schema import Judgment

pytestmark = pytest.mark.db


def _row(i: int) -> dict:
    return {"mode": "pairwise-all", "question_id": "w/q", "model_a": "a", "model_b": "b",
            "first": "A", "judge_kind": "llm", "judge_id": "j", "fingerprint": "f",
            "cache_key": f"k{i}", "outcome": "A", "raw_output": "[[A]]", "parse_status": "ok"}


def _count(store: Store) -> int:
    with store.read() as conn:
        return int(conn.execute(select(func.count()).select_from(Judgment)).scalar_one())


def test_a_result_is_durable_within_200_ms_and_a_stream_is_grouped(store: Store) -> None:
    with store.begin() as conn:
        add_questions(conn, [QuestionRecord(local_id="q", turns=["?"])], "w")
    with ResultWriter(store) as writer:
        t0 = time.monotonic()
        writer.put("judgment", _row(0))
        while _count(store) < 1 and time.monotonic() - t0 < 5:
            time.sleep(0.002)
        assert time.monotonic() - t0 < 0.2  # linger (50 ms) + one small commit
        # 200 results arriving over ~0.4 s, as 64 calls in flight at 100 ms deliver them
        for i in range(1, 201):
            writer.put("judgment", _row(i))
            time.sleep(0.002)
    assert _count(store) == 201
    # grouped: one commit per ~50 ms of arrivals, not one per result (was 1 per ~3)
    assert writer.commits <= 20, writer.commits
