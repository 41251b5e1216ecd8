"""Battles aggregated per unordered pair of models and per type of resampling unit.

Bradley-Terry depends on the battles only through per-pair sums: ``s`` (the weighted score of
the lower-index model) and ``n`` (the weighted number of games). ``aggregate`` computes them in
O(battles) with integer keys and ``bincount``, so a fit costs the same at 1 k or 10 M battles.

For the bootstrap, every resampling unit contributes a fixed vector of per-pair sums; units
whose vectors are identical are merged into one *type* with a count, so a round costs
O(types), not O(battles). Units:

- ``None`` (battles): each battle is a unit; types are the distinct (pair, score, weight) cells;
- ``rows``: a battle of integer weight ``w`` is ``w`` rows, each its own unit (arena-hard-auto
  expands a strong verdict into ``strong_weight`` rows and resamples rows); types are the
  distinct (pair, score) cells, counted in rows;
- unit ids (questions): each id is a unit holding all its battles; identical questions merge.

Types are ordered by count, so that draws of equal Poisson means come in contiguous runs.
Self-battles (a == b) are ignored. Raises ValueError for rows with non-integer weights.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np
from scipy import sparse


@dataclass
class PairData:
    """Battles aggregated per unordered pair (i < j) and per resampling type.

    ``type_s`` / ``type_n`` (T x P, sparse): the score sum of model ``i`` and the weight sum
    that one unit of each type contributes to each pair; ``type_count``: units of each type
    (ascending).
    """

    n_models: int
    pair_i: np.ndarray
    pair_j: np.ndarray
    s: np.ndarray  # weighted score of pair_i against pair_j
    n: np.ndarray  # weighted number of games
    type_s: sparse.csr_matrix
    type_n: sparse.csr_matrix
    type_count: np.ndarray
    n_units: int
    unit_type: Optional[np.ndarray] = None  # type of each unit (question resampling)
    half_scores: bool = True  # every type's sums are multiples of 0.5 (float32 is exact)


def dense_codes(u: np.ndarray) -> tuple[np.ndarray, int]:
    """Codes 0..K-1 for the distinct values of ``u``; O(n) for small non-negative integers."""
    if len(u) == 0:
        return np.zeros(0, dtype=np.int64), 0
    if u.dtype.kind in "iu" and u.min() >= 0 and u.max() < 4 * len(u) + 1024:
        present = np.bincount(u) > 0
        codes = np.cumsum(present) - 1
        return codes[u].astype(np.int64), int(present.sum())
    _, inv = np.unique(u, return_inverse=True)
    inv = inv.ravel().astype(np.int64)
    return inv, int(inv.max()) + 1


def _codes(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(distinct values, code per element); fast when all values are equal."""
    if len(x) == 0 or (x == x[0]).all():
        return x[:1].copy(), np.zeros(len(x), dtype=np.int64)
    vals, code = np.unique(x, return_inverse=True)
    return vals, code.ravel().astype(np.int64)


def _is_half(x: np.ndarray) -> bool:
    h = x * 2.0
    return bool(np.array_equal(h, np.rint(h)))


