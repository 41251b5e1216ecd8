"""Agreement between raters (judge vs human, human vs human), each with a bootstrap CI.

Input is a long table: ``item`` (what was judged: e.g. question + model pair + turn),
``rater`` (a judge id or an annotator) and ``value`` (an outcome label, oriented the same way
for every rater of an item, or a score).

- ``agreement_with_ties`` / ``agreement_without_ties``: the MT-bench paper's agreement: over
  every pair of votes on the same item by two different raters (across the two groups when
  ``group_a``/``group_b`` are given), the share that agree; "without ties" drops pairs where
  either vote is a tie (``tie_values``).
- ``cohen_kappa``: two raters, on the items both rated; with more raters the mean over rater
  pairs that share at least two items.
- ``fleiss_kappa``: items rated by the most common number (>= 2) of raters.
- ``krippendorff_alpha``: nominal for outcomes, interval for scores; missing ratings allowed.

The three are computed here from label counts (so a bootstrap round of 100 annotators costs
milliseconds, not one library call per rater pair); they equal scikit-learn's
``cohen_kappa_score``, statsmodels' ``fleiss_kappa`` and the ``krippendorff`` package's
``alpha``, which the tests use as references.

CIs: percentile bootstrap over items (seeded). A statistic that is undefined on the data (too
few items or raters, no variation) is NaN with ``n`` saying how much data there was - never 0
or 1 by default.

The vote pairs behind the agreement rates are ``vote_pairs``: per item, each rater's latest
vote, paired across the two groups (or between every two raters); ``confusion`` counts those
same pairs, so a confusion matrix shown beside an agreement figure adds up to its ``n``.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from itertools import combinations
from typing import Any, Callable, Literal, Optional, Sequence

import numpy as np


@dataclass
class Stat:
    value: float
    ci_low: float
    ci_high: float
    n: int  # items (or vote pairs, for the agreement rates) that entered the statistic

    def as_dict(self) -> dict[str, float]:
        return {"value": self.value, "ci_low": self.ci_low, "ci_high": self.ci_high, "n": self.n}


def _matrix(item: Sequence, rater: Sequence, value: Sequence, numeric: bool
            ) -> tuple[np.ndarray, list, list, list]:
    """items x raters matrix of value codes (float, NaN = missing); a rater's later vote on the
    same item replaces the earlier one."""
    items = list(dict.fromkeys(item))
    raters = list(dict.fromkeys(rater))
    ii = {x: k for k, x in enumerate(items)}
    rr = {x: k for k, x in enumerate(raters)}
    if numeric:
        cats: list = []
        codes = [float(v) for v in value]
    else:
        cats = sorted(set(value), key=str)
        cc = {x: k for k, x in enumerate(cats)}
        codes = [float(cc[v]) for v in value]
    X = np.full((len(items), len(raters)), np.nan)
    for it, ra, c in zip(item, rater, codes):
        X[ii[it], rr[ra]] = c
    return X, items, raters, cats


def _column_pairs(cols_a: list[int], cols_b: Optional[list[int]]) -> list[tuple[int, int]]:
    """The rater pairs whose votes are compared: every two raters, or (a, b) across groups."""
    if cols_b is None:
        return list(combinations(cols_a, 2))
    return [(p, q) for p in cols_a for q in cols_b if p != q]


def _pair_agreement(X: np.ndarray, cols_a: list[int], cols_b: Optional[list[int]],
                    tie_codes: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per item: (#agreeing pairs, #pairs, #agreeing non-tie pairs, #non-tie pairs)."""
    n_items = X.shape[0]
    agree = np.zeros(n_items)
    total = np.zeros(n_items)
    agree_nt = np.zeros(n_items)
    total_nt = np.zeros(n_items)
    for p, q in _column_pairs(cols_a, cols_b):
        x, y = X[:, p], X[:, q]
        both = ~np.isnan(x) & ~np.isnan(y)
        same = both & (x == y)
        nt = both & ~np.isin(x, tie_codes) & ~np.isin(y, tie_codes)
        agree += same
        total += both
        agree_nt += same & nt
        total_nt += nt
    return agree, total, agree_nt, total_nt


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)


