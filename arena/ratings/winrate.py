"""Win rates: against a baseline (L-Eval / evalscope counts, AlpacaEval definitions) and the
pairwise win-rate and battle-count matrices.

AlpacaEval definitions (``alpaca_winrate``), for preferences in [1, 2] where 1 means the
baseline (``output_1``) won, 2 means the model won and 1.5 (or the legacy 0) is a draw:

- ``win_rate`` = mean(preference - 1) x 100
- ``standard_error`` = sample standard deviation (ddof 1) of (preference - 1) / sqrt(n) x 100
- ``n_wins`` = #(preference - 1 > 0.5), ``n_wins_base`` = #(< 0.5), ``n_draws`` = #(== 1.5 or 0)
- ``discrete_win_rate``: each preference rounded to 1, 1.5 or 2 first (draws stay draws), then
  the same mean x 100, i.e. (n_wins + n_draws / 2) / n x 100 over the rounded values.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np

from arena.ratings.battles import Battles


def alpaca_winrate(preferences: Sequence[float] | np.ndarray) -> dict[str, float]:
    """AlpacaEval's head-to-head metrics. NaN preferences are dropped (as AlpacaEval does);
    raises ValueError for a value outside {0} U [1, 2]."""
    p = np.asarray(preferences, dtype=np.float64)
    p = p[~np.isnan(p)]
    n_draws = int(((p == 1.5) | (p == 0.0)).sum())
    p = np.where(p == 0.0, 1.5, p)
    if ((p < 1.0) | (p > 2.0)).any():
        raise ValueError("AlpacaEval preferences must be in [1, 2] (0 = legacy draw)")
    x = p - 1.0
    n = len(x)
    # discrete: draws stay 0.5, the rest round to 0 or 1 (Python/pandas rounding of x.5 cannot
    # occur here because exact 1.5 is a draw)
    disc = np.where(p == 1.5, 0.5, np.rint(p) - 1.0)
    return {
        "win_rate": float(x.mean() * 100.0) if n else math.nan,
        "standard_error": float(x.std(ddof=1) / math.sqrt(n) * 100.0) if n > 1 else math.nan,
        "n_wins": int((x > 0.5).sum()),
        "n_wins_base": int((x < 0.5).sum()),
        "n_draws": n_draws,
        "n_total": n,
        "discrete_win_rate": float(disc.mean() * 100.0) if n else math.nan,
    }


@dataclass
class BaselineRow:
    model: str
    n_wins: int
    n_draws: int
    n_losses: int
    n: int
    win_rate: float  # (weighted wins + draws / 2) / weighted games x 100
    standard_error: float  # AlpacaEval's SE of the per-battle preference, x 100
    discrete_win_rate: float


def preferences_vs(battles: Battles, model: int, baseline: int) -> tuple[np.ndarray, np.ndarray]:
    """AlpacaEval preferences (1 baseline won, 2 model won, 1.5 tie) of ``model``'s battles
    against ``baseline``, and the battle indices they came from (weights ignored)."""
    fwd = (battles.model_a == model) & (battles.model_b == baseline)
    rev = (battles.model_a == baseline) & (battles.model_b == model)
    idx = np.flatnonzero(fwd | rev)
    s = np.where(fwd[idx], battles.score[idx], 1.0 - battles.score[idx])
    return 1.0 + s, idx


def vs_baseline(battles: Battles, baseline: str) -> list[BaselineRow]:
    """One row per model that met ``baseline``; raises ValueError if the baseline is unknown."""
    if baseline not in battles.models:
        raise ValueError(f"baseline model {baseline!r} has no battles in this selection")
    b = battles.models.index(baseline)
    rows = []
    for m, name in enumerate(battles.models):
        if m == b:
            continue
        pref, idx = preferences_vs(battles, m, b)
        if len(idx) == 0:
            continue
        w = battles.weight[idx]
        ae = alpaca_winrate(pref)
        rows.append(BaselineRow(
            model=name, n_wins=int((pref == 2.0).sum()), n_draws=int((pref == 1.5).sum()),
            n_losses=int((pref == 1.0).sum()), n=len(idx),
            win_rate=float(((pref - 1.0) * w).sum() / w.sum() * 100.0),
            standard_error=ae["standard_error"], discrete_win_rate=ae["discrete_win_rate"]))
    return rows


def pairwise_matrices(battles: Battles) -> tuple[np.ndarray, np.ndarray]:
    """(win_rate, count): ``win_rate[i, j]`` is i's weighted score share against j (NaN if they
    never met), ``count[i, j]`` the number of battles between i and j (symmetric)."""
    M = len(battles.models)
    a, b = battles.model_a.astype(np.int64), battles.model_b.astype(np.int64)
    w, s = battles.weight, battles.score
    score = np.bincount(a * M + b, weights=w * s, minlength=M * M) + \
        np.bincount(b * M + a, weights=w * (1.0 - s), minlength=M * M)
    games_w = np.bincount(a * M + b, weights=w, minlength=M * M) + \
        np.bincount(b * M + a, weights=w, minlength=M * M)
    count = np.bincount(a * M + b, minlength=M * M) + np.bincount(b * M + a, minlength=M * M)
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = np.where(games_w > 0, score / np.where(games_w > 0, games_w, 1.0), np.nan)
    return rate.reshape(M, M), count.reshape(M, M)


def overall_win_rate(battles: Battles) -> tuple[np.ndarray, np.ndarray]:
    """Per model: weighted score share over all its battles, and its number of battles."""
    M = len(battles.models)
    w, s = battles.weight, battles.score
    won = np.bincount(battles.model_a, weights=w * s, minlength=M) + \
        np.bincount(battles.model_b, weights=w * (1.0 - s), minlength=M)
    games = np.bincount(battles.model_a, weights=w, minlength=M) + \
        np.bincount(battles.model_b, weights=w, minlength=M)
    n = np.bincount(battles.model_a, minlength=M) + np.bincount(battles.model_b, minlength=M)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(games > 0, won / np.where(games > 0, games, 1.0), np.nan), n


def expected_vs_all(pred: np.ndarray, count: Optional[np.ndarray] = None) -> np.ndarray:
    """BT-predicted average win rate of each model against all others (unweighted mean over
    opponents, or weighted by ``count`` when given)."""
    M = pred.shape[0]
    mask = ~np.eye(M, dtype=bool)
    if count is None:
        return np.array([pred[i, mask[i]].mean() if M > 1 else np.nan for i in range(M)])
    w = count * mask
    tot = w.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(tot > 0, (pred * w).sum(axis=1) / np.where(tot > 0, tot, 1), np.nan)


__all__ = ["alpaca_winrate", "BaselineRow", "vs_baseline", "preferences_vs",
           "pairwise_matrices", "overall_win_rate", "expected_vs_all"]
