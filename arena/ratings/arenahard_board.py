"""arena-hard-auto's leaderboard layout: ``score (-low, +high)`` against the baseline.

arena-hard-auto (v0.1, ``show_result.py``) reports, per model, the Bradley-Terry probability of
beating the baseline in percent (``score``), and its bootstrap interval: the ``(1 - level) / 2``
and ``(1 + level) / 2`` percentiles of the bootstrap ratings (relative to the baseline, which
upstream anchors), each turned into a win rate the same way. Its leaderboard CSV writes
``model, score, rating_q025, rating_q975, CI`` with ``CI = "(-x, +y)"`` (two decimals). The
baseline has score 50 and CI (0, 0).

To reproduce upstream's numbers the board should be built as upstream builds its battles:
``position_policy: both_games`` (both games of a judgment count), ``strong_weight: 3`` (a
strong verdict is three rows), ``resample_unit: rows`` (each row resampled) and the level it
prints (95 %; its newer scripts print 90 %). ``settings_note`` says where a board differs.

``arena_hard_rows`` needs a pairwise board with bootstrap samples and a baseline that has
battles; it raises ValueError otherwise (the CLI prints the message).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from typing import Any

import numpy as np

UPSTREAM = {"policy": "both_games", "strong_weight": 3, "resample_unit": "rows"}


@dataclass
class ArenaHardRow:
    model: str
    score: float  # percent
    lower: float
    upper: float
    n: int


def _win_rate(d: np.ndarray) -> np.ndarray:
    """P(win) of an Elo difference ``d`` (model minus baseline), in percent."""
    return 100.0 / (1.0 + 10.0 ** (-np.asarray(d, dtype=np.float64) / 400.0))


def arena_hard_rows(board: Any) -> list[ArenaHardRow]:
    """Rows for every model of ``board`` (the baseline included), best score first."""
    s = board.settings
    if board.empty_reason:
        raise ValueError(f"no leaderboard: {board.empty_reason}")
    if not s.baseline:
        raise ValueError("the arena-hard layout is against a baseline: set ratings.baseline "
                         "(or judge.baseline)")
    models = board.models
    if s.baseline not in models:
        raise ValueError(f"baseline {s.baseline!r} has no battles here")
    if board.samples is None:
        raise ValueError("the arena-hard layout needs bootstrap CIs: set "
                         "ratings.bootstrap_rounds above 0")
    by = {r.model: r for r in board.rows}
    k = models.index(s.baseline)
    point = np.array([by[m].bt for m in models], dtype=np.float64)
    rel = board.samples - board.samples[:, k:k + 1]  # per round, against the baseline
    alpha = (1.0 - s.ci_level) / 2.0
    lo, hi = np.percentile(rel, [100 * alpha, 100 * (1 - alpha)], axis=0)
    score = _win_rate(point - point[k])
    out = [ArenaHardRow(m, float(score[i]), float(_win_rate(lo[i])), float(_win_rate(hi[i])),
                        by[m].n) for i, m in enumerate(models)]
    return sorted(out, key=lambda r: (-r.score, r.model))


def settings_note(board: Any) -> list[str]:
    """Where the board's settings differ from arena-hard-auto's procedure."""
    s = board.settings
    have = {"policy": s.policy, "strong_weight": s.strong_weight,
            "resample_unit": s.resample_unit}
    return [f"{k} is {have[k]!r}; arena-hard-auto uses {v!r}" for k, v in UPSTREAM.items()
            if have[k] != v]


def _q(p: float) -> str:
    return f"{p:.3f}".rstrip("0").replace("0.", "q", 1).replace(".", "")


def format_arena_hard(board: Any) -> str:
    """The leaderboard CSV: model, score, rating_q<lo>, rating_q<hi>, CI, n (scores in
    percent, two decimals as upstream writes them; the CI column ``(-x, +y)``)."""
    rows = arena_hard_rows(board)
    alpha = (1.0 - board.settings.ci_level) / 2.0
    lo_name, hi_name = f"rating_{_q(alpha)}", f"rating_{_q(1 - alpha)}"
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["model", "score", lo_name, hi_name, "CI", "n"])
    for r in rows:
        w.writerow([r.model, f"{r.score:.2f}", f"{r.lower:.2f}", f"{r.upper:.2f}",
                    f"(-{r.score - r.lower:.2f}, +{r.upper - r.score:.2f})", r.n])
    return buf.getvalue()


__all__ = ["ArenaHardRow", "arena_hard_rows", "format_arena_hard", "settings_note"]
