"""The bootstrap of Bradley-Terry ratings: Poisson re-weighting of aggregated unit types.

Each resampling unit (a question, or a battle) gets an independent Poisson(1) weight - the
Poisson bootstrap, asymptotically the same as resampling n of n with replacement. Units with
identical contributions were merged into types by ``arena.ratings.bt.aggregate``; a type of
n units gets one Poisson(n) draw, exactly the sum of its units' weights, so a round costs
O(types) draws plus one sparse product, never O(battles). Every round is refitted by the
batched Newton solver from the full-data estimate; rounds whose resample leaves a model with
no wins or no losses get the same normal prior as a full fit that needs it.
"""

from __future__ import annotations

import math
from typing import Optional

import numpy as np

from arena.ratings.bt import DEFAULT_PRIOR_SD, PairData, fit_thetas, needs_prior


def bootstrap_thetas(pd: PairData, theta: np.ndarray, rounds: int, seed: int,
                     prior_all: bool = False, prior_sd: float = DEFAULT_PRIOR_SD,
                     chunk: Optional[int] = None) -> np.ndarray:
    """``rounds`` Poisson-bootstrap replicates of the units, each fitted from the full-data
    estimate. Returns (rounds x M) natural-scale coefficients."""
    rng = np.random.default_rng(seed)
    T = pd.type_count.shape[0]
    if chunk is None:  # bound memory: the (chunk x T) weights stay under ~50 MB
        chunk = int(max(1, min(rounds, 12_000_000 // max(T, 1))))
    ts_T = pd.type_s.T.tocsr().astype(np.float32)
    ts_T.eliminate_zeros()  # losses of the lower index add nothing to its score: skip them
    tn_T = pd.type_n.T.tocsr().astype(np.float32)
    out = np.empty((rounds, pd.n_models))
    for start in range(0, rounds, chunk):
        r = min(chunk, rounds - start)
        # Poisson bootstrap: every unit gets an independent Poisson(1) weight, so a type of
        # n_t identical units gets exactly Poisson(n_t) - one draw per type and round
        m = _poisson_weights(rng, pd.type_count, r)
        mt = np.ascontiguousarray(m.T)
        # float32 halves the memory traffic and is exact while a pair's sums stay below 2**24
        # (16.7 M games; halves and weights 1 or 3 are representable)
        s = np.asarray(ts_T @ mt, dtype=np.float64).T
        n = np.asarray(tn_T @ mt, dtype=np.float64).T
        prior = np.full(r, prior_all) | needs_prior(pd, s, n)
        # Newton converges quadratically: once a step is below 1e-7 the error left is ~1e-14
        out[start:start + r] = fit_thetas(pd, s, n, prior, prior_sd, theta0=theta, tol=1e-7)
    return out


# P(X <= k) for X ~ Poisson(1), k = 0..11: beyond 11 the mass (< 1e-8) is below float32
# uniform resolution, so inverting a float32 uniform through this table is exact to that level
_POISSON1_CDF = np.cumsum([math.exp(-1.0) / math.factorial(k) for k in range(12)])[:-1]


def _poisson_weights(rng: np.random.Generator, counts: np.ndarray, rounds: int) -> np.ndarray:
    """(rounds x T) float32 Poisson(counts) draws. Types holding one unit (the common case
    when units are many and distinct) use a table inversion of float32 uniforms, several
    times faster than numpy's per-draw Poisson sampler."""
    ones = counts == 1.0
    if not ones.any():
        return rng.poisson(counts, size=(rounds, len(counts))).astype(np.float32)
    k = int(ones.sum())
    draws = _poisson1(rng, (rounds, k))
    if k == len(counts):
        return draws
    out = np.empty((rounds, len(counts)), dtype=np.float32)
    out[:, ones] = draws
    out[:, ~ones] = rng.poisson(counts[~ones], size=(rounds, len(counts) - k))
    return out


def _poisson1(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    """Poisson(1) draws by inverting float32 uniforms: counting thresholds passed (fast,
    vectorised) for the first six, a search for the rare larger values (P >= 6 is 6e-4)."""
    cdf = _POISSON1_CDF.astype(np.float32)
    u = rng.random(shape, dtype=np.float32)
    x = np.zeros(shape, dtype=np.float32)
    for c in cdf[:6]:
        np.add(x, u >= c, out=x)
    big = u >= cdf[6]
    if big.any():
        x[big] = np.searchsorted(cdf, u[big], side="right")
    return x


__all__ = ["bootstrap_thetas"]
