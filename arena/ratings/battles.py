"""Verdicts -> battles under a position policy (DESIGN.md section 5).

A battle here is one game for rating: two model indices, the score of ``model_a`` (1 win,
0.5 tie, 0 loss) and a weight. Policies:

- ``none`` / ``random_order``: every verdict is one battle (one judgment per battle was made).
- ``both_games`` (arena-hard): every verdict is its own game; both orders of a battle count.
- ``tie_if_inconsistent`` (MT-bench): the two orders of one battle, judged by the same judge
  (same annotator, turn and template), make one game: the shared outcome when they agree, a tie
  when they disagree. A verdict whose other order is missing counts alone and is reported as
  ``unpaired``.

Ties count 0.5. ``both_bad="tie"`` (default) makes both-bad a tie; ``"drop"`` leaves it out
(counted). A strong verdict (``strength`` 2, "A>>B") weighs ``strong_weight`` (1 or 3, as
arena-hard); under ``tie_if_inconsistent`` a game is strong only when both orders are.
Battles keep the verdict order (verdict time, then id), which online Elo uses.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from arena.ratings.selection import VerdictFrame
from arena.types import PositionPolicy

TIE_CODE, BOTH_BAD_CODE = 2, 3


@dataclass
class Battles:
    """Parallel arrays, one entry per game, in verdict order."""

    models: list[str]
    model_a: np.ndarray  # int32
    model_b: np.ndarray  # int32
    score: np.ndarray  # float64: 1 = model_a won, 0.5 tie, 0 = model_b won
    weight: np.ndarray  # float64
    question: np.ndarray  # int32 (index into the frame's questions)
    category: np.ndarray  # int32
    len_a: np.ndarray  # float64 characters (NaN unknown)
    len_b: np.ndarray
    policy: str = PositionPolicy.NONE.value
    notes: dict[str, int] = field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.model_a.shape[0])

    @classmethod
    def from_arrays(cls, models: list[str], model_a: np.ndarray, model_b: np.ndarray,
                    score: np.ndarray, weight: np.ndarray | None = None,
                    question: np.ndarray | None = None, len_a: np.ndarray | None = None,
                    len_b: np.ndarray | None = None) -> "Battles":
        """Battles from plain arrays (benchmarks, simulations). Each battle is its own question
        unless ``question`` is given."""
        n = len(model_a)
        return cls(models=list(models), model_a=np.asarray(model_a, dtype=np.int32),
                   model_b=np.asarray(model_b, dtype=np.int32),
                   score=np.asarray(score, dtype=np.float64),
                   weight=np.ones(n) if weight is None else np.asarray(weight, dtype=np.float64),
                   question=np.arange(n, dtype=np.int32) if question is None
                   else np.asarray(question, dtype=np.int32),
                   category=np.zeros(n, dtype=np.int32),
                   len_a=np.full(n, np.nan) if len_a is None else np.asarray(len_a, float),
                   len_b=np.full(n, np.nan) if len_b is None else np.asarray(len_b, float))

    def compact(self) -> "Battles":
        """The same battles with ``models`` reduced to the models that appear (indices
        renumbered, order kept)."""
        used = np.zeros(len(self.models), dtype=bool)
        used[self.model_a] = True
        used[self.model_b] = True
        if used.all():
            return self
        remap = np.cumsum(used) - 1
        return Battles([m for m, u in zip(self.models, used) if u],
                       remap[self.model_a].astype(np.int32), remap[self.model_b].astype(np.int32),
                       self.score, self.weight, self.question, self.category, self.len_a,
                       self.len_b, self.policy, dict(self.notes))

    def subset(self, mask: np.ndarray) -> "Battles":
        return Battles(self.models, self.model_a[mask], self.model_b[mask], self.score[mask],
                       self.weight[mask], self.question[mask], self.category[mask],
                       self.len_a[mask], self.len_b[mask], self.policy, dict(self.notes))


def _score_of(outcome: np.ndarray, both_bad: str) -> np.ndarray:
    score = np.select([outcome == 0, outcome == 1], [1.0, 0.0], default=0.5)
    if both_bad == "drop":
        score[outcome == BOTH_BAD_CODE] = np.nan
    return score


def build_battles(frame: VerdictFrame, policy: PositionPolicy | str = PositionPolicy.NONE, *,
                  both_bad: Literal["tie", "drop"] = "tie", strong_weight: int = 1) -> Battles:
    """Turn pairwise verdicts into battles. Raises ValueError for an unknown policy/setting."""
    policy = PositionPolicy(policy)
    if both_bad not in ("tie", "drop"):
        raise ValueError(f"both_bad must be 'tie' or 'drop', not {both_bad!r}")
    if strong_weight not in (1, 3):
        raise ValueError(f"strong_weight must be 1 or 3, not {strong_weight!r}")
    notes = {"verdicts": len(frame), "both_bad_dropped": 0, "pairs_consistent": 0,
             "pairs_inconsistent": 0, "unpaired": 0}
    if policy == PositionPolicy.TIE_IF_INCONSISTENT:
        idx_a, _partner, score, strong, _agree = _merge_orders(frame, both_bad, notes)
    else:
        score = _score_of(frame.outcome, both_bad)
        keep = ~np.isnan(score)
        notes["both_bad_dropped"] = int((~keep).sum())
        idx_a = np.flatnonzero(keep)
        score = score[keep]
        strong = frame.strength[keep] == 2
    weight = np.where(strong & (score != 0.5), float(strong_weight), 1.0)
    return Battles(models=list(frame.models), model_a=frame.model_a[idx_a].astype(np.int32),
                   model_b=frame.model_b[idx_a].astype(np.int32), score=score.astype(np.float64),
                   weight=weight, question=frame.question[idx_a].astype(np.int32),
                   category=frame.category[idx_a].astype(np.int32),
                   len_a=frame.len_a[idx_a], len_b=frame.len_b[idx_a],
                   policy=policy.value, notes=notes)


def _merge_orders(frame: VerdictFrame, both_bad: str, notes: dict[str, int]
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """MT-bench pairing: returns (row index giving the game's identity/time, the paired row,
    score for that row's model_a, strong flag, agreement: 1 the orders agree, 0 they disagree,
    -1 one order only), ordered by that row.

    Verdicts are grouped by (question, unordered pair, turn, judge, annotator, template) and
    split by which model was shown first (a verdict whose order is unknown sides with the
    higher-index model shown first). Within a group the k-th verdict (in verdict order) of
    one side pairs with the k-th of the other; the rest count alone as ``unpaired``. All of
    it is sorting and neighbour arithmetic over whole arrays - no loop over verdicts."""
    n = len(frame)
    a = frame.model_a.astype(np.int64)
    b = frame.model_b.astype(np.int64)
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    first = frame.first.astype(np.int64)
    shown = np.where(first < 0, -1, np.where(first == 0, a, b))
    side = (shown != lo).astype(np.int64)
    keys = [frame.question, lo, hi, frame.turn, frame.judge, frame.annotator, frame.template]
    rows = np.arange(n, dtype=np.int64)
    order = np.lexsort([rows, side] + keys[::-1])  # by group, then side, then verdict order
    new_group = np.zeros(n, dtype=bool)
    if n:
        new_group[0] = True
        for key in keys:
            ks = np.asarray(key)[order]
            new_group[1:] |= ks[1:] != ks[:-1]
    group = np.cumsum(new_group) - 1
    s_sorted = side[order]
    G = int(group[-1]) + 1 if n else 0
    cnt0 = np.bincount(group, weights=s_sorted == 0, minlength=G).astype(np.int64)
    cnt1 = np.bincount(group, minlength=G) - cnt0
    start0 = np.flatnonzero(new_group)  # side 0 comes first within a group
    start1 = start0 + cnt0
    pos = np.arange(n, dtype=np.int64)
    rank = pos - np.where(s_sorted == 0, start0[group], start1[group])
    m = np.minimum(cnt0, cnt1)
    paired = rank < m[group]
    lead = paired & (s_sorted == 0)
    x = order[lead]  # side-0 verdict of each pair, and its side-1 partner of the same rank
    y = order[start1[group[lead]] + rank[lead]]
    z = order[~paired]

    o = frame.outcome.astype(np.int64)
    # winner as a model index, or -2 (tie) / -3 (both bad)
    winner = np.where(o == 0, a, np.where(o == 1, b, np.where(o == TIE_CODE, -2, -3)))
    wx, wy = winner[x], winner[y]
    same = wx == wy
    notes["pairs_consistent"] += int(same.sum())
    notes["pairs_inconsistent"] += int((~same).sum())
    w_pair = np.where(same, wx, -2)
    strong_pair = (w_pair >= 0) & (frame.strength[x] == 2) & (frame.strength[y] == 2)
    last, other = np.maximum(x, y), np.minimum(x, y)  # a game happens at its second order
    notes["unpaired"] += int(z.size)
    w_one = winner[z]
    rows_all = np.concatenate([last, z])
    partner = np.concatenate([other, z])
    w_all = np.concatenate([w_pair, w_one])
    strong = np.concatenate([strong_pair, frame.strength[z] == 2])
    agree = np.concatenate([same.astype(np.int8), np.full(z.size, -1, dtype=np.int8)])
    if both_bad == "drop":
        keep = w_all != -3
        notes["both_bad_dropped"] += int((~keep).sum())
        rows_all, partner, w_all, strong, agree = rows_all[keep], partner[keep], w_all[keep], \
            strong[keep], agree[keep]
    score = np.where(w_all >= 0, (w_all == a[rows_all]).astype(np.float64), 0.5)
    ordr = np.argsort(rows_all, kind="stable")
    return (rows_all[ordr], partner[ordr], score[ordr].astype(np.float64),
            strong[ordr].astype(bool), agree[ordr])


@dataclass
class OrderMerge:
    """The games ``tie_if_inconsistent`` makes, one entry per game, with the rows behind
    each (what the leaderboard merges, for views that show it per battle).

    ``row``: the frame row that gives the game its identity (the later of its two orders);
    ``partner``: the other order's row (``row`` itself when only one order was judged);
    ``score``: the merged score of ``frame.model_a[row]`` (1 win, 0.5 tie, 0 loss);
    ``agree``: 1 the two orders agree, 0 they disagree (the game became a tie), -1 one order.
    """

    row: np.ndarray
    partner: np.ndarray
    score: np.ndarray
    agree: np.ndarray
    notes: dict[str, int] = field(default_factory=dict)


def merge_orders(frame: VerdictFrame, both_bad: Literal["tie", "drop"] = "tie") -> OrderMerge:
    """The two orders of each battle merged exactly as ``build_battles`` merges them under
    ``tie_if_inconsistent`` (same grouping, pairing and both-bad rule). Raises ValueError for
    an unknown ``both_bad``."""
    if both_bad not in ("tie", "drop"):
        raise ValueError(f"both_bad must be 'tie' or 'drop', not {both_bad!r}")
    notes = {"verdicts": len(frame), "both_bad_dropped": 0, "pairs_consistent": 0,
             "pairs_inconsistent": 0, "unpaired": 0}
    row, partner, score, _strong, agree = _merge_orders(frame, both_bad, notes)
    return OrderMerge(row=row, partner=partner, score=score, agree=agree, notes=notes)


__all__ = ["Battles", "build_battles", "OrderMerge", "merge_orders"]