def aggregate(model_a: np.ndarray, model_b: np.ndarray, score: np.ndarray,
              weight: np.ndarray, n_models: int, unit: Optional[np.ndarray] = None, *,
              rows: bool = False) -> PairData:
    """Aggregate battles per pair, and per type of resampling unit (``unit`` ids; None = each
    battle is its own unit; ``rows`` = each of a battle's ``weight`` rows is a unit)."""
    a = np.asarray(model_a)
    b = np.asarray(model_b)
    sc = np.asarray(score, dtype=np.float64)
    w = np.asarray(weight, dtype=np.float64)
    u = None if unit is None else np.asarray(unit)
    keep = a != b
    if not keep.all():  # the common case skips four copies
        a, b, sc, w = a[keep], b[keep], sc[keep], w[keep]
        u = None if u is None else u[keep]
    if rows and not (np.array_equal(w, np.rint(w)) and (w >= 0).all()):
        raise ValueError("resampling rows needs whole-number battle weights (1 or 3)")
    swap = a > b
    # integer keys + bincount instead of sorting: aggregation stays O(n)
    lo = np.where(swap, b, a).astype(np.int64)
    pid_full = lo * n_models + np.where(swap, a, b)
    frac = np.where(swap, 1.0 - sc, sc)  # score of the lower index, unweighted
    unit_w = bool(w.size == 0 or (w == 1.0).all())
    s_lo = frac if unit_w else frac * w
    counts = np.bincount(pid_full, minlength=n_models * n_models)
    pairs = np.flatnonzero(counts)
    lookup = np.full(n_models * n_models, -1, dtype=np.int64)
    lookup[pairs] = np.arange(len(pairs))
    pid = lookup[pid_full]
    P = len(pairs)
    s = np.bincount(pid, weights=s_lo, minlength=P)
    n = counts[pairs].astype(np.float64) if unit_w else np.bincount(pid, weights=w, minlength=P)
    pair_i, pair_j = (pairs // n_models).astype(np.int64), (pairs % n_models).astype(np.int64)
    half = _is_half(frac) and _is_half(w)

    if rows:
        type_s, type_n, type_count = _cells(pid, P, frac, np.ones_like(w), count=w)
        return PairData(n_models, pair_i, pair_j, s, n, type_s, type_n, type_count,
                        int(w.sum()), half_scores=half)
    if u is None or (len(u) > 1 and bool((u[1:] > u[:-1]).all())):
        uid, n_units = None, len(pid)  # no units given, or all distinct (increasing ids)
    else:
        uid, n_units = dense_codes(u)
    if uid is None or n_units == len(pid):
        # every unit is one battle: types are distinct (pair, score, weight) cells
        type_s, type_n, type_count = _cells(pid, P, frac, w)
        return PairData(n_models, pair_i, pair_j, s, n, type_s, type_n, type_count, n_units,
                        half_scores=half)
    us = sparse.csr_matrix((s_lo, (uid, pid)), shape=(n_units, P))
    un = sparse.csr_matrix((w, (uid, pid)), shape=(n_units, P))
    us.sum_duplicates()
    un.sum_duplicates()
    type_s, type_n, type_count, unit_type = _merge_identical_rows(us, un)
    return PairData(n_models, pair_i, pair_j, s, n, type_s, type_n, type_count, n_units,
                    unit_type, half_scores=half)


def _by_count(type_s: sparse.csr_matrix, type_n: sparse.csr_matrix, count: np.ndarray
              ) -> tuple[sparse.csr_matrix, sparse.csr_matrix, np.ndarray, np.ndarray]:
    """Types reordered by ascending count (stable); also returns the new position of each."""
    if len(count) < 2 or bool((count[1:] >= count[:-1]).all()):
        return type_s, type_n, count, np.arange(len(count))
    order = np.argsort(count, kind="stable")
    pos = np.empty_like(order)
    pos[order] = np.arange(len(order))
    return type_s[order], type_n[order], count[order], pos


def _cells(pid: np.ndarray, P: int, frac: np.ndarray, w: np.ndarray,
           count: Optional[np.ndarray] = None
           ) -> tuple[sparse.csr_matrix, sparse.csr_matrix, np.ndarray]:
    """Types for battle (or row) resampling: one per distinct (pair, score, weight), counted in
    battles (or in ``count`` per battle: rows)."""
    halves = frac * 2.0
    if np.array_equal(halves, np.rint(halves)):  # scores in {0, 0.5, 1}: no sort needed
        fvals, fcode = np.array([0.0, 0.5, 1.0]), np.rint(halves).astype(np.int64)
    else:
        fvals, fcode = _codes(frac)
    wvals, wcode = _codes(w)
    nf, nw = len(fvals), len(wvals)
    key = (pid * nf + fcode) * nw + wcode
    cnt = np.bincount(key, weights=count, minlength=P * nf * nw)
    cells = np.flatnonzero(cnt)
    cp = cells // (nf * nw)
    cf = fvals[(cells // nw) % nf]
    cw = wvals[cells % nw]
    T = len(cells)
    rows = np.arange(T)
    type_s = sparse.csr_matrix((cf * cw, (rows, cp)), shape=(T, P))
    type_n = sparse.csr_matrix((cw, (rows, cp)), shape=(T, P))
    type_s, type_n, c, _ = _by_count(type_s, type_n, cnt[cells].astype(np.float64))
    return type_s, type_n, c


def _merge_identical_rows(us: sparse.csr_matrix, un: sparse.csr_matrix
                          ) -> tuple[sparse.csr_matrix, sparse.csr_matrix, np.ndarray, np.ndarray]:
    """Group units whose rows are identical (random projections, then verified exactly).
    Units that are all distinct (the usual case for questions) stay as they are, in order."""
    rng = np.random.default_rng(12345)
    P, n = us.shape[1], us.shape[0]
    proj = rng.standard_normal((P, 2))
    h = np.hstack([us @ proj, un @ proj])
    order = np.lexsort(h.T[::-1])
    hs = h[order]
    new = np.ones(n, dtype=bool)
    new[1:] = (hs[1:] != hs[:-1]).any(axis=1)
    if new.all():
        return us, un, np.ones(n), np.arange(n, dtype=np.int64)
    group = np.cumsum(new) - 1
    first = order[new]  # one representative per group
    inv = np.empty(n, dtype=np.int64)
    inv[order] = group
    cnt = np.bincount(group).astype(np.float64)
    rep = first[inv]
    if (us - us[rep]).count_nonzero() or (un - un[rep]).count_nonzero():
        # a projection collision (practically impossible): keep units separate, still exact
        return us, un, np.ones(n), np.arange(n, dtype=np.int64)
    ts, tn, c, pos = _by_count(us[first].tocsr(), un[first].tocsr(), cnt)
    return ts, tn, c, pos[inv].astype(np.int64)


__all__ = ["PairData", "aggregate", "dense_codes"]