class _CohenPairs:
    """Mean pairwise Cohen's kappa over every two raters, from per-pair label counts.

    Built once per data set: one row per (item, rater pair) where both raters voted. ``value``
    takes per-item weights (1 each for the data, the bootstrap's draw counts for a round:
    ``X[idx]`` repeats an item as often as it was drawn), so a round costs a few ``bincount``
    over those rows instead of one ``sklearn.metrics.cohen_kappa_score`` call per rater pair
    (4,950 pairs for 100 annotators). Per pair, kappa = (p_o - p_e) / (1 - p_e) - what
    sklearn computes; a pair with fewer than 2 shared votes, or whose votes are all one label
    (p_e = 1: kappa undefined), is left out, and the result is NaN when no pair is left."""

    def __init__(self, X: np.ndarray, cols: list[int]) -> None:
        finite = ~np.isnan(X[:, cols])
        codes = np.where(finite, X[:, cols], -1).astype(np.int64)
        self.n_items, self.n_cats = X.shape[0], int(codes.max()) + 1 if finite.any() else 1
        k = len(cols)
        item, x, y, pair = [], [], [], []
        for p, q in combinations(range(k), 2):
            both = np.flatnonzero(finite[:, p] & finite[:, q])
            if len(both):
                item.append(both)
                x.append(codes[both, p])
                y.append(codes[both, q])
                pair.append(np.full(len(both), p * k + q))
        cat = np.concatenate if item else (lambda _: np.zeros(0, dtype=np.int64))
        self.item, self.x, self.y = cat(item), cat(x), cat(y)
        _, self.pair = np.unique(cat(pair), return_inverse=True)
        self.n_pairs = int(self.pair.max()) + 1 if len(self.pair) else 0
        self.same = (self.x == self.y).astype(np.float64)

    def value(self, weights: Optional[np.ndarray] = None) -> float:
        if self.n_pairs == 0:
            return math.nan
        w = np.ones(len(self.item)) if weights is None else weights[self.item].astype(float)
        P, C = self.n_pairs, self.n_cats
        n = np.bincount(self.pair, weights=w, minlength=P)
        agree = np.bincount(self.pair, weights=w * self.same, minlength=P)
        a = np.bincount(self.pair * C + self.x, weights=w, minlength=P * C).reshape(P, C)
        b = np.bincount(self.pair * C + self.y, weights=w, minlength=P * C).reshape(P, C)
        chance = (a * b).sum(axis=1)  # n^2 p_e, exact in float64 for counts
        ok = (n >= 2) & (n * n - chance > 0)
        if not ok.any():
            return math.nan
        n, agree, chance = n[ok], agree[ok], chance[ok]
        kappa = (agree / n - chance / (n * n)) / (1.0 - chance / (n * n))
        return float(kappa.mean())


def _cohen(X: np.ndarray, cols: list[int]) -> float:
    """Mean pairwise Cohen's kappa of the raters ``cols`` (see :class:`_CohenPairs`)."""
    return _CohenPairs(X, cols).value()


