"""Weighted verdicts: a fractional preference from the verdict tokens' probabilities.

AlpacaEval 2's weighted annotator does not parse the judge's text: it reads the probability of
each verdict token and stores a fractional preference. Here (``judge.weighted``):

- pairwise, scale ``abc``: the judge replies with one letter; with ``pA``, ``pB``, ``pC`` the
  probabilities of "A" (the answer shown first), "B" and "C" (tie) and ``mass = pA + pB + pC``,
  the preference in display terms is ``1 + (pB + pC / 2) / mass`` (1 = the first shown answer,
  2 = the second, 1.5 a draw). It is stored in model terms (``Judgment.preference``: 1 =
  model_a's answer preferred), so with ``first == "B"`` it is ``3 - display``. ``outcome`` holds
  the nearest discrete outcome: A below 1.5, B above, TIE at exactly 1.5.
- single, scale ``rating``: the judge replies with a number 1..score_max; ``score_a`` is the
  expected score ``sum(s * p(s)) / mass`` over the digit strings.

The probabilities (``meta["verdict_probs"]``, over the whole vocabulary) and their ``mass``
(``meta["verdict_mass"]``) are stored with the row. A verdict whose tokens hold under half the
probability mass (``LOW_MASS``: the judge mostly wanted to say something else) is still
recorded, flagged ``meta["verdict_low_mass"] = True``, and counted in the judge report.

Which backends: a local transformers judge reads the next-token distribution in one batched
forward pass; an OpenAI-compatible judge is asked for ``logprobs`` / ``top_logprobs`` of one
output token. An endpoint that returns no logprobs gives the verdict from its one-token text
(probability 1 on that candidate, ``meta["verdict_source"] = "text"``); a reply in which no
candidate appears at all (mass 0) is a failed judgment with the raw output, never a tie.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

from arena.rules import preference as preference_rule
from arena.types import Mode, Outcome

LOW_MASS = 0.5
WEIGHTED_SCALES = ("abc", "rating")
ABC = ("A", "B", "C")


def enabled(judge_cfg: Any, spec: Any) -> bool:
    """``judge.weighted``, or by default: on for local (transformers) judges when the scale
    has single-token verdicts (abc, rating), off for API judges."""
    if judge_cfg.weighted is not None:
        return bool(judge_cfg.weighted)
    return getattr(spec, "backend", None) == "transformers" and \
        judge_cfg.scale in WEIGHTED_SCALES


def candidates(scale: str, score_max: int = 10) -> list[str]:
    """The verdict strings of a weighted scale (raises ValueError for other scales)."""
    if scale == "abc":
        return list(ABC)
    if scale == "rating":
        return [str(i) for i in range(1, score_max + 1)]
    raise ValueError(f"weighted verdicts need scale abc or rating, not {scale!r}")


@dataclass(frozen=True)
class WeightedVerdict:
    """``probs`` per candidate (unnormalised), ``mass`` their sum; ``preference`` (pairwise,
    model terms) or ``score`` (single) computed from them."""

    probs: dict[str, float]
    mass: float
    preference: Optional[float] = None
    outcome: Optional[Outcome] = None
    score: Optional[float] = None

    @property
    def low_mass(self) -> bool:
        return self.mass < LOW_MASS


def display_preference(probs: dict[str, float]) -> float:
    """1 + (pB + pC/2) / mass, in display terms (1 = the answer shown first)."""
    mass = sum(probs.get(c, 0.0) for c in ABC)
    return 1.0 + (probs.get("B", 0.0) + probs.get("C", 0.0) / 2.0) / mass


def nearest_outcome(preference: float) -> Outcome:
    """``arena.rules.preference.nearest_outcome`` as an Outcome."""
    return Outcome(preference_rule.nearest_outcome(preference))


def pairwise(probs: dict[str, float], first: str) -> WeightedVerdict:
    """The verdict in model terms; ``first`` is "A" when model_a's answer was shown first.
    Raises ValueError when the mass is 0 (no verdict token at all)."""
    if first not in ("A", "B"):
        raise ValueError(f"first must be 'A' or 'B', got {first!r}")
    mass = sum(probs.get(c, 0.0) for c in ABC)
    if not mass > 0:
        raise ValueError("no probability on any verdict token")
    d = display_preference(probs)
    pref = d if first == "A" else preference_rule.mirror(d)
    return WeightedVerdict(probs=dict(probs), mass=mass, preference=pref,
                           outcome=nearest_outcome(pref))


def single(probs: dict[str, float]) -> WeightedVerdict:
    """The expected score over the digit strings; ValueError when the mass is 0."""
    mass = sum(probs.values())
    if not mass > 0:
        raise ValueError("no probability on any rating token")
    score = sum(int(c) * p for c, p in probs.items()) / mass
    return WeightedVerdict(probs=dict(probs), mass=mass, score=score)


def verdict(mode: str, probs: dict[str, float], first: Optional[str]) -> WeightedVerdict:
    return single(probs) if mode == Mode.SINGLE.value else pairwise(probs, first or "A")


def from_text(text: Optional[str], cands: list[str]) -> Optional[dict[str, float]]:
    """Probabilities from a one-token reply of an endpoint without logprobs: 1 on the
    candidate it names, or None when it names none."""
    t = (text or "").strip().strip("[]").strip()
    return {c: (1.0 if c == t else 0.0) for c in cands} if t in cands else None


def columns(mode: str, v: WeightedVerdict) -> dict[str, Any]:
    """Judgment columns of a weighted verdict (meta keys go under ``meta``)."""
    meta = {"verdict_probs": dict(v.probs), "verdict_mass": v.mass, "weighted": True}
    if v.low_mass:
        meta["verdict_low_mass"] = True
    if mode == Mode.SINGLE.value:
        return {"score_a": v.score, "scores": None, "preference": None, "meta": meta}
    return {"outcome": v.outcome.value if v.outcome else None, "preference": v.preference,
            "strength": None, "score_a": None, "score_b": None, "meta": meta}
