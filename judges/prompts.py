"""Build a judge prompt for one item: which template, and the values that fill it.

An item is a question (its user turns, optional long document, optional reference turns) and
one answer (single mode) or two answers in the order they are *shown* (pairwise). Answers are
passed already ordered: ``shown[0]`` is the one labelled "A" in the prompt. The caller maps
display labels back to ``model_a``/``model_b`` (see ``judges.parsing.to_outcome``).

``turn`` selects how much of a multi-turn dialogue is judged: ``None`` = the whole dialogue,
``k`` (1-based) = the dialogue up to and including turn ``k`` with the last reply in focus.
A dialogue of one turn uses the single-turn template; more uses the ``-multi`` variant.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Sequence

from judges import templates as tpl


@dataclass(frozen=True)
class PromptSettings:
    """What decides the template: from ``JudgeConfig``."""

    scale: str
    score_max: int = 10
    criteria: tuple[str, ...] = ()
    reference_categories: tuple[str, ...] = ("math", "reasoning", "coding")
    templates_dir: Optional[Path] = None
    weighted: bool = False  # weighted verdicts: the verdict token alone (judges.weighted)


@dataclass
class PromptItem:
    """One question and the answer(s) to judge, in display order."""

    question_turns: list[str]
    shown: list[list[str]]  # one (single) or two (pairwise) answers, each a list of turn texts
    category: str = ""
    document: Optional[str] = None
    reference: Optional[list[str]] = None
    turn: Optional[int] = None  # None = whole dialogue; k = up to turn k (1-based)
    labels: tuple[str, ...] = field(default=("A", "B"))


def uses_reference(settings: PromptSettings, category: str, reference: Optional[list[str]]) -> bool:
    """Reference-guided when the category asks for it and a non-empty reference exists."""
    cats = {c.lower() for c in settings.reference_categories}
    return bool(reference) and any(t.strip() for t in reference or []) and \
        (category or "").lower() in cats


def n_turns(item: PromptItem) -> int:
    total = len(item.question_turns)
    return total if item.turn is None else min(item.turn, total)


def choose(settings: PromptSettings, item: PromptItem) -> tpl.Template:
    """The template for this item (see ``judges.templates`` for the naming rules)."""
    kind = "pairwise" if len(item.shown) == 2 else "single"
    return tpl.load(kind, settings.scale,
                    reference=uses_reference(settings, item.category, item.reference),
                    multi=n_turns(item) > 1, category=(item.category or "").lower(),
                    score_max=settings.score_max, criteria=settings.criteria,
                    templates_dir=settings.templates_dir, weighted=settings.weighted)


def _question_text(item: PromptItem, turn_index: int) -> str:
    text = item.question_turns[turn_index]
    if turn_index == 0 and item.document:
        return f"<document>\n{item.document}\n</document>\n\n{text}"
    return text


def _turn(seq: Sequence[str], i: int) -> str:
    # An answer shorter than the question (a model that stopped early) shows as missing,
    # never as an empty reply the judge could mistake for a deliberate one.
    return seq[i] if i < len(seq) else "(no reply)"


def conversation(item: PromptItem, replies: Sequence[str], who: str) -> str:
    """Render the dialogue up to ``n_turns(item)`` with ``who`` as the assistant's label."""
    out = []
    for i in range(n_turns(item)):
        out.append(f"### User (turn {i + 1}):\n{_question_text(item, i)}")
        out.append(f"### {who} (turn {i + 1}):\n{_turn(replies, i)}")
    return "\n\n".join(out)


def template_key(settings: PromptSettings, item: PromptItem) -> tuple[str, bool, bool, str]:
    """What decides the template of an item (callers cache ``choose`` by it)."""
    return ("pairwise" if len(item.shown) == 2 else "single",
            uses_reference(settings, item.category, item.reference), n_turns(item) > 1,
            (item.category or "").lower())


def build(settings: PromptSettings, item: PromptItem, template: Optional[tpl.Template] = None
          ) -> tuple[tpl.Template, list[dict[str, str]]]:
    """The chosen template (or ``template``, already chosen) and the chat messages."""
    template = template or choose(settings, item)
    k = n_turns(item)
    last = k - 1
    # Single-turn fields show the focused (last) turn; multi-turn templates show the dialogue.
    values: dict[str, str] = {"question": _question_text(item, last)}
    ref = item.reference or []
    values["reference"] = _turn(ref, last) if ref else ""
    values["reference_conversation"] = conversation(item, ref, "Reference") if ref else ""
    if len(item.shown) == 2:
        a, b = item.shown
        values["answer_a"] = _turn(a, last)
        values["answer_b"] = _turn(b, last)
        values["conversation_a"] = conversation(item, a, "Assistant A")
        values["conversation_b"] = conversation(item, b, "Assistant B")
    else:
        (one,) = item.shown
        values["answer"] = _turn(one, last)
        values["conversation"] = conversation(item, one, "Assistant")
    return template, template.render(values)
