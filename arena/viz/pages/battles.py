"""Battles: filter the battle list, then read one battle side by side with every verdict.

Filters: category and judge (sidebar), model and opponent, outcome, disagreement. The chosen
battle and the model pair are query parameters (``?page=battles&battle=12``,
``?page=battles&model=a&opponent=b``) so a link opens the same view.
"""

from __future__ import annotations

from typing import Any, Optional

import pandas as pd
import streamlit as st

from arena.viz import cache
from arena.viz.context import Context, synced_multiselect, synced_selectbox
from arena.viz.data import BattleDetail
from arena.viz.filters import (ALL, DISAGREEMENTS, OUTCOME_LABELS, BattleFilter,
                               filter_battles, models_in)
from arena.viz.render import turns_to_text
from arena.viz.show import text_block, verbatim

LIST_LIMIT = 2000  # rows drawn in the table and offered in the picker


def render(ctx: Context) -> None:
    st.header("Battles")
    df = ctx.verdicts()
    table = cache.battle_table(ctx.url, ctx.mark, ctx.groups_key())
    if table.empty:
        st.info("No pairwise battles are stored yet.")
        return
    models = [ALL, *models_in(df[df["battle_id"].notna()])]
    c1, c2, c3, c4 = st.columns(4)
    model = synced_selectbox("Model", models, key="b_model", param="model", container=c1,
                             format_func=_all("any model"))
    opponent = synced_selectbox("Opponent", models, key="b_opponent", param="opponent",
                                container=c2, format_func=_all("any opponent"))
    outcomes = synced_multiselect("Outcome (of the selected judge's verdicts)",
                                  list(OUTCOME_LABELS), key="b_outcome", param="outcome",
                                  container=c3, format_func=OUTCOME_LABELS.get)
    disagree = synced_multiselect("Disagreement", list(DISAGREEMENTS), key="b_disagree",
                                  param="disagree", container=c4,
                                  format_func=DISAGREEMENTS.get)
    f = BattleFilter(category=ctx.category, model=model, opponent=opponent, judge=ctx.judge,
                     outcomes=tuple(outcomes), disagreements=tuple(disagree))
    shown = filter_battles(table, df, f)
    st.caption(f"{len(shown)} of {len(table)} battles match"
               + (f"; the first {LIST_LIMIT} are listed" if len(shown) > LIST_LIMIT else ""))
    head = shown.head(LIST_LIMIT)
    st.dataframe(head.drop(columns=["raw_category"]), hide_index=True,
                 width="stretch", height=300)

    ids = [int(b) for b in head["battle_id"]]
    wanted = _wanted_battle()
    if wanted is not None and wanted not in ids:
        ids = [wanted, *ids]  # a shared link shows its battle even outside the filters
    if not ids:
        return
    labels = dict(zip(head["battle_id"].astype(int),
                      head["question_id"] + " · " + head["model_a"] + " vs " + head["model_b"]))
    battle_id = synced_selectbox("Battle", ids, key="b_battle", param="battle",
                                 default=wanted if wanted is not None else ids[0],
                                 format_func=lambda b: f"#{b} · {labels.get(b, '')}")
    st.query_params["battle"] = str(battle_id)  # always linkable, default included
    detail = cache.battle(ctx.url, int(battle_id), ctx.mark)
    if detail is None:
        st.warning(f"No battle #{battle_id} in this store.")
        return
    draw_battle(detail, ctx.render)


def _all(label: str) -> Any:
    return lambda v: f"({label})" if v == ALL else v


def _wanted_battle() -> Optional[int]:
    raw = st.query_params.get("battle")
    try:
        return int(raw) if raw is not None else None
    except ValueError:
        st.warning(f"?battle={raw!r} is not a battle number")
        return None


