"""Poisson draws for the bootstrap, by exact inversion of uniforms through lookup tables.

The Poisson bootstrap gives every resampling unit an independent Poisson(1) weight; a type of
``c`` identical units gets one Poisson(c) draw (the sum of its units' weights). At 500 models
and a million battles that is ~4e8 draws per 1,000 rounds, where numpy's per-draw sampler
(~20 ns each) would cost more than the whole fit. Here a draw is one table gather:

- the top 16 bits of a uniform pick a cell ``[h, h + 1) / 2**16``; the table holds the
  Poisson value for every cell in which the inverse CDF is constant;
- the few cells that straddle a CDF threshold (one per support point of noticeable mass) are
  marked and their draws are resolved with 53 more bits by ``searchsorted`` on the CDF.

So every draw is ``min{k : U < F(k)}`` for a uniform ``U`` of 69 bits, i.e. exact to the float64
resolution of the CDF ``F`` (scipy's ``pdtr``). Tables are built for small integer means
(``1 <= c < TABLE_MAX``, 256 KiB each, cached); larger means are rare (a type that holds many
identical units) and go to numpy's own sampler, which is exact too.

Nothing here raises for valid input (non-negative finite means); a negative or non-finite mean
raises ValueError, as numpy's sampler does.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

TABLE_MAX = 64  # integer means 1..63 use tables; others numpy's sampler
_CELLS = 2**16


@lru_cache(maxsize=TABLE_MAX)
def _cdf(mean: float) -> np.ndarray:
    """F(k) = P(X <= k) for k = 0..K, with the mass beyond K below float64 resolution; the last
    entry is set to 1 so every uniform in [0, 1) maps inside the support."""
    from scipy.special import pdtr, pdtrc  # regularised incomplete gamma: exact to ~1e-16

    k_max = int(mean + 12.0 * np.sqrt(mean) + 20.0)
    while pdtrc(k_max, mean) > 1e-18:
        k_max *= 2
    cdf = pdtr(np.arange(k_max + 1), mean)
    cdf[-1] = 1.0
    return cdf


@lru_cache(maxsize=TABLE_MAX)
def _table(mean: float) -> np.ndarray:
    """Poisson(mean) value for each 16-bit cell of a uniform, or -1 where a CDF threshold falls
    inside the cell (decided with more bits)."""
    cdf = _cdf(mean)
    h = np.arange(_CELLS, dtype=np.float64)
    lo = np.searchsorted(cdf, h / _CELLS, side="right")
    hi = np.searchsorted(cdf, (h + 1.0) / _CELLS, side="left")
    return np.where(lo == hi, lo, -1).astype(np.float32)


def _by_table(rng: np.random.Generator, mean: float, out: np.ndarray) -> None:
    """Fill the 1-d float32 array ``out`` with Poisson(mean) draws (``mean`` a small positive
    integer), block by block so the index arrays stay in cache."""
    table, size = _table(mean), out.shape[0]
    raw = rng.bit_generator.random_raw((size + 3) // 4)
    top = np.asarray(raw, dtype=np.uint64).view(np.uint16)[:size]
    idx = np.empty(min(size, _BLOCK), dtype=np.intp)
    for s in range(0, size, _BLOCK):
        e = min(size, s + _BLOCK)
        # an intp index gathers several times faster than a uint16 one; mode="clip" is
        # unbuffered (the indices are in range by construction)
        np.copyto(idx[:e - s], top[s:e], casting="unsafe")
        np.take(table, idx[:e - s], out=out[s:e], mode="clip")
    amb = np.flatnonzero(out < 0)
    if amb.size:
        more = np.asarray(rng.bit_generator.random_raw(amb.size), dtype=np.uint64) >> np.uint64(11)
        u = (top[amb].astype(np.float64) + more.astype(np.float64) / 2.0**53) / _CELLS
        out[amb] = np.searchsorted(_cdf(mean), u, side="right")


_BLOCK = 1 << 18


def poisson_rows(rng: np.random.Generator, means: np.ndarray, rounds: int) -> np.ndarray:
    """(len(means) x rounds) C-contiguous float32 draws, row t ~ Poisson(means[t]) i.i.d.

    Consecutive rows of equal mean are drawn in one table pass (order the rows by mean for
    speed); a seeded generator gives the same draws for the same means."""
    means = np.asarray(means, dtype=np.float64)
    if means.size and (not np.isfinite(means).all() or (means < 0).any()):
        raise ValueError("Poisson means must be finite and non-negative")
    T = len(means)
    out = np.empty((T, rounds), dtype=np.float32)  # every entry is drawn below
    if T == 0 or rounds == 0:
        return np.zeros((T, rounds), dtype=np.float32)
    small = (means >= 1.0) & (means < TABLE_MAX) & (means == np.rint(means))
    key = np.where(small, means, -1.0)
    flat = out.reshape(-1)
    # runs of equal means (``aggregate`` orders types by count, so runs are long)
    cut = np.flatnonzero(np.diff(key)) + 1
    starts, ends = np.r_[0, cut], np.r_[cut, T]
    for s, e in zip(starts.tolist(), ends.tolist()):
        v = float(key[s])
        if v < 0:  # non-integer, zero or large means: numpy's exact sampler
            out[s:e] = rng.poisson(means[s:e][:, None], size=(e - s, rounds))
        else:
            _by_table(rng, v, flat[s * rounds:e * rounds])
    return out


__all__ = ["poisson_rows", "TABLE_MAX"]
