"""Length bias: a length-controlled win rate and Chatbot Arena's style-controlled BT.

**Length-controlled win rate, difficulty estimated from the other models** (the default; with
AlpacaEval's own ``instruction_difficulty.csv`` the leaderboard uses AlpacaEval's GLM instead,
``arena.ratings.alpaca_glm``). It follows the shape of AlpacaEval 2's ``length_controlled_v1``
but estimates each instruction's difficulty from the data at hand, so it is *not* AlpacaEval's
figure, and boards label it "difficulty estimated from the other models". For one model against
the baseline, with soft labels y = preference - 1 in [0, 1] (1 = the model won),
fit

    logit P(model wins) = b0 + b1 * tanh(delta_len / sd(delta_len)) + b2 * difficulty(q)

where ``delta_len`` = baseline length - model length (characters, as AlpacaEval) and
``difficulty(q)`` is minus the logit of the smoothed mean preference of the *other* models on
that instruction, (sum y + 0.5) / (n + 1) (leaving the model out keeps its own label out of its
features; with no other model the term is constant and dropped). The fit is maximum likelihood
with a ridge of 1 / (2C), C = 100, by Newton's method. The LC win rate is the mean over the
model's battles of the prediction at delta_len = 0, x 100.

**Style-controlled BT** (Chatbot Arena's style control, length feature only): logistic
regression of model_a's score on (+1 model_a, -1 model_b) model indicators plus the
standardised normalised length difference (len_a - len_b) / (len_a + len_b). Ratings are the
model coefficients on the Elo scale; CIs are Wald intervals from a cluster-robust (by question)
sandwich covariance, which is exact to compute in one pass instead of refitting a million
battles a thousand times.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Optional

import numpy as np
from scipy import sparse

from arena.ratings.battles import Battles
from arena.ratings.bt import (DEFAULT_PRIOR_SD, SCALE, aggregate, dense_codes, fit_thetas,
                              rank_by_ci, to_elo)
from arena.ratings.winrate import preferences_vs


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))


def soft_logistic(X: np.ndarray, y: np.ndarray, *, l2: float = 0.005, penalize_first: bool = True,
                  max_iter: int = 100) -> np.ndarray:
    """Logistic regression with soft labels y in [0, 1] (cross-entropy), ridge ``l2 * |w|^2``.
    Newton's method; returns the coefficients."""
    n, d = X.shape
    w = np.zeros(d)
    pen = np.full(d, 2.0 * l2)
    if not penalize_first:
        pen[0] = 0.0
    for _ in range(max_iter):
        p = _sigmoid(X @ w)
        grad = X.T @ (y - p) - pen * w
        H = (X * (p * (1.0 - p))[:, None]).T @ X + np.diag(pen) + 1e-12 * np.eye(d)
        step = np.linalg.solve(H, grad)
        w += step
        if np.abs(step).max() < 1e-10:
            break
    return w


@dataclass
class LCRow:
    model: str
    win_rate: float  # raw, mean(preference - 1) x 100
    lc_win_rate: float
    length_coef: float
    n: int


