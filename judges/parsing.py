"""Strict verdict parsers for every judge scale.

Each parser reads a judge's reply and returns a ``Verdict``. A reply without a verdict, with two
different verdicts, or with a value out of range gives ``Verdict(error=...)``: never a tie, a
-1 or a win for either side. Labels in a verdict are *display* labels ("A" = the answer shown
first); ``to_model_terms`` maps them onto the battle's model_a / model_b using ``first``.

Scales:
- ``abc``: ``[[A]]``, ``[[B]]``, ``[[C]]`` (C = tie), as MT-bench.
- ``five_level``: ``[[A>>B]]``, ``[[A>B]]``, ``[[A=B]]``, ``[[B>A]]``, ``[[B>>A]]`` (and the
  mirrored spellings ``[[B<<A]]``, ``[[B<A]]``, ``[[B=A]]``, ``[[A<B]]``, ``[[A<<B]]``), as
  arena-hard; strength 1 = slightly better, 2 = significantly better.
- ``score_pair``: ``[[a, b]]`` with each score in 1..score_max; the higher score wins, equal is
  a tie.
- ``rating``: ``[[r]]`` with r in 1..score_max (single mode).
- ``rubric``: a JSON object holding every criterion with a score in 1..5 (single mode), as
  LongBench-Write's quality judge.

Repeating the *same* verdict is fine; two different ones are a failure (the judge did not decide).
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any, Optional, Sequence

from arena.types import Outcome

SCALES = ("abc", "five_level", "score_pair", "rating", "rubric")

_ABC = re.compile(r"\[\[\s*([ABC])\s*\]\]")
_FIVE = re.compile(r"\[\[\s*([AB])\s*(>>|<<|>|<|=)\s*([AB])\s*\]\]")
_NUM = r"([0-9]+(?:\.[0-9]+)?)"
_PAIR = re.compile(r"\[\[\s*" + _NUM + r"\s*,\s*" + _NUM + r"\s*\]\]")
_RATING = re.compile(r"\[\[\s*" + _NUM + r"\s*\]\]")
_FENCE = re.compile(r"```(?:json)?\s*(\{.*?\})\s*```", re.DOTALL)


@dataclass(frozen=True)
class Verdict:
    """A parsed reply. Pairwise fields are in display terms ("A" = shown first).

    ``winner`` is "A", "B" or "TIE"; ``strength`` is 1 or 2 for five_level wins, else None;
    ``score_1``/``score_2`` are the first/second shown answer's scores (score_pair) and
    ``score_1`` is the rating in single mode; ``scores`` holds rubric criteria.
    """

    winner: Optional[str] = None
    strength: Optional[int] = None
    score_1: Optional[float] = None
    score_2: Optional[float] = None
    scores: Optional[dict[str, float]] = None
    rationale: str = ""
    error: Optional[str] = None

    @property
    def ok(self) -> bool:
        return self.error is None


def _fail(msg: str) -> Verdict:
    return Verdict(error=msg)


def _rationale(text: str, spans: Sequence[tuple[int, int]]) -> str:
    """The reply without its verdict markers: the judge's explanation."""
    out, pos = [], 0
    for start, end in sorted(spans):
        out.append(text[pos:start])
        pos = end
    out.append(text[pos:])
    return "".join(out).strip()


def parse_abc(text: str) -> Verdict:
    found = list(_ABC.finditer(text))
    labels = {m.group(1) for m in found}
    if not labels:
        return _fail("no verdict: expected [[A]], [[B]] or [[C]]")
    if len(labels) > 1:
        return _fail(f"conflicting verdicts: {', '.join('[[' + x + ']]' for x in sorted(labels))}")
    label = labels.pop()
    return Verdict(winner="TIE" if label == "C" else label,
                   rationale=_rationale(text, [m.span() for m in found]))


def _five_level(left: str, op: str, right: str) -> Optional[tuple[str, Optional[int]]]:
    if left == right:
        return None
    if op == "=":
        return "TIE", None
    # Normalise "X < Y" to "Y > X".
    if op in ("<", "<<"):
        left, right, op = right, left, op.replace("<", ">")
    return left, 2 if op == ">>" else 1


def parse_five_level(text: str) -> Verdict:
    found = list(_FIVE.finditer(text))
    if not found:
        return _fail("no verdict: expected one of [[A>>B]], [[A>B]], [[A=B]], [[B>A]], [[B>>A]]")
    results = set()
    for m in found:
        r = _five_level(m.group(1), m.group(2), m.group(3))
        if r is None:
            return _fail(f"malformed verdict {m.group(0)}")
        results.add(r)
    if len(results) > 1:
        return _fail("conflicting verdicts: " + ", ".join(sorted({m.group(0) for m in found})))
    winner, strength = results.pop()
    return Verdict(winner=winner, strength=strength,
                   rationale=_rationale(text, [m.span() for m in found]))


def _in_range(x: float, lo: float, hi: float) -> bool:
    return math.isfinite(x) and lo <= x <= hi


