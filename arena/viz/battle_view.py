"""Drawing one battle: the question, both answers side by side, then each judge's Game 1 and
Game 2 side by side (each with its verdict and rationale), the merged outcome under the
position policy and an INCONSISTENT badge when the two orders disagree.

Names (models, judges, annotators, categories) are plain text (``render.plain``); answers,
questions and rationales go through the sanitiser (``show.text_block``); raw judge output is
verbatim. The arrangement comes from ``arena.viz.games``.
"""

from __future__ import annotations

from typing import Any, Optional

import pandas as pd
import streamlit as st

from arena.viz.data import BattleDetail
from arena.viz.games import (Game, JudgeGames, Verdict, outcome_text, policy_text,
                             position_text)
from arena.viz.render import plain, turns_to_text
from arena.viz.show import text_block, verbatim

DOC_LIMIT = 20000
BADGE = ":red-badge[INCONSISTENT]"


def _answer(d: BattleDetail, model: str, judgments: list[dict[str, Any]]) -> Optional[dict]:
    """The answer version the listed judgments name (the latest one named), else the latest
    stored version of that model's answer."""
    versions = d.answers.get(model) or []
    by_id = {a["id"]: a for a in versions}
    named = None
    for j in judgments:
        for side in ("a", "b"):
            if j.get(f"model_{side}") == model and j.get(f"answer_{side}_id") in by_id:
                named = by_id[j[f"answer_{side}_id"]]
    return named or (versions[-1] if versions else None)


def draw_battle(d: BattleDetail, battle_id: int, judges: list[JudgeGames], *, mode: str,
                policy: str) -> None:
    """The whole battle page below the picker."""
    a, b = d.model_a, d.model_b
    bad = any(jg.inconsistent for jg in judges)
    st.subheader(f"Battle #{battle_id}: {plain(a)} vs {plain(b)}")
    st.markdown((BADGE + " " if bad else "") +
                f"question {plain(d.question_id)} · category {plain(d.category or '(none)')}"
                + (f" · stored as battles {', '.join(f'#{i}' for i in d.battle_ids)}"
                   if len(d.battle_ids) > 1 else ""))
    if d.document:
        with st.expander(f"Document ({len(d.document)} characters)"):
            st.text(d.document[:DOC_LIMIT] + (f"\n[... shown up to {DOC_LIMIT:,} characters]"
                                               if len(d.document) > DOC_LIMIT else ""))
    listed = [v.row for jg in judges for g in jg.games
              for v in (g.game_1, g.game_2, *g.unordered) if v is not None] + \
        [v.row for jg in judges for v in jg.left_out]
    ans_a, ans_b = _answer(d, a, listed), _answer(d, b, listed)
    q_turns = turns_to_text(d.question_turns)
    a_turns = turns_to_text(ans_a["turns"]) if ans_a else []
    b_turns = turns_to_text(ans_b["turns"]) if ans_b else []
    for t in range(max(len(q_turns), len(a_turns), len(b_turns), 1)):
        st.markdown(f"**Question, turn {t + 1}**" if len(q_turns) > 1 else "**Question**")
        text_block(q_turns[t] if t < len(q_turns) else None, mode, empty="(no question text)")
        left, right = st.columns(2)
        for col, side, name, turns, ans in ((left, "A", a, a_turns, ans_a),
                                            (right, "B", b, b_turns, ans_b)):
            col.markdown(f"**{side} · {plain(name)}**")
            if ans is None:
                col.caption("(no stored answer)")
            else:
                text_block(turns[t] if t < len(turns) else None, mode, container=col)
    for ref in d.references:
        with st.expander(f"Reference answer ({plain(ref['author'])})"):
            for turn in turns_to_text(ref["turns"]):
                text_block(turn, mode)
    st.markdown("#### Games")
    if not judges:
        st.caption("No verdicts on this battle in this view.")
    for jg in judges:
        _judge_games(jg, a, b, mode, policy)
    _all_verdicts(judges, a, b)


def _judge_games(jg: JudgeGames, a: str, b: str, mode: str, policy: str) -> None:
    who = jg.judge + (f" · {jg.annotator}" if jg.annotator else "") + \
        (f" · turn {jg.turn}" if jg.turn >= 0 else "")
    with st.container(border=True):
        st.markdown(f"**{plain(who)}**" + (" " + BADGE if jg.inconsistent else ""))
        for g in jg.games:
            _game_pair(g, a, b, mode, one_side=jg.judge.startswith("human:"))
            line = policy_text(g, policy, a, b)
            if g.inconsistent:
                st.markdown(f"{BADGE} {plain(line)}")
            else:
                st.caption(plain(line))
        for v in jg.left_out:
            st.caption(plain(f"#{v.row['id']}: {outcome_text(v.outcome, a, b)}; {v.status} "
                             f"(does not count)"))


