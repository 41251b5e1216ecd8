"""Domain vocabulary shared by every stage: outcomes, judge kinds, modes and policies.

Values are plain strings (``str`` enums) so they store as readable text in the database and
in exported files.
"""

from __future__ import annotations

from enum import Enum


class Outcome(str, Enum):
    """A pairwise verdict, always relative to the battle's ``model_a`` / ``model_b``.

    Display position is recorded separately (``Judgment.first``): an outcome never means
    "the left one".
    """

    A = "A"
    B = "B"
    TIE = "TIE"
    BOTH_BAD = "BOTH_BAD"


class JudgeKind(str, Enum):
    LLM = "llm"
    HUMAN = "human"
    METRIC = "metric"
    DRY_RUN = "dry-run"
    IMPORTED = "imported"


class ParseStatus(str, Enum):
    """Whether a judge's output yielded a verdict. Failed rows keep the raw output."""

    OK = "ok"
    FAILED = "failed"


class Mode(str, Enum):
    PAIRWISE_ALL = "pairwise-all"
    PAIRWISE_BASELINE = "pairwise-baseline"
    SINGLE = "single"


class PositionPolicy(str, Enum):
    """How display order is handled (DESIGN.md section 5).

    - ``none``: model_a is always shown first.
    - ``random_order``: one judgment per battle, order drawn from a seed and the question id.
    - ``tie_if_inconsistent``: both orders judged; disagreeing orders count as one tie (MT-bench).
    - ``both_games``: both orders judged and each kept as its own game (arena-hard).
    """

    NONE = "none"
    RANDOM_ORDER = "random_order"
    TIE_IF_INCONSISTENT = "tie_if_inconsistent"
    BOTH_GAMES = "both_games"


class Side(str, Enum):
    """Which of the battle's two answers was displayed first (left / first in the prompt)."""

    A = "A"
    B = "B"


class Backend(str, Enum):
    FILE = "file"
    OPENAI = "openai"
    TRANSFORMERS = "transformers"
