"""Length-controlled win rate, style-controlled BT, agreement statistics."""

from __future__ import annotations

import math

import numpy as np
import pytest

from arena.ratings.agreement import agreement, agreement_rate
from arena.ratings.battles import Battles
from arena.ratings.bt import fit_bt
from arena.ratings.length import length_controlled, style_bt


def _verbose_world(seed=0, n_q=400):
    """'long' is as good as the baseline but mostly longer, and the judge favours length
    (AlpacaEval's functional form); 'good' has the baseline's length and wins 70 %."""
    rng = np.random.default_rng(seed)
    a, b, s, q, la, lb = [], [], [], [], [], []
    for qi in range(n_q):
        base_len = 500.0
        extra = rng.uniform(-200, 600)
        long_len = base_len + extra
        p_long = 1 / (1 + math.exp(-2.5 * math.tanh(extra / 230)))  # 0.5 at equal length
        a.append(1), b.append(0), q.append(qi), la.append(long_len), lb.append(base_len)
        s.append(1.0 if rng.random() < p_long else 0.0)
        good_len = base_len + rng.normal(0, 30)
        a.append(2), b.append(0), q.append(qi), la.append(good_len), lb.append(base_len)
        s.append(1.0 if rng.random() < 0.7 else 0.0)
    return Battles.from_arrays(["base", "long", "good"], np.array(a), np.array(b), np.array(s),
                               question=np.array(q), len_a=np.array(la), len_b=np.array(lb))


def test_length_controlled_removes_length_driven_wins():
    bt = _verbose_world(n_q=2000)
    rows = {r.model: r for r in length_controlled(bt, "base")}
    long, good = rows["long"], rows["good"]
    assert long.length_coef < 0  # delta = baseline - model length: the longer model gains
    assert long.win_rate > 65
    assert long.lc_win_rate == pytest.approx(50, abs=6)  # ~3 standard errors at n = 2000
    assert good.lc_win_rate == pytest.approx(good.win_rate, abs=5)
    assert long.n == good.n == 2000
    with pytest.raises(ValueError, match="baseline"):
        length_controlled(bt, "nobody")


def test_style_bt_separates_length_from_quality():
    rng = np.random.default_rng(1)
    N, M = 6000, 4
    true = np.array([0.0, 0.3, 0.6, 0.9])
    a = rng.integers(0, M, N)
    b = (a + rng.integers(1, M, N)) % M
    la = rng.uniform(100, 1000, N)
    lb = rng.uniform(100, 1000, N)
    z = (la - lb) / (la + lb)
    z_std = (z - z.mean()) / z.std()
    p = 1 / (1 + np.exp(-(true[a] - true[b] + 0.8 * z_std)))
    s = (rng.random(N) < p).astype(float)
    battles = Battles.from_arrays([f"m{i}" for i in range(M)], a, b, s, len_a=la, len_b=lb)
    res = style_bt(battles)
    assert res.length_coef == pytest.approx(0.8, abs=0.15)
    diffs = (res.rating - res.rating[0]) / (400 / math.log(10))
    assert diffs == pytest.approx(true - true[0], abs=0.15)
    assert (res.ci_low < res.rating).all() and (res.rating < res.ci_high).all()
    # without lengths the fit is refused with a clear message
    with pytest.raises(ValueError, match="lengths"):
        style_bt(Battles.from_arrays(["x", "y"], np.array([0]), np.array([1]), np.array([1.0])))


def test_style_bt_without_length_effect_matches_plain_bt():
    rng = np.random.default_rng(2)
    N = 4000
    a = rng.integers(0, 3, N)
    b = (a + rng.integers(1, 3, N)) % 3
    s = (rng.random(N) < 1 / (1 + np.exp(-(a - b) * 0.4))).astype(float)
    la = np.full(N, 300.0)
    battles = Battles.from_arrays(["x", "y", "z"], a, b, s, len_a=la, len_b=la)
    sty = style_bt(battles)
    plain = fit_bt(a, b, s, ["x", "y", "z"], rounds=0)
    assert sty.rating == pytest.approx(plain.rating, abs=1e-6)


def test_agreement_rates_hand_computed():
    # item 1: agree (A/A); item 2: disagree (A/B); item 3: tie vs A; item 4: tie/tie
    item = [1, 1, 2, 2, 3, 3, 4, 4]
    rater = ["j", "h"] * 4
    value = ["A", "A", "A", "B", "TIE", "A", "TIE", "TIE"]
    out = agreement(item, rater, value, rounds=0)
    assert out["agreement_with_ties"].value == pytest.approx(2 / 4)
    assert out["agreement_without_ties"].value == pytest.approx(1 / 2)
    assert out["agreement_without_ties"].n == 2
    assert agreement_rate(["A", "A", "TIE"], ["A", "B", "TIE"]) == (pytest.approx(2 / 3), 3)
    assert agreement_rate(["A", "A", "TIE"], ["A", "B", "TIE"], ties=False) == (0.5, 2)