def draw_battle(d: BattleDetail, mode: str) -> None:
    """The question, both answers side by side, and every verdict on this battle."""
    st.subheader(f"Battle #{d.battle_id}: {d.model_a} vs {d.model_b}")
    st.caption(f"question `{d.question_id}` · category: {d.category or '(none)'}")
    if d.document:
        with st.expander(f"Document ({len(d.document)} characters)"):
            st.text(d.document[:20000] + ("\n[... shown up to 20,000 characters]"
                                          if len(d.document) > 20000 else ""))
    q_turns = turns_to_text(d.question_turns)
    a_turns = turns_to_text(d.answer_a["turns"]) if d.answer_a else []
    b_turns = turns_to_text(d.answer_b["turns"]) if d.answer_b else []
    for t in range(max(len(q_turns), len(a_turns), len(b_turns), 1)):
        st.markdown(f"**Question, turn {t + 1}**" if len(q_turns) > 1 else "**Question**")
        text_block(q_turns[t] if t < len(q_turns) else None, mode, empty="(no question text)")
        left, right = st.columns(2)
        for col, name, turns, ans in ((left, d.model_a, a_turns, d.answer_a),
                                      (right, d.model_b, b_turns, d.answer_b)):
            col.markdown(f"**{_md_escape(name)}**")
            if ans is None:
                col.caption("(no stored answer)")
            else:
                text_block(turns[t] if t < len(turns) else None, mode, container=col)
    for ref in d.references:
        with st.expander(f"Reference answer ({ref['author']})"):
            for turn in turns_to_text(ref["turns"]):
                text_block(turn, mode)
    _draw_verdicts(d, mode)


def _md_escape(s: str) -> str:
    # model names go into st.markdown labels: escape markdown control characters
    return "".join("\\" + ch if ch in "\\`*_{}[]()#+-.!|<>~" else ch for ch in s)


def _winner(j: dict[str, Any]) -> str:
    if j["parse_status"] != "ok" or not j.get("outcome"):
        return "FAILED (no verdict)"
    return {"A": f"{j['model_a']} wins", "B": f"{j['model_b']} wins", "TIE": "tie",
            "BOTH_BAD": "both bad"}.get(j["outcome"], str(j["outcome"]))


def _shown_first(j: dict[str, Any]) -> str:
    return {"A": j["model_a"], "B": j.get("model_b") or ""}.get(j.get("first") or "", "?")


def verdict_rows(d: BattleDetail) -> pd.DataFrame:
    superseded = {j["supersedes_id"] for j in d.judgments if j.get("supersedes_id")}
    rows = []
    for j in d.judgments:
        who = j["annotator"] or j["judge_id"]
        rows.append({"id": j["id"], "kind": j["judge_kind"], "judge": who,
                     "shown first": _shown_first(j), "verdict": _winner(j),
                     "strong": j.get("strength") == 2,
                     "score_a": j.get("score_a"), "score_b": j.get("score_b"),
                     "template": j.get("template_version"), "round": j.get("round"),
                     "time on task (s)": j.get("time_on_task_s"),
                     "status": "corrected later" if j["id"] in superseded
                     else ("failed" if j["parse_status"] != "ok" else "counts")})
    return pd.DataFrame(rows)


def _draw_verdicts(d: BattleDetail, mode: str) -> None:
    st.markdown("**Verdicts**")
    if not d.judgments:
        st.caption("No verdicts on this battle yet.")
        return
    st.dataframe(verdict_rows(d), hide_index=True, width="stretch")
    _both_orders(d)
    for j in d.judgments:
        who = j["annotator"] or j["judge_id"]
        title = f"#{j['id']} {j['judge_kind']} {who}, {_shown_first(j)} shown first: {_winner(j)}"
        with st.expander(title):
            if j.get("rationale"):
                st.markdown("Rationale")
                text_block(j["rationale"], mode)
            if j.get("comment"):
                st.markdown("Annotator's comment")
                text_block(j["comment"], mode)
            if j.get("error"):
                st.markdown("Error")
                verbatim(j["error"])
            st.markdown("Raw judge output")
            verbatim(j.get("raw_output"))


def _both_orders(d: BattleDetail) -> None:
    """One line per judge that saw both orders: consistent or not."""
    by_judge: dict[tuple, dict[str, set[str]]] = {}
    for j in d.judgments:
        if j["parse_status"] != "ok" or not j.get("outcome") or j.get("first") not in ("A", "B"):
            continue
        key = (j["judge_kind"], j["judge_id"], j.get("annotator_id"), j.get("turn"))
        by_judge.setdefault(key, {"A": set(), "B": set()})[j["first"]].add(_winner(j))
    for (kind, jid, _ann, turn), orders in by_judge.items():
        if orders["A"] and orders["B"]:
            same = orders["A"] == orders["B"] and len(orders["A"]) == 1
            st.caption(f"{kind} {jid}{'' if turn is None else f' (turn {turn + 1})'}: "
                       f"{d.model_a} first → {', '.join(sorted(orders['A']))}; "
                       f"{d.model_b} first → {', '.join(sorted(orders['B']))}: "
                       + ("consistent" if same else "INCONSISTENT across orders"))
