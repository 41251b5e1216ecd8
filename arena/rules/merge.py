"""Merging the two orders of a battle into one game (MT-bench's ``tie_if_inconsistent``).

For a pair of verdicts (``arena.rules.orders``), with each verdict's score for the same model
(1 win, 0.5 no winner, 0 loss, or the fraction ``2 - preference`` of a weighted verdict):

- consistent (same winner, or both without one): the game's score is the mean of the two
  scores - the shared outcome for discrete verdicts, the mean fraction for weighted ones;
- inconsistent: a tie (0.5);
- both verdicts both-bad under ``both_bad="drop"``: no game (counted as dropped); a both-bad
  verdict paired with anything else follows the two rules above (both-bad is a verdict
  without a winner);
- the game is strong (weighs ``strong_weight``) only when both verdicts are strong and name
  the same winner.

A verdict alone (its other order missing or its order unknown) is a game by itself, scored by
``arena.rules.outcomes.verdict_score``.
"""

from __future__ import annotations

import numpy as np

from arena.rules.orders import consistent
from arena.rules.outcomes import check_both_bad, winner_side


def merge_pair_scores(score_x: np.ndarray, score_y: np.ndarray, both_bad_x: np.ndarray,
                      both_bad_y: np.ndarray, strong_x: np.ndarray, strong_y: np.ndarray,
                      both_bad: str = "tie") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(score, strong, keep) per pair; scores are for the same model in both arrays. Raises
    ValueError for an unknown ``both_bad``."""
    check_both_bad(both_bad)
    sx = np.asarray(score_x, dtype=np.float64)
    sy = np.asarray(score_y, dtype=np.float64)
    agree = consistent(sx, sy)
    score = np.where(agree, 0.5 * (sx + sy), 0.5)
    strong = agree & (winner_side(sx) != 0) & np.asarray(strong_x, bool) & \
        np.asarray(strong_y, bool)
    keep = np.ones(len(sx), dtype=bool)
    if both_bad == "drop":
        keep = ~(np.asarray(both_bad_x, bool) & np.asarray(both_bad_y, bool))
    return score, strong, keep


__all__ = ["merge_pair_scores"]
