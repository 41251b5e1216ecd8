"""Selection from a real store, battles under each position policy, per-rater statistics."""

from __future__ import annotations

import math

import numpy as np
import pytest

from arena.ratings.battles import build_battles
from arena.ratings.judge_stats import rater_stats, votes
from arena.ratings.selection import Selection, load_verdicts
from arena.store.annotation_schema import User
from ratings_fixtures import Verdicts, ids_of, seed_questions

pytestmark = pytest.mark.db

MODELS = {"x": {"1": "short", "2": "a much longer answer"},
          "y": {"1": "a longer answer here", "2": "mid answer"}}


@pytest.fixture
def filled(store):
    answers = seed_questions(store, {"1": "math", "2": "writing"}, MODELS)
    return store, Verdicts(store, answers)


def test_selection_counts_every_exclusion(filled):
    store, v = filled
    v.pair("qs/1", "x", "y", "A")                                  # kept
    v.pair("qs/1", "x", "y", None, status="failed")                # failed
    v.pair("qs/1", "x", "y", "B", kind="dry-run", judge="dry")     # dry run
    v.pair("qs/2", "x", "y", "B", judge="judge-2")                 # other judge id
    v.pair("qs/2", "x", "y", "TIE", template="v0")                 # other template
    v.pair("qs/2", "x", "y", "A", kind="metric", judge="m")        # other kind
    v.flush()
    first_id = ids_of(store)[0]
    v.pair("qs/1", "x", "y", "B", supersedes=first_id)             # correction of the first
    v.flush()
    sel = Selection(judge_kinds=("llm", "human"), judge_ids=("judge-1",), template_versions=("v1",))
    frame = load_verdicts(store, sel)
    c = frame.counts
    assert (c["rows"], c["superseded"], c["failed"], c["dry_run"], c["judge_kind"],
            c["judge_id"], c["template_version"], c["included"]) == (7, 1, 1, 1, 1, 1, 1, 1)
    assert len(frame) == 1 and frame.outcome.tolist() == [1]  # the correction replaced "A"
    assert frame.len_a[0] == len("short") and frame.len_b[0] == len("a longer answer here")
    # dry-run selection reads only dry-run verdicts
    dry = load_verdicts(store, Selection(judge_kinds=("dry-run",)))
    assert len(dry) == 1 and dry.judges == ["dry-run:dry"]
    # a Connection works as well as a Store; an empty selection gives an empty frame
    with store.begin() as conn:
        assert len(load_verdicts(conn, Selection(judge_ids=("nobody",)))) == 0


def test_excluded_annotator_and_single_mode(filled):
    store, v = filled
    with store.begin() as conn:
        ok = conn.execute(User.__table__.insert().values(username="ann", pseudonym="p1")
                          ).inserted_primary_key[0]
        bad = conn.execute(User.__table__.insert().values(username="spam", pseudonym="p2",
                                                          excluded=True)).inserted_primary_key[0]
    v.pair("qs/1", "x", "y", "A", kind="human", judge="ui", annotator=ok)
    v.pair("qs/1", "x", "y", "B", kind="human", judge="ui", annotator=bad)
    v.single("qs/1", "x", 7.0)
    v.single("qs/1", "y", None, status="failed")
    v.flush()
    frame = load_verdicts(store, Selection())
    assert frame.counts["excluded_annotator"] == 1 and frame.annotator.tolist() == [ok]
    single = load_verdicts(store, Selection(mode="single"))
    assert single.score_a.tolist() == [7.0] and single.counts["failed"] == 1
    assert single.model_b.tolist() == [-1]


def _frame_both_orders(store, v, outcomes):
    """One battle (x vs y on question 1) judged in both orders: outcomes[0] with x shown
    first, outcomes[1] with y shown first."""
    v.pair("qs/1", "x", "y", outcomes[0], first="A")
    v.pair("qs/1", "x", "y", outcomes[1], first="B")
    v.flush()
    return load_verdicts(store, Selection())


@pytest.mark.parametrize("outcomes,policy,expected", [
    (("A", "A"), "tie_if_inconsistent", [1.0]),
    (("A", "B"), "tie_if_inconsistent", [0.5]),
    (("A", "B"), "both_games", [1.0, 0.0]),
    (("A", "TIE"), "none", [1.0, 0.5]),
    (("BOTH_BAD", "BOTH_BAD"), "tie_if_inconsistent", [0.5]),
])
def test_position_policies(filled, outcomes, policy, expected):
    store, v = filled
    frame = _frame_both_orders(store, v, outcomes)
    battles = build_battles(frame, policy)
    assert battles.score.tolist() == expected


