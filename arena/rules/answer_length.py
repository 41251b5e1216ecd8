"""The length of the answer a verdict judged (length control, style control, the viewer).

- The length of a turn is Python's ``len`` of its text (code points); a turn that is not text
  (JSON null, or another JSON value) counts 0.
- A verdict on turn ``t`` (1-based, as judgments store it) reads that turn's length; a verdict
  on the whole dialogue (``turn`` None, stored as -1 in frames), or on a turn the answer does not
  have, reads the sum over all turns.
- A verdict that names no answer, or whose answer has no turns (null, not a list, an empty
  list), has no length (NaN): it is never guessed from another answer of the same model.

``arena.ratings.answer_lengths`` measures stored answers in the database by this definition
(and falls back to ``turn_lengths`` where the database cannot decode exactly like Python).
"""

from __future__ import annotations

import math
from typing import Any, Optional


def turn_lengths(turns: Any) -> Optional[list[int]]:
    """Characters per turn, or None when there are no turns (unknown length)."""
    if not isinstance(turns, list) or not turns:
        return None
    return [len(t) if isinstance(t, str) else 0 for t in turns]


def judged_length(lengths: Optional[list[int]], turn: Optional[int]) -> float:
    """Characters judged by a verdict on ``turn`` (1-based; None or <= 0 = whole dialogue)."""
    if lengths is None:
        return math.nan
    if turn is not None and 1 <= turn <= len(lengths):
        return float(lengths[turn - 1])
    return float(sum(lengths))


__all__ = ["turn_lengths", "judged_length"]
