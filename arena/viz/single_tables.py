"""Single-mode tables: evalscope's per-category mean-score table, and the answer list.

The means are the boards' own (``arena.leaderboard.compute_leaderboard`` in single mode, one
board per category group; its ``score`` is ``arena.ratings.single.score_table``'s mean), so
this module only lays them out: categories as rows, models as columns, and the difference of
each cell from a reference model (evalscope colours it: green above, red below). Pure pandas.
"""

from __future__ import annotations

import math
from typing import Optional

import numpy as np
import pandas as pd

from arena.leaderboard import Leaderboard
from arena.ratings.selection import VerdictFrame
from arena.viz.render import preview

GREEN, RED = (46, 160, 67), (218, 54, 51)


def mean_table(boards: dict[str, Leaderboard], models: Optional[list[str]] = None
               ) -> pd.DataFrame:
    """Mean score per (category, model): rows in ``boards`` order, columns ``models`` (default:
    the first board's models, best first). A model without scores in a category: NaN."""
    if models is None:
        first = next(iter(boards.values()), None)
        models = [r.model for r in first.rows] if first is not None else []
    data = {}
    for name, b in boards.items():
        by_model = {r.model: r.score for r in b.rows}
        data[name] = [np.nan if by_model.get(m) is None else float(by_model[m])
                      for m in models]
    return pd.DataFrame.from_dict(data, orient="index", columns=models)


def differences(table: pd.DataFrame, reference: str) -> pd.DataFrame:
    """Each cell minus the reference model's mean in the same category."""
    return table.sub(table[reference], axis=0)


def colours(table: pd.DataFrame, reference: str) -> pd.DataFrame:
    """CSS per cell: the difference from ``reference`` as a green (above) or red (below)
    background, stronger with the size of the difference (relative to the largest one)."""
    diff = differences(table, reference)
    scale = float(np.nanmax(np.abs(diff.to_numpy()))) if diff.size and \
        np.isfinite(diff.to_numpy()).any() else 0.0
    out = pd.DataFrame("", index=table.index, columns=table.columns)
    if not scale:
        return out
    for r in table.index:
        for c in table.columns:
            d = diff.loc[r, c]
            if c == reference or d is None or not math.isfinite(d) or d == 0:
                continue
            rgb = GREEN if d > 0 else RED
            alpha = 0.15 + 0.55 * min(abs(d) / scale, 1.0)
            out.loc[r, c] = f"background-color: rgba({rgb[0]}, {rgb[1]}, {rgb[2]}, {alpha:.2f})"
    return out


def criteria_text(scores: Optional[dict]) -> str:
    if not scores:
        return ""
    return ", ".join(f"{k} {v:g}" if isinstance(v, (int, float)) and not isinstance(v, bool)
                     else f"{k} {v}" for k, v in scores.items())


def answer_rows(frame: VerdictFrame, questions: dict[str, str]) -> pd.DataFrame:
    """One row per single verdict that counts: id, question, category, model, judge, score,
    criteria (the rubric's scores)."""
    n = len(frame)
    qn = [frame.questions[i] for i in frame.question.tolist()]
    return pd.DataFrame({
        "id": frame.id, "question_id": qn,
        "question": [preview(questions.get(q, "")) for q in qn],
        "category": [frame.categories[i] for i in frame.category.tolist()],
        "model": [frame.models[i] for i in frame.model_a.tolist()],
        "judge": [frame.judges[i] for i in frame.judge.tolist()],
        "score": frame.score_a,
        "criteria": [criteria_text(frame.scores[k]) for k in range(n)],
        "status": "counts"})


__all__ = ["mean_table", "differences", "colours", "answer_rows", "criteria_text"]