def length_controlled(battles: Battles, baseline: str, *, C: float = 100.0) -> list[LCRow]:
    """LC win rate of every model against ``baseline``. Battles without both lengths are left
    out. Raises ValueError if the baseline has no battles."""
    if baseline not in battles.models:
        raise ValueError(f"baseline model {baseline!r} has no battles in this selection")
    b = battles.models.index(baseline)
    per_model = []
    all_q, all_y = [], []
    for m, name in enumerate(battles.models):
        if m == b:
            continue
        pref, idx = preferences_vs(battles, m, b)
        la = np.where(battles.model_a[idx] == m, battles.len_a[idx], battles.len_b[idx])
        lb = np.where(battles.model_a[idx] == m, battles.len_b[idx], battles.len_a[idx])
        ok = np.isfinite(la) & np.isfinite(lb)
        if not ok.any():
            continue
        y = pref[ok] - 1.0
        per_model.append((name, y, lb[ok] - la[ok], battles.question[idx][ok]))
        all_q.append(battles.question[idx][ok])
        all_y.append(y)
    if not per_model:
        return []
    q = np.concatenate(all_q)
    yy = np.concatenate(all_y)
    nq = int(q.max()) + 1
    sum_y = np.bincount(q, weights=yy, minlength=nq)
    cnt_y = np.bincount(q, minlength=nq).astype(np.float64)
    rows = []
    l2 = 1.0 / (2.0 * C)
    for name, y, delta, qs in per_model:
        sd = delta.std(ddof=1) if len(delta) > 1 else 0.0
        z = np.tanh(delta / sd) if sd > 0 else np.zeros_like(delta)
        # leave this model out of its own difficulty: otherwise the feature leaks its label
        own_s = np.bincount(qs, weights=y, minlength=nq)
        own_n = np.bincount(qs, minlength=nq)
        mean_y = (sum_y - own_s + 0.5) / (cnt_y - own_n + 1.0)
        diff = -np.log(mean_y / (1.0 - mean_y))[qs]
        cols = [np.ones_like(z), z]
        if np.ptp(diff) > 0:
            cols.append(diff)
        X = np.stack(cols, axis=1)
        w = soft_logistic(X, y, l2=l2)
        X0 = X.copy()
        X0[:, 1] = 0.0
        lc = float(_sigmoid(X0 @ w).mean() * 100.0)
        rows.append(LCRow(name, float(y.mean() * 100.0), lc, float(w[1]), len(y)))
    return rows


@dataclass
class StyleBTResult:
    models: list[str]
    rating: np.ndarray
    ci_low: np.ndarray
    ci_high: np.ndarray
    rank: np.ndarray
    length_coef: float  # natural-scale coefficient of the standardised length feature
    length_coef_se: float
    n: int
    ci_level: float = 0.95
    warnings: list[str] = field(default_factory=list)


def style_feature(len_a: np.ndarray, len_b: np.ndarray) -> np.ndarray:
    """(len_a - len_b) / (len_a + len_b), standardised over the battles (Chatbot Arena)."""
    tot = len_a + len_b
    with np.errstate(invalid="ignore", divide="ignore"):
        f = np.where(tot > 0, (len_a - len_b) / np.where(tot > 0, tot, 1.0), 0.0)
    sd = f.std()
    return (f - f.mean()) / sd if sd > 0 else f - f.mean()


