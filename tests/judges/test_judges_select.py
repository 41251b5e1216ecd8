"""Judge selection: first usable judge, plain errors, self-preference warning; a local
transformers judge (tiny random model loaded with from_pretrained) through the same stage."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from sqlalchemy import select

from arena.config import parse_config
from arena.errors import BackendUnavailable, ConfigError
from arena.reviews import run_reviews
from arena.store import Store
from arena.store.schema import Judgment
from judges.factory import build_judge, select_llm_judge

API = {"name": "api-judge", "backend": "openai", "model": "gpt-x", "api_key_env": "JUDGE_KEY"}
LOCAL = {"name": "local-judge", "backend": "transformers", "model": "./tiny"}


def cfg(judges: list[dict], models: list[dict] | None = None,  # type: ignore[no-untyped-def]
        **judge):
    models = models or [{"name": "m1", "backend": "file", "path": "a.jsonl"},
                        {"name": "m2", "backend": "file", "path": "b.jsonl"}]
    return parse_config({"models": models, "judge": {"judges": judges, **judge}}, "<test>")


def test_api_judge_when_its_key_is_set_else_the_local_one() -> None:
    c = cfg([API, LOCAL])
    sel = select_llm_judge(c, environ={"JUDGE_KEY": "sk-1"})
    assert sel.spec.name == "api-judge" and sel.passed_over == []
    sel = select_llm_judge(c, environ={})
    assert sel.spec.name == "local-judge"
    assert sel.passed_over == ["api-judge: JUDGE_KEY is not set"]
    assert "local-judge (transformers" in sel.describe() and "JUDGE_KEY is not set" in \
        sel.describe()
    # an endpoint without keys is usable with no environment at all
    nokey = {**API, "api_key_env": None, "base_url": "http://127.0.0.1:9/v1"}
    assert select_llm_judge(cfg([nokey, LOCAL]), environ={}).spec.name == "api-judge"
    # a disabled entry is passed over
    assert select_llm_judge(cfg([{**API, "enabled": False}, LOCAL]),
                            environ={"JUDGE_KEY": "k"}).spec.name == "local-judge"


def test_no_usable_judge_is_a_plain_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("JUDGE_KEY", raising=False)
    with pytest.raises(BackendUnavailable, match="JUDGE_KEY is not set.*--dry-run"):
        build_judge(cfg([API]))
    with pytest.raises(ConfigError, match="both empty"):
        build_judge(cfg([]))


def test_self_preference_warning(caplog: pytest.LogCaptureFixture) -> None:
    models = [{"name": "m1", "backend": "openai", "model": "gpt-x", "api_key_env": None},
              {"name": "m2", "backend": "file", "path": "b.jsonl"}]
    c = cfg([API], models=models)
    sel = select_llm_judge(c, environ={"JUDGE_KEY": "k"})
    assert sel.warnings and "self-preference" in sel.warnings[0] and "m1" in sel.warnings[0]
    with caplog.at_level(logging.INFO, logger="judges.factory"):
        build_judge(c, environ={"JUDGE_KEY": "k"})
    assert any("self-preference" in r.message and r.levelno == logging.WARNING
               for r in caplog.records)
    assert any("judge: api-judge (openai gpt-x)" in r.message for r in caplog.records)
    # a different model: no warning
    assert select_llm_judge(cfg([API]), environ={"JUDGE_KEY": "k"}).warnings == []


def test_scale_follows_mode_and_mismatch_is_a_config_error() -> None:
    assert cfg([], mode="single").judge.scale == "rating"
    assert cfg([]).judge.scale == "abc"
    with pytest.raises(ConfigError, match="mode single needs rating or rubric"):
        cfg([], mode="single", scale="five_level")
    with pytest.raises(ConfigError, match="pairwise modes"):
        cfg([], scale="rating")


@pytest.mark.db
@pytest.mark.slow
def test_local_transformers_judge_without_verdicts_stores_failed_rows(
        filled: Store, tmp_path: Path) -> None:
    pytest.importorskip("torch")
    from judge_fixtures import make_cfg
    from tiny_models import build_tiny_model

    path = build_tiny_model(tmp_path / "tiny-judge", window=2048)
    c = make_cfg(None, judges=[{"name": "tiny-judge", "backend": "transformers",
                                "model": str(path), "dtype": "float32", "device": "cpu",
                                "batch_size": 4,
                                "generation": {"max_new_tokens": 8, "temperature": 0.0}}],
                 weighted=False)  # text verdicts (local judges default to weighted ones)
    [judge] = build_judge(c)
    report = run_reviews(filled, c, judge, limit=1, progress=False)
    # A random model writes no verdict: after one follow-up each item is a failed row.
    assert report.failed == 3 and report.judged == 0
    with filled.begin() as conn:
        got = conn.execute(select(Judgment)).all()
    assert len(got) == 3
    for r in got:
        assert r.judge_id == "tiny-judge" and r.judge_kind == "llm"
        # (seeded weights, greedy decoding: the output is fixed and holds no verdict)
        assert r.parse_status == "failed" and r.outcome is None and r.score_a is None
        assert r.raw_output is not None and r.error and r.meta["calls"] == 2
    assert judge.stats.calls == 6 and judge.stats.followups == 3