def _game_pair(g: Game, a: str, b: str, mode: str, *, one_side: bool = False) -> None:
    """Game 1 (model_a shown first) and Game 2 side by side; ``one_side``: an annotator saw
    one order, so only the game played is drawn."""
    left, right = st.columns(2)
    if not (one_side and g.game_1 is None):
        _game(left, 1, g.game_1, (a, b), mode)
    if not (one_side and g.game_2 is None):
        _game(right if g.game_1 is not None or not one_side else left, 2, g.game_2, (b, a),
              mode)
    for v in g.unordered:
        _game(st, 0, v, (a, b), mode)


def _game(col: Any, number: int, v: Optional[Verdict], shown: tuple[str, str],
          mode: str) -> None:
    head = f"Game {number}" if number else "Game (order not recorded)"
    col.markdown(f"**{head}** · shown first: {plain(shown[0])} · second: {plain(shown[1])}"
                 if number else f"**{head}**")
    if v is None:
        col.caption("not judged in this order")
        return
    a, b = (shown if number != 2 else (shown[1], shown[0]))
    where = position_text(v)
    strong = " (strongly)" if v.row.get("strength") == 2 and v.outcome in (0, 1) else ""
    col.markdown(f"Verdict: **{plain(outcome_text(v.outcome, a, b))}**{strong}"
                 + (f" ({where})" if where else ""))
    if v.score_a is not None or v.score_b is not None:
        col.caption(f"scores: {plain(a)} {_num(v.score_a)}, {plain(b)} {_num(v.score_b)}")
    rationale = v.row.get("rationale")
    if rationale:
        text_block(rationale, mode, container=col)
    elif v.row.get("raw_output"):
        verbatim(v.row["raw_output"], container=col)
    if v.row.get("comment"):
        col.caption("Annotator's comment")
        text_block(v.row["comment"], mode, container=col)


def _num(x: Optional[float]) -> str:
    return "—" if x is None else f"{x:g}"


def verdict_rows(judges: list[JudgeGames], a: str, b: str) -> pd.DataFrame:
    """Every listed verdict of the battle, one row each (plain values)."""
    rows = []
    for jg in judges:
        for g in jg.games:
            for v in (g.game_1, g.game_2, *g.unordered):
                if v is not None:
                    rows.append(_row(jg, v, a, b, "INCONSISTENT" if g.inconsistent else
                                     "consistent" if g.agree == 1 else "one order"))
        for v in jg.left_out:
            rows.append(_row(jg, v, a, b, ""))
    return pd.DataFrame(rows)


def _row(jg: JudgeGames, v: Verdict, a: str, b: str, orders: str) -> dict[str, Any]:
    j = v.row
    return {"id": j["id"], "kind": j["judge_kind"], "judge": jg.judge,
            "annotator": jg.annotator or "", "shown first": {0: a, 1: b}.get(v.first, "?"),
            "verdict": outcome_text(v.outcome, a, b), "strong": j.get("strength") == 2,
            "orders": orders, "status": v.status, "template": j.get("template_version"),
            "round": j.get("round"), "time on task (s)": j.get("time_on_task_s")}


def _all_verdicts(judges: list[JudgeGames], a: str, b: str) -> None:
    table = verdict_rows(judges, a, b)
    if table.empty:
        return
    st.markdown("#### All verdicts on this battle")
    st.dataframe(table.sort_values("id"), hide_index=True, width="stretch", key="b_verdicts")
    for jg in judges:
        for v in sorted([x for g in jg.games for x in (g.game_1, g.game_2, *g.unordered)
                         if x is not None] + jg.left_out, key=lambda x: x.row["id"]):
            j = v.row
            with st.expander(plain(f"#{j['id']} {jg.judge}: {outcome_text(v.outcome, a, b)}"
                                   f" ({v.status})")):
                if j.get("error"):
                    st.markdown("Error")
                    verbatim(j["error"])
                st.markdown("Raw judge output")
                verbatim(j.get("raw_output"))