def style_bt(battles: Battles, *, ci_level: float = 0.95, anchor: Optional[str] = None,
             anchor_value: float = 1000.0, max_iter: int = 50) -> StyleBTResult:
    """BT with a length covariate. Battles without both lengths are left out (counted in
    ``warnings``). Raises ValueError when no battle has lengths."""
    ok = np.isfinite(battles.len_a) & np.isfinite(battles.len_b) & \
        (battles.model_a != battles.model_b)
    warnings = []
    if (~ok).any():
        warnings.append(f"{int((~ok).sum())} battles without answer lengths left out of the "
                        f"style-controlled fit")
    if not ok.any():
        raise ValueError("no battle has answer lengths: style control cannot be fitted")
    M = len(battles.models)
    a = battles.model_a[ok].astype(np.int64)
    b = battles.model_b[ok].astype(np.int64)
    y = battles.score[ok]
    w = battles.weight[ok]
    q = battles.question[ok].astype(np.int64)
    z = style_feature(battles.len_a[ok], battles.len_b[ok])
    # same rule as arena.ratings.bt: a model with no wins or no losses gets the normal prior
    won = np.bincount(a, weights=w * y, minlength=M) + \
        np.bincount(b, weights=w * (1 - y), minlength=M)
    lost = np.bincount(a, weights=w * (1 - y), minlength=M) + \
        np.bincount(b, weights=w * y, minlength=M)
    lam = (SCALE / DEFAULT_PRIOR_SD) ** 2 if ((won <= 0) | (lost <= 0)).any() else 0.0
    if lam:
        warnings.append("a model never won or never lost: style-controlled ratings use the "
                        f"normal prior (sd {DEFAULT_PRIOR_SD:g} Elo points)")
    pair = a * M + b
    diag = np.arange(M)

    def gram(h: np.ndarray) -> np.ndarray:
        """sum over battles of h * x x^T, x = (e_a - e_b, z): the information matrix for
        h = w p (1 - p), the "meat" of the sandwich for h = r^2 (one battle per cluster)."""
        G = np.zeros((M + 1, M + 1))
        hp = np.bincount(pair, weights=h, minlength=M * M).reshape(M, M)
        G[:M, :M] = -(hp + hp.T)
        G[diag, diag] = np.bincount(a, weights=h, minlength=M) + \
            np.bincount(b, weights=h, minlength=M)
        hz = h * z
        G[:M, M] = G[M, :M] = np.bincount(a, weights=hz, minlength=M) - \
            np.bincount(b, weights=hz, minlength=M)
        G[M, M] = hz @ z
        return G

    def info(theta: np.ndarray, gamma: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(gradient, information + prior + gauge, per-battle residual) at (theta, gamma)."""
        p = _sigmoid(theta[a] - theta[b] + gamma * z)
        r = w * (y - p)
        g = np.empty(M + 1)
        g[:M] = np.bincount(a, weights=r, minlength=M) - \
            np.bincount(b, weights=r, minlength=M) - lam * theta
        g[M] = r @ z
        H = gram(w * p * (1.0 - p))
        H[diag, diag] += lam + 1e-12
        H[M, M] += 1e-9  # keeps the solve defined when lengths never differ
        H[:M, :M] += 1.0  # + 11^T on the ratings: fixes the translation (mean zero)
        return g, H, r

    # start from plain BT on aggregated counts (cheap), so few passes over the battles remain
    plain = aggregate(a, b, y, w, M)
    theta = fit_thetas(plain, plain.s[None, :], plain.n[None, :], np.array([lam > 0]))[0]
    gamma = 0.0
    for _ in range(max_iter):
        g, Hc, _r = info(theta, gamma)
        step = np.linalg.solve(Hc, g)
        step *= min(1.0, 3.0 / max(np.abs(step).max(), 1e-300))
        theta += step[:M]
        theta -= theta.mean()
        gamma += step[M]
        if np.abs(step).max() < 1e-8:  # quadratic convergence: the error left is ~1e-16
            break
    # cluster-robust sandwich: V = Hc^-1 B Hc^-1, B = sum over questions of g_q g_q^T
    _g, Hc, r = info(theta, gamma)
    qc, nq = dense_codes(q)
    if nq == len(q):  # one battle per question: B is a Gram matrix, no sparse matrix needed
        B = gram(r * r)
    else:
        rows = np.concatenate([qc, qc, qc])
        cols = np.concatenate([a, b, np.full(len(a), M)])
        vals = np.concatenate([r, -r, r * z])
        G = sparse.csr_matrix((vals, (rows, cols)), shape=(nq, M + 1))
        B = (G.T @ G).toarray()
    Hinv = np.linalg.inv(Hc)
    V = Hinv @ B @ Hinv
    models = list(battles.models)
    rating = to_elo(theta, models, anchor, anchor_value)
    from scipy import stats  # ~1 s on first import: only when a style fit is asked for

    zq = float(stats.norm.ppf(0.5 + ci_level / 2.0))
    if anchor is None:
        var = np.diag(V)[:M]
    else:
        k = models.index(anchor)
        var = np.diag(V)[:M] + V[k, k] - 2.0 * V[:M, k]
    se = SCALE * np.sqrt(np.maximum(var, 0.0))
    low, high = rating - zq * se, rating + zq * se
    return StyleBTResult(models, rating, low, high, rank_by_ci(rating, low, high), float(gamma),
                         float(math.sqrt(max(V[M, M], 0.0))), int(ok.sum()), ci_level, warnings)


__all__ = ["LCRow", "length_controlled", "StyleBTResult", "style_bt", "style_feature",
           "soft_logistic"]
