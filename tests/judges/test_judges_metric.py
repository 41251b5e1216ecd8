"""Metric judges through the reviews stage: single-mode score rows matching hand computation."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from arena.config import parse_config
from arena.reviews import run_reviews
from arena.store import Store
from arena.store.ingest import AnswerRecord, QuestionRecord, add_answers, add_questions
from arena.store.schema import Judgment
from judges.factory import build_judge

pytestmark = pytest.mark.db

QS = [
    QuestionRecord(local_id="qa", category="qa", turns=["Where is the Eiffel Tower?"],
                   references={"human": ["in Paris"], "web": ["Paris, France"]}),
    QuestionRecord(local_id="sum", category="summ", turns=["Summarise."],
                   document="A long document about cats.",
                   references={"reference": ["the cat was under the bed"]}),
    QuestionRecord(local_id="write", category="writing", turns=["Write 100 words on rain."],
                   meta={"length": 100}),
    QuestionRecord(local_id="two", category="qa", turns=["Capital of France?", "And of Spain?"],
                   references={"reference": ["Paris", "Madrid"]}),
    QuestionRecord(local_id="none", category="qa", turns=["No reference here."]),
]
ANSWERS = {
    "m1": {"qa": ["Paris"], "sum": ["The cat was found under the bed."],
           "write": [" ".join(["rain"] * 130)], "two": ["Paris", "Barcelona"],
           "none": ["whatever"]},
    "m2": {"qa": [""], "sum": ["dogs"], "write": [""], "two": ["paris."], "none": ["x"]},
}


@pytest.fixture
def mstore(store: Store) -> Store:
    with store.begin() as conn:
        add_questions(conn, QS, "m")
        add_answers(conn, [AnswerRecord(question_id=f"m/{q}", model=m, turns=t)
                           for m, qs in ANSWERS.items() for q, t in qs.items()])
    return store


def cfg(mode: str = "pairwise-all"):  # type: ignore[no-untyped-def]
    return parse_config({"questions": [{"file": "q.jsonl", "source": "m"}],
                         "models": [{"name": m, "backend": "store"} for m in ANSWERS],
                         "judge": {"mode": mode, "metrics": ["exact_match", "token_f1",
                                                              "rouge_l", "length_score"]}},
                        "<test>")


def scores(store: Store) -> dict[tuple[str, str, str], float]:
    with store.begin() as conn:
        out = {}
        for r in conn.execute(select(Judgment)).all():
            assert r.judge_kind == "metric" and r.mode == "single" and r.policy is None
            assert r.parse_status == "ok" and r.outcome is None
            out[(r.judge_id.split(":")[1], r.model_a, r.question_id.split("/")[1])] = r.score_a
        return out


def test_metric_scores_match_hand_computed_values(mstore: Store) -> None:
    c = cfg()  # a pairwise config: metric judges still score single answers
    judges = build_judge(c)
    assert [j.judge_id for j in judges] == ["metric:exact_match", "metric:token_f1",
                                          "metric:rouge_l", "metric:length_score"]
    for j in judges:
        run_reviews(mstore, c, j, progress=False)
    s = scores(mstore)
    # exact match: "Paris" vs {"in Paris", "Paris, France"} -> no exact match
    assert s[("exact_match", "m1", "qa")] == 0.0
    # token F1: best of F1("paris", "in paris") = 2/3 and F1("paris", "paris france") = 2/3
    assert s[("token_f1", "m1", "qa")] == pytest.approx(200 / 3)
    # ROUGE-L: 7 prediction tokens, 6 reference tokens, LCS 6 -> 12/13
    assert s[("rouge_l", "m1", "sum")] == pytest.approx(1200 / 13)
    assert s[("rouge_l", "m2", "sum")] == 0.0
    # two turns: turn 1 Paris = 100, turn 2 Barcelona vs Madrid = 0 -> mean 50
    assert s[("exact_match", "m1", "two")] == pytest.approx(50.0)
    # m2 answered one turn of two: the missing turn scores 0 -> (100 + 0) / 2
    assert s[("exact_match", "m2", "two")] == pytest.approx(50.0)
    # empty output scores 0
    assert s[("token_f1", "m2", "qa")] == 0.0
    assert s[("length_score", "m2", "write")] == 0.0
    # 130 words for 100 asked: 100 * (1 - 0.3 / 3) = 90
    assert s[("length_score", "m1", "write")] == pytest.approx(90.0)
    # not applicable -> no row (not a zero): no reference, no required length
    assert ("token_f1", "m1", "none") not in s and ("token_f1", "m1", "write") not in s
    assert ("length_score", "m1", "qa") not in s
    # the summarisation question has a document, so no length score from "length" either
    assert ("length_score", "m1", "sum") not in s
    with mstore.begin() as conn:
        n = conn.execute(select(Judgment.id)).all()
        versions = set(conn.execute(select(Judgment.template_version)).scalars())
    assert versions == {"exact_match-v1", "token_f1-v1", "rouge_l-v1", "length_score-v1"}
    # a rerun stores nothing new
    for j in build_judge(c):
        report = run_reviews(mstore, c, j, progress=False)
        assert report.judged == 0
    with mstore.begin() as conn:
        assert len(conn.execute(select(Judgment.id)).all()) == len(n)
    assert "not applicable" in judges[0].summary()