def test_both_bad_drop_and_strong_weight(filled):
    store, v = filled
    v.pair("qs/1", "x", "y", "A", strength=2)
    v.pair("qs/1", "x", "y", "BOTH_BAD", first="B")
    v.pair("qs/2", "x", "y", "B", strength=2)
    v.pair("qs/2", "x", "y", "B", strength=2, first="B")
    v.flush()
    frame = load_verdicts(store, Selection())
    games = build_battles(frame, "both_games", both_bad="drop", strong_weight=3)
    assert games.score.tolist() == [1.0, 0.0, 0.0] and games.weight.tolist() == [3.0, 3.0, 3.0]
    assert games.notes["both_bad_dropped"] == 1
    merged = build_battles(frame, "tie_if_inconsistent", strong_weight=3)
    # question 1: A vs both-bad disagree -> tie (weight 1); question 2: strong in both -> 3
    assert merged.score.tolist() == [0.5, 0.0] and merged.weight.tolist() == [1.0, 3.0]
    assert merged.notes["pairs_inconsistent"] == 1 and merged.notes["pairs_consistent"] == 1
    assert build_battles(frame, "none", strong_weight=1).weight.tolist() == [1.0] * 4
    with pytest.raises(ValueError):
        build_battles(frame, "none", strong_weight=2)


def test_unpaired_verdict_counts_alone(filled):
    store, v = filled
    v.pair("qs/1", "x", "y", "A", first="A")
    v.flush()
    battles = build_battles(load_verdicts(store, Selection()), "tie_if_inconsistent")
    assert battles.score.tolist() == [1.0] and battles.notes["unpaired"] == 1


def test_rater_stats_and_votes(filled):
    store, v = filled
    # judge-1: consistent on q1 (x wins both orders), inconsistent on q2 (first shown wins)
    v.pair("qs/1", "x", "y", "A", first="A")
    v.pair("qs/1", "x", "y", "A", first="B")
    v.pair("qs/2", "x", "y", "A", first="A")
    v.pair("qs/2", "x", "y", "B", first="B")
    v.pair("qs/2", "x", "y", "TIE", first="A", judge="judge-2")
    v.flush()
    frame = load_verdicts(store, Selection())
    stats = {s.rater: s for s in rater_stats(frame)}
    j1 = stats["llm:judge-1"]
    assert j1.n == 4 and j1.n_pairs == 2 and j1.position_consistency == pytest.approx(0.5)
    assert j1.first_win_rate == pytest.approx(3 / 4) and j1.tie_rate == 0.0
    j2 = stats["llm:judge-2"]
    assert j2.tie_rate == 1.0 and math.isnan(j2.first_win_rate) and j2.n_pairs == 0
    items, raters, values = votes(frame)
    assert values[:4] == ["x", "x", "x", "y"] and items[0] == ("qs/1", "x", "y", -1)
    assert raters[-1] == "llm:judge-2"
    assert np.isnan(frame.len_a).sum() == 0


def test_annotator_stats_and_judge_vs_human_agreement(filled):
    from arena.ratings.agreement import agreement

    store, v = filled
    v.pair("qs/1", "x", "y", "A", first="A")                               # judge: x wins
    v.pair("qs/1", "y", "x", "B", first="A", kind="human", judge="ui", annotator=7)  # x wins
    v.pair("qs/2", "x", "y", "B", first="B")                               # judge: y wins
    v.pair("qs/2", "x", "y", "A", first="A", kind="human", judge="ui", annotator=7)  # x wins
    v.pair("qs/2", "x", "y", "TIE", first="B", kind="human", judge="ui", annotator=8)
    v.flush()
    frame = load_verdicts(store, Selection())
    per_ann = {s.rater: s for s in rater_stats(frame, by="annotator")}
    assert set(per_ann) == {"llm:judge-1", "annotator:7", "annotator:8"}
    assert per_ann["annotator:7"].first_win_rate == pytest.approx(0.5)
    assert per_ann["annotator:8"].tie_rate == 1.0
    items, raters, values = votes(frame, by="annotator")
    out = agreement(items, raters, values, group_a=["llm:judge-1"],
                    group_b=["annotator:7", "annotator:8"], rounds=0)
    # judge vs humans: q1 (x, x) agree; q2 (y, x) disagree, (y, TIE) disagree
    assert out["agreement_with_ties"].value == pytest.approx(1 / 3)
    assert out["agreement_without_ties"].value == pytest.approx(1 / 2)


def test_verdict_time_orders_battles_not_insert_order(filled):
    from datetime import timedelta

    from arena.ratings.elo import online_elo
    from ratings_fixtures import T0

    store, v = filled
    v.pair("qs/1", "x", "y", "A", created_at=T0 + timedelta(hours=2))  # inserted first, later
    v.pair("qs/2", "x", "y", "B", created_at=T0 + timedelta(hours=1))
    v.flush()
    frame = load_verdicts(store, Selection())
    battles = build_battles(frame, "none")
    assert battles.score.tolist() == [0.0, 1.0]  # the B verdict came first in time
    elo = online_elo(battles.model_a, battles.model_b, battles.score, 2)
    assert elo[0] > 1000  # x lost first (small loss), then won against a stronger y
