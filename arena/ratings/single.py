"""Single-answer grading: mean score per model with a confidence interval, per criterion.

The CI is Student's t interval on the per-verdict scores: mean +/- t(level, n - 1) x sd / sqrt(n)
(sd with ddof 1). With one score the interval is undefined (NaN), never a zero-width guess.
Ranks respect CI overlap exactly as the BT leaderboard does.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Optional, Sequence

import numpy as np

from arena.ratings.bt import rank_by_ci


@dataclass
class ScoreTable:
    models: list[str]
    mean: np.ndarray
    ci_low: np.ndarray
    ci_high: np.ndarray
    sd: np.ndarray
    n: np.ndarray
    rank: np.ndarray
    ci_level: float = 0.95
    criteria: dict[str, np.ndarray] = field(default_factory=dict)  # criterion -> mean per model


def mean_ci(values: np.ndarray, ci_level: float = 0.95) -> tuple[float, float, float, float]:
    """(mean, low, high, sd) of the finite values; NaN where undefined."""
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    n = len(v)
    if n == 0:
        return math.nan, math.nan, math.nan, math.nan
    mean = float(v.mean())
    if n == 1:
        return mean, math.nan, math.nan, math.nan
    sd = float(v.std(ddof=1))
    from scipy import stats  # imported here: ~1 s at first import, only single mode needs it

    half = float(stats.t.ppf(0.5 + ci_level / 2.0, n - 1)) * sd / math.sqrt(n)
    return mean, mean - half, mean + half, sd


def score_table(model: np.ndarray, score: np.ndarray, models: list[str], *,
                ci_level: float = 0.95,
                criteria: Optional[Sequence[Optional[dict[str, Any]]]] = None) -> ScoreTable:
    """Mean score per model index. ``criteria``: per verdict a dict criterion -> number (rubric
    judges); non-numeric entries are ignored. Verdicts with no overall score but criteria use
    the criteria's mean as their score."""
    M = len(models)
    score = np.asarray(score, dtype=np.float64).copy()
    crit_names: list[str] = []
    if criteria is not None:
        for d in criteria:
            for k, v in (d or {}).items():
                if isinstance(v, (int, float)) and not isinstance(v, bool) and k not in crit_names:
                    crit_names.append(k)
        for i, d in enumerate(criteria):
            if not math.isfinite(score[i]) and d:
                nums = [float(v) for v in d.values()
                        if isinstance(v, (int, float)) and not isinstance(v, bool)]
                if nums:
                    score[i] = sum(nums) / len(nums)
    out = np.full((4, M), np.nan)
    n = np.zeros(M, dtype=int)
    for m in range(M):
        vals = score[model == m]
        out[:, m] = mean_ci(vals, ci_level)
        n[m] = int(np.isfinite(vals).sum())
    crit: dict[str, np.ndarray] = {}
    for name in crit_names:
        col = np.array([float(d[name]) if d and isinstance(d.get(name), (int, float)) else np.nan
                        for d in criteria or []])
        crit[name] = np.array([np.nanmean(col[model == m]) if np.isfinite(col[model == m]).any()
                               else np.nan for m in range(M)])
    mean, low, high, sd = out
    return ScoreTable(list(models), mean, low, high, sd, n,
                      rank_by_ci(np.nan_to_num(mean, nan=-np.inf), low, high), ci_level, crit)


__all__ = ["ScoreTable", "mean_ci", "score_table"]
