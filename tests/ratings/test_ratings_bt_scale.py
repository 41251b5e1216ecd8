"""BT at arena scale (issue 14.7): the fit equals a scipy L-BFGS fit of the full per-battle
likelihood to 1e-6 Elo points at 500 models; every bootstrap round of the batched chord
iteration equals an exact refit of that round; rows resampling."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import minimize

from arena.ratings import bt_rounds
from arena.ratings.bootstrap import bootstrap_thetas, round_sums
from arena.ratings.bt import SCALE, aggregate, fit_bt, fit_thetas
from arena.ratings.pairs import aggregate as pairs_aggregate


def _battles(M: int, N: int, seed: int):
    rng = np.random.default_rng(seed)
    strength = rng.normal(0, 1, M)
    a = rng.integers(0, M, N)
    b = (a + rng.integers(1, M, N)) % M
    p = 1 / (1 + np.exp(-(strength[a] - strength[b])))
    u = rng.random(N)
    s = np.where(u < 0.9 * p, 1.0, np.where(u < 0.9 * p + 0.1, 0.5, 0.0))
    return a, b, s


def _lbfgs(a, b, s, M, w=None):
    """The full likelihood, one term per battle, by L-BFGS (restarted until it stalls: each
    restart drops the quasi-Newton memory that float64 rounding of the objective spoils)."""
    w = np.ones(len(a)) if w is None else w

    def f(x):
        th = x - x.mean()
        d = th[a] - th[b]
        lp, lq = -np.logaddexp(0, -d), -np.logaddexp(0, d)
        r = w * (s - np.exp(lp))
        g = -(np.bincount(a, weights=r, minlength=M) - np.bincount(b, weights=r, minlength=M))
        return -(w * (s * lp + (1 - s) * lq)).sum(), g - g.mean()

    x = np.zeros(M)
    best = np.inf
    for _ in range(8):
        opt = minimize(f, x, jac=True, method="L-BFGS-B",
                       options={"maxiter": 20000, "maxfun": 40000, "ftol": 0, "gtol": 1e-12,
                                "maxcor": 50})
        x = opt.x
        gmax = float(np.abs(opt.jac).max())
        if gmax >= 0.5 * best:
            break
        best = gmax
    return SCALE * (x - x.mean()) + 1000.0, best


def _newton_polish(rating, a, b, s, M, steps=3):
    """Exact Newton steps on the same per-battle likelihood from the L-BFGS point: L-BFGS
    stops where float64 rounding of a 200,000-term objective hides the last digits (its
    gradient can stall near 1e-5 on the natural scale, ~1e-5 Elo points), Newton with the
    full Hessian does not. Returns the ratings and the final gradient's max norm."""
    th = (rating - 1000.0) / SCALE
    for _ in range(steps):
        d = th[a] - th[b]
        p = 1 / (1 + np.exp(-d))
        r = s - p
        g = np.bincount(a, weights=r, minlength=M) - np.bincount(b, weights=r, minlength=M)
        H = np.zeros((M, M))
        np.add.at(H, (a, b), p * (1 - p))
        H = H + H.T
        H = np.diag(H.sum(1)) - H + 1.0 / M  # + 1/M pins the mean (the likelihood ignores it)
        th = th + np.linalg.solve(H, g)
        th -= th.mean()
    d = th[a] - th[b]
    r = s - 1 / (1 + np.exp(-d))
    g = np.bincount(a, weights=r, minlength=M) - np.bincount(b, weights=r, minlength=M)
    return SCALE * th + 1000.0, float(np.abs(g).max())


def test_bt_equals_lbfgs_of_the_full_likelihood_at_500_models():
    M = 500
    a, b, s = _battles(M, 200_000, seed=5)
    res = fit_bt(a, b, s, [str(i) for i in range(M)], rounds=0)
    assert not res.regularized
    ref, gmax = _lbfgs(a, b, s, M)
    assert gmax < 1e-5  # the L-BFGS reference stalled where rounding hides the rest
    assert np.abs(res.rating - ref).max() < 1e-4
    ref, gmax = _newton_polish(ref, a, b, s, M)
    assert gmax < 1e-9  # the polished reference is the MLE to float64 precision
    assert np.abs(res.rating - ref).max() < 1e-6


