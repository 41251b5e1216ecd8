"""Bradley-Terry: hand-computed cases, the star-design identity, an independent optimiser,
never-win models, anchors, the bootstrap and CI-aware ranks."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.optimize import minimize

from arena.ratings.bt import (SCALE, aggregate, fit_bt, predicted_win_rates, rank_by_ci)


def battles_from_counts(table: dict[tuple[int, int], tuple[int, int, int]]):
    """{(i, j): (wins of i, ties, wins of j)} -> arrays (each battle its own question)."""
    a, b, s = [], [], []
    for (i, j), (w, t, l) in table.items():
        a += [i] * (w + t + l)
        b += [j] * (w + t + l)
        s += [1.0] * w + [0.5] * t + [0.0] * l
    return np.array(a), np.array(b), np.array(s)


def test_two_models_hand_computed():
    # 3 wins of 4: P = 3/4 = 1 / (1 + 10^(-d/400)) -> d = 400 log10(3); mean 1000
    a, b, s = battles_from_counts({(0, 1): (3, 0, 1)})
    res = fit_bt(a, b, s, ["x", "y"], rounds=0)
    d = 400 * math.log10(3)
    assert res.rating[0] == pytest.approx(1000 + d / 2, abs=1e-9)
    assert res.rating[1] == pytest.approx(1000 - d / 2, abs=1e-9)
    assert not res.regularized and res.warnings == []


def test_ties_count_half():
    # 1 win + 2 ties + 1 loss = 2 points of 4: equal ratings
    a, b, s = battles_from_counts({(0, 1): (1, 2, 1)})
    res = fit_bt(a, b, s, ["x", "y"], rounds=0)
    assert res.rating == pytest.approx([1000, 1000], abs=1e-9)
    # 2 wins + 2 ties: 3 of 4 points, the same as 3 wins and 1 loss
    a2, b2, s2 = battles_from_counts({(0, 1): (2, 2, 0)})
    res2 = fit_bt(a2, b2, s2, ["x", "y"], rounds=0)
    assert res2.rating[0] - res2.rating[1] == pytest.approx(400 * math.log10(3), abs=1e-9)


def test_star_design_implied_win_rate_is_exact():
    # every model meets only the baseline (index 0); each has wins and losses
    counts = {(1, 0): (7, 2, 3), (2, 0): (2, 5, 6), (0, 3): (4, 1, 9), (4, 0): (1, 0, 1),
              (5, 0): (10, 3, 2)}
    a, b, s = battles_from_counts(counts)
    res = fit_bt(a, b, s, [f"m{i}" for i in range(6)], rounds=0)
    p = predicted_win_rates(res.rating)
    for (i, j), (w, t, l) in counts.items():
        assert p[i, j] == pytest.approx((w + t / 2) / (w + t + l), abs=1e-9)


def test_matches_an_independent_optimiser():
    rng = np.random.default_rng(3)
    M, N = 6, 3000
    true = rng.normal(0, 1, M)
    a = rng.integers(0, M, N)
    b = (a + rng.integers(1, M, N)) % M
    p = 1 / (1 + np.exp(-(true[a] - true[b])))
    u = rng.random(N)
    s = np.where(u < p * 0.8, 1.0, np.where(u < p * 0.8 + 0.2, 0.5, 0.0))
    res = fit_bt(a, b, s, [str(i) for i in range(M)], rounds=0)

    def nll(x: np.ndarray) -> float:  # the raw per-battle likelihood, no aggregation
        th = np.concatenate([[0.0], x])
        d = th[a] - th[b]
        return float(-(s * -np.logaddexp(0, -d) + (1 - s) * -np.logaddexp(0, d)).sum())
    opt = minimize(nll, np.zeros(M - 1), method="BFGS", options={"gtol": 1e-9})
    th = np.concatenate([[0.0], opt.x])
    ref = SCALE * (th - th.mean()) + 1000
    assert res.rating == pytest.approx(ref, abs=1e-3)


def test_anchor_fixes_a_model_and_keeps_differences():
    a, b, s = battles_from_counts({(0, 1): (3, 1, 2), (1, 2): (4, 0, 1), (0, 2): (2, 2, 2)})
    free = fit_bt(a, b, s, ["x", "y", "z"], rounds=0)
    anch = fit_bt(a, b, s, ["x", "y", "z"], rounds=50, anchor="y", anchor_value=1200, seed=1)
    assert anch.rating[1] == pytest.approx(1200, abs=1e-9)
    assert np.diff(anch.rating) == pytest.approx(np.diff(free.rating), abs=1e-9)
    assert anch.ci_low[1] == pytest.approx(1200) and anch.ci_high[1] == pytest.approx(1200)
    with pytest.raises(ValueError, match="anchor"):
        fit_bt(a, b, s, ["x", "y", "z"], rounds=0, anchor="nobody")


def test_never_winning_model_is_finite_and_warned(caplog):
    # model 2 loses every game: the MLE does not exist
    a, b, s = battles_from_counts({(0, 1): (3, 1, 2), (0, 2): (4, 0, 0), (1, 2): (5, 0, 0)})
    with caplog.at_level("WARNING"):
        res = fit_bt(a, b, s, ["x", "y", "z"], rounds=100, seed=0)
    assert res.regularized
    assert any("z" in w for w in res.warnings) and "never won or never lost" in caplog.text
    assert np.isfinite(res.rating).all() and np.isfinite(res.ci_low).all()
    assert res.rating[2] < res.rating[1] < res.rating[0]
    assert res.rating.mean() == pytest.approx(1000, abs=1e-9)
    # with a well-posed design no prior is applied
    ok = fit_bt(*battles_from_counts({(0, 1): (3, 1, 2)}), ["x", "y"], rounds=0)
    assert not ok.regularized


def test_strong_weight_equals_repeated_battles():
    a = np.array([0, 0, 1])
    b = np.array([1, 1, 0])
    s = np.array([1.0, 0.0, 1.0])
    w = np.array([3.0, 1.0, 1.0])
    weighted = fit_bt(a, b, s, ["x", "y"], weight=w, rounds=0)
    rep = fit_bt(np.array([0, 0, 0, 0, 1]), np.array([1, 1, 1, 1, 0]),
                 np.array([1, 1, 1, 0, 1.0]), ["x", "y"], rounds=0)
    assert weighted.rating == pytest.approx(rep.rating, abs=1e-9)


def _sim(M=5, Q=40, seed=0):
    rng = np.random.default_rng(seed)
    true = np.linspace(-1, 1, M)
    a, b, q = [], [], []
    for qi in range(Q):
        for i in range(M):
            for j in range(i + 1, M):
                a += [i, j]
                b += [j, i]
                q += [qi, qi]
    a, b, q = np.array(a), np.array(b), np.array(q)
    p = 1 / (1 + np.exp(-(true[a] - true[b])))
    s = (rng.random(len(a)) < p).astype(float)
    return a, b, s, q


def test_bootstrap_is_seeded_and_covers_the_estimate():
    a, b, s, q = _sim()
    names = [f"m{i}" for i in range(5)]
    r1 = fit_bt(a, b, s, names, unit=q, rounds=200, seed=7)
    r2 = fit_bt(a, b, s, names, unit=q, rounds=200, seed=7)
    r3 = fit_bt(a, b, s, names, unit=q, rounds=200, seed=8)
    assert np.array_equal(r1.ci_low, r2.ci_low) and np.array_equal(r1.ci_high, r2.ci_high)
    assert not np.array_equal(r1.ci_low, r3.ci_low)
    assert (r1.ci_low < r1.rating).all() and (r1.rating < r1.ci_high).all()
    wide = fit_bt(a, b, s, names, unit=q, rounds=200, seed=7, ci_level=0.99)
    assert (wide.ci_high - wide.ci_low > r1.ci_high - r1.ci_low).all()
    by_battle = fit_bt(a, b, s, names, rounds=200, seed=7, resample="battles")
    assert by_battle.unit == "battles" and np.isfinite(by_battle.ci_low).all()
    assert r1.samples.shape == (200, 5)


def test_question_types_aggregate_exactly():
    # units merged into types must add up to the plain per-pair sums
    a, b, s, q = _sim(M=4, Q=30, seed=2)
    w = np.where(np.arange(len(a)) % 5 == 0, 3.0, 1.0)
    pd = aggregate(a, b, s, w, 4, q)
    tot_s = np.asarray(pd.type_s.T @ pd.type_count).ravel()
    tot_n = np.asarray(pd.type_n.T @ pd.type_count).ravel()
    assert tot_s == pytest.approx(pd.s) and tot_n == pytest.approx(pd.n)
    assert pd.type_count.sum() == 30
    pdb = aggregate(a, b, s, w, 4, None)
    assert np.asarray(pdb.type_n.T @ pdb.type_count).ravel() == pytest.approx(pdb.n)
    assert pdb.type_count.sum() == len(a)


def test_rank_respects_ci_overlap():
    rating = np.array([1100.0, 1090.0, 1000.0, 900.0])
    low = np.array([1080.0, 1060.0, 980.0, 850.0])
    high = np.array([1120.0, 1110.0, 1020.0, 950.0])
    assert rank_by_ci(rating, low, high).tolist() == [1, 1, 3, 4]
    nan = np.full(4, np.nan)
    assert rank_by_ci(rating, nan, nan).tolist() == [1, 2, 3, 4]


def test_question_resampling_accounts_for_repeated_battles():
    a, b, s, q = _sim(M=4, Q=60, seed=4)
    names = [f"m{i}" for i in range(4)]
    base = fit_bt(a, b, s, names, unit=np.arange(len(a)), rounds=400, seed=1)
    # every battle copied 4 times inside one question: no new information
    a4, b4, s4 = np.repeat(a, 4), np.repeat(b, 4), np.repeat(s, 4)
    q4 = np.repeat(np.arange(len(a)), 4)
    by_q = fit_bt(a4, b4, s4, names, unit=q4, rounds=400, seed=1)
    by_b = fit_bt(a4, b4, s4, names, unit=q4, rounds=400, seed=1, resample="battles")
    w0, wq, wb = (r.ci_high - r.ci_low for r in (base, by_q, by_b))
    assert wq == pytest.approx(w0, rel=0.2)
    assert (wb < 0.7 * wq).all()  # the battle bootstrap is fooled by the copies


def test_poisson_draws_are_exact_in_distribution():
    """Table draws (integer means below 64) and numpy's sampler (others) give Poisson(mean):
    frequencies within 4 standard errors of the exact probabilities."""
    from scipy.stats import poisson

    from arena.ratings.poisson import poisson_rows

    rng = np.random.default_rng(0)
    means = np.array([1.0] * 300 + [4.0] * 200 + [2.5] * 50 + [100.0] * 10)
    w = poisson_rows(rng, means, 2000)
    assert w.shape == (560, 2000) and w.dtype == np.float32 and w.flags.c_contiguous
    for lo, hi, mean in ((0, 300, 1.0), (300, 500, 4.0), (500, 550, 2.5)):
        x = w[lo:hi].ravel().astype(int)
        k = np.arange(12)
        freq = np.bincount(x, minlength=12)[:12] / x.size
        p = poisson.pmf(k, mean)
        assert np.abs(freq - p).max() < 4 * np.sqrt(p * (1 - p) / x.size).max()
    assert w[550:].mean() == pytest.approx(100.0, abs=0.5)
    # seeded: the same draws again
    again = poisson_rows(np.random.default_rng(0), means, 2000)
    assert np.array_equal(w, again)
    with pytest.raises(ValueError):
        poisson_rows(rng, np.array([-1.0]), 3)
