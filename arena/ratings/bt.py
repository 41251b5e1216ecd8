"""Bradley-Terry maximum likelihood on the Elo scale, with seeded bootstrap CIs.

Model: P(i beats j) = 1 / (1 + 10 ** ((R_j - R_i) / 400)); ratings are ``SCALE * theta`` with
``SCALE = 400 / ln 10``, centred at mean 1000 or shifted so an anchor model sits at a value.
A tie counts as half a win for each side (Chatbot Arena's convention); a battle's weight
multiplies its counts (strong verdicts, arena-hard's weight 3).

Speed: battles are aggregated into per-pair sums (50 models -> 1,225 pairs) before fitting, so
a fit costs the same at 1 k or 10 M battles. The fit is Newton's method on the concave log
likelihood, batched over bootstrap rounds (one (M x M) solve per round per iteration).

Bootstrap (``arena.ratings.bootstrap``): the resampling unit is a battle or a question
(default: the two orders of one battle and the turns of one question are not independent).
Units with identical contributions are merged into "types" here, so a bootstrap round costs
O(types), not O(battles).

Never-win / never-lose models: the MLE does not exist when the "beats" graph is not strongly
connected (Ford, 1957): a model with no wins drifts to minus infinity. Then, and only then, the
fit is the MAP estimate under an independent normal prior on every rating with standard
deviation ``prior_sd`` Elo points (default 400), i.e. a ridge penalty; a warning names the
models and the result records ``regularized=True``. Bootstrap rounds whose resample has such a
model get the same prior. This keeps ratings finite and ordered (a never-winner sits below
everyone it lost to) instead of diverging.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from typing import Literal, Optional

import numpy as np
from scipy import sparse

log = logging.getLogger(__name__)

SCALE = 400.0 / math.log(10.0)
DEFAULT_PRIOR_SD = 400.0


@dataclass
class PairData:
    """Battles aggregated per unordered pair (i < j) and per resampling type.

    ``type_s`` / ``type_n`` (T x P, sparse): the score sum of model ``i`` and the weight sum
    that one unit of each type contributes to each pair; ``type_count``: units of each type.
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


def aggregate(model_a: np.ndarray, model_b: np.ndarray, score: np.ndarray,
              weight: np.ndarray, n_models: int, unit: Optional[np.ndarray] = None) -> PairData:
    """Aggregate battles per pair, and per type of resampling unit (``unit`` ids; None = each
    battle is its own unit). Self-battles (a == b) are ignored."""
    a = np.asarray(model_a)
    b = np.asarray(model_b)
    sc = np.asarray(score, dtype=np.float64)
    w = np.asarray(weight, dtype=np.float64)
    u = None if unit is None else np.asarray(unit)
    keep = a != b
    if not keep.all():  # the common case skips four copies
        a, b, sc, w = a[keep], b[keep], sc[keep], w[keep]
        u = None if u is None else u[keep]
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

    if u is None or (len(u) > 1 and bool((u[1:] > u[:-1]).all())):
        uid, n_units = None, len(pid)  # no units given, or all distinct (increasing ids)
    else:
        uid, n_units = dense_codes(u)
    if uid is None or n_units == len(pid):
        # every unit is one battle: types are distinct (pair, score, weight) cells
        type_s, type_n, type_count = _cells(pid, P, frac, w)
    else:
        us = sparse.csr_matrix((s_lo, (uid, pid)), shape=(n_units, P))
        un = sparse.csr_matrix((w, (uid, pid)), shape=(n_units, P))
        us.sum_duplicates()
        un.sum_duplicates()
        type_s, type_n, type_count, unit_type = _merge_identical_rows(us, un)
        return PairData(n_models, pair_i, pair_j, s, n, type_s, type_n, type_count, n_units,
                        unit_type)
    return PairData(n_models, pair_i, pair_j, s, n, type_s, type_n, type_count, n_units)


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


