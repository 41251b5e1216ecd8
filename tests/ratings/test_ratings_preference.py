"""Fractional verdicts (Judgment.preference) in every rating: the frame, the merged orders,
BT, Elo and win rates; the ± beside a weighted win rate comes from the same weights."""

from __future__ import annotations

import math

import numpy as np
import pytest

from arena.leaderboard import LeaderboardSettings, compute_leaderboard
from arena.ratings.battles import build_battles
from arena.ratings.bt import fit_bt
from arena.ratings.elo import online_elo
from arena.ratings.selection import Selection, load_verdicts
from arena.ratings.winrate import overall_win_rate, vs_baseline, weighted_rows_mean_se
from ratings_fixtures import Verdicts, seed_questions

pytestmark = pytest.mark.db


@pytest.fixture
def weighted(store):
    answers = seed_questions(store, {str(q): "c" for q in range(4)},
                             {m: {str(q): f"{m}{q}" for q in range(4)} for m in ("x", "y")})
    v = Verdicts(store, answers)
    # one weighted judge in both orders: preferences in model terms (1 = x, model_a)
    for q, (p1, p2) in enumerate([(1.2, 1.4), (1.7, 1.9), (1.3, 1.8), (1.5, 1.5)]):
        for first, p in (("A", p1), ("B", p2)):
            v.pair(f"qs/{q}", "x", "y", "A" if p < 1.5 else "B" if p > 1.5 else "TIE",
                   first=first, preference=p)
    v.flush()
    return store


def test_frame_and_battles_use_the_fraction(weighted):
    frame = load_verdicts(weighted, Selection())
    assert frame.preference.tolist() == [1.2, 1.4, 1.7, 1.9, 1.3, 1.8, 1.5, 1.5]
    games = build_battles(frame, "both_games")
    assert games.score.tolist() == pytest.approx([0.8, 0.6, 0.3, 0.1, 0.7, 0.2, 0.5, 0.5])
    assert games.notes["fractional"] == 8
    merged = build_battles(frame, "tie_if_inconsistent")
    # consistent orders: the mean of the two scores; inconsistent (q2): a tie
    assert merged.score.tolist() == pytest.approx([0.7, 0.2, 0.5, 0.5])
    assert (merged.notes["pairs_consistent"], merged.notes["pairs_inconsistent"]) == (3, 1)


def test_bt_elo_and_win_rates_use_the_fraction(weighted):
    frame = load_verdicts(weighted, Selection())
    g = build_battles(frame, "both_games")
    share, _n = overall_win_rate(g)
    assert share[0] == pytest.approx(np.mean([0.8, 0.6, 0.3, 0.1, 0.7, 0.2, 0.5, 0.5]))
    # BT with two models: x's share of points decides the difference exactly
    res = fit_bt(g.model_a, g.model_b, g.score, g.models, rounds=0)
    p = share[0]
    assert res.rating[0] - res.rating[1] == pytest.approx(400 * math.log10(p / (1 - p)),
                                                          abs=1e-9)
    elo = online_elo(g.model_a, g.model_b, g.score, 2, k=4)
    r = [1000.0, 1000.0]
    for s in g.score:
        d = 4 * (s - 1 / (1 + 10 ** ((r[1] - r[0]) / 400)))
        r = [r[0] + d, r[1] - d]
    assert elo.tolist() == pytest.approx(r, abs=1e-12)
    row = vs_baseline(g, "x")[0]  # y against the baseline x: preference 1 + score of y
    ys = 1 - np.array([0.8, 0.6, 0.3, 0.1, 0.7, 0.2, 0.5, 0.5])
    assert row.win_rate == pytest.approx(ys.mean() * 100, abs=1e-9)
    assert row.standard_error == pytest.approx(ys.std(ddof=1) / math.sqrt(8) * 100, abs=1e-9)
    assert (row.n_wins, row.n_draws, row.n_losses) == (int((ys > .5).sum()), 2,
                                                       int((ys < .5).sum()))


def test_weighted_win_rate_and_its_se_come_from_the_same_rows():
    x = np.array([1.0, 0.0, 0.5, 1.0])
    w = np.array([3.0, 1.0, 1.0, 3.0])
    rows = np.repeat(x, w.astype(int))  # arena-hard: a strong verdict is three rows
    mean, se = weighted_rows_mean_se(x, w)
    assert mean == pytest.approx(rows.mean(), abs=1e-15)
    assert se == pytest.approx(rows.std(ddof=1) / math.sqrt(len(rows)), abs=1e-15)


def test_strong_verdicts_weigh_the_baseline_win_rate_and_its_se(store):
    answers = seed_questions(store, {str(q): "c" for q in range(6)},
                             {m: {str(q): m for q in range(6)} for m in ("m", "base")})
    v = Verdicts(store, answers)
    outcomes = [("A", 2), ("A", None), ("B", 2), ("TIE", None), ("A", 2), ("B", None)]
    for q, (o, strength) in enumerate(outcomes):
        v.pair(f"qs/{q}", "m", "base", o, strength=strength)
    v.flush()
    frame = load_verdicts(store, Selection())
    board = compute_leaderboard(frame, LeaderboardSettings(policy="none", strong_weight=3,
                                                           baseline="base", rounds=0,
                                                           methods=("bt", "winrate")))
    row = next(r for r in board.rows if r.model == "m")
    expanded = np.array([1, 1, 1, 1, 0, 0, 0, .5, 1, 1, 1, 0])
    assert row.baseline_win_rate == pytest.approx(expanded.mean() * 100, abs=1e-9)
    assert row.baseline_se == pytest.approx(expanded.std(ddof=1) / math.sqrt(12) * 100,
                                            abs=1e-9)
    assert row.discrete_win_rate == pytest.approx((3 + 0.5) / 6 * 100)