class _CountTable:
    """Per item, how many votes each label got (items x labels), built once per data set;
    the Fleiss and Krippendorff statistics below read it with per-item weights (1 each for
    the data, the bootstrap's draw counts for a round), so a round is a few matrix products
    instead of a call into statsmodels / krippendorff on a resampled copy (the figures equal
    theirs: tests/ratings/test_ratings_length_agreement.py compares them)."""

    def __init__(self, X: np.ndarray) -> None:
        finite = ~np.isnan(X)
        self.values = np.unique(X[finite])
        T = np.zeros((X.shape[0], max(len(self.values), 1)))
        if len(self.values):
            rows, cols = np.nonzero(finite)
            np.add.at(T, (rows, np.searchsorted(self.values, X[rows, cols])), 1.0)
        self.T = T
        self.m = T.sum(axis=1)  # votes per item

    def weights(self, weights: Optional[np.ndarray]) -> np.ndarray:
        return np.ones(len(self.m)) if weights is None else weights.astype(float)

    def fleiss(self, weights: Optional[np.ndarray] = None) -> tuple[float, int]:
        """Fleiss' kappa over the items with the most common number (>= 2) of votes (Fleiss
        needs the same number of raters per item); (NaN, n) when undefined."""
        w = self.weights(weights)
        multi = self.m >= 2
        if not (multi & (w > 0)).any():
            return math.nan, 0
        k = int(np.bincount(self.m[multi].astype(np.int64), weights=w[multi]).argmax())
        rows = (self.m == k) & (w > 0)
        N = float(w[rows].sum())
        if N < 2:
            return math.nan, int(N)
        T, wr = self.T[rows], w[rows]
        p = (wr @ T) / (N * k)
        P_bar = float(wr @ (((T * T).sum(axis=1) - k) / (k * (k - 1)))) / N
        P_e = float((p * p).sum())
        if P_e >= 1.0:
            return math.nan, int(N)
        return (P_bar - P_e) / (1.0 - P_e), int(N)

    def kripp(self, level: str, weights: Optional[np.ndarray] = None) -> float:
        """Krippendorff's alpha (nominal or interval) from the coincidence matrix of the
        pairable items (>= 2 votes); NaN without two distinct values."""
        w = self.weights(weights)
        pairable = (self.m >= 2) & (w > 0)
        if w[pairable].sum() < 2 or len(self.values) < 2:
            return math.nan
        T = self.T[pairable]
        present = (T.sum(axis=0) > 0)
        if present.sum() < 2:
            return math.nan
        u = w[pairable] / (self.m[pairable] - 1.0)
        o = (T * u[:, None]).T @ T - np.diag(u @ T)  # coincidences, without self-pairs
        n_c = o.sum(axis=1)
        n = n_c.sum()
        v = self.values
        delta = (v[:, None] != v[None, :]).astype(float) if level == "nominal" \
            else (v[:, None] - v[None, :]) ** 2
        d_e = float(n_c @ delta @ n_c)
        if d_e <= 0 or n <= 1:
            return math.nan
        return float(1.0 - (n - 1.0) * float((o * delta).sum()) / d_e)


