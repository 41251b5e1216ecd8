"""Bradley-Terry maximum likelihood on the Elo scale, with seeded bootstrap CIs.

Model: P(i beats j) = 1 / (1 + 10 ** ((R_j - R_i) / 400)); ratings are ``SCALE * theta`` with
``SCALE = 400 / ln 10``, centred at mean 1000 or shifted so an anchor model sits at a value.
A battle's score for model_a is in [0, 1] (1 win, 0.5 tie, a fraction for a weighted judge's
preference) and counts as that share of a win for model_a and the rest for model_b (Chatbot
Arena's convention for ties); a battle's weight multiplies its counts (strong verdicts,
arena-hard's weight 3).

Speed: battles are aggregated into per-pair sums (``arena.ratings.pairs``) before fitting, so
a fit costs the same at 1 k or 10 M battles. The full-data fit is Newton's method on the concave
log likelihood; the bootstrap rounds are fitted together by ``arena.ratings.bt_rounds`` (a
chord iteration whose step costs O(observed pairs) per round), and any round it does not
finish is refitted here by batched Newton - every round ends at its maximiser.

Bootstrap (``arena.ratings.bootstrap``): the resampling unit is a question (default: the two
orders of one battle and the turns of one question are not independent), a battle, or a row
(arena-hard-auto: a battle of weight w is w rows, each resampled).

Never-win / never-lose models: the MLE does not exist when the "beats" graph is not strongly
connected (Ford, 1957): a model with no wins drifts to minus infinity. Then, and only then, the
fit is the MAP estimate under an independent normal prior on every rating with standard
deviation ``prior_sd`` Elo points (default 400), i.e. a ridge penalty; a warning names the
models that never won and those that never lost (or, when every model has both, the models cut
off from the rest), and the result records ``regularized=True``. Bootstrap rounds whose
resample has such a model get the same prior.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from typing import Literal, Optional

import numpy as np
from scipy import sparse
from threadpoolctl import threadpool_limits

from arena.ratings.pairs import PairData, aggregate, dense_codes

log = logging.getLogger(__name__)

SCALE = 400.0 / math.log(10.0)
DEFAULT_PRIOR_SD = 400.0
RESAMPLE_UNITS = ("questions", "battles", "rows")


def _per_model(pd: PairData, ci: float, cj: float) -> sparse.csr_matrix:
    """Sparse M x P matrix with ``ci`` at (pair_i, pair) and ``cj`` at (pair_j, pair): sums
    per model of a per-pair quantity are ``(this @ X.T).T`` for X (R x P)."""
    P = len(pd.pair_i)
    cols = np.arange(P)
    return sparse.csr_matrix((np.concatenate([np.full(P, ci), np.full(P, cj)]),
                              (np.concatenate([pd.pair_i, pd.pair_j]),
                               np.concatenate([cols, cols]))), shape=(pd.n_models, P))


def _sum_per_model(mat: sparse.csr_matrix, x: np.ndarray) -> np.ndarray:
    """(R x P) per-pair values -> (R x M) per-model sums through ``mat`` (``_per_model``)."""
    return np.asarray(mat @ x.T).T


def wins_losses(pd: PairData, s: np.ndarray, n: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per row of ``s``/``n`` (R x P): (R x M) points won and points lost by each model."""
    # i gets s and j gets n - s; losses are the games left
    wins = _sum_per_model(_per_model(pd, 1.0, -1.0), s) + \
        _sum_per_model(_per_model(pd, 0.0, 1.0), n)
    losses = _sum_per_model(_per_model(pd, 1.0, 1.0), n) - wins
    return wins, losses


def needs_prior(pd: PairData, s: np.ndarray, n: np.ndarray) -> np.ndarray:
    """Per row of ``s``/``n`` (R x P): True where some model has no wins or no losses."""
    wins, losses = wins_losses(pd, s, n)
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


