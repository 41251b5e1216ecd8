"""Verdicts -> battles under a position policy (DESIGN.md section 5).

A battle here is one game for rating: two model indices, the score of ``model_a`` and a weight.
The score is ``arena.rules.outcomes.verdict_score``: 1 win, 0.5 tie (both-bad is a tie unless
``both_bad="drop"``), 0 loss, and ``2 - preference`` for a fractional verdict - the fraction,
not its rounded outcome, under every policy. Policies:

- ``none`` / ``random_order``: every verdict is one battle (one judgment per battle was made).
- ``both_games`` (arena-hard): every verdict is its own game; both orders of a battle count.
- ``tie_if_inconsistent`` (MT-bench): the two orders of one battle (``arena.rules.orders``)
  make one game (``arena.rules.merge``: the mean of the two scores when they name the same
  winner or none, a tie when they disagree). A verdict whose other order is missing or whose
  order is unknown counts alone and is reported as ``unpaired``.

A strong verdict (``strength`` 2, "A>>B") weighs ``strong_weight`` (1 or 3, as arena-hard);
under ``tie_if_inconsistent`` a game is strong only when both orders are. Battles keep the
verdict order (verdict time, then id), which online Elo uses.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from arena.ratings.selection import VerdictFrame
from arena.rules.merge import merge_pair_scores
from arena.rules.orders import consistent, pair_orders, score_of_lower
from arena.rules.outcomes import BOTH_BAD, TIE, check_both_bad, verdict_score
from arena.types import PositionPolicy

TIE_CODE, BOTH_BAD_CODE = TIE, BOTH_BAD


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


def build_battles(frame: VerdictFrame, policy: PositionPolicy | str = PositionPolicy.NONE, *,
                  both_bad: Literal["tie", "drop"] = "tie", strong_weight: int = 1) -> Battles:
    """Turn pairwise verdicts into battles. Raises ValueError for an unknown policy/setting."""
    policy = PositionPolicy(policy)
    check_both_bad(both_bad)
    if strong_weight not in (1, 3):
        raise ValueError(f"strong_weight must be 1 or 3, not {strong_weight!r}")
    notes = _new_notes(frame)
    if policy == PositionPolicy.TIE_IF_INCONSISTENT:
        idx_a, _partner, score, strong, _agree = _merge_orders(frame, both_bad, notes)
    else:
        score = verdict_score(frame.outcome, frame.preference, both_bad)
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


def frame_order_pairs(frame: VerdictFrame):  # type: ignore[no-untyped-def]
    """``arena.rules.orders.pair_orders`` over a frame's verdicts (ranked by judgment id)."""
    return pair_orders(frame.question, frame.model_a, frame.model_b, frame.first, frame.turn,
                       frame.judge, frame.annotator, frame.template, frame.id)


def _merge_orders(frame: VerdictFrame, both_bad: str, notes: dict[str, int]
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """MT-bench pairing: (row giving each game's identity and time, the other order's row
    (itself for a verdict judged in one order only), score for that row's model_a, strong
    flag, agreement: 1 the two orders agree, 0 they disagree, -1 one order only), ordered by
    that row. A game happens at its later order. Pairing and consistency are
    ``arena.rules.orders``'."""
    pairs = frame_order_pairs(frame)
    x, y, z = pairs.x, pairs.y, pairs.alone
    s_all = verdict_score(frame.outcome, frame.preference, "tie")
    lo = pairs.lo
    sx = score_of_lower(s_all[x], frame.model_a[x], lo[x])
    sy = score_of_lower(s_all[y], frame.model_a[y], lo[y])
    agree = consistent(sx, sy)
    notes["pairs_consistent"] += int(agree.sum())
    notes["pairs_inconsistent"] += int((~agree).sum())
    bb = frame.outcome == BOTH_BAD
    strong_v = frame.strength == 2
    s_pair, strong_pair, keep_pair = merge_pair_scores(sx, sy, bb[x], bb[y], strong_v[x],
                                                       strong_v[y], both_bad)
    last, other = np.maximum(x, y), np.minimum(x, y)
    s_last = np.where(frame.model_a[last] == lo[last], s_pair, 1.0 - s_pair)
    s_alone = verdict_score(frame.outcome[z], frame.preference[z], both_bad)  # type: ignore
    keep_alone = ~np.isnan(s_alone)
    notes["unpaired"] += int(z.size)
    notes["both_bad_dropped"] += int((~keep_pair).sum() + (~keep_alone).sum())
    rows = np.concatenate([last[keep_pair], z[keep_alone]])
    partner = np.concatenate([other[keep_pair], z[keep_alone]])
    score = np.concatenate([s_last[keep_pair], s_alone[keep_alone]])
    strong = np.concatenate([strong_pair[keep_pair], strong_v[z][keep_alone]])
    agreed = np.concatenate([agree[keep_pair].astype(np.int8),
                             np.full(int(keep_alone.sum()), -1, dtype=np.int8)])
    order = np.argsort(rows, kind="stable")
    return (rows[order], partner[order], score[order].astype(np.float64),
            strong[order].astype(bool), agreed[order])


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


def _new_notes(frame: VerdictFrame) -> dict[str, int]:
    """The counters every battle build reports (``Battles.notes``)."""
    return {"verdicts": len(frame), "both_bad_dropped": 0, "pairs_consistent": 0,
            "pairs_inconsistent": 0, "unpaired": 0,
            "fractional": int((~np.isnan(frame.preference)).sum())}


def merge_orders(frame: VerdictFrame, both_bad: Literal["tie", "drop"] = "tie") -> OrderMerge:
    """The two orders of each battle merged exactly as ``build_battles`` merges them under
    ``tie_if_inconsistent`` (same grouping, pairing, consistency and both-bad rule). Raises
    ValueError for an unknown ``both_bad``."""
    if both_bad not in ("tie", "drop"):
        raise ValueError(f"both_bad must be 'tie' or 'drop', not {both_bad!r}")
    notes = _new_notes(frame)
    row, partner, score, _strong, agree = _merge_orders(frame, both_bad, notes)
    return OrderMerge(row=row, partner=partner, score=score, agree=agree, notes=notes)


__all__ = ["Battles", "build_battles", "frame_order_pairs", "OrderMerge", "merge_orders"]
