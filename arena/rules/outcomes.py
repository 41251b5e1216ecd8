"""Outcomes, ties and both-bad: the score a pairwise verdict gives model_a.

Codes (as ``arena.ratings.selection`` loads them): A = 0 (model_a won), B = 1, TIE = 2,
BOTH_BAD = 3. Rules:

- a win scores 1 for the winner and 0 for the other; a tie counts half a win for each side;
- both-bad is a tie unless the configured ``both_bad`` is ``"drop"``: then the verdict is left
  out (``NaN`` here; callers count it);
- a fractional verdict (``preference``, see ``arena.rules.preference``) scores ``2 -
  preference``: the fraction wins over the rounded outcome;
- the *winner side* of a score: model_a above 0.5, model_b below, none at 0.5 (TIE, BOTH_BAD,
  or a preference of exactly 1.5). TIE and BOTH_BAD both name no winner, so they agree with
  each other wherever agreement is judged (order consistency, rater agreement without ties).
"""

from __future__ import annotations

from typing import Literal, Optional

import numpy as np

from arena.rules.preference import score_a as preference_score

A, B, TIE, BOTH_BAD = 0, 1, 2, 3
OUTCOME_CODES = {"A": A, "B": B, "TIE": TIE, "BOTH_BAD": BOTH_BAD}
OUTCOME_NAMES = ["A", "B", "TIE", "BOTH_BAD"]
NO_WINNER = ("TIE", "BOTH_BAD")  # outcome names (and vote labels) that name no winner
BOTH_BAD_POLICIES = ("tie", "drop")
BothBad = Literal["tie", "drop"]


def check_both_bad(both_bad: str) -> None:
    if both_bad not in BOTH_BAD_POLICIES:
        raise ValueError(f"both_bad must be 'tie' or 'drop', not {both_bad!r}")


def verdict_score(outcome: np.ndarray, preference: Optional[np.ndarray] = None,
                  both_bad: BothBad = "tie") -> np.ndarray:
    """model_a's score per verdict: 1 / 0.5 / 0 from the outcome code, ``2 - preference``
    where a preference is stored, NaN for a both-bad verdict under ``both_bad="drop"``.
    Raises ValueError for another ``both_bad``."""
    check_both_bad(both_bad)
    o = np.asarray(outcome)
    score = np.select([o == A, o == B], [1.0, 0.0], default=0.5)
    if preference is not None:
        p = np.asarray(preference, dtype=np.float64)
        frac = ~np.isnan(p)
        score = np.where(frac, preference_score(np.where(frac, p, 1.5)), score)
    if both_bad == "drop":
        score = np.where(o == BOTH_BAD, np.nan, score)
    return score


def winner_side(score_of_first: np.ndarray) -> np.ndarray:
    """+1 where the scored model won, -1 where the other did, 0 for no winner."""
    s = np.asarray(score_of_first, dtype=np.float64)
    return np.sign(s - 0.5).astype(np.int8)


def is_draw(outcome_name: Optional[str]) -> bool:
    """Whether an outcome name (or vote label) names no winner."""
    return outcome_name in NO_WINNER


__all__ = ["A", "B", "TIE", "BOTH_BAD", "OUTCOME_CODES", "OUTCOME_NAMES", "NO_WINNER",
           "BOTH_BAD_POLICIES", "verdict_score", "winner_side", "is_draw", "check_both_bad"]
