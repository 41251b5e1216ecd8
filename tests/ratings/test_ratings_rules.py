"""One rule, every place (issue 14.4): order consistency drives the leaderboard's merged games,
judge statistics, the viewer's disagreement flags and the annotation dashboard on the same
data; the viewer measures answers as the ratings do; the Judges page's confusion matrix counts
the agreement table's own vote pairs."""

from __future__ import annotations

import numpy as np
import pytest
from sqlalchemy import select

from annotate import dashboard
from arena.ratings.agreement import agreement, vote_pairs
from arena.ratings.battles import build_battles, frame_order_pairs
from arena.ratings.judge_stats import rater_stats, votes
from arena.ratings.selection import Selection, load_verdicts
from arena.rules.orders import consistent, pair_orders, score_of_lower
from arena.rules.outcomes import verdict_score
from arena.store.annotation_schema import Assignment, Task, TaskItem, User
from arena.store.schema import Answer, Battle
from arena.viz import data as viz_data
from arena.viz.filters import build_index
from arena.viz.pages.judges import confusion
from ratings_fixtures import Verdicts, seed_questions

pytestmark = pytest.mark.db

MODELS = {m: {q: f"{m} answer to {q}" for q in ("1", "2", "3", "4")} for m in ("x", "y", "z")}


@pytest.fixture
def mixed(store):
    """LLM and human verdicts whose two-order pairs exercise every branch of the rule."""
    answers = seed_questions(store, {q: "c" for q in ("1", "2", "3", "4")}, MODELS)
    with store.begin() as conn:
        uid = conn.execute(User.__table__.insert().values(username="u1", pseudonym="p1")
                           ).inserted_primary_key[0]
        tid = conn.execute(Task.__table__.insert().values(name="t", mode="pairwise-all",
                                                          scale="pairwise", overlap=1)
                           ).inserted_primary_key[0]
    v = Verdicts(store, answers)
    v.pair("qs/1", "x", "y", "A", first="A")          # consistent: x wins both orders
    v.pair("qs/1", "x", "y", "A", first="B")
    v.pair("qs/2", "x", "y", "TIE", first="A")        # TIE vs BOTH_BAD: neither names a winner
    v.pair("qs/2", "x", "y", "BOTH_BAD", first="B")
    v.pair("qs/3", "x", "y", "A", first="A", template="v1")  # other template: not a pair
    v.pair("qs/3", "x", "y", "B", first="B", template="v2")
    v.pair("qs/4", "x", "y", "A", first="A")          # inconsistent: the shown-first wins
    v.pair("qs/4", "x", "y", "B", first="B")
    v.pair("qs/1", "x", "z", "A", first=None)         # order unknown: alone
    human = dict(kind="human", judge="ui", annotator=uid, task_id=tid)
    v.pair("qs/1", "x", "y", "A", first="A", round=1, **human)   # inconsistent probe
    v.pair("qs/1", "x", "y", "TIE", first="B", round=2, **human)
    v.pair("qs/2", "x", "y", "TIE", first="A", round=1, **human)  # consistent probe
    v.pair("qs/2", "x", "y", "BOTH_BAD", first="B", round=2, **human)
    v.flush()
    with store.begin() as conn:  # the dashboard lists annotators by their assignments
        bid = conn.execute(select(Battle.id).where(Battle.question_id == "qs/1")).scalar()
        aid = conn.execute(select(Answer.id)).scalar()
        iid = conn.execute(TaskItem.__table__.insert().values(
            task_id=tid, question_id="qs/1", battle_id=bid, answer_a_id=aid, answer_b_id=aid,
            model_a="x", model_b="y")).inserted_primary_key[0]
        conn.execute(Assignment.__table__.insert().values(item_id=iid, task_id=tid,
                                                          annotator_id=uid, status="done"))
    return store, uid, tid


def _rule(frame, rows=None):
    """(consistent pairs, pairs) by arena.rules.orders, computed here from the frame."""
    idx = np.arange(len(frame)) if rows is None else np.asarray(rows)
    p = pair_orders(frame.question[idx], frame.model_a[idx], frame.model_b[idx],
                    frame.first[idx], frame.turn[idx], frame.judge[idx], frame.annotator[idx],
                    frame.template[idx], frame.id[idx])
    s = verdict_score(frame.outcome[idx], frame.preference[idx])
    ma = frame.model_a[idx]
    agree = consistent(score_of_lower(s[p.x], ma[p.x], p.lo[p.x]),
                       score_of_lower(s[p.y], ma[p.y], p.lo[p.y]))
    return int(agree.sum()), len(agree), p


def test_leaderboard_games_follow_the_rule(mixed):
    store, _uid, _tid = mixed
    frame = load_verdicts(store, Selection())
    good, pairs, p = _rule(frame)
    assert (good, pairs, len(p.alone)) == (3, 5, 3)
    b = build_battles(frame, "tie_if_inconsistent")
    assert (b.notes["pairs_consistent"], b.notes["pairs_inconsistent"],
            b.notes["unpaired"]) == (good, pairs - good, len(p.alone))
    assert frame_order_pairs(frame).x.tolist() == p.x.tolist()
    # TIE + BOTH_BAD is one tie; under "drop" it stays (only two both-bad verdicts drop)
    dropped = build_battles(frame, "tie_if_inconsistent", both_bad="drop")
    assert dropped.notes["both_bad_dropped"] == 0 and len(dropped) == len(b)


