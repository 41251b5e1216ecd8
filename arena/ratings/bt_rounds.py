"""Fitting Bradley-Terry to many resampled rounds at once, at a cost per step that grows with
the number of observed pairs (not with M**3 per round).

Every bootstrap round maximises the same concave log likelihood as the full fit, on its own
per-pair sums ``s`` (score of ``pair_i``) and ``n`` (games):

    l(theta) = sum_pairs s * log p + (n - s) * log(1 - p) - lam / 2 * |theta|^2,
    p = sigmoid(theta_i - theta_j),

with ``lam`` > 0 only for rounds that need the normal prior (``arena.ratings.bt``).

Method: a *chord* (simplified Newton) iteration. The Hessian of the full data at the full-data
estimate, ``H0`` (plus ``1 1^T``, which fixes the translation), is inverted once per fit; every
round then iterates

    theta <- theta + H0^-1 g(theta),   g = A (s - n p) - lam theta,

from the full-data estimate. One step costs a gradient over the observed pairs (O(P) per round,
batched over the rounds of a chunk as (P x rounds) arrays) and one (M x M) @ (M x rounds) product
with the precomputed inverse - no factorisation per round. The iteration converges linearly with
the rate ||I - H0^-1 H_round||, small when the rounds resemble the data (about 0.1 at arena
scale: ten steps reach 1e-10). A round whose steps stop shrinking fast enough
(``RATE_LIMIT``) or that is not done after ``MAX_STEPS`` is handed back, and the caller refits
it by exact batched Newton (``arena.ratings.bt.fit_thetas``): every round ends at its maximiser,
to ``tol`` (natural units; 1e-10 is 2e-8 Elo points).

Failure: none for valid input; non-finite sums are the caller's bug (ValueError).
"""

from __future__ import annotations

import numpy as np
from scipy import linalg, sparse

MAX_STEPS = 60
RATE_LIMIT = 0.8  # a step not below 0.8 x the previous one: hand the round to Newton
F32_STEPS = 8  # at most; they stop once a step is below F32_UNTIL
F32_UNTIL = 3e-5
STATS = {"rounds": 0, "steps": 0, "handed_back": 0}  # round-steps taken (diagnostics)


def hessian(pair_i: np.ndarray, pair_j: np.ndarray, n_models: int, n: np.ndarray,
            theta: np.ndarray, lam: float) -> np.ndarray:
    """Dense (M x M) negative Hessian at ``theta`` for per-pair games ``n``, plus ``lam`` on the
    diagonal and ``1 1^T`` (the translation gauge)."""
    M = n_models
    d = theta[pair_i] - theta[pair_j]
    p = 1.0 / (1.0 + np.exp(-d))
    h = n * p * (1.0 - p)
    H = np.ones((M, M))
    np.add.at(H, (pair_i, pair_j), -h)
    np.add.at(H, (pair_j, pair_i), -h)
    diag = np.bincount(pair_i, weights=h, minlength=M) + np.bincount(pair_j, weights=h,
                                                                      minlength=M)
    H[np.arange(M), np.arange(M)] += diag + lam
    return H


def inverse(H: np.ndarray) -> np.ndarray:
    """Inverse of a symmetric positive definite matrix by Cholesky (once per fit)."""
    c = linalg.cho_factor(H, lower=True, check_finite=False)
    return linalg.cho_solve(c, np.eye(H.shape[0]), check_finite=False)


