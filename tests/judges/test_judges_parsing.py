"""Strict verdict parsers: every scale, every failure shape, display -> model mapping."""

from __future__ import annotations

import pytest

from arena.types import Outcome
from judges.parsing import Verdict, parse, to_model_terms


@pytest.mark.parametrize("text,winner", [
    ("A is more accurate.\n[[A]]", "A"),
    ("[[B]]", "B"),
    ("Both are equally fine. [[C]]", "TIE"),
    ("Verdict: [[ A ]] and again [[A]]", "A"),  # the same verdict twice is one verdict
])
def test_abc_verdicts(text: str, winner: str) -> None:
    v = parse("abc", text)
    assert v.ok and v.winner == winner and v.strength is None
    assert "[[" not in v.rationale


@pytest.mark.parametrize("text,why", [
    ("I think A is better.", "no verdict"),
    ("[[A]] ... on reflection [[B]]", "conflicting"),
    ("[[D]]", "no verdict"),
    ("[A]", "no verdict"),
    ("", "empty"),
    ("   \n", "empty"),
])
def test_abc_failures_are_failures_not_ties(text: str, why: str) -> None:
    v = parse("abc", text)
    assert not v.ok and why in v.error
    assert v.winner is None and v.score_1 is None  # never a tie, never a win


def test_none_reply_is_a_failure() -> None:
    assert parse("abc", None).error == "empty reply"


@pytest.mark.parametrize("text,winner,strength", [
    ("[[A>>B]]", "A", 2), ("[[A>B]]", "A", 1), ("[[A=B]]", "TIE", None),
    ("[[B>A]]", "B", 1), ("[[B>>A]]", "B", 2),
    ("[[B<<A]]", "A", 2), ("[[A<B]]", "B", 1), ("[[B=A]]", "TIE", None),
    ("My final verdict is: [[A>B]]. Again: [[B<A]]", "A", 1),  # mirrored spellings agree
])
def test_five_level(text: str, winner: str, strength) -> None:
    v = parse("five_level", text)
    assert v.ok, v.error
    assert (v.winner, v.strength) == (winner, strength)


@pytest.mark.parametrize("text", ["[[A>B]] then [[A>>B]]", "[[A>A]]", "A>B", "[[A]]"])
def test_five_level_failures(text: str) -> None:
    assert not parse("five_level", text).ok


def test_score_pair() -> None:
    v = parse("score_pair", "A is wordy.\n[[6, 8.5]]", score_max=10)
    assert v.ok and (v.score_1, v.score_2, v.winner) == (6.0, 8.5, "B")
    assert parse("score_pair", "[[7,7]]").winner == "TIE"
    assert not parse("score_pair", "[[11, 3]]", score_max=10).ok  # out of range
    assert not parse("score_pair", "[[0, 3]]").ok
    assert not parse("score_pair", "[[5, 3]] or maybe [[3, 5]]").ok
    assert not parse("score_pair", "[[5]]").ok


def test_rating() -> None:
    v = parse("rating", "Decent.\nRating: [[7]]", score_max=10)
    assert v.ok and v.score_1 == 7.0 and v.winner is None
    assert parse("rating", "[[4.5]]", score_max=5).score_1 == 4.5
    assert not parse("rating", "[[6]]", score_max=5).ok
    assert not parse("rating", "[[7]] no wait [[8]]").ok
    assert not parse("rating", "seven out of ten").ok
    assert not parse("rating", "[[7, 8]]").ok


CRIT = ["Relevance", "Accuracy", "Breadth and Depth"]


def test_rubric_json() -> None:
    text = ('Analysis...\n```json\n{"Relevance": 4, "Accuracy": 5, "Breadth and Depth": 3,'
            ' "note": "ok"}\n```')
    v = parse("rubric", text, criteria=CRIT)
    assert v.ok, v.error
    assert v.scores == {"Relevance": 4.0, "Accuracy": 5.0, "Breadth and Depth": 3.0}
    assert v.score_1 == pytest.approx(4.0)
    # key spelling is forgiving about case and underscores, not about missing criteria
    v2 = parse("rubric", '{"relevance": 2, "ACCURACY": 2, "breadth_and_depth": 2}', criteria=CRIT)
    assert v2.ok and v2.scores["Breadth and Depth"] == 2.0


@pytest.mark.parametrize("text,why", [
    ('{"Relevance": 4, "Accuracy": 5}', "missing criteria"),
    ('{"Relevance": 4, "Accuracy": 6, "Breadth and Depth": 3}', "outside"),
    ('{"Relevance": "good", "Accuracy": 5, "Breadth and Depth": 3}', "not a number"),
    ('{"Relevance": true, "Accuracy": 5, "Breadth and Depth": 3}', "not a number"),
    ("no json here", "no JSON object"),
    ('{"Relevance": 4, "Accuracy": 5, "Breadth and Depth": 3} {"Relevance": 1, "Accuracy": 1, '
     '"Breadth and Depth": 1}', "conflicting"),
    ('{"Relevance": 4, "Accuracy": 5, "Breadth and Depth": 3', "no JSON object"),
])
def test_rubric_failures(text: str, why: str) -> None:
    v = parse("rubric", text, criteria=CRIT)
    assert not v.ok and why in v.error and v.scores is None


def test_unknown_scale_is_a_bug() -> None:
    with pytest.raises(ValueError):
        parse("stars", "[[A]]")


def test_display_labels_map_to_models() -> None:
    # The answer shown first won. If model_a was shown first, model_a won; else model_b.
    won_first = Verdict(winner="A", strength=2)
    assert to_model_terms(won_first, "A").outcome == Outcome.A
    assert to_model_terms(won_first, "B").outcome == Outcome.B
    assert to_model_terms(won_first, "B").strength == 2
    tie = Verdict(winner="TIE")
    assert to_model_terms(tie, "B").outcome == Outcome.TIE
    pair = Verdict(winner="A", score_1=9.0, score_2=2.0)
    t = to_model_terms(pair, "B")  # shown first = model_b's answer, scored 9
    assert (t.outcome, t.score_a, t.score_b) == (Outcome.B, 2.0, 9.0)
    assert to_model_terms(Verdict(error="x"), "A").outcome is None
    with pytest.raises(ValueError):
        to_model_terms(tie, "left")
