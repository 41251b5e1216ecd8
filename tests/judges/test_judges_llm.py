"""The LLM judge end to end: fake OpenAI-compatible server scripted as a judge, real store.

Each mode x position policy stores the expected rows; the prompt the server received holds
both answers in the recorded order; inconsistent orders resolve per policy; a judge that never
gives a verdict produces failed rows (never ties); a rerun makes zero calls.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from sqlalchemy import select

from arena.config import Price
from arena.ratings.battles import build_battles
from arena.ratings.selection import Selection, load_verdicts
from arena.reviews import run_reviews
from arena.store import Store
from arena.store.schema import Answer, JudgeFailure, Judgment
from fake_openai import FakeOpenAI, Fault
from judges.factory import build_judge
from judges.llm import FOLLOWUP_MARK

from judge_fixtures import MODELS, blocks, fair_judge, first_shown_model, make_cfg

pytestmark = pytest.mark.db

N_Q = 4
PAIRS = 3  # three models -> three pairs per question


def rows(store: Store) -> list[Any]:
    with store.begin() as conn:
        return list(conn.execute(select(Judgment).order_by(Judgment.id)).all())


def judged(store: Store, cfg, srv=None, **kw):  # type: ignore[no-untyped-def]
    [judge] = build_judge(cfg)
    report = run_reviews(store, cfg, judge, progress=False, run_id="r1", **kw)
    return judge, report


def answer_model(store: Store) -> dict[int, str]:
    with store.begin() as conn:
        return {aid: m for aid, m in conn.execute(select(Answer.id, Answer.model))}


def quality(model: str) -> int:
    return {"m-good": 2, "m-mid": 1, "m-bad": 0}[model]


def expected_winner(m_a: str, m_b: str) -> str:
    qa, qb = quality(m_a), quality(m_b)
    return "A" if qa > qb else "B" if qb > qa else "TIE"


POLICIES = {"none": 1, "random_order": 1, "tie_if_inconsistent": 2, "both_games": 2}


@pytest.mark.parametrize("policy", list(POLICIES))
@pytest.mark.parametrize("mode", ["pairwise-all", "pairwise-baseline"])
def test_pairwise_modes_and_policies(filled: Store, mode: str, policy: str) -> None:
    extra = {"baseline": "m-mid"} if mode == "pairwise-baseline" else {}
    with FakeOpenAI(fair_judge()) as srv:
        cfg = make_cfg(srv.base_url, mode=mode, position_policy=policy, **extra)
        judge, report = judged(filled, cfg)
        battles = N_Q * (PAIRS if mode == "pairwise-all" else 2)
        n = battles * POLICIES[policy]
        assert report.judged == n and report.failed == 0
        assert srv.count() == n
        got = rows(filled)
        assert len(got) == n
        by_key = {r.cache_key: r for r in got}
        for req in srv.requests:
            # temperature and max_tokens of the judge spec were honoured
            assert req["temperature"] == 0.3 and req["max_tokens"] == 300
            assert req["model"] == "judge-x"
        # Which model's answer the server saw first == the recorded ``first`` of that row.
        shown_first = Counter()
        for req, r in zip(srv.requests, _rows_for_requests(got, srv.requests)):
            seen_first = first_shown_model(req)
            recorded_first = r.model_a if r.first == "A" else r.model_b
            assert seen_first == recorded_first
            shown_first[r.first] += 1
        for r in got:
            assert r.parse_status == "ok" and r.judge_kind == "llm" and r.judge_id == "judge-x"
            assert r.policy == policy and r.mode == mode and r.run_id == "r1"
            assert r.template_version and len(r.template_version) == 16
            assert r.outcome == expected_winner(r.model_a, r.model_b)
            assert r.raw_output and r.rationale and "[[" not in r.rationale
            assert r.meta["calls"] == 1 and r.meta["prompt_tokens"] > 0
            if mode == "pairwise-baseline":
                assert r.model_b == "m-mid" and r.model_a != "m-mid"
        if policy == "none":
            assert set(shown_first) == {"A"}
        elif policy == "random_order":
            assert set(shown_first) == {"A", "B"}  # 8-12 seeded draws: both sides appear
        else:
            # both orders of every battle
            per_battle = Counter((r.battle_id, r.turn) for r in got)
            assert set(per_battle.values()) == {2}
            assert {(r.battle_id, r.first) for r in got} == \
                {(b, f) for b, _ in per_battle for f in "AB"}
        assert len(by_key) == n  # one row per cache key

        # A rerun makes zero calls and adds no rows.
        srv.reset()
        _, again = judged(filled, cfg)
        assert srv.count() == 0 and again.judged == 0 and again.skipped == n
        assert len(rows(filled)) == n


def _rows_for_requests(got: list[Any], requests: list[dict]) -> list[Any]:
    """Match each request to its row by the answers it showed (both orders are distinct)."""
    amodel = {}
    for r in got:
        amodel[(r.question_id, r.model_a, r.model_b, r.first)] = r
    out = []
    for req in requests:
        b = blocks(req)
        first = _model_in(b["answer_a"])
        second = _model_in(b["answer_b"])
        qid = "t/" + b["answer_a"].split(" to ")[1].split(" ")[0]
        r = amodel.get((qid, first, second, "A")) or amodel.get((qid, second, first, "B"))
        assert r is not None, (qid, first, second)
        out.append(r)
    return out


def _model_in(text: str) -> str:
    for m in MODELS:
        if f"of {m} " in text:
            return m
    raise AssertionError(text)


def test_random_order_is_seeded_and_stable(filled: Store) -> None:
    with FakeOpenAI(fair_judge()) as srv:
        cfg = make_cfg(srv.base_url, position_policy="random_order", seed=7)
        judged(filled, cfg)
        firsts = {(r.battle_id): r.first for r in rows(filled)}
    # The recorded order is the seeded draw for that battle (the same on every run).
    from arena.reviews import orders_for
    for r in rows(filled):
        key = f"{r.question_id}|{r.model_a}|{r.model_b}"
        assert orders_for(cfg.judge.position_policy, 7, key) == [firsts[r.battle_id]]


def test_position_biased_judge_resolves_per_policy(filled: Store) -> None:
    """A judge that always picks the first answer: inconsistent in every both-order pair."""
    with FakeOpenAI("Looks better to me. [[A]]") as srv:
        cfg = make_cfg(srv.base_url, position_policy="tie_if_inconsistent")
        judged(filled, cfg)
        # The same judgments under both_games: the order is part of the cache key, the policy
        # is not, so switching policy reuses them (zero calls).
        srv.reset()
        judged(filled, make_cfg(srv.base_url, position_policy="both_games"))
        assert srv.count() == 0
    with filled.begin() as conn:
        frame = load_verdicts(conn, Selection(judge_kinds=("llm",)))
    assert len(frame) == N_Q * PAIRS * 2
    for policy, expect in (("tie_if_inconsistent", {0.5}), ("both_games", {0.0, 1.0})):
        b = build_battles(frame, policy)
        scores = set(float(x) for x in b.score)
        assert scores == expect, (policy, scores)
        if policy == "tie_if_inconsistent":
            assert len(b) == N_Q * PAIRS  # one game per battle, a tie
        else:
            assert len(b) == 2 * N_Q * PAIRS  # each order its own game, one win each


def test_never_a_verdict_gives_failed_rows_with_raw_output(filled: Store) -> None:
    with FakeOpenAI("Both answers have merits and flaws; hard to say.") as srv:
        cfg = make_cfg(srv.base_url, position_policy="tie_if_inconsistent")
        judge, report = judged(filled, cfg)
        n = N_Q * PAIRS * 2
        assert report.failed == n and report.judged == 0 and report.call_failures == 0
        assert report.nothing_usable().startswith(f"judge judge-x failed on {n} of {n} items")
        assert srv.count() == 2 * n  # the reply + one follow-up turn each, no more
        asked = [r for r in srv.requests if len(r["messages"]) == 4]
        assert len(asked) == n
        for r in asked:
            assert r["messages"][2]["role"] == "assistant"
            assert "did not end with a verdict" in r["messages"][3]["content"]
        got = rows(filled)
        assert len(got) == n
        for r in got:
            assert r.parse_status == "failed"
            assert r.outcome is None and r.score_a is None and r.strength is None  # never a tie
            assert "no verdict" in r.error and "after follow-up" in r.error
            assert r.raw_output.count("hard to say") == 2 and FOLLOWUP_MARK in r.raw_output
            assert r.meta["calls"] == 2 and r.meta["followup"] is True
        assert judge.stats.parse_failures == n and judge.stats.followups == n
        # Failed rows never enter a battle list.
        with filled.begin() as conn:
            frame = load_verdicts(conn, Selection(judge_kinds=("llm",)))
        assert len(frame) == 0

        # A rerun without --retry-failed makes no calls; with it, the failed items are judged
        # again (new rows) and the failed rows stay.
        srv.reset()
        judged(filled, cfg)
        assert srv.count() == 0
        srv.reply = fair_judge()
        _, retry = judged(filled, cfg, retry_failed=True)
        assert retry.judged == n and retry.failed == 0 and srv.count() == n
        got = rows(filled)
        assert Counter(r.parse_status for r in got) == {"failed": n, "ok": n}
        # Once ok, a further --retry-failed run has nothing to do.
        srv.reset()
        _, again = judged(filled, cfg, retry_failed=True)
        assert srv.count() == 0 and again.judged == 0


def test_follow_up_turn_rescues_a_missing_verdict(filled: Store) -> None:
    def reply(req: dict) -> str:
        if len(req["messages"]) > 2:  # the follow-up turn
            b = blocks(req)
            return "[[A]]" if quality(_model_in(b["answer_a"])) >= \
                quality(_model_in(b["answer_b"])) else "[[B]]"
        return "Long deliberation without a verdict."

    with FakeOpenAI(reply) as srv:
        cfg = make_cfg(srv.base_url)
        judge, report = judged(filled, cfg)
        assert report.failed == 0 and srv.count() == 2 * N_Q * PAIRS
        for r in rows(filled):
            assert r.parse_status == "ok" and r.meta["followup"] is True
            assert r.rationale == "Long deliberation without a verdict."
            assert r.raw_output.endswith("]]") and FOLLOWUP_MARK in r.raw_output


def test_transport_failures_are_not_judgments_and_a_plain_rerun_retries(filled: Store) -> None:
    with FakeOpenAI(fair_judge(), faults=lambda req, n: Fault.status(400, "bad request")) as srv:
        cfg = make_cfg(srv.base_url)
        judge, report = judged(filled, cfg)
        n = N_Q * PAIRS
        assert report.call_failures == n and srv.count() == n  # 400: no retry
        assert report.failed == 0 and report.judged == 0
        assert "judge judge-x failed on 12 of 12 items: " in report.nothing_usable()
        assert "HTTP 400" in report.nothing_usable()
        assert rows(filled) == []  # nothing was judged: no judgment row, no tie, no win
        with filled.begin() as conn:
            failures = conn.execute(select(JudgeFailure.error, JudgeFailure.fingerprint)).all()
        assert len(failures) == n and all("400" in f.error for f in failures)
        assert {f.fingerprint for f in failures} == {judge.fingerprint}
        srv.faults = None
        srv.reset()
        _, rerun = judged(filled, cfg)  # no --retry-failed needed
        assert rerun.judged == n and srv.count() == n and rerun.call_failures == 0


@pytest.mark.parametrize("scale", ["five_level", "score_pair"])
def test_other_pairwise_scales(filled: Store, scale: str) -> None:
    with FakeOpenAI(fair_judge(scale)) as srv:
        cfg = make_cfg(srv.base_url, scale=scale, position_policy="both_games")
        judged(filled, cfg)
        for r in rows(filled):
            assert r.parse_status == "ok"
            assert r.outcome == expected_winner(r.model_a, r.model_b)
            if scale == "five_level":
                d = abs(quality(r.model_a) - quality(r.model_b))
                assert r.strength == (None if d == 0 else d)
            else:
                assert r.score_a == quality(r.model_a) * 3 + 2
                assert r.score_b == quality(r.model_b) * 3 + 2


def test_single_mode_rating_and_rubric(filled: Store) -> None:
    with FakeOpenAI(fair_judge()) as srv:
        cfg = make_cfg(srv.base_url, mode="single", position_policy="none", scale="rating")
        _, report = judged(filled, cfg)
        n = N_Q * len(MODELS)
        assert report.judged == n and srv.count() == n
        models = answer_model(filled)
        for r in rows(filled):
            assert r.mode == "single" and r.policy is None and r.first is None
            assert r.answer_id == r.answer_a_id and r.model_b is None
            assert r.score_a == [3, 6, 9][quality(models[r.answer_id])]
            assert r.outcome is None
    with FakeOpenAI(fair_judge("rubric")) as srv:
        cfg = make_cfg(srv.base_url, mode="single", scale="rubric",
                       criteria=["Relevance", "Accuracy"])
        judged(filled, cfg)
        req = srv.requests[0]["messages"][-1]["content"]
        assert "- Relevance" in req and "- Accuracy" in req
        rub = [r for r in rows(filled) if r.scores]
        assert len(rub) == n
        for r in rub:
            q = quality(models[r.answer_id])
            assert r.scores == {"Relevance": q + 2, "Accuracy": q + 3}
            assert r.score_a == pytest.approx(q + 2.5)


def test_templates_follow_category_reference_and_turns(filled: Store) -> None:
    with FakeOpenAI(fair_judge()) as srv:
        cfg = make_cfg(srv.base_url)
        judged(filled, cfg)
        by_q: dict[str, set[str]] = {}
        for r in rows(filled):
            by_q.setdefault(r.question_id, set()).add(r.template_version)
        assert all(len(v) == 1 for v in by_q.values())
        assert len({next(iter(v)) for v in by_q.values()}) == 4  # four different templates
        users = [m["messages"][-1]["content"] for m in srv.requests]
        math = [u for u in users if "What is 2 + 2?" in u]
        assert math and all("<reference_answer>\nThe answer is 4.\n</reference_answer>" in u
                            for u in math)
        multi = [u for u in users if "Write one line about the sea." in u]
        assert multi and all("<conversation_a>" in u and "Now make it shorter." in u and
                             "turn 2" in u for u in multi)
        code = [m["messages"][0]["content"] for m in srv.requests
                if "Print hello" in m["messages"][-1]["content"]]
        assert code and all("programming question" in c for c in code)


def test_per_turn_judges_each_turn(filled: Store) -> None:
    with FakeOpenAI(fair_judge()) as srv:
        cfg = make_cfg(srv.base_url, per_turn=True)
        _, report = judged(filled, cfg)
        # q3 has two turns -> two items per pair; the others one
        assert report.judged == (N_Q + 1) * PAIRS
        turns = Counter(r.turn for r in rows(filled) if r.question_id == "t/q3")
        assert turns == {1: PAIRS, 2: PAIRS}
        first_turn = [m["messages"][-1]["content"] for m in srv.requests
                      if "Write one line" in m["messages"][-1]["content"]
                      and "Now make it shorter" not in m["messages"][-1]["content"]]
        assert len(first_turn) == PAIRS


def test_changed_judge_settings_are_judged_anew(filled: Store) -> None:
    with FakeOpenAI(fair_judge()) as srv:
        judged(filled, make_cfg(srv.base_url))
        srv.reset()
        cfg2 = make_cfg(srv.base_url, judges=[{
            "name": "judge-x", "backend": "openai", "model": "judge-x", "base_url": srv.base_url,
            "api_key_env": None, "generation": {"max_new_tokens": 300, "temperature": 0.9}}])
        _, report = judged(filled, cfg2)
        assert srv.count() == N_Q * PAIRS and report.skipped == 0


def test_judge_report_after_a_run(filled: Store) -> None:
    with FakeOpenAI("Looks better to me. [[A]]") as srv:  # always the first answer
        judges = make_cfg(srv.base_url, position_policy="tie_if_inconsistent").judge.judges
        spec = judges[0].model_copy(update={"price": Price(input_per_mtok=1.0,
                                                           output_per_mtok=2.0)})
        cfg = make_cfg(srv.base_url, position_policy="tie_if_inconsistent",
                       judges=[spec.model_dump(mode="json")])
        judge, _ = judged(filled, cfg)
        n = N_Q * PAIRS * 2
        text = judge.summary()
        st = judge.stats
        assert st.calls == n and st.items == n and st.prompt_tokens > 0
        expect_cost = (st.prompt_tokens * 1.0 + st.completion_tokens * 2.0) / 1e6
        assert st.cost == pytest.approx(expect_cost)
        assert f"{n} calls" in text and f"cost: {expect_cost:.4f} USD" in text
        # always-first judge: no pair agrees, the first answer always wins, no ties
        assert f"position consistency: 0.0 % of {n // 2} both-order pairs" in text
        assert f"first-position win rate: 100.0 % of {n} decisive" in text
        assert "tie rate: 0.0 %" in text
        assert "judge: judge-x (openai judge-x at http://127.0.0.1" in text
    with FakeOpenAI(fair_judge()) as srv:
        cfg = make_cfg(srv.base_url, position_policy="both_games", judges=[  # a second judge
            {"name": "judge-fair", "backend": "openai", "model": "judge-x",
             "base_url": srv.base_url, "api_key_env": None}])
        [judge] = build_judge(cfg)
        run_reviews(filled, cfg, judge, progress=False)
        text = judge.summary()
        assert "position consistency: 100.0 %" in text
        assert "first-position win rate: 50.0 %" in text
        assert "cost: n/a (no price configured)" in text


def test_budget_stops_cleanly_and_a_rerun_finishes(filled: Store) -> None:
    with FakeOpenAI(fair_judge()) as srv:
        cfg = make_cfg(srv.base_url)
        capped = cfg.model_copy(update={"generation": cfg.generation.model_copy(
            update={"max_calls": 5})})
        judge, report = judged(filled, capped)
        assert srv.count() == 5 and report.judged == 5 and report.failed == 0
        assert judge.stats.skipped == N_Q * PAIRS - 5
        assert "held back by the budget: 7 items (max_calls=5 reached" in judge.summary()
        assert all(r.parse_status == "ok" for r in rows(filled))  # skipped is not failed
        srv.reset()
        _, rest = judged(filled, cfg)
        assert srv.count() == N_Q * PAIRS - 5 and rest.skipped == 5