def test_cohen_fleiss_krippendorff_hand_computed():
    # two raters, 10 items; confusion: yes/yes 4, yes/no 1, no/yes 1, no/no 4
    r1 = ["y"] * 5 + ["n"] * 5
    r2 = ["y"] * 4 + ["n"] + ["y"] + ["n"] * 4
    item = list(range(10)) * 2
    rater = ["r1"] * 10 + ["r2"] * 10
    out = agreement(item, rater, r1 + r2, rounds=300, seed=0)
    # kappa = (po - pe) / (1 - pe), po = 0.8, pe = 0.5
    assert out["cohen_kappa"].value == pytest.approx(0.6)
    # Fleiss with 2 raters: P_bar = 0.8, p_y = p_n = 0.5 -> (0.8 - 0.5) / 0.5
    assert out["fleiss_kappa"].value == pytest.approx(0.6)
    # Krippendorff nominal: 1 - (n - 1) * D_o / D_e with pairable values n = 20:
    # observed disagreements 2 items -> o_yn = o_ny = 2; n_y = n_n = 10
    # alpha = 1 - (20 - 1) * 4 / (2 * 10 * 10) = 0.62
    assert out["krippendorff_alpha"].value == pytest.approx(0.62)
    k = out["cohen_kappa"]
    assert k.ci_low < k.value < k.ci_high
    again = agreement(item, rater, r1 + r2, rounds=300, seed=0)
    assert again["cohen_kappa"].ci_low == k.ci_low


def test_interval_alpha_and_undefined_cases():
    item = [1, 1, 2, 2, 3, 3]
    rater = ["a", "b"] * 3
    out = agreement(item, rater, [1, 1, 3, 3, 5, 5], level="interval", rounds=0)
    assert out["krippendorff_alpha"].value == pytest.approx(1.0)
    assert "cohen_kappa" not in out
    # no variation at all: undefined, reported as NaN (not 0, not 1)
    flat = agreement([1, 1, 2, 2], ["a", "b", "a", "b"], ["A"] * 4, rounds=0)
    assert math.isnan(flat["cohen_kappa"].value)
    assert math.isnan(flat["krippendorff_alpha"].value)
    with pytest.raises(ValueError, match="same length"):
        agreement([1], ["a", "b"], ["A"])


def test_judge_vs_human_groups():
    item = [1, 1, 1, 2, 2, 2]
    rater = ["judge", "h1", "h2"] * 2
    value = ["A", "A", "B", "B", "B", "B"]
    out = agreement(item, rater, value, group_a=["judge"], group_b=["h1", "h2"], rounds=0)
    # judge-vs-human pairs: (A,A) (A,B) (B,B) (B,B) -> 3 of 4; the h1-h2 pair is not counted
    assert out["agreement_with_ties"].value == pytest.approx(0.75)
    assert out["agreement_with_ties"].n == 4


def test_style_bt_clusters_widen_intervals():
    # the same battles, once as independent questions and once with every battle repeated
    # 4 times inside its question: clustering must not shrink the intervals 2x as naive
    # (independent) standard errors would
    rng = np.random.default_rng(5)
    N = 2000
    a = rng.integers(0, 3, N)
    b = (a + rng.integers(1, 3, N)) % 3
    s = (rng.random(N) < 1 / (1 + np.exp(-(a - b) * 0.5))).astype(float)
    la, lb = rng.uniform(100, 900, N), rng.uniform(100, 900, N)
    single = style_bt(Battles.from_arrays(["x", "y", "z"], a, b, s, len_a=la, len_b=lb))
    rep = Battles.from_arrays(["x", "y", "z"], np.repeat(a, 4), np.repeat(b, 4), np.repeat(s, 4),
                              question=np.repeat(np.arange(N), 4), len_a=np.repeat(la, 4),
                              len_b=np.repeat(lb, 4))
    clustered = style_bt(rep)
    assert clustered.rating == pytest.approx(single.rating, abs=1e-6)
    w1 = single.ci_high - single.ci_low
    w4 = clustered.ci_high - clustered.ci_low
    assert w4 == pytest.approx(w1, rel=1e-6)  # 4 copies of a cluster carry no extra information