def _boot(stat: Callable[[np.ndarray], float], n_items: int, rounds: int, seed: int,
          ci_level: float) -> tuple[float, float]:
    if rounds <= 0 or n_items < 2:
        return math.nan, math.nan
    rng = np.random.default_rng(seed)
    vals = np.array([stat(rng.integers(0, n_items, n_items)) for _ in range(rounds)])
    vals = vals[np.isfinite(vals)]
    if len(vals) < max(10, rounds // 2):
        return math.nan, math.nan
    alpha = (1.0 - ci_level) / 2.0
    lo, hi = np.quantile(vals, [alpha, 1.0 - alpha])
    return float(lo), float(hi)


def agreement(item: Sequence, rater: Sequence, value: Sequence, *,
              level: Literal["nominal", "interval"] = "nominal",
              tie_values: Sequence = ("TIE", "BOTH_BAD", "tie"),
              group_a: Optional[Sequence] = None, group_b: Optional[Sequence] = None,
              rounds: int = 1000, seed: int = 0, ci_level: float = 0.95) -> dict[str, Stat]:
    """All agreement statistics with bootstrap CIs over items.

    ``group_a``/``group_b``: rater names; when given, the agreement rates count only pairs of
    votes across the two groups (judge vs human). Kappas and alpha use every rater given.
    Raises ValueError when the three sequences differ in length.
    """
    if not (len(item) == len(rater) == len(value)):
        raise ValueError("item, rater and value must have the same length")
    numeric = level == "interval"
    X, _items, raters, cats = _matrix(item, rater, value, numeric)
    n_items = X.shape[0]
    out: dict[str, Stat] = {}
    tie_codes = np.array([cats.index(t) for t in tie_values if t in cats], dtype=float) \
        if not numeric else np.array([])
    all_cols = list(range(len(raters)))
    counts = _CountTable(X)

    def draws(idx: np.ndarray) -> np.ndarray:  # a round's items as per-item draw counts
        return np.bincount(idx, minlength=n_items)
    if group_a is not None and group_b is not None:
        ca = [raters.index(r) for r in group_a if r in raters]
        cb = [raters.index(r) for r in group_b if r in raters]
        parts = _pair_agreement(X, ca, cb, tie_codes)
    else:
        parts = _pair_agreement(X, all_cols, None, tie_codes)
    agree, total, agree_nt, total_nt = parts
    for key, num, den in (("agreement_with_ties", agree, total),
                          ("agreement_without_ties", agree_nt, total_nt)):
        if numeric and key == "agreement_without_ties":
            continue
        val = float(num.sum() / den.sum()) if den.sum() > 0 else math.nan

        def stat(idx: np.ndarray, num: np.ndarray = num, den: np.ndarray = den) -> float:
            d = den[idx].sum()
            return float(num[idx].sum() / d) if d > 0 else math.nan
        lo, hi = _boot(stat, n_items, rounds, seed, ci_level)
        out[key] = Stat(val, lo, hi, int(den.sum()))
    if not numeric:
        cohen = _CohenPairs(X, all_cols)
        val = cohen.value()
        lo, hi = _boot(lambda idx: cohen.value(draws(idx)), n_items, rounds, seed,
                       ci_level) if math.isfinite(val) else (math.nan, math.nan)
        out["cohen_kappa"] = Stat(val, lo, hi, int(((~np.isnan(X)).sum(axis=1) >= 2).sum()))
        val, n_f = counts.fleiss()
        lo, hi = _boot(lambda idx: counts.fleiss(draws(idx))[0], n_items, rounds,
                       seed, ci_level) if math.isfinite(val) else (math.nan, math.nan)
        out["fleiss_kappa"] = Stat(val, lo, hi, n_f)
    val = counts.kripp(level)
    lo, hi = _boot(lambda idx: counts.kripp(level, draws(idx)), n_items, rounds, seed,
                   ci_level) if math.isfinite(val) else (math.nan, math.nan)
    out["krippendorff_alpha"] = Stat(val, lo, hi,
                                     int(((~np.isnan(X)).sum(axis=1) >= 2).sum()))
    return out


def agreement_rate(x: Sequence, y: Sequence, *, ties: bool = True,
                   tie_values: Sequence = ("TIE", "BOTH_BAD", "tie")) -> tuple[float, int]:
    """Plain agreement of two aligned vote lists: (share agreeing, pairs counted). Without
    ties, pairs where either vote is a tie are left out. NaN when nothing is counted."""
    if len(x) != len(y):
        raise ValueError("x and y must have the same length")
    pairs = [(a, b) for a, b in zip(x, y)
             if ties or (a not in tie_values and b not in tie_values)]
    if not pairs:
        return math.nan, 0
    return sum(a == b for a, b in pairs) / len(pairs), len(pairs)


def vote_pairs(item: Sequence, rater: Sequence, value: Sequence, *,
               group_a: Optional[Sequence] = None, group_b: Optional[Sequence] = None
               ) -> list[tuple[Any, Any, Any, Any, Any]]:
    """The vote pairs the agreement rates count: (item, rater x, vote x, rater y, vote y), with
    each rater's latest vote per item; across ``group_a`` x ``group_b`` when given (x from
    group a), else between every two raters (in order of first appearance)."""
    if not (len(item) == len(rater) == len(value)):
        raise ValueError("item, rater and value must have the same length")
    items = list(dict.fromkeys(item))
    raters = list(dict.fromkeys(rater))
    ii = {x: k for k, x in enumerate(items)}
    rr = {x: k for k, x in enumerate(raters)}
    latest: dict[tuple[int, int], Any] = {}
    for it, ra, va in zip(item, rater, value):
        latest[(ii[it], rr[ra])] = va
    if group_a is not None and group_b is not None:
        cols = _column_pairs([rr[r] for r in group_a if r in rr],
                             [rr[r] for r in group_b if r in rr])
    else:
        cols = _column_pairs(list(range(len(raters))), None)
    out = []
    for k, it in enumerate(items):
        for p, q in cols:
            if (k, p) in latest and (k, q) in latest:
                out.append((it, raters[p], latest[(k, p)], raters[q], latest[(k, q)]))
    return out


def confusion(pairs: Sequence[tuple[Any, Any, Any, Any, Any]], labels: Sequence[Any],
              label: Callable[[Any, Any], Any] = lambda item, v: v,
              symmetric: bool = False) -> np.ndarray:
    """(len(labels) x len(labels)) counts of (label of vote x, label of vote y) over ``pairs``
    (from ``vote_pairs``); ``label(item, vote)`` maps a vote to one of ``labels`` (e.g. a
    winner's name to "first model"). ``symmetric`` counts each pair both ways."""
    index = {lab: k for k, lab in enumerate(labels)}
    m = np.zeros((len(labels), len(labels)), dtype=int)
    for it, _rx, vx, _ry, vy in pairs:
        a, b = index[label(it, vx)], index[label(it, vy)]
        m[a, b] += 1
        if symmetric:
            m[b, a] += 1
    return m


__all__ = ["Stat", "agreement", "agreement_rate", "vote_pairs", "confusion"]
