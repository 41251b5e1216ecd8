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
    if chunk is None:  # bound memory: the (T x chunk) weights stay under ~50 MB
        chunk = int(max(1, min(rounds, 12_000_000 // max(T, 1))))
    # (P x T) in CSC form: the product walks the types in order, reads each type's row of
    # weights (contiguous) once and adds it into the small (P x chunk) result, which stays in
    # cache - several times faster than CSR, whose rows gather weights from all over memory
    ts_T = pd.type_s.T.tocsc().astype(np.float32)
    ts_T.eliminate_zeros()  # losses of the lower index add nothing to its score: skip them
    tn_T = pd.type_n.T.tocsc().astype(np.float32)
    out = np.empty((rounds, pd.n_models))
    for start in range(0, rounds, chunk):
        r = min(chunk, rounds - start)
        # Poisson bootstrap: every unit gets an independent Poisson(1) weight, so a type of
        # n_t identical units gets exactly Poisson(n_t) - one draw per type and round
        mt = _type_weights(rng, pd.type_count, r)
        # float32 halves the memory traffic and is exact while a pair's sums stay below 2**24
        # (16.7 M games; halves and weights 1 or 3 are representable)
        s = np.asarray(ts_T @ mt, dtype=np.float64).T
        n = np.asarray(tn_T @ mt, dtype=np.float64).T
        prior = np.full(r, prior_all) | needs_prior(pd, s, n)
        # Newton converges quadratically: once a step is below 1e-7 the error left is ~1e-14
        out[start:start + r] = fit_thetas(pd, s, n, prior, prior_sd, theta0=theta, tol=1e-7)
    return out


# P(X <= k) for X ~ Poisson(1), k = 0..16: the mass beyond 16 (< 1e-15) is below the
# resolution of the uniforms drawn below
_POISSON1_CDF = np.cumsum([math.exp(-1.0) / math.factorial(k) for k in range(17)])


def _cell_table() -> np.ndarray:
    """Poisson(1) value for each 16-bit cell [h, h + 1) / 2**16 of a uniform, or -1 where a
    CDF threshold falls inside the cell (8 of 65,536 cells: decided with more bits)."""
    h = np.arange(2**16, dtype=np.float64)
    lo = np.searchsorted(_POISSON1_CDF, h / 2**16, side="right")
    hi = np.searchsorted(_POISSON1_CDF, (h + 1.0) / 2**16, side="left")
    return np.where(lo == hi, lo, -1).astype(np.float32)


_CELL_TABLE = _cell_table()


def _type_weights(rng: np.random.Generator, counts: np.ndarray, rounds: int) -> np.ndarray:
    """(T x rounds) C-contiguous float32 Poisson(counts) draws: one row per type, laid out
    the way the bootstrap's sparse product reads them. Types holding one unit (the common
    case when units are many and distinct) use ``_poisson1``, several times faster than
    numpy's per-draw Poisson sampler."""
    T = len(counts)
    ones = counts == 1.0
    if ones.all():
        return _poisson1(rng, (T, rounds))
    if not ones.any():
        return rng.poisson(counts[:, None], size=(T, rounds)).astype(np.float32)
    out = np.empty((T, rounds), dtype=np.float32)
    out[ones] = _poisson1(rng, (int(ones.sum()), rounds))
    out[~ones] = rng.poisson(counts[~ones][:, None], size=(T - int(ones.sum()), rounds))
    return out


def _poisson_weights(rng: np.random.Generator, counts: np.ndarray, rounds: int) -> np.ndarray:
    """(rounds x T) float32 Poisson(counts) draws (a transposed view of ``_type_weights``)."""
    return _type_weights(rng, counts, rounds).T


def _poisson1(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    """Poisson(1) draws by inverting uniforms: the top 16 bits of each uniform pick a value
    from a table (one gather, no per-value arithmetic); the rare draws (P = 1.2e-4) whose
    16-bit cell straddles a CDF threshold are resolved with 53 more bits, so the result is
    exact to float64 resolution of the CDF."""
    size = int(np.prod(shape))
    raw = rng.bit_generator.random_raw((size + 3) // 4)
    top = np.asarray(raw, dtype=np.uint64).view(np.uint16)[:size]
    x = _CELL_TABLE[top]
    amb = np.flatnonzero(x < 0)
    if amb.size:
        more = np.asarray(rng.bit_generator.random_raw(amb.size), dtype=np.uint64) >> np.uint64(11)
        u = (top[amb].astype(np.float64) + more.astype(np.float64) / 2.0**53) / 2.0**16
        x[amb] = np.searchsorted(_POISSON1_CDF, u, side="right")
    return x.reshape(shape)


__all__ = ["bootstrap_thetas"]