class RoundFitter:
    """The pair structure of one data set, built once, and the chord iteration over rounds.

    ``theta0``: the full-data estimate (M,); ``lam0``: the prior of the full fit (0 without);
    ``n0``: the full data's games per pair (for ``H0``)."""

    def __init__(self, pair_i: np.ndarray, pair_j: np.ndarray, n_models: int,
                 theta0: np.ndarray, n0: np.ndarray, lam0: float = 0.0) -> None:
        P, M = len(pair_i), n_models
        self.pair_i, self.pair_j, self.M = pair_i, pair_j, M
        cols = np.arange(P)
        rows = np.concatenate([pair_i, pair_j])
        both = np.concatenate([cols, cols])

        def mat(ci: float, cj: float, dt: type = np.float64) -> sparse.csr_matrix:
            v = np.concatenate([np.full(P, ci, dtype=dt), np.full(P, cj, dtype=dt)])
            return sparse.csr_matrix((v, (rows, both)), shape=(M, P))

        self.A = mat(1.0, -1.0)  # per-model sums of (pair_i gets +x, pair_j gets -x)
        self.Aj = mat(0.0, 1.0)  # sums over the pairs where the model is pair_j
        self.absA = mat(1.0, 1.0)
        self.absA32 = mat(1.0, 1.0, np.float32)
        self.absAT = self.absA.T.tocsr()  # (P x M): @ pi = pi_i + pi_j
        self.absAT32 = self.absA32.T.tocsr()
        self.theta0 = np.asarray(theta0, dtype=np.float64)
        self.p0 = 1.0 / (1.0 + np.exp(self.theta0[pair_j] - self.theta0[pair_i]))
        self.H0inv = inverse(hessian(pair_i, pair_j, M, n0, self.theta0, lam0))

    def points(self, s: np.ndarray, n: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(won, lost): (M x R) points per model for per-pair sums (P x R)."""
        won = self.A @ s + self.Aj @ n
        return won, self.absA @ n - won

    def fit(self, s: np.ndarray, n: np.ndarray, lam: np.ndarray, tol: float = 1e-10
            ) -> tuple[np.ndarray, np.ndarray]:
        """Fit every round (column) of ``s``/``n`` (P x R, float64) from ``theta0``.

        Returns (theta (M x R), mean zero per column; converged (R,) bool). Rounds that did
        not converge keep their last iterate; the caller refits them exactly.

        The gradient is computed as (points won) - pi * (|A| @ (n / (pi_i + pi_j))) - lam
        theta with pi = exp(theta - max theta): n p = pi_i n / (pi_i + pi_j), so no
        exponential per pair. The first step's gradient at ``theta0`` reuses the full fit's p;
        the next steps run in float32 while the steps are large (their rounding, ~1e-7
        relative, is corrected by what follows); float64 steps to ``tol`` decide convergence.
        A round whose arithmetic leaves the float range is handed back, never guessed."""
        if not (np.isfinite(s).all() and np.isfinite(n).all()):
            raise ValueError("per-pair sums must be finite")
        R = s.shape[1]
        H0inv = self.H0inv
        theta = np.repeat(self.theta0[:, None], R, axis=1)
        done = np.zeros(R, dtype=bool)
        STATS["rounds"] += R
        x = n * self.p0[:, None]
        np.subtract(s, x, out=x)
        th = theta + H0inv @ (self.A @ x - lam * theta)
        th -= th.mean(axis=0, keepdims=True)
        STATS["steps"] += R
        won = self.A @ s + self.Aj @ n
        n32 = n.astype(np.float32)
        last = np.inf
        for _ in range(F32_STEPS):
            STATS["steps"] += R
            # a step out of float32's range is caught just below and redone in float64: no
            # warning for it (a user's run would print one per occurrence)
            with np.errstate(over="ignore", invalid="ignore"):
                step = H0inv @ (won - self._expected(th, n32, self.absA32, self.absAT32) -
                                lam * th)
                th += step
                th -= th.mean(axis=0, keepdims=True)
            if not np.isfinite(th).all():  # out of float32 range: redo these in float64
                th = theta.copy()
                break
            big = float(np.abs(step).max())
            # stop at float32's floor (~1e-6 here; steps stop shrinking) or well above it
            if big < F32_UNTIL or big > 0.5 * last:
                break
            last = big
        prev = np.full(R, np.inf)
        active = np.arange(R)
        na, la, wa = n, lam, won
        for _ in range(MAX_STEPS):
            STATS["steps"] += th.shape[1]
            step = H0inv @ (wa - self._expected(th, na, self.absA, self.absAT) - la * th)
            th += step
            th -= th.mean(axis=0, keepdims=True)
            big = np.abs(step).max(axis=0)
            conv = big < tol
            slow = ~conv & ~(big <= RATE_LIMIT * prev[active])  # NaN counts as slow
            theta[:, active] = th
            done[active[conv]] = True
            prev[active] = big
            keep = ~conv & ~slow
            if not keep.any():
                break
            if not keep.all():  # drop finished (or hopeless) rounds from the arrays
                active = active[keep]
                na, la, wa, th = na[:, keep], la[keep], wa[:, keep], th[:, keep]
        STATS["handed_back"] += int((~done).sum())
        return theta, done

    @staticmethod
    def _expected(th: np.ndarray, n: np.ndarray, absA: sparse.csr_matrix,
                  absAT: sparse.csr_matrix) -> np.ndarray:
        """(M x R) expected points sum_j n_ij p_ij at ``th``, in the dtype of ``n``."""
        with np.errstate(over="ignore", under="ignore", invalid="ignore", divide="ignore"):
            pi = th - th.max(axis=0, keepdims=True)
            pi = np.exp(pi, out=pi).astype(n.dtype, copy=False)
            q = absAT @ pi  # pi_i + pi_j per pair
            np.divide(n, q, out=q)
            return pi * (absA @ q)


__all__ = ["RoundFitter", "hessian", "inverse", "MAX_STEPS", "STATS"]
