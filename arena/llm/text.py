"""Text helpers shared by the backends: thinking text split from the answer, stop strings.

Reasoning models write their thinking between ``<think>`` and ``</think>``; some chat templates
open the ``<think>`` tag in the prompt so the output holds only the closing tag. The thinking is
kept apart from the answer (stored as ``Answer.reasoning``), never shown to a judge as the
answer.
"""

from __future__ import annotations

import re
from typing import Optional

_OPEN = "<think>"
_CLOSE = "</think>"


def split_thinking(text: str) -> tuple[str, Optional[str]]:
    """Return ``(answer, reasoning)``; reasoning is None when the text has no think block.

    - ``"<think>a</think>b"`` -> ``("b", "a")``
    - ``"a</think>b"`` (tag opened by the template) -> ``("b", "a")``
    - ``"<think>a"`` (cut off while thinking) -> ``("", "a")``: an empty answer that the
      caller sees with its finish reason; the reasoning is kept.
    """
    stripped = text.lstrip()
    if _CLOSE in text:
        before, _, after = text.partition(_CLOSE)
        before = before.strip()
        if before.startswith(_OPEN):
            before = before[len(_OPEN):]
        elif _OPEN in before:
            # Text before the think block is part of the answer.
            head, _, think = before.partition(_OPEN)
            return (head.strip() + "\n" + after.strip()).strip(), think.strip()
        return after.strip(), before.strip()
    if stripped.startswith(_OPEN):
        return "", stripped[len(_OPEN):].strip()
    return text, None


def cut_at_stop(text: str, stop: list[str]) -> tuple[str, bool]:
    """Cut ``text`` at the first stop string; returns (text, whether a stop string was found)."""
    best = None
    for s in stop:
        if not s:
            continue
        i = text.find(s)
        if i >= 0 and (best is None or i < best):
            best = i
    if best is None:
        return text, False
    return text[:best], True


_WS = re.compile(r"\s+")


def preview(text: str, n: int = 80) -> str:
    """One-line preview for logs and error lists."""
    t = _WS.sub(" ", text or "").strip()
    return t if len(t) <= n else t[: n - 1] + "…"