def parse_score_pair(text: str, score_max: int = 10) -> Verdict:
    found = list(_PAIR.finditer(text))
    pairs = {(float(m.group(1)), float(m.group(2))) for m in found}
    if not pairs:
        return _fail("no verdict: expected scores [[a, b]]")
    if len(pairs) > 1:
        return _fail("conflicting scores: " + ", ".join(sorted({m.group(0) for m in found})))
    s1, s2 = pairs.pop()
    for s in (s1, s2):
        if not _in_range(s, 1, score_max):
            return _fail(f"score {s:g} outside 1..{score_max}")
    winner = "A" if s1 > s2 else "B" if s2 > s1 else "TIE"
    return Verdict(winner=winner, score_1=s1, score_2=s2,
                   rationale=_rationale(text, [m.span() for m in found]))


def parse_rating(text: str, score_max: int = 10) -> Verdict:
    found = list(_RATING.finditer(text))
    values = {float(m.group(1)) for m in found}
    if not values:
        return _fail("no rating: expected [[rating]]")
    if len(values) > 1:
        return _fail("conflicting ratings: " + ", ".join(sorted({m.group(0) for m in found})))
    r = values.pop()
    if not _in_range(r, 1, score_max):
        return _fail(f"rating {r:g} outside 1..{score_max}")
    return Verdict(score_1=r, rationale=_rationale(text, [m.span() for m in found]))


def _json_objects(text: str) -> list[tuple[dict[str, Any], tuple[int, int]]]:
    """Every JSON object in the text (fenced blocks and bare ones), with its span."""
    dec = json.JSONDecoder()
    out: list[tuple[dict[str, Any], tuple[int, int]]] = []
    pos = 0
    while True:
        start = text.find("{", pos)
        if start < 0:
            break
        try:
            obj, end = dec.raw_decode(text, start)
        except json.JSONDecodeError:
            pos = start + 1
            continue
        if isinstance(obj, dict):
            out.append((obj, (start, end)))
        pos = end
    return out


def _norm(key: str) -> str:
    return " ".join(str(key).lower().replace("_", " ").split())


def parse_rubric(text: str, criteria: Sequence[str], lo: float = 1, hi: float = 5) -> Verdict:
    if not criteria:
        return _fail("rubric scale without criteria")
    wanted = {_norm(c): c for c in criteria}
    candidates: list[tuple[dict[str, float], tuple[int, int]]] = []
    problems: list[str] = []
    for obj, span in _json_objects(text):
        keyed = {_norm(k): v for k, v in obj.items()}
        missing = [wanted[k] for k in wanted if k not in keyed]
        if missing:
            if len(missing) < len(wanted):
                problems.append(f"missing criteria: {', '.join(missing)}")
            continue
        scores: dict[str, float] = {}
        for k, name in wanted.items():
            v = keyed[k]
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                problems.append(f"criterion {name!r}: {v!r} is not a number")
                break
            if not _in_range(float(v), lo, hi):
                problems.append(f"criterion {name!r}: {v!r} outside {lo:g}..{hi:g}")
                break
            scores[name] = float(v)
        else:
            candidates.append((scores, span))
    if not candidates:
        detail = "; ".join(problems) if problems else "no JSON object with the criteria"
        return _fail(f"no rubric scores: {detail}")
    distinct = {tuple(sorted(s.items())) for s, _ in candidates}
    if len(distinct) > 1:
        return _fail("conflicting rubric objects")
    scores, _ = candidates[-1]
    return Verdict(scores=scores, score_1=sum(scores.values()) / len(scores),
                   rationale=_rationale(text, [sp for _, sp in candidates]))


def parse(scale: str, text: Optional[str], *, score_max: int = 10,
          criteria: Sequence[str] = ()) -> Verdict:
    """Parse a reply on ``scale``; an empty or missing reply is a failure, not a verdict."""
    if text is None or not text.strip():
        return _fail("empty reply")
    if scale == "abc":
        return parse_abc(text)
    if scale == "five_level":
        return parse_five_level(text)
    if scale == "score_pair":
        return parse_score_pair(text, score_max)
    if scale == "rating":
        return parse_rating(text, score_max)
    if scale == "rubric":
        return parse_rubric(text, criteria)
    raise ValueError(f"unknown scale {scale!r}; expected one of {', '.join(SCALES)}")


@dataclass(frozen=True)
class ModelTerms:
    """A pairwise verdict relative to the battle's model_a / model_b."""

    outcome: Optional[Outcome]
    strength: Optional[int]
    score_a: Optional[float]
    score_b: Optional[float]


def to_model_terms(v: Verdict, first: str) -> ModelTerms:
    """Map display labels to models. ``first`` is "A" when model_a's answer was shown first."""
    if first not in ("A", "B"):
        raise ValueError(f"first must be 'A' or 'B', got {first!r}")
    swap = first == "B"
    outcome: Optional[Outcome] = None
    if v.winner == "TIE":
        outcome = Outcome.TIE
    elif v.winner in ("A", "B"):
        shown_first_won = v.winner == "A"
        outcome = Outcome.A if shown_first_won != swap else Outcome.B
    s_a, s_b = (v.score_2, v.score_1) if swap else (v.score_1, v.score_2)
    return ModelTerms(outcome=outcome, strength=v.strength, score_a=s_a, score_b=s_b)
