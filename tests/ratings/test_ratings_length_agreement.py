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


def _sklearn_mean_kappa(X: np.ndarray) -> float:
    """The mean pairwise kappa by sklearn, pair by pair (an independent reference)."""
    from itertools import combinations

    from sklearn.metrics import cohen_kappa_score

    vals = []
    for p, q in combinations(range(X.shape[1]), 2):
        both = ~np.isnan(X[:, p]) & ~np.isnan(X[:, q])
        x, y = X[both, p], X[both, q]
        if both.sum() >= 2 and len(np.unique(np.concatenate([x, y]))) >= 2:
            vals.append(cohen_kappa_score(x, y))
    return float(np.mean(vals)) if vals else math.nan


def test_cohen_kappa_equals_sklearn_per_pair_on_sparse_overlap_and_bootstrap_rounds():
    """Many annotators, 3 votes per item: pairs with 0, 1 or many shared items, pairs whose
    votes are all one label; every bootstrap round (items drawn with repeats) too."""
    from arena.ratings.agreement import _CohenPairs, _matrix

    rng = np.random.default_rng(4)
    item, rater, value = [], [], []
    for i in range(120):
        for r in rng.choice(12, 3, replace=False):
            item.append(i)
            rater.append(f"r{r}")
            value.append(rng.choice(["A", "B", "TIE"], p=[0.5, 0.4, 0.1]))
    item += [500, 500, 501, 501]  # a pair of raters who only ever agree on "A"
    rater += ["x1", "x2", "x1", "x2"]
    value += ["A"] * 4
    X, *_ = _matrix(item, rater, value, False)
    pairs = _CohenPairs(X, list(range(X.shape[1])))
    assert pairs.value() == pytest.approx(_sklearn_mean_kappa(X), abs=1e-12)
    for _ in range(20):
        idx = rng.integers(0, X.shape[0], X.shape[0])
        got = pairs.value(np.bincount(idx, minlength=X.shape[0]))
        assert got == pytest.approx(_sklearn_mean_kappa(X[idx]), abs=1e-12)


def _fleiss_reference(X: np.ndarray) -> float:
    from statsmodels.stats.inter_rater import fleiss_kappa

    m = (~np.isnan(X)).sum(axis=1)
    k = np.bincount(m[m >= 2]).argmax()
    rows = X[m == k]
    cats = np.unique(X[~np.isnan(X)])
    return float(fleiss_kappa(np.stack([(rows == c).sum(axis=1) for c in cats], axis=1)))


def _kripp_reference(X: np.ndarray, level: str) -> float:
    import krippendorff

    data = X[(~np.isnan(X)).sum(axis=1) >= 2]
    return float(krippendorff.alpha(reliability_data=data.T, level_of_measurement=level))


@pytest.mark.parametrize("level", ["nominal", "interval"])
def test_fleiss_and_alpha_equal_statsmodels_and_krippendorff_in_bootstrap_rounds(level):
    from arena.ratings.agreement import _CountTable, _matrix

    rng = np.random.default_rng(7)
    item, rater, value = [], [], []
    for i in range(150):
        k = 3 if i % 5 else 2  # Fleiss keeps the items with the most common count (3)
        for r in rng.choice(10, k, replace=False):
            item.append(i)
            rater.append(f"r{r}")
            value.append(int(rng.choice([1, 2, 3, 5], p=[0.4, 0.3, 0.2, 0.1])))
    item.append(999)  # an item with one vote: not pairable
    rater.append("r0")
    value.append(4)
    X, *_ = _matrix(item, rater, value, level == "interval")
    counts = _CountTable(X)
    assert counts.kripp(level) == pytest.approx(_kripp_reference(X, level), abs=1e-12)
    if level == "nominal":
        assert counts.fleiss()[0] == pytest.approx(_fleiss_reference(X), abs=1e-12)
    for _ in range(15):
        idx = rng.integers(0, X.shape[0], X.shape[0])
        w = np.bincount(idx, minlength=X.shape[0])
        assert counts.kripp(level, w) == pytest.approx(_kripp_reference(X[idx], level),
                                                       abs=1e-12)
        if level == "nominal":
            assert counts.fleiss(w)[0] == pytest.approx(_fleiss_reference(X[idx]), abs=1e-12)


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