def test_weighted_and_fractional_battles_equal_lbfgs():
    M = 40
    a, b, s = _battles(M, 20_000, seed=2)
    rng = np.random.default_rng(3)
    s = np.clip(s + rng.normal(0, 0.2, len(s)), 0, 1)  # weighted-judge fractions
    w = np.where(rng.random(len(s)) < 0.3, 3.0, 1.0)
    res = fit_bt(a, b, s, [str(i) for i in range(M)], weight=w, rounds=0)
    ref, _ = _lbfgs(a, b, s, M, w)
    assert np.abs(res.rating - ref).max() < 1e-6


@pytest.mark.parametrize("unit", ["battles", "questions", "rows"])
def test_every_bootstrap_round_is_its_exact_maximiser(unit):
    M = 60
    a, b, s = _battles(M, 60_000, seed=1)
    q = np.arange(len(a)) // 7
    w = np.where(np.arange(len(a)) % 4 == 0, 3.0, 1.0)
    pd = aggregate(a, b, s, w, M, q if unit == "questions" else None, rows=unit == "rows")
    theta = fit_thetas(pd, pd.s[None], pd.n[None], np.array([False]))[0]
    before = dict(bt_rounds.STATS)
    got = bootstrap_thetas(pd, theta, 40, seed=9)
    assert bt_rounds.STATS["rounds"] - before["rounds"] == 40
    want = []
    for _start, rs, rn in round_sums(pd, 40, 9):
        want.append(fit_thetas(pd, rs.T.copy(), rn.T.copy(), np.zeros(rs.shape[1], bool),
                               theta0=theta, tol=1e-13))
    assert np.abs(SCALE * (got - np.vstack(want))).max() < 1e-6  # Elo points


def test_rounds_needing_the_prior_are_exact_too():
    # 6 models, few battles: some resamples leave a model without a win
    a, b, s = _battles(6, 60, seed=4)
    pd = aggregate(a, b, s, np.ones(len(a)), 6)
    theta = fit_thetas(pd, pd.s[None], pd.n[None], np.array([True]))[0]
    got = bootstrap_thetas(pd, theta, 200, seed=1, prior_all=True)
    from arena.ratings.bt import needs_prior

    want = []
    for _start, rs, rn in round_sums(pd, 200, 1):
        want.append(fit_thetas(pd, rs.T.copy(), rn.T.copy(),
                               np.ones(rs.shape[1], bool) | needs_prior(pd, rs.T, rn.T),
                               theta0=theta, tol=1e-13))
    assert np.abs(SCALE * (got - np.vstack(want))).max() < 1e-6


def test_rows_resampling_counts_strong_verdicts_as_rows():
    a = np.array([0, 0, 1, 1])
    b = np.array([1, 1, 0, 0])
    s = np.array([1.0, 0.0, 1.0, 0.5])
    w = np.array([3.0, 1.0, 1.0, 3.0])
    pd = pairs_aggregate(a, b, s, w, 2, rows=True)
    assert pd.n_units == 8 and pd.type_count.sum() == 8
    assert np.asarray(pd.type_n.T @ pd.type_count).ravel().tolist() == [8.0]
    assert np.asarray(pd.type_s.T @ pd.type_count).ravel().tolist() == [3 + 0 + 0 + 1.5]
    with pytest.raises(ValueError, match="whole-number"):
        pairs_aggregate(a, b, s, np.array([1.5, 1, 1, 1]), 2, rows=True)
    res = fit_bt(a, b, s, ["x", "y"], weight=w, rounds=50, resample="rows")
    assert res.unit == "rows" and np.isfinite(res.ci_low).all()
    with pytest.raises(ValueError, match="resample"):
        fit_bt(a, b, s, ["x", "y"], rounds=5, resample="cells")  # type: ignore[arg-type]
