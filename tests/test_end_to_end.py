"""The main job end to end: shipped sample questions -> answers from two endpoint models ->
an LLM judge in both orders -> a real (not dry-run) leaderboard; a rerun makes no calls.

Everything talks over real sockets to the fake OpenAI-compatible server.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import func, select

from arena.config import load_config
from arena.pipeline import run_pipeline
from arena.store import Store
from arena.store.schema import Answer, Judgment
from fake_openai import FakeOpenAI

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "registry" / "data"
pytestmark = pytest.mark.db


def judge_reply(req: dict) -> str:
    """A judge that always prefers the answer saying GOOD, wherever it is shown."""
    text = "\n".join(m["content"] for m in req["messages"] if m["role"] == "user")
    good, meh = text.rfind("GOOD"), text.rfind("meh")
    if good < 0 or meh < 0:
        return "I cannot tell."  # no verdict: must become a failed judgment, never a tie
    return "Assistant with GOOD is better. [[A]]" if good < meh else "The second. [[B]]"


def test_answers_judge_ratings_and_resume(tmp_path: Path, store_url: str,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_KEY", "sk-test")
    with FakeOpenAI(replies={"strong": "GOOD answer.", "weak": "meh", "judge": judge_reply}) as srv:
        cfg_path = tmp_path / "cfg.yaml"
        cfg_path.write_text(f"""
name: e2e
store: {{url: '{store_url}'}}
questions:
  - {{file: {DATA / 'arena_questions.jsonl'}, format: mtbench, source: sample}}
models:
  - {{name: strong, backend: openai, model: strong, base_url: '{srv.base_url}', api_key_env: FAKE_KEY}}
  - {{name: weak, backend: openai, model: weak, base_url: '{srv.base_url}', api_key_env: FAKE_KEY}}
generation: {{concurrency: 8, backoff_base_s: 0.01, backoff_max_s: 0.05}}
judge:
  mode: pairwise-all
  position_policy: both_games
  judges:
    - {{name: judge, backend: openai, model: judge, base_url: '{srv.base_url}', api_key_env: FAKE_KEY}}
ratings: {{bootstrap_rounds: 100}}
report: {{dir: {tmp_path / 'reports'}}}
""")
        result = run_pipeline(load_config(cfg_path), progress=False)
        n_q = sum(1 for _ in open(DATA / "arena_questions.jsonl"))
        n_turns = sum(len(json.loads(line)["turns"]) for line in open(DATA / "arena_questions.jsonl"))
        assert srv.count("strong") == n_turns and srv.count("weak") == n_turns
        assert srv.count("judge") == 2 * n_q  # both orders of one battle per question
        board = result.leaderboard or ""
        assert "DRY RUN" not in board.upper()
        lines = [ln for ln in board.splitlines() if ln.strip().startswith("1 ")]
        assert lines and "strong" in lines[0], board

        s = Store.open(store_url)
        with s.begin() as conn:
            assert conn.execute(select(func.count()).select_from(Answer)).scalar_one() == 2 * n_q
            rows = conn.execute(select(Judgment.first, Judgment.outcome, Judgment.model_a)).all()
        s.close()
        assert {r.first for r in rows} == {"A", "B"}
        # Whatever side it was shown on, the GOOD answer (strong = model_a) won: the display
        # order was mapped back onto the battle's models.
        assert {(r.model_a, r.outcome) for r in rows} == {("strong", "A")}
        report = json.loads(next((tmp_path / "reports").glob("*.manifest.json")).read_text())
        assert report, "a manifest is written beside the report"

        before = srv.count()
        run_pipeline(load_config(cfg_path), progress=False)
        assert srv.count() == before, "a rerun of a finished config makes no calls"