def test_judge_statistics_follow_the_rule(mixed):
    store, _uid, _tid = mixed
    frame = load_verdicts(store, Selection())
    stats = {s.rater: s for s in rater_stats(frame, by="judge")}
    for rater in ("llm:judge-1", "human:ui"):
        rows = [k for k, j in enumerate(frame.judge) if frame.judges[j] == rater]
        good, pairs, _ = _rule(frame, rows)
        assert (stats[rater].n_pairs, stats[rater].position_consistency) == \
            (pairs, pytest.approx(good / pairs))
    assert stats["llm:judge-1"].position_consistency == pytest.approx(2 / 3)
    assert stats["human:ui"].position_consistency == pytest.approx(1 / 2)


def test_viewer_flags_follow_the_rule(mixed):
    store, _uid, _tid = mixed
    frame = load_verdicts(store, Selection())
    _good, _pairs, p = _rule(frame)
    s = verdict_score(frame.outcome, frame.preference)
    bad = ~consistent(score_of_lower(s[p.x], frame.model_a[p.x], p.lo[p.x]),
                      score_of_lower(s[p.y], frame.model_a[p.y], p.lo[p.y]))
    want = set(frame.battle[p.x[bad]].tolist())
    index = build_index(frame, viz_data.left_out_rows(store.engine))
    got = set(index.table.index[index.table["orders"]])
    with store.begin() as conn:
        q4 = conn.execute(select(Battle.id).where(Battle.question_id == "qs/4")).scalar()
        q3 = conn.execute(select(Battle.id).where(Battle.question_id == "qs/3")).scalar()
    assert got == want and q4 in got
    assert q3 not in got  # two templates are two judges' worth of verdicts, not two orders


def test_dashboard_follows_the_rule(mixed):
    store, uid, tid = mixed
    frame = load_verdicts(store, Selection(judge_kinds=("human",)))
    good, pairs, _ = _rule(frame)
    with store.begin() as conn:
        rows = {r.user_id: r for r in dashboard.annotator_rows(conn, tid)}
    assert (rows[uid].consistency_pairs, rows[uid].consistency) == (pairs, good / pairs)
    assert (pairs, good) == (2, 1)


@pytest.mark.db
def test_viewer_measures_the_judged_turn_as_the_ratings_do(store):
    answers = seed_questions(store, {"1": "c"}, {"x": {"1": "a"}, "y": {"1": "b"}})
    from sqlalchemy import update

    from arena.ratings.battles import build_battles
    from arena.viz.pages.length import length_bins

    with store.begin() as conn:  # two-turn answers: 3 + 5 and 7 + 11 characters
        conn.execute(update(Answer).where(Answer.model == "x").values(turns=["abc", "defgh"]))
        conn.execute(update(Answer).where(Answer.model == "y").values(
            turns=["abcdefg", "hijklmnopqr"]))
    v = Verdicts(store, answers)
    v.pair("qs/1", "x", "y", "A", turn=2)
    v.pair("qs/1", "x", "y", "B")  # the whole dialogue
    v.flush()
    frame = load_verdicts(store, Selection())
    assert frame.len_a.tolist() == [5.0, 8.0] and frame.len_b.tolist() == [11.0, 18.0]
    # the viewer's Length page bins the ratings' own battles, lengths included
    b = build_battles(frame, "none")
    bins = length_bins(b.len_a, b.len_b, b.score, 2)
    assert sorted(bins["length difference"].tolist()) == [-10.0, -6.0]


@pytest.mark.db
def test_judges_page_confusion_counts_the_agreement_pairs(store):
    answers = seed_questions(store, {"1": "c", "2": "c"}, {"x": {"1": "a", "2": "b"},
                                                           "y": {"1": "c", "2": "d"}})
    v = Verdicts(store, answers)
    v.pair("qs/1", "x", "y", "A", judge="j")
    v.pair("qs/2", "x", "y", "B", judge="j")
    v.pair("qs/1", "x", "y", "B", kind="human", judge="h")  # changes its mind (no correction
    v.pair("qs/1", "x", "y", "A", kind="human", judge="h")  # row): the latest vote counts
    v.pair("qs/2", "x", "y", "B", kind="human", judge="h")
    v.flush()
    items, raters, values = votes(load_verdicts(store, Selection()), by="judge")
    stats = agreement(items, raters, values, group_a=["llm:j"], group_b=["human:h"], rounds=0)
    cm = confusion(items, raters, values, "llm:j", ["human:h"])
    assert int(cm.to_numpy().sum()) == stats["agreement_with_ties"].n == 2
    agree = int(np.trace(cm.to_numpy()))
    assert agree / 2 == stats["agreement_with_ties"].value == 1.0
    assert len(vote_pairs(items, raters, values, group_a=["llm:j"], group_b=["human:h"])) == 2
