"""Fractional pairwise verdicts: AlpacaEval's convention, in model terms.

``Judgment.preference`` is in [1, 2]: 1 = model_a's answer preferred, 2 = model_b's, 1.5 a
draw, values between them the judge's probability-weighted preference (AlpacaEval 2's weighted
annotator, local judges reading verdict-token probabilities). ``outcome`` holds the nearest
discrete outcome so that discrete consumers keep working: A below 1.5, B above, TIE at 1.5.
AlpacaEval 1 files write ``0`` for a draw: it is read as 1.5 (``LEGACY_DRAW``).

A verdict's score for model_a is ``2 - preference`` (1 = model_a won, 0 = model_b won).
"""

from __future__ import annotations

import math
from typing import Optional

import numpy as np

DRAW = 1.5
LEGACY_DRAW = 0.0  # AlpacaEval 1's code for a draw


def normalise(p: float) -> float:
    """The preference a stored verdict gets: the legacy draw code 0 becomes 1.5. Raises
    ValueError outside {0} U [1, 2] or for NaN."""
    v = float(p)
    if v == LEGACY_DRAW:
        return DRAW
    if math.isnan(v) or not 1.0 <= v <= 2.0:
        raise ValueError(f"preference {p!r} is outside [1, 2] (0 = legacy draw)")
    return v


def nearest_outcome(p: float) -> str:
    """The discrete outcome nearest to a preference in [1, 2]: A below 1.5, B above, TIE at
    (within 1e-12: a computed 1.5 is a draw)."""
    if math.isclose(p, DRAW, rel_tol=0.0, abs_tol=1e-12):
        return "TIE"
    return "A" if p < DRAW else "B"


def mirror(p: float) -> float:
    """The same preference seen from the other side (the two answers swapped)."""
    return 3.0 - p


def score_a(preference: np.ndarray) -> np.ndarray:
    """model_a's score of each preference (NaN stays NaN)."""
    return 2.0 - np.asarray(preference, dtype=np.float64)


def from_score_a(score: float) -> float:
    """The preference of a model_a score in [0, 1]."""
    return 2.0 - float(score)


def for_model(preference: Optional[float], model_is_a: bool) -> Optional[float]:
    """AlpacaEval's preference from one model's side against the other (2 = this model
    preferred): the stored value when the model is model_b, mirrored when it is model_a."""
    if preference is None:
        return None
    return 3.0 - preference if model_is_a else preference


__all__ = ["DRAW", "LEGACY_DRAW", "normalise", "nearest_outcome", "mirror", "score_a",
           "from_score_a", "for_model"]
