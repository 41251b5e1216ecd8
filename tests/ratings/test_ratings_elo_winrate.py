"""Online Elo (hand-computed), AlpacaEval win-rate definitions, baseline counts, matrices,
single-mode means."""

from __future__ import annotations

import math
import statistics

import numpy as np
import pytest

from arena.ratings.battles import Battles
from arena.ratings.elo import online_elo
from arena.ratings.single import score_table
from arena.ratings.winrate import alpaca_winrate, pairwise_matrices, vs_baseline


def test_elo_hand_computed_sequence():
    # battle 1: x beats y from 1000/1000 -> expected 0.5 -> +-2 with K = 4
    r = online_elo(np.array([0]), np.array([1]), np.array([1.0]), 2, k=4)
    assert r.tolist() == pytest.approx([1002.0, 998.0], abs=1e-12)
    # battle 2: y (998) ties x (1002): expected for y = 1 / (1 + 10^(4/400))
    e_y = 1 / (1 + 10 ** (4 / 400))
    r2 = online_elo(np.array([0, 1]), np.array([1, 0]), np.array([1.0, 0.5]), 2, k=4)
    assert r2[1] == pytest.approx(998 + 4 * (0.5 - e_y), abs=1e-12)
    assert r2[0] == pytest.approx(1002 - 4 * (0.5 - e_y), abs=1e-12)
    # order matters (it is a diagnostic, not the rating)
    r3 = online_elo(np.array([1, 0]), np.array([0, 1]), np.array([0.5, 1.0]), 2, k=4)
    assert r3[0] != pytest.approx(r2[0], abs=1e-9)


def test_elo_weight_and_k_and_errors():
    r = online_elo(np.array([0]), np.array([1]), np.array([1.0]), 2, k=10, weight=np.array([3.0]))
    assert r.tolist() == pytest.approx([1015.0, 985.0])
    with pytest.raises(ValueError, match="same length"):
        online_elo(np.array([0]), np.array([1, 0]), np.array([1.0]), 2)
    with pytest.raises(ValueError, match="outside"):
        online_elo(np.array([0]), np.array([5]), np.array([1.0]), 2)


# AlpacaEval fixture: preferences of output_2 (the model) over output_1 (the baseline)
PREFS = [2.0, 1.0, 1.5, 2.0, 1.8, 0.0, 1.2, 1.0, 2.0, 1.5]


def test_alpaca_definitions_to_1e9():
    got = alpaca_winrate(PREFS)
    x = [1.0, 0.0, 0.5, 1.0, 0.8, 0.5, 0.2, 0.0, 1.0, 0.5]  # preference - 1, legacy 0 -> draw
    assert got["win_rate"] == pytest.approx(sum(x) / 10 * 100, abs=1e-9)
    assert got["win_rate"] == pytest.approx(55.0, abs=1e-9)
    assert got["standard_error"] == pytest.approx(statistics.stdev(x) / math.sqrt(10) * 100,
                                                  abs=1e-9)
    assert (got["n_wins"], got["n_wins_base"], got["n_draws"], got["n_total"]) == (4, 3, 3, 10)
    # discrete: 1.8 -> win, 1.2 -> loss, draws stay half: (4 + 3/2) / 10
    assert got["discrete_win_rate"] == pytest.approx(55.0, abs=1e-9)
    assert alpaca_winrate([2.0, 1.9, 1.0])["discrete_win_rate"] == pytest.approx(200 / 3, abs=1e-9)
    with pytest.raises(ValueError, match=r"\[1, 2\]"):
        alpaca_winrate([2.5])


def _battles(rows, models):
    a, b, s = zip(*rows)
    return Battles.from_arrays(models, np.array(a), np.array(b), np.array(s))


def test_vs_baseline_counts_both_orientations():
    # base = 0; model 1 meets it as model_a and as model_b
    bt = _battles([(1, 0, 1.0), (0, 1, 1.0), (0, 1, 0.5), (1, 0, 1.0), (2, 0, 0.0), (0, 2, 0.5)],
                  ["base", "m1", "m2"])
    rows = {r.model: r for r in vs_baseline(bt, "base")}
    m1 = rows["m1"]
    assert (m1.n_wins, m1.n_draws, m1.n_losses, m1.n) == (2, 1, 1, 4)
    assert m1.win_rate == pytest.approx((2 + 0.5) / 4 * 100)
    assert m1.standard_error == pytest.approx(statistics.stdev([1, 0, 0.5, 1]) / 2 * 100)
    m2 = rows["m2"]
    assert (m2.n_wins, m2.n_draws, m2.n_losses) == (0, 1, 1)
    with pytest.raises(ValueError, match="baseline"):
        vs_baseline(bt, "nobody")


def test_pairwise_matrices():
    bt = _battles([(0, 1, 1.0), (1, 0, 0.5), (0, 2, 0.0)], ["x", "y", "z"])
    rate, count = pairwise_matrices(bt)
    assert rate[0, 1] == pytest.approx(0.75) and rate[1, 0] == pytest.approx(0.25)
    assert rate[0, 2] == 0.0 and rate[2, 0] == 1.0
    assert math.isnan(rate[1, 2])
    assert count.tolist() == [[0, 2, 1], [2, 0, 0], [1, 0, 0]]


def test_single_mean_t_interval_and_criteria():
    model = np.array([0, 0, 0, 1, 1, 1, 1, 2])
    score = np.array([7.0, 8.0, 9.0, 3.0, 5.0, 4.0, np.nan, 6.0])
    crit = [{"accuracy": 8, "style": 6}, {"accuracy": 9}, None, None, None, None,
            {"accuracy": 2, "style": 4, "note": "x"}, None]
    t = score_table(model, score, ["a", "b", "c"], ci_level=0.95, criteria=crit)
    half = 4.302652729911275 * 1.0 / math.sqrt(3)  # t(0.975, 2) x sd / sqrt(n), sd = 1
    assert t.mean[0] == pytest.approx(8.0) and t.ci_low[0] == pytest.approx(8 - half)
    # b: the NaN overall score is filled from its criteria mean (3)
    assert t.n[1] == 4 and t.mean[1] == pytest.approx((3 + 5 + 4 + 3) / 4)
    assert t.n[2] == 1 and math.isnan(t.ci_low[2])  # one score: no interval
    assert t.criteria["accuracy"][0] == pytest.approx(8.5) and "note" not in t.criteria
    assert t.rank.tolist()[0] == 1
