"""Position bias and tie statistics per judge and per annotator, and the vote table that
``arena.ratings.agreement`` reads.

For each rater (``by="judge"``: the judge label "kind:id"; ``by="annotator"``: human annotator
ids, as "annotator:<id>"):

- ``tie_rate``: share of verdicts that name no winner (TIE or BOTH_BAD; ``both_bad_rate``
  separately).
- ``first_win_rate``: among decisive verdicts whose display order is known, the share where
  the answer shown first won (0.5 = no position bias).
- ``position_consistency``: among the two-order pairs of ``arena.rules.orders`` (same rater,
  battle, turn and template, shown in opposite orders), the share that agree by that module's
  rule (same winner, or both without one). NaN when there are no pairs (``n_pairs`` = 0).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal, Sequence

import numpy as np

from arena.ratings.selection import OUTCOME_NAMES, VerdictFrame
from arena.rules.orders import consistent, pair_orders, score_of_lower
from arena.rules.outcomes import NO_WINNER, verdict_score


@dataclass
class RaterStats:
    rater: str
    n: int
    tie_rate: float
    both_bad_rate: float
    first_win_rate: float
    n_decisive_ordered: int
    position_consistency: float
    n_pairs: int

    def as_dict(self) -> dict[str, object]:
        return dict(self.__dict__)


def rater_labels(frame: VerdictFrame, by: Literal["judge", "annotator"] = "judge") -> np.ndarray:
    """One label per verdict: the judge ("kind:id") or the annotator ("annotator:<id>";
    verdicts without an annotator get their judge label)."""
    judge = np.array(frame.judges, dtype=object)[frame.judge] if len(frame) else \
        np.array([], dtype=object)
    if by == "judge":
        return judge
    ann = np.array([f"annotator:{a}" if a >= 0 else "" for a in frame.annotator.tolist()],
                   dtype=object)
    return np.where(ann != "", ann, judge)


def _winner_label(frame: VerdictFrame, k: int) -> str:
    o = int(frame.outcome[k])
    if o == 0:
        return frame.models[int(frame.model_a[k])]
    if o == 1:
        return frame.models[int(frame.model_b[k])]
    return OUTCOME_NAMES[o]


def votes(frame: VerdictFrame, by: Literal["judge", "annotator"] = "judge",
          both_bad_as_tie: bool = False) -> tuple[list[tuple], list[str], list[str]]:
    """(item, rater, value) for agreement: item = (question, model, model, turn) with the two
    models sorted, value = the winning model's name, "TIE" or "BOTH_BAD" - so every rater's
    vote on an item is comparable whatever order they saw."""
    labels = rater_labels(frame, by)
    items, raters, values = [], [], []
    for k in range(len(frame)):
        a, b = frame.models[int(frame.model_a[k])], frame.models[int(frame.model_b[k])]
        lo, hi = sorted((a, b))
        items.append((frame.questions[int(frame.question[k])], lo, hi, int(frame.turn[k])))
        raters.append(str(labels[k]))
        v = _winner_label(frame, k)
        values.append("TIE" if both_bad_as_tie and v == "BOTH_BAD" else v)
    return items, raters, values


def rater_stats(frame: VerdictFrame, by: Literal["judge", "annotator"] = "judge"
                ) -> list[RaterStats]:
    """Statistics per rater, sorted by rater label."""
    labels = rater_labels(frame, by)
    out = []
    for lab in sorted(set(labels.tolist())):
        idx = np.flatnonzero(labels == lab)
        o = frame.outcome[idx]
        first = frame.first[idx]
        decisive = (o <= 1) & (first >= 0)
        # the first-shown answer won when (A won and A was first) or (B won and B was first)
        first_won = decisive & (o == first)
        n_dec = int(decisive.sum())
        cons, n_pairs = _consistency(frame, idx)
        out.append(RaterStats(
            rater=str(lab), n=len(idx),
            tie_rate=float(np.isin(o, [OUTCOME_NAMES.index(x) for x in NO_WINNER]).mean())
            if len(idx) else math.nan,
            both_bad_rate=float((o == 3).mean()) if len(idx) else math.nan,
            first_win_rate=float(first_won.sum() / n_dec) if n_dec else math.nan,
            n_decisive_ordered=n_dec, position_consistency=cons, n_pairs=n_pairs))
    return out


def _consistency(frame: VerdictFrame, idx: Sequence[int]) -> tuple[float, int]:
    """(share of consistent two-order pairs, pairs) among the verdicts ``idx``."""
    idx = np.asarray(idx, dtype=np.int64)
    pairs = pair_orders(frame.question[idx], frame.model_a[idx], frame.model_b[idx],
                        frame.first[idx], frame.turn[idx], frame.judge[idx],
                        frame.annotator[idx], frame.template[idx], frame.id[idx])
    if len(pairs.x) == 0:
        return math.nan, 0
    s = verdict_score(frame.outcome[idx], frame.preference[idx])
    ma = frame.model_a[idx]
    sx = score_of_lower(s[pairs.x], ma[pairs.x], pairs.lo[pairs.x])
    sy = score_of_lower(s[pairs.y], ma[pairs.y], pairs.lo[pairs.y])
    agree = consistent(sx, sy)
    return float(agree.mean()), int(len(agree))


__all__ = ["RaterStats", "rater_stats", "rater_labels", "votes"]