def no_mle_message(pd: PairData, models: list[str], outside: list[int],
                   prior_sd: float) -> str:
    """The warning for a fit without an MLE: which models never won, which never lost, and
    (when every model has both) which are cut off from the rest."""
    wins, losses = wins_losses(pd, pd.s[None, :], pd.n[None, :])
    never_won = [models[m] for m in np.flatnonzero(wins[0] <= 0)]
    never_lost = [models[m] for m in np.flatnonzero(losses[0] <= 0)]
    parts = []
    if never_won:
        parts.append("never won: " + ", ".join(never_won))
    if never_lost:
        parts.append("never lost: " + ", ".join(never_lost))
    if not parts:
        parts.append("not connected to the rest by wins and losses in both directions: " +
                     ", ".join(models[m] for m in outside))
    return (f"the maximum-likelihood ratings do not exist (a model never won or never lost "
            f"against the rest; {'; '.join(parts)}); using a normal prior with sd "
            f"{prior_sd:g} Elo points (MAP estimate)")


def fit_thetas(pd: PairData, s: np.ndarray, n: np.ndarray, prior: np.ndarray,
               prior_sd: float = DEFAULT_PRIOR_SD, theta0: Optional[np.ndarray] = None,
               max_iter: int = 100, tol: float = 1e-11) -> np.ndarray:
    """Batched exact Newton fit (one dense (M x M) solve per row per iteration: used for the
    full-data fit and for the rare bootstrap rounds the chord iteration hands back).
    ``s``, ``n``: (R x P); ``prior``: (R,) bool. Returns (R x M) natural-scale coefficients
    with mean zero per row."""
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
    never_won: list[str] = field(default_factory=list)
    never_lost: list[str] = field(default_factory=list)

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


RANK_UB = ("rank (UB) = 1 + the number of models whose lower CI bound is above this model's "
           "upper CI bound (Chatbot Arena); without CIs, 1 + the number of higher ratings")


def rank_by_ci(rating: np.ndarray, ci_low: np.ndarray, ci_high: np.ndarray) -> np.ndarray:
    """Rank (UB) = 1 + the number of models whose lower bound is above this model's upper
    bound (Chatbot Arena). Without CIs (NaN) it is the plain rank by rating (ties share a
    rank)."""
    if np.isnan(ci_low).any() or np.isnan(ci_high).any():
        return 1 + (rating[None, :] > rating[:, None]).sum(axis=1)
    return 1 + (ci_low[None, :] > ci_high[:, None]).sum(axis=1)


def fit_bt(model_a: np.ndarray, model_b: np.ndarray, score: np.ndarray, models: list[str], *,
           weight: Optional[np.ndarray] = None, unit: Optional[np.ndarray] = None,
           rounds: int = 1000, ci_level: float = 0.95,
           resample: Literal["questions", "battles", "rows"] = "questions", seed: int = 0,
           anchor: Optional[str] = None, anchor_value: float = 1000.0,
           prior_sd: float = DEFAULT_PRIOR_SD) -> BTResult:
    """Fit BT and bootstrap it. ``unit`` gives each battle's question (used when
    ``resample == "questions"``; without it every battle is its own question). Raises
    ValueError for an anchor without battles, an unknown resampling unit, or ``rows`` with
    weights that are not whole numbers."""
    M = len(models)
    w = np.ones(len(model_a)) if weight is None else np.asarray(weight, dtype=np.float64)
    if resample not in RESAMPLE_UNITS:
        raise ValueError(f"resample must be one of {', '.join(RESAMPLE_UNITS)}, not "
                         f"{resample!r}")
    pd = aggregate(model_a, model_b, score, w, M, unit if resample == "questions" else None,
                   rows=resample == "rows")
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
        wins, losses = wins_losses(pd, pd.s[None, :], pd.n[None, :])
        res.never_won = [models[m] for m in np.flatnonzero(wins[0] <= 0)]
        res.never_lost = [models[m] for m in np.flatnonzero(losses[0] <= 0)]
        msg = no_mle_message(pd, res.models, outside, prior_sd)
        log.warning(msg)
        res.warnings.append(msg)
        res.regularized = True
    # one (M x M) solve per Newton step: BLAS threads gain little there and, on a busy
    # machine, spin (3x slower measured on two shared cores)
    with threadpool_limits(1, user_api="blas"):
        theta = fit_thetas(pd, pd.s[None, :], pd.n[None, :], np.array([prior_all]),
                           prior_sd)[0]
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
           "mle_exists", "wins_losses", "no_mle_message", "RANK_UB", "RESAMPLE_UNITS",
           "DEFAULT_PRIOR_SD"]
