"""Win rates: against a baseline (L-Eval / evalscope counts, AlpacaEval definitions) and the
pairwise win-rate and battle-count matrices.

Every win rate here weighs a battle by its score (``arena.ratings.battles``: 1 / 0.5 / 0, or
the fraction ``2 - preference`` of a weighted verdict), never by its rounded outcome.

AlpacaEval definitions (``alpaca_winrate``), for preferences in [1, 2] where 1 means the
baseline (``output_1``) won, 2 means the model won and 1.5 (or the legacy 0) is a draw:

- ``win_rate`` = mean(preference - 1) x 100
- ``standard_error`` = sample standard deviation (ddof 1) of (preference - 1) / sqrt(n) x 100
- ``n_wins`` = #(preference > 1.5), ``n_wins_base`` = #(< 1.5), ``n_draws`` = #(== 1.5 or 0)
- ``discrete_win_rate`` = (n_wins + n_draws / 2) / n x 100.

Against a baseline (``vs_baseline``) battles may carry weights (a strong verdict weighs 3, as
arena-hard): the win rate and its standard error are then those of the *rows*, a battle of
weight w being w rows of its score - the same expansion arena-hard-auto resamples - so the
``±`` printed beside a weighted win rate comes from the same weights; with unit weights they
are AlpacaEval's figures exactly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np

from arena.ratings.battles import Battles
from arena.rules.preference import DRAW, LEGACY_DRAW


def alpaca_winrate(preferences: Sequence[float] | np.ndarray) -> dict[str, float]:
    """AlpacaEval's head-to-head metrics. NaN preferences are dropped (as AlpacaEval does);
    raises ValueError for a value outside {0} U [1, 2]."""
    p = np.asarray(preferences, dtype=np.float64)
    p = p[~np.isnan(p)]
    p = np.where(p == LEGACY_DRAW, DRAW, p)
    if ((p < 1.0) | (p > 2.0)).any():
        raise ValueError("AlpacaEval preferences must be in [1, 2] (0 = legacy draw)")
    n_draws = int((p == DRAW).sum())
    x = p - 1.0
    n = len(x)
    n_wins = int((p > DRAW).sum())
    return {
        "win_rate": float(x.mean() * 100.0) if n else math.nan,
        "standard_error": float(x.std(ddof=1) / math.sqrt(n) * 100.0) if n > 1 else math.nan,
        "n_wins": n_wins,
        "n_wins_base": int((p < DRAW).sum()),
        "n_draws": n_draws,
        "n_total": n,
        "discrete_win_rate": (n_wins + n_draws / 2.0) / n * 100.0 if n else math.nan,
    }


@dataclass
class BaselineRow:
    model: str
    n_wins: int  # battles with preference > 1.5 from the model's side (AlpacaEval n_wins)
    n_draws: int
    n_losses: int  # AlpacaEval n_wins_base
    n: int
    win_rate: float  # weighted mean score over the battles (rows), x 100
    standard_error: float  # of the rows' mean, x 100 (AlpacaEval's SE with unit weights)
    discrete_win_rate: float  # (n_wins + n_draws / 2) / n x 100
    avg_length: Optional[int] = None  # AlpacaEval: int(mean characters of the model's outputs)


def weighted_rows_mean_se(x: np.ndarray, w: np.ndarray) -> tuple[float, float]:
    """(mean, standard error of the mean) of values ``x`` where value k stands for ``w[k]``
    rows: mean = sum(w x) / sum(w), SE = sd(rows, ddof 1) / sqrt(sum w). NaN where undefined."""
    x = np.asarray(x, dtype=np.float64)
    w = np.asarray(w, dtype=np.float64)
    tot = float(w.sum())
    if tot <= 0:
        return math.nan, math.nan
    mean = float((w * x).sum() / tot)
    if tot <= 1:
        return mean, math.nan
    var = float((w * (x - mean) ** 2).sum() / (tot - 1.0))
    return mean, math.sqrt(var / tot)


def preferences_vs(battles: Battles, model: int, baseline: int) -> tuple[np.ndarray, np.ndarray]:
    """AlpacaEval preferences (1 baseline won, 2 model won, 1.5 tie; fractions for weighted
    verdicts) of ``model``'s battles against ``baseline``, and the battle indices they came
    from (weights ignored)."""
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
        mean, se = weighted_rows_mean_se(pref - 1.0, w)
        n_wins, n_draws = int((pref > 1.5).sum()), int((pref == 1.5).sum())
        lens = np.where(battles.model_a[idx] == m, battles.len_a[idx], battles.len_b[idx])
        lens = lens[np.isfinite(lens)]
        rows.append(BaselineRow(
            model=name, n_wins=n_wins, n_draws=n_draws, n_losses=int((pref < 1.5).sum()),
            n=len(idx), win_rate=mean * 100.0, standard_error=se * 100.0,
            discrete_win_rate=(n_wins + n_draws / 2.0) / len(idx) * 100.0,
            avg_length=int(lens.mean()) if lens.size else None))  # int(): AlpacaEval truncates
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
           "weighted_rows_mean_se",
           "pairwise_matrices", "overall_win_rate", "expected_vs_all"]