def _cells(pid: np.ndarray, P: int, frac: np.ndarray, w: np.ndarray
           ) -> tuple[sparse.csr_matrix, sparse.csr_matrix, np.ndarray]:
    """Types for battle resampling: one per distinct (pair, score, weight)."""
    halves = frac * 2.0
    if np.array_equal(halves, np.rint(halves)):  # scores in {0, 0.5, 1}: no sort needed
        fvals, fcode = np.array([0.0, 0.5, 1.0]), np.rint(halves).astype(np.int64)
    else:
        fvals, fcode = _codes(frac)
    wvals, wcode = _codes(w)
    nf, nw = len(fvals), len(wvals)
    key = (pid * nf + fcode) * nw + wcode
    cnt = np.bincount(key, minlength=P * nf * nw)
    cells = np.flatnonzero(cnt)
    cp = cells // (nf * nw)
    cf = fvals[(cells // nw) % nf]
    cw = wvals[cells % nw]
    T = len(cells)
    rows = np.arange(T)
    type_s = sparse.csr_matrix((cf * cw, (rows, cp)), shape=(T, P))
    type_n = sparse.csr_matrix((cw, (rows, cp)), shape=(T, P))
    return type_s, type_n, cnt[cells].astype(np.float64)


def _merge_identical_rows(us: sparse.csr_matrix, un: sparse.csr_matrix
                          ) -> tuple[sparse.csr_matrix, sparse.csr_matrix, np.ndarray, np.ndarray]:
    """Group units whose rows are identical (random projections, then verified exactly)."""
    rng = np.random.default_rng(12345)
    P = us.shape[1]
    proj = rng.standard_normal((P, 2))
    h = np.hstack([us @ proj, un @ proj])
    _, first, inv, cnt = np.unique(h, axis=0, return_index=True, return_inverse=True,
                                   return_counts=True)
    inv = inv.ravel()
    rep = first[inv]
    if (us - us[rep]).count_nonzero() or (un - un[rep]).count_nonzero():
        # a projection collision (practically impossible): keep units separate, still exact
        return us, un, np.ones(us.shape[0]), np.arange(us.shape[0])
    return us[first].tocsr(), un[first].tocsr(), cnt.astype(np.float64), inv.astype(np.int64)


def _per_model(pd: PairData, ci: float, cj: float) -> sparse.csr_matrix:
    """Sparse M x P matrix with ``ci`` at (pair_i, pair) and ``cj`` at (pair_j, pair): sums
    per model of a per-pair quantity are ``(this @ X.T).T`` for X (R x P). Two entries per
    pair make this ~50x cheaper than a dense (R x P) @ (P x M) product."""
    P = len(pd.pair_i)
    cols = np.arange(P)
    return sparse.csr_matrix((np.concatenate([np.full(P, ci), np.full(P, cj)]),
                              (np.concatenate([pd.pair_i, pd.pair_j]),
                               np.concatenate([cols, cols]))), shape=(pd.n_models, P))


def _sum_per_model(mat: sparse.csr_matrix, x: np.ndarray) -> np.ndarray:
    """(R x P) per-pair values -> (R x M) per-model sums through ``mat`` (``_per_model``)."""
    return np.asarray(mat @ x.T).T


def needs_prior(pd: PairData, s: np.ndarray, n: np.ndarray) -> np.ndarray:
    """Per row of ``s``/``n`` (R x P): True where some model has no wins or no losses."""
    # i gets s and j gets n - s wins; losses are the games left
    wins = _sum_per_model(_per_model(pd, 1.0, -1.0), s) + \
        _sum_per_model(_per_model(pd, 0.0, 1.0), n)
    losses = _sum_per_model(_per_model(pd, 1.0, 1.0), n) - wins
    return ((wins <= 0) | (losses <= 0)).any(axis=1)


def _reaches_all(M: int, src: np.ndarray, dst: np.ndarray) -> bool:
    """Whether every node is reachable from node 0 along the edges src -> dst (breadth-first,
    one vectorised step per level). Together with the reversed edges: strong connectivity."""
    if M <= 1:
        return True
    seen = np.zeros(M, dtype=bool)
    seen[0] = True
    frontier = seen.copy()
    while frontier.any():
        nxt = np.zeros(M, dtype=bool)
        nxt[dst[frontier[src]]] = True
        frontier = nxt & ~seen
        seen |= nxt
    return bool(seen.all())


def mle_exists(pd: PairData) -> tuple[bool, list[int]]:
    """Ford's condition: the directed "scored against" graph is strongly connected.

    Returns (exists, the model indices outside the largest strongly connected component)."""
    M = pd.n_models
    src = np.concatenate([pd.pair_i[pd.s > 0], pd.pair_j[pd.n - pd.s > 0]])
    dst = np.concatenate([pd.pair_j[pd.s > 0], pd.pair_i[pd.n - pd.s > 0]])
    if _reaches_all(M, src, dst) and _reaches_all(M, dst, src):
        return True, []  # the usual case, decided without importing scipy's graph code
    from scipy.sparse.csgraph import connected_components  # ~0.1 s to import

    g = sparse.csr_matrix((np.ones(len(src)), (src, dst)), shape=(M, M))
    k, labels = connected_components(g, directed=True, connection="strong")
    if k == 1:
        return True, []
    big = np.bincount(labels).argmax()
    return False, [int(m) for m in np.flatnonzero(labels != big)]


def fit_thetas(pd: PairData, s: np.ndarray, n: np.ndarray, prior: np.ndarray,
               prior_sd: float = DEFAULT_PRIOR_SD, theta0: Optional[np.ndarray] = None,
               max_iter: int = 100, tol: float = 1e-11) -> np.ndarray:
    """Batched Newton fit. ``s``, ``n``: (R x P); ``prior``: (R,) bool. Returns (R x M)
    natural-scale coefficients with mean zero per row."""
    R, M = s.shape[0], pd.n_models
    A, absA = _per_model(pd, 1.0, -1.0), _per_model(pd, 1.0, 1.0)
    lam = np.where(prior, (SCALE / prior_sd) ** 2, 0.0)  # 1 / sd^2 on the natural scale
    theta = np.zeros((R, M)) if theta0 is None else np.array(theta0, dtype=np.float64)
    if theta.shape != (R, M):
        theta = np.broadcast_to(theta, (R, M)).copy()
    theta -= theta.mean(axis=1, keepdims=True)
    ii, jj = pd.pair_i, pd.pair_j
    diag = np.arange(M)
    # + 11^T removes the translation null space (solutions stay mean-zero): start from ones
    # and overwrite only the entries that change (pairs that met, and the diagonal)
    H = np.ones((R, M, M))
    flat = H.reshape(R, M * M)
    lin_ij, lin_ji = ii * M + jj, jj * M + ii
    for _ in range(max_iter):
        d = theta[:, ii] - theta[:, jj]
        p = 0.5 * (1.0 + np.tanh(0.5 * d))  # logistic, stable for large |d|
        grad = _sum_per_model(A, s - n * p) - lam[:, None] * theta
        h = n * p * (1.0 - p)
        off = 1.0 - h
        flat[:, lin_ij] = off
        flat[:, lin_ji] = off
        H[:, diag, diag] = _sum_per_model(absA, h) + (lam[:, None] + 1.0 + 1e-12)
        step = np.linalg.solve(H, grad[..., None])[..., 0]
        big = np.abs(step).max(axis=1, keepdims=True)
        step *= np.minimum(1.0, 3.0 / np.maximum(big, 1e-300))  # cap: stay in Newton's basin
        theta += step
        theta -= theta.mean(axis=1, keepdims=True)
        if big.max() < tol:
            break
    return theta


@dataclass
class BTResult:
    """Ratings on the Elo scale with percentile bootstrap CIs (NaN when rounds == 0)."""

    models: list[str]
    rating: np.ndarray
    ci_low: np.ndarray
    ci_high: np.ndarray
    rank: np.ndarray
    n_battles: np.ndarray
    regularized: bool = False
    warnings: list[str] = field(default_factory=list)
    rounds: int = 0
    ci_level: float = 0.95
    unit: str = "questions"
    seed: int = 0
    anchor: Optional[str] = None
    anchor_value: float = 1000.0
    samples: Optional[np.ndarray] = None  # (rounds x M) bootstrap ratings

    def as_dict(self) -> dict[str, float]:
        return {m: float(r) for m, r in zip(self.models, self.rating)}


def to_elo(theta: np.ndarray, models: list[str], anchor: Optional[str],
           anchor_value: float) -> np.ndarray:
    """Natural-scale, mean-zero coefficients -> Elo-scale ratings (mean 1000 or anchored)."""
    r = SCALE * theta
    if anchor is None:
        return r + 1000.0
    if anchor not in models:
        raise ValueError(f"anchor model {anchor!r} has no battles in this selection")
    k = models.index(anchor)
    return r - r[..., k:k + 1] + anchor_value


def rank_by_ci(rating: np.ndarray, ci_low: np.ndarray, ci_high: np.ndarray) -> np.ndarray:
    """Rank = 1 + the number of models whose lower bound is above this model's upper bound
    (Chatbot Arena). Without CIs (NaN) it is the plain rank by rating (ties share a rank)."""
    if np.isnan(ci_low).any() or np.isnan(ci_high).any():
        return 1 + (rating[None, :] > rating[:, None]).sum(axis=1)
    return 1 + (ci_low[None, :] > ci_high[:, None]).sum(axis=1)


def fit_bt(model_a: np.ndarray, model_b: np.ndarray, score: np.ndarray, models: list[str], *,
           weight: Optional[np.ndarray] = None, unit: Optional[np.ndarray] = None,
           rounds: int = 1000, ci_level: float = 0.95,
           resample: Literal["questions", "battles"] = "questions", seed: int = 0,
           anchor: Optional[str] = None, anchor_value: float = 1000.0,
           prior_sd: float = DEFAULT_PRIOR_SD) -> BTResult:
    """Fit BT and bootstrap it. ``unit`` gives each battle's question (used when
    ``resample == "questions"``). Raises ValueError for an anchor without battles."""
    M = len(models)
    w = np.ones(len(model_a)) if weight is None else np.asarray(weight, dtype=np.float64)
    if resample not in ("questions", "battles"):
        raise ValueError(f"resample must be 'questions' or 'battles', not {resample!r}")
    pd = aggregate(model_a, model_b, score, w, M, unit if resample == "questions" else None)
    n_battles = np.bincount(np.asarray(model_a, dtype=np.int64), minlength=M) + \
        np.bincount(np.asarray(model_b, dtype=np.int64), minlength=M)
    res = BTResult(models=list(models), rating=np.full(M, np.nan), ci_low=np.full(M, np.nan),
                   ci_high=np.full(M, np.nan), rank=np.ones(M, dtype=int), n_battles=n_battles,
                   rounds=rounds, ci_level=ci_level, unit=resample, seed=seed, anchor=anchor,
                   anchor_value=anchor_value)
    if len(pd.pair_i) == 0:
        res.warnings.append("no battles between two different models")
        return res
    exists, outside = mle_exists(pd)
    prior_all = not exists
    if prior_all:
        names = ", ".join(models[m] for m in outside)
        msg = (f"the maximum-likelihood ratings do not exist (a model never won or never lost "
               f"against the rest: {names}); using a normal prior with sd {prior_sd:g} Elo "
               f"points (MAP estimate)")
        log.warning(msg)
        res.warnings.append(msg)
        res.regularized = True
    theta = fit_thetas(pd, pd.s[None, :], pd.n[None, :], np.array([prior_all]), prior_sd)[0]
    res.rating = to_elo(theta, res.models, anchor, anchor_value)
    if rounds > 0:
        from arena.ratings.bootstrap import bootstrap_thetas  # it builds on this module

        samples = bootstrap_thetas(pd, theta, rounds, seed, prior_all, prior_sd)
        boot = to_elo(samples, res.models, anchor, anchor_value)
        alpha = (1.0 - ci_level) / 2.0
        res.ci_low, res.ci_high = np.quantile(boot, [alpha, 1.0 - alpha], axis=0)
        res.samples = boot
    res.rank = rank_by_ci(res.rating, res.ci_low, res.ci_high)
    return res


def predicted_win_rates(rating: np.ndarray) -> np.ndarray:
    """M x M matrix: BT's probability that row beats column (Elo-scale ratings)."""
    d = (rating[:, None] - rating[None, :]) / 400.0
    return 1.0 / (1.0 + 10.0 ** (-d))


__all__ = ["SCALE", "PairData", "BTResult", "aggregate", "fit_bt", "fit_thetas",
           "needs_prior", "dense_codes", "rank_by_ci", "predicted_win_rates", "to_elo",
           "mle_exists"]
