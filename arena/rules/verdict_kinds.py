"""Which verdicts count (DESIGN.md section 5): one definition for every leaderboard, export,
viewer page and dashboard.

A verdict counts in a real leaderboard when all hold:

- its judge kind is one of ``REAL_KINDS`` (llm, human, metric, imported) and selected;
  dry-run verdicts count only on a board that asks for them alone (labelled as such), and gold
  checks (``human-gold``) never count: they measure annotators, not models;
- it was parsed (``parse_status == "ok"``) and, for a pairwise verdict, has an outcome: a
  failed judgment is a value to show, never a tie or a win;
- no later verdict supersedes it (a correction replaces what it names).
"""

from __future__ import annotations

from typing import Iterable

import numpy as np

REAL_KINDS = ("llm", "human", "metric", "imported")
DRY_RUN = "dry-run"
GOLD = "human-gold"
# Judged by a machine under a judgment key (arena.identity): a config's run scope admits them by
# key; human and imported verdicts by the answer versions they judged (arena.scope).
MACHINE_KINDS = ("llm", "metric", DRY_RUN)


def kind_counts(kind: str, selected: Iterable[str] = REAL_KINDS) -> bool:
    """Whether verdicts of judge ``kind`` enter a board that selected the kinds ``selected``:
    dry-run only when selected (a dry-run board), gold never."""
    chosen = set(selected)
    if kind == GOLD:
        return False
    return kind in chosen


def usable(parsed: np.ndarray, superseded: np.ndarray, has_outcome: np.ndarray) -> np.ndarray:
    """Element-wise: parsed, not superseded and with an outcome (pairwise) or score (single)."""
    return np.asarray(parsed, dtype=bool) & ~np.asarray(superseded, dtype=bool) & \
        np.asarray(has_outcome, dtype=bool)


__all__ = ["REAL_KINDS", "DRY_RUN", "GOLD", "MACHINE_KINDS", "kind_counts", "usable"]
