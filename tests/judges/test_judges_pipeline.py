"""The reviews stage through the pipeline entry (``run_arena.py``'s code path): the judge is
chosen from the config, says which it used, stores rows; --retry-failed re-judges failures."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select

from arena.config import load_config
from arena.errors import StageFailed
from arena.pipeline import run_pipeline
from arena.store import Store
from arena.store.schema import Judgment
from fake_openai import FakeOpenAI
from judges.report import stored_judge_stats

pytestmark = pytest.mark.db


def write_files(tmp: Path, store_url: str, base_url: str) -> Path:
    with open(tmp / "question.jsonl", "w") as f:
        for i in range(3):
            f.write(json.dumps({"question_id": i, "text": f"Question {i}?",
                                "category": "generic"}) + "\n")
    for m in ("alpha", "beta"):
        with open(tmp / f"answer_{m}.jsonl", "w") as f:
            for i in range(3):
                f.write(json.dumps({"question_id": i, "text": f"Question {i}?",
                                    "category": "generic", "model_id": m, "metadata": {},
                                    "answer": f"{m} answer {i}"}) + "\n")
    cfg = tmp / "cfg.yaml"
    cfg.write_text(f"""
name: judged
store: {{url: '{store_url}'}}
questions: [{{file: question.jsonl, format: evalscope, source: qs}}]
models:
  - {{name: alpha, backend: file, path: answer_alpha.jsonl, format: evalscope}}
  - {{name: beta, backend: file, path: answer_beta.jsonl, format: evalscope}}
generation: {{concurrency: 4, max_retries: 0}}
judge:
  mode: pairwise-all
  position_policy: both_games
  judges:
    - {{name: api-judge, backend: openai, model: big-judge, api_key_env: FAKE_JUDGE_KEY,
       base_url: '{base_url}'}}
    - {{name: local-judge, backend: transformers, model: ./nowhere}}
""")
    return cfg


def test_pipeline_reviews_with_the_api_judge_and_retry_failed(
        tmp_path: Path, store_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_JUDGE_KEY", "sk-test")
    with FakeOpenAI("No idea.") as srv:
        path = write_files(tmp_path, store_url, srv.base_url)
        # A judge that fails on every item is a failed stage: one summary line, exit code 1.
        with pytest.raises(StageFailed, match=r"^judge api-judge failed on 6 of 6 items: "
                                              r".*no verdict") as err:
            run_pipeline(load_config(path), stages=["answers", "reviews"], progress=False)
        assert err.value.exit_code == 1
        assert srv.count() == 12  # 3 battles x 2 orders x (reply + follow-up)
        s = Store.open(store_url)
        assert stored_judge_stats(s, "api-judge").outstanding == 6  # the hint shows ...
        s.close()
        assert {h["authorization"] for h in srv.headers} == {"Bearer sk-test"}

        srv.reset()
        srv.reply = "Clear winner. [[B]]"
        res = run_pipeline(load_config(path), stages=["reviews"], progress=False)
        assert srv.count() == 0  # failed rows are not retried without the flag
        res = run_pipeline(load_config(path), stages=["reviews"], progress=False,
                           retry_failed=True)
        assert srv.count() == 6
        text = "\n".join(res.messages)
        assert "judge: api-judge#" in text and "(llm)" in text
        assert "stored: 12 judgments, 6 failed" in text
        assert "--retry-failed" not in text.split("stored: 12 judgments", 1)[1]  # ... and goes
        assert "judge: api-judge (openai big-judge at" in text  # which judge, and where
        s = Store.open(store_url)
        with s.begin() as conn:
            got = conn.execute(select(Judgment.parse_status, Judgment.outcome,
                                      Judgment.first)).all()
        s.close()
        assert sorted(st for st, _, _ in got) == ["failed"] * 6 + ["ok"] * 6
        # "[[B]]" = the answer shown second: model_b when model_a was first, and vice versa
        for st, outcome, first in got:
            if st == "ok":
                assert outcome == ("B" if first == "A" else "A")
            else:
                assert outcome is None


def test_pipeline_without_the_key_uses_the_next_judge(
        tmp_path: Path, store_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FAKE_JUDGE_KEY", raising=False)
    path = write_files(tmp_path, store_url, "http://127.0.0.1:9/v1")
    from arena.errors import ArenaError

    # The local judge is chosen; its model folder does not exist, which is a plain error.
    with pytest.raises(ArenaError) as err:
        run_pipeline(load_config(path), stages=["answers", "reviews"], progress=False)
    assert "local-judge" in str(err.value), str(err.value)
