"""One battle's verdicts arranged as games: Game 1 and Game 2 of each judge, side by side.

A judge that saw both display orders played two games: Game 1 with the battle's model_a shown
first, Game 2 with model_b shown first (evalscope's ``win_1`` / ``win_2``). Which verdicts
pair up, whether they agree and what they merge to come from the battle index (``filters``:
``arena.ratings.battles.merge_orders``, the leaderboard's merge); this module only groups
them for drawing, and turns outcomes into words in the battle's order. Pure, no Streamlit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Optional

import pandas as pd

from arena.viz.data import BattleDetail
from arena.viz.filters import FAILED, STATUS


@dataclass
class Verdict:
    """One judgment in the battle's order (``outcome`` code: 0 model_a wins, 1 model_b wins,
    2 tie, 3 both bad, 4 failed; ``first`` 0 model_a shown first, 1 model_b, -1 unknown)."""

    row: dict[str, Any]
    outcome: int
    first: int
    status: str
    counts: bool
    score_a: Optional[float] = None  # scores in the battle's order
    score_b: Optional[float] = None


@dataclass
class Game:
    """A game that counts: one verdict, or the two orders merged (``agree`` 1/0, -1 alone)."""

    game_1: Optional[Verdict]  # model_a shown first
    game_2: Optional[Verdict]  # model_b shown first
    agree: int
    merged: float  # model_a's merged score: 1 win, 0.5 tie, 0 loss (NaN: left out)
    unordered: list[Verdict] = field(default_factory=list)  # order not recorded

    @property
    def inconsistent(self) -> bool:
        return self.agree == 0


@dataclass
class JudgeGames:
    """Everything one judge (one annotator, one turn) said on this battle."""

    judge: str
    annotator: Optional[str]
    turn: int
    games: list[Game] = field(default_factory=list)
    left_out: list[Verdict] = field(default_factory=list)  # failed, corrected, excluded

    @property
    def inconsistent(self) -> bool:
        return any(g.inconsistent for g in self.games)


def _scores(row: dict[str, Any], flipped: bool) -> tuple[Optional[float], Optional[float]]:
    a, b = row.get("score_a"), row.get("score_b")
    return (b, a) if flipped else (a, b)


def arrange(detail: BattleDetail, votes: pd.DataFrame) -> list[JudgeGames]:
    """Group the listed verdicts of one battle (``votes``: that battle's rows of
    ``BattleIndex.votes``) by judge, annotator and turn, in the order first seen."""
    rows = {int(j["id"]): j for j in detail.judgments}
    out: dict[tuple, JudgeGames] = {}
    games: dict[tuple, dict[int, Game]] = {}
    for v in votes.sort_values("id").itertuples(index=False):
        row = rows.get(int(v.id))
        if row is None:  # appended after the index was built: shown on the next run
            continue
        flipped = row["model_a"] != detail.model_a
        sa, sb = _scores(row, flipped)
        verdict = Verdict(row=row, outcome=int(v.outcome), first=int(v.first),
                          status=STATUS[int(v.status)], counts=bool(v.counts),
                          score_a=sa, score_b=sb)
        key = (str(v.judge), row.get("annotator") or None, int(v.turn))
        jg = out.setdefault(key, JudgeGames(judge=key[0], annotator=key[1], turn=key[2]))
        if not v.counts or int(v.game) < 0:
            if v.counts:  # in the frame but in no game: the merge dropped it
                verdict.status = "both bad, dropped (ratings.both_bad: drop)"
            jg.left_out.append(verdict)
            continue
        g = games.setdefault(key, {}).get(int(v.game))
        if g is None:
            g = Game(None, None, int(v.agree), float(v.merged))
            games[key][int(v.game)] = g
            jg.games.append(g)
        if verdict.first == 0 and g.game_1 is None:
            g.game_1 = verdict
        elif verdict.first == 1 and g.game_2 is None:
            g.game_2 = verdict
        else:
            g.unordered.append(verdict)
    return list(out.values())


def outcome_text(code: int, model_a: str, model_b: str) -> str:
    """An outcome code in words, in the battle's order."""
    return {0: f"{model_a} wins", 1: f"{model_b} wins", 2: "tie", 3: "both bad",
            FAILED: "FAILED (no verdict)"}.get(code, "?")


def merged_text(score: float, model_a: str, model_b: str) -> str:
    if score is None or (isinstance(score, float) and math.isnan(score)):
        return "left out"
    return f"{model_a} wins" if score == 1.0 else f"{model_b} wins" if score == 0.0 else "tie"


def position_text(v: Verdict) -> str:
    """Where the winner sat: "shown first" / "shown second" ("" for ties, unknown orders)."""
    if v.outcome not in (0, 1) or v.first < 0:
        return ""
    return "the answer shown first" if v.outcome == v.first else "the answer shown second"


def policy_text(g: Game, policy: str, model_a: str, model_b: str) -> str:
    """What the game counts as on the leaderboard under ``policy``."""
    both = g.game_1 is not None and g.game_2 is not None
    if policy == "tie_if_inconsistent":
        if not both and g.agree < 0:
            return (f"one order judged: counts alone as {merged_text(g.merged, model_a, model_b)}"
                    f" ({policy})")
        note = ": the two orders disagree, so the game counts as a tie" if g.inconsistent \
            else ""
        return f"merged ({policy}): {merged_text(g.merged, model_a, model_b)}{note}"
    if policy == "both_games":
        parts = [f"Game {i} {outcome_text(v.outcome, model_a, model_b)}"
                 for i, v in ((1, g.game_1), (2, g.game_2)) if v is not None]
        return f"counts as {len(parts)} game{'s' if len(parts) > 1 else ''} ({policy}): " + \
            ", ".join(parts)
    return f"each verdict counts as one game ({policy})"
