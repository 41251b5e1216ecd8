"""Weighted verdicts (judge.weighted): probabilities of the verdict tokens, not parsed text.

- a tiny random transformers judge: the stored probabilities are the model's own next-token
  distribution (checked with a forward pass here), they sum to 1 over the verdict tokens once
  normalised, and the preference is 1 + (pB + pC/2) / mass, mapped to model terms by ``first``;
- single mode: the expected score over "1".."10" ("10" is two tokens for this tokenizer);
- the fake OpenAI-compatible server's logprobs path, given the local judge's distribution,
  stores the same preferences;
- an endpoint without logprobs: the one-token text is the verdict, or a failed row;
- a verdict with under half the mass on its tokens is recorded, flagged and counted.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from arena.errors import ConfigError
from arena.reviews import cache_key, plan_items, run_reviews
from arena.store import Store
from arena.store.schema import Judgment
from fake_openai import FakeOpenAI
from judges.factory import build_judge
from judges.prompts import build
from tiny_models import build_tiny_model

from judge_fixtures import blocks, make_cfg

pytestmark = pytest.mark.db


@pytest.fixture(scope="module")
def tiny_judge(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("tiny-judge") / "m", window=2048, seed=3)


def local_cfg(folder: Path, **judge: Any):  # type: ignore[no-untyped-def]
    spec = {"name": "tiny-judge", "backend": "transformers", "model": str(folder),
            "dtype": "float32", "device": "cpu", "batch_size": 4}
    return make_cfg(None, judges=[spec], **judge)


def api_cfg(base_url: str, http_client: str = "auto", **judge: Any
            ):  # type: ignore[no-untyped-def]
    spec = {"name": "api-judge", "backend": "openai", "model": "judge-x", "base_url": base_url,
            "api_key_env": None, "http_client": http_client}
    return make_cfg(None, judges=[spec], weighted=True, **judge)


def stored(store: Store, judge_id: str) -> list[Any]:
    with store.begin() as conn:
        return list(conn.execute(select(Judgment).where(Judgment.judge_id == judge_id)
                                 .order_by(Judgment.id)).all())


def formula(probs: dict[str, float], first: str) -> float:
    mass = probs["A"] + probs["B"] + probs["C"]
    display = 1 + (probs["B"] + probs["C"] / 2) / mass
    return display if first == "A" else 3 - display


def single_tokens(tok: Any, s: str) -> set[int]:
    """Token ids that spell ``s`` alone (with or without a leading space)."""
    out = set()
    for text in (s, " " + s):
        ids = tok.encode(text, add_special_tokens=False)
        if len(ids) == 1:
            out.add(ids[0])
    return out


def next_probs(model: Any, ids: list[int]) -> Any:
    import torch

    with torch.inference_mode():
        logits = model(torch.tensor([ids])).logits[0, -1].float()
    return torch.softmax(logits, dim=-1)


def test_local_weighted_pairwise_is_the_next_token_distribution(filled: Store,
                                                                tiny_judge: Path) -> None:
    cfg = local_cfg(tiny_judge, position_policy="tie_if_inconsistent")
    [judge] = build_judge(cfg)
    assert judge.weighted and judge.candidates == ["A", "B", "C"]
    report = run_reviews(filled, cfg, judge, progress=False)
    rows = stored(filled, "tiny-judge")
    assert report.judged == len(rows) == 4 * 3 * 2 and report.failed == 0
    for r in rows:
        probs = r.meta["verdict_probs"]
        mass = r.meta["verdict_mass"]
        assert r.parse_status == "ok" and r.meta["weighted"] is True
        assert sum(p / mass for p in probs.values()) == pytest.approx(1.0, abs=1e-12)
        assert r.preference == pytest.approx(formula(probs, r.first), abs=1e-12)
        want = "A" if r.preference < 1.5 else "B" if r.preference > 1.5 else "TIE"
        assert r.outcome == want
        assert r.meta.get("verdict_low_mass", False) == (mass < 0.5)

    # The stored probabilities are the model's next-token distribution after the prompt.
    prov = judge.provider()
    by_key = {r.cache_key: r for r in rows}
    for item in plan_items(filled, cfg)[:5]:
        template, messages = build(judge.settings, judge.prompt_item(item), judge.template(item))
        assert template.prefill == "Answer:"
        req = judge.request(messages, "k")
        req.prefill = template.prefill
        dist = next_probs(prov.model, prov.prepare(req).ids)
        row = by_key[cache_key(judge, item)]
        for c in "ABC":
            want = float(sum(dist[t] for t in single_tokens(prov.tokenizer, c)))
            assert row.meta["verdict_probs"][c] == pytest.approx(want, rel=1e-4, abs=1e-7)


def test_local_weighted_single_mode_is_the_expected_score(filled: Store,
                                                          tiny_judge: Path) -> None:
    cfg = local_cfg(tiny_judge, mode="single", scale="rating", score_max=10)
    [judge] = build_judge(cfg)
    run_reviews(filled, cfg, judge, progress=False)
    rows = stored(filled, "tiny-judge")
    assert len(rows) == 4 * 3
    tok = judge.provider().tokenizer
    ten = tok.encode("10", add_special_tokens=False)
    for r in rows:
        probs = r.meta["verdict_probs"]
        assert sorted(probs, key=int) == [str(i) for i in range(1, 11)]
        mass = sum(probs.values())
        assert r.meta["verdict_mass"] == pytest.approx(mass)
        assert r.score_a == pytest.approx(sum(int(k) * p for k, p in probs.items()) / mass)
        assert 1 <= r.score_a <= 10 and r.preference is None

    # "10" is spelled "1" "0" here: p("1") + p("10") is the probability of the token "1".
    assert len(ten) == 2
    prov = judge.provider()
    item = plan_items(filled, cfg, mode=None)[0]
    template, messages = build(judge.settings, judge.prompt_item(item), judge.template(item))
    req = judge.request(messages, "k")
    req.prefill = template.prefill
    ids = prov.prepare(req).ids
    dist = next_probs(prov.model, ids)
    row = {r.cache_key: r for r in rows}[cache_key(judge, item)]
    p_one_token = float(dist[ten[0]])
    p_ten = p_one_token * float(next_probs(prov.model, ids + [ten[0]])[ten[1]])
    got = row.meta["verdict_probs"]
    assert got["10"] == pytest.approx(p_ten, rel=1e-4, abs=1e-9)
    spaced_one = single_tokens(tok, "1") - {ten[0]}
    p_one = p_one_token - p_ten + float(sum(dist[t] for t in spaced_one))
    assert got["1"] == pytest.approx(p_one, rel=1e-4, abs=1e-9)


_WHO = re.compile(r"of (m-\w+) to (q\d)")


def test_fake_server_logprobs_path_gives_the_local_preference(filled: Store,
                                                              tiny_judge: Path) -> None:
    cfg = local_cfg(tiny_judge, position_policy="tie_if_inconsistent")
    [local] = build_judge(cfg)
    run_reviews(filled, cfg, local, progress=False)
    local_rows = stored(filled, "tiny-judge")
    # The local judge's distribution per (question, model shown first, model shown second).
    shown: dict[tuple[str, str, str], Any] = {}
    for r in local_rows:
        a, b = (r.model_a, r.model_b) if r.first == "A" else (r.model_b, r.model_a)
        shown[(r.question_id.split("/")[-1], a, b)] = r

    def reply(req: dict) -> dict:
        bl = blocks(req)
        (ma, qa), (mb, _) = _WHO.search(bl["answer_a"]).groups(), \
            _WHO.search(bl["answer_b"]).groups()
        probs = shown[(qa, ma, mb)].meta["verdict_probs"]
        rest = max(1e-12, 1.0 - sum(probs.values()))
        dist = sorted([*probs.items(), ("Other", rest)], key=lambda kv: -kv[1])
        return {"content": dist[0][0], "logprobs": [(t, math.log(p)) for t, p in dist]}

    with FakeOpenAI(reply) as srv:
        api = api_cfg(srv.base_url, position_policy="tie_if_inconsistent")
        [judge] = build_judge(api)
        assert judge.weighted
        report = run_reviews(filled, api, judge, progress=False)
        body = srv.requests[0]
    assert report.failed == 0
    assert body["logprobs"] is True and body["top_logprobs"] == 20 and body["max_tokens"] == 1
    api_rows = stored(filled, "api-judge")
    assert len(api_rows) == len(local_rows)
    local_by = {(r.battle_id, r.first): r for r in local_rows}
    for r in api_rows:
        twin = local_by[(r.battle_id, r.first)]
        assert r.preference == pytest.approx(twin.preference, abs=1e-9)
        assert r.outcome == twin.outcome
        assert r.meta["verdict_source"] == "probabilities"


def test_endpoint_without_logprobs_uses_the_one_token_text(filled: Store) -> None:
    def reply(req: dict) -> str:
        # "B" for every question but q4, where the judge says something else.
        return "Hmm" if "to q4" in blocks(req)["answer_a"] else " B"

    with FakeOpenAI(reply) as srv:
        cfg = api_cfg(srv.base_url)
        [judge] = build_judge(cfg)
        report = run_reviews(filled, cfg, judge, progress=False)
    rows = stored(filled, "api-judge")
    ok = [r for r in rows if r.parse_status == "ok"]
    failed = [r for r in rows if r.parse_status == "failed"]
    assert len(ok) == 3 * 3 and len(failed) == 3 and report.failed == 3
    for r in ok:  # position "none": model_a shown first, so "B" prefers model_b
        assert r.first == "A" and r.preference == 2.0 and r.outcome == "B"
        assert r.meta["verdict_source"] == "text"
    for r in failed:
        assert r.preference is None and r.outcome is None and r.raw_output == "Hmm"
        assert "no verdict token" in r.error


@pytest.mark.parametrize("client", ["fast", "openai"])  # both HTTP clients read logprobs
def test_low_mass_verdicts_are_recorded_flagged_and_counted(filled: Store, client: str) -> None:
    dist = [("The", math.log(0.7)), ("B", math.log(0.2)), ("A", math.log(0.1))]
    with FakeOpenAI({"content": "The", "logprobs": dist}) as srv:
        cfg = api_cfg(srv.base_url, client)
        [judge] = build_judge(cfg)
        run_reviews(filled, cfg, judge, progress=False)
    rows = stored(filled, "api-judge")
    assert len(rows) == 12 and all(r.parse_status == "ok" for r in rows)
    for r in rows:
        assert r.meta["verdict_low_mass"] is True
        assert r.meta["verdict_mass"] == pytest.approx(0.3)
        assert r.preference == pytest.approx(1 + 0.2 / 0.3)
    summary = judge.summary()
    assert "12 this run held under half the probability mass" in summary
    assert "weighted verdicts: 12, of which 12 (100.0 %)" in summary


def test_weighted_defaults_fingerprint_and_bad_scales(tiny_judge: Path) -> None:
    [local] = build_judge(local_cfg(tiny_judge))
    [plain] = build_judge(local_cfg(tiny_judge, weighted=False))
    assert local.weighted and not plain.weighted
    assert local.fingerprint != plain.fingerprint  # weighting is part of the judge's identity
    with FakeOpenAI("A") as srv:
        spec = {"name": "api", "backend": "openai", "model": "x", "base_url": srv.base_url,
                "api_key_env": None}
        [api] = build_judge(make_cfg(None, judges=[spec]))
    assert not api.weighted  # API judges parse text unless judge.weighted is set
    [five] = build_judge(local_cfg(tiny_judge, scale="five_level"))
    assert not five.weighted  # no single-token verdict on this scale: text, as before
    with pytest.raises(ConfigError, match="judge.weighted needs a single-token verdict"):
        local_cfg(tiny_judge, scale="five_level", weighted=True)
