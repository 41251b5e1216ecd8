"""The two display orders of one battle, and when they agree (order consistency).

Two verdicts are *the two orders of one battle* when they share the group key

    (question, the two models as an unordered pair, turn, judge, annotator, template version)

and one showed the lower-coded model first while the other showed the higher one first. Within
a group, the k-th verdict (by ``order``, normally the judgment id: storage order) of one side
pairs with the k-th of the other; the verdicts left over, and every verdict whose display order
is unknown, are *alone* (counted on their own, never in consistency figures).

A pair is *consistent* when both verdicts name the same winner or both name none (TIE and
BOTH_BAD name none, so they agree with each other): ``arena.rules.outcomes.winner_side`` of
the two scores for the same model.

Everything is sorting and neighbour arithmetic over whole arrays; nothing raises for arrays of
equal length (a length mismatch is numpy's error).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from arena.rules.outcomes import winner_side


@dataclass
class OrderPairs:
    """Row indices: ``x[k]`` (lower model shown first) pairs with ``y[k]``; ``alone`` rows have
    no partner. ``lo``/``hi`` are each row's two model codes, lower first."""

    x: np.ndarray
    y: np.ndarray
    alone: np.ndarray
    lo: np.ndarray
    hi: np.ndarray


def pair_orders(question: np.ndarray, model_a: np.ndarray, model_b: np.ndarray,
                first: np.ndarray, turn: np.ndarray, judge: np.ndarray, annotator: np.ndarray,
                template: np.ndarray, order: np.ndarray) -> OrderPairs:
    """Pair the verdicts by the rule above. All arguments are integer-coded arrays (one entry
    per verdict); ``first`` is 0 when model_a was shown first, 1 when model_b was, -1 when
    unknown; ``order`` ranks verdicts within a group (ids)."""
    a = np.asarray(model_a, dtype=np.int64)
    b = np.asarray(model_b, dtype=np.int64)
    n = len(a)
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    f = np.asarray(first, dtype=np.int64)
    shown = np.where(f == 0, a, b)
    side = np.where(f < 0, -1, (shown != lo).astype(np.int64))
    known = np.flatnonzero(side >= 0)
    keys = [np.asarray(k, dtype=np.int64)[known] for k in
            (question, lo, hi, turn, judge, annotator, template)]
    s = side[known]
    rank_key = np.asarray(order)[known]
    m = len(known)
    srt = np.lexsort([rank_key, s] + keys[::-1])  # by group, then side, then order
    new_group = np.zeros(m, dtype=bool)
    if m:
        new_group[0] = True
        for key in keys:
            ks = key[srt]
            new_group[1:] |= ks[1:] != ks[:-1]
    group = np.cumsum(new_group) - 1
    s_sorted = s[srt]
    G = int(group[-1]) + 1 if m else 0
    cnt0 = np.bincount(group, weights=s_sorted == 0, minlength=G).astype(np.int64)
    cnt1 = np.bincount(group, minlength=G) - cnt0
    start0 = np.flatnonzero(new_group)  # side 0 comes first within a group
    start1 = start0 + cnt0
    pos = np.arange(m, dtype=np.int64)
    rank = pos - np.where(s_sorted == 0, start0[group], start1[group])
    paired = rank < np.minimum(cnt0, cnt1)[group]
    lead = paired & (s_sorted == 0)
    x = known[srt[lead]]
    y = known[srt[start1[group[lead]] + rank[lead]]]
    alone = np.sort(np.concatenate([known[srt[~paired]], np.flatnonzero(side < 0)]))
    return OrderPairs(x=x, y=y, alone=alone, lo=lo, hi=hi)


def score_of_lower(score_a: np.ndarray, model_a: np.ndarray, lo: np.ndarray) -> np.ndarray:
    """Each verdict's score for the lower-coded model of its pair (from model_a's score)."""
    s = np.asarray(score_a, dtype=np.float64)
    return np.where(np.asarray(model_a) == np.asarray(lo), s, 1.0 - s)


def consistent(score_lo_x: np.ndarray, score_lo_y: np.ndarray) -> np.ndarray:
    """Per pair: both orders name the same winner, or both name none."""
    return winner_side(score_lo_x) == winner_side(score_lo_y)


def codes_of(values: Sequence[object]) -> np.ndarray:
    """Integer codes for arbitrary hashable values (None is a value of its own)."""
    index: dict[object, int] = {}
    return np.fromiter((index.setdefault(v, len(index)) for v in values), dtype=np.int64,
                       count=len(values))


__all__ = ["OrderPairs", "pair_orders", "score_of_lower", "consistent", "codes_of"]
