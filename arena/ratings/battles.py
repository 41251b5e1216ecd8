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
        idx_a, _partner, score, strong = _merge_orders(frame, both_bad, notes)
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
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """MT-bench pairing: returns (row index giving the game's identity/time, the paired row,
    score for that row's model_a, strong flag)."""
    groups: dict[tuple, tuple[list[int], list[int]]] = {}
    for k in range(len(frame)):
        a, b = int(frame.model_a[k]), int(frame.model_b[k])
        lo, hi = (a, b) if a < b else (b, a)
        key = (int(frame.question[k]), lo, hi, int(frame.turn[k]), int(frame.judge[k]),
               int(frame.annotator[k]), int(frame.template[k]))
        # which model was shown first, as a model index (-1 unknown)
        first = int(frame.first[k])
        shown = -1 if first < 0 else (a if first == 0 else b)
        bucket = groups.setdefault(key, ([], []))
        bucket[0 if shown == lo else 1].append(k)  # unknown order pairs with the "lo first" side
    rows, partners, scores, strongs = [], [], [], []
    for (_, lo, hi, *_rest), (lo_first, hi_first) in groups.items():
        m = min(len(lo_first), len(hi_first))
        for x, y in zip(lo_first[:m], hi_first[:m]):
            wx, wy = _winner(frame, x), _winner(frame, y)
            if wx == wy:
                notes["pairs_consistent"] += 1
                w = wx
            else:
                notes["pairs_inconsistent"] += 1
                w = "tie"
            if w == "both_bad" and both_bad == "drop":
                notes["both_bad_dropped"] += 1
                continue
            last = max(x, y)  # the game happens when its second order is judged
            scores.append(_score_for(frame, last, w))
            strongs.append(w not in ("tie", "both_bad") and frame.strength[x] == 2
                           and frame.strength[y] == 2)
            rows.append(last)
            partners.append(min(x, y))
        for z in lo_first[m:] + hi_first[m:]:
            notes["unpaired"] += 1
            w = _winner(frame, z)
            if w == "both_bad" and both_bad == "drop":
                notes["both_bad_dropped"] += 1
                continue
            scores.append(_score_for(frame, z, w))
            strongs.append(frame.strength[z] == 2)
            rows.append(z)
            partners.append(z)
    order = np.argsort(np.asarray(rows, dtype=np.int64), kind="stable")
    rows_a = np.asarray(rows, dtype=np.int64)[order]
    return (rows_a, np.asarray(partners, dtype=np.int64)[order],
            np.asarray(scores, dtype=np.float64)[order], np.asarray(strongs, dtype=bool)[order])


def _winner(frame: VerdictFrame, k: int) -> object:
    """The winning model index of verdict k, or "tie" / "both_bad"."""
    o = int(frame.outcome[k])
    if o == 0:
        return int(frame.model_a[k])
    if o == 1:
        return int(frame.model_b[k])
    return "tie" if o == TIE_CODE else "both_bad"


def _score_for(frame: VerdictFrame, k: int, winner: object) -> float:
    if isinstance(winner, int):
        return 1.0 if winner == int(frame.model_a[k]) else 0.0
    return 0.5


__all__ = ["Battles", "build_battles"]
