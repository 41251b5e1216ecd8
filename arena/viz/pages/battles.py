"""Battles: find a battle (filters, text search, the list, Previous / Next), then read it with
both games side by side.

A battle is a question and an unordered pair of models (``arena.viz.filters``). Every filter
is a query parameter, as is the open battle (``?page=battles&battle=12``), so a link reopens
the same view; a battle that no longer matches the filters is closed (and leaves the URL).
Clicking a row of the list opens its battle.
"""

from __future__ import annotations

from typing import Any, Optional

import streamlit as st

from arena.viz import cache, ratings_view
from arena.viz.battle_view import draw_battle
from arena.viz.context import Context, synced_multiselect, synced_selectbox, synced_text
from arena.viz.filters import (ALL, DISAGREEMENTS, OUTCOME_LABELS, OUTCOMES, BattleFilter,
                               BattleIndex, filter_battles, list_view, models_of,
                               vote_mask)
from arena.viz.games import arrange
from arena.viz.render import plain

LIST_LIMIT = 2000  # rows drawn in the table and offered in the picker
PICK = "b_pick"
LIST_COLUMNS = ["battle", "category", "question_id", "question", "model_a", "model_b", "outcomes",
                "verdicts", "counted", "failed", *DISAGREEMENTS]


def render(ctx: Context) -> None:
    st.header("Battles")
    index = ratings_view.index(ctx)
    table = index.table
    summary = cache.store_summary(ctx.url, ctx.mark)
    if summary.get("dry_run") and not ctx.dry_run:
        st.caption(f"{summary['dry_run']} dry-run verdicts are not listed here (choose a "
                   f"dry-run judge in the sidebar to read them, labelled DRY RUN).")
    if table.empty:
        st.info("No pairwise battles in this view yet.")
        return
    models = [ALL, *models_of(table)]
    c1, c2, c3, c4 = st.columns(4)
    model = synced_selectbox("Model", models, key="b_model", param="model", container=c1,
                             format_func=_all("any model"))
    opponent = synced_selectbox("Opponent", models, key="b_opponent", param="opponent",
                                container=c2, format_func=_all("any opponent"))
    outcomes = synced_multiselect("Outcome (of the selected judge's verdicts)", OUTCOMES,
                                  key="b_outcome", param="outcome", container=c3,
                                  format_func=OUTCOME_LABELS.get)
    disagree = synced_multiselect("Disagreement", list(DISAGREEMENTS), key="b_disagree",
                                  param="disagree", container=c4,
                                  format_func=DISAGREEMENTS.get)
    query = synced_text("Search questions and answers (every word must appear)",
                        key="b_query", param="q", placeholder="words from a question or "
                        "an answer")
    f = BattleFilter(category=ctx.category, model=model, opponent=opponent, judge=ctx.judge,
                     outcomes=tuple(outcomes), disagreements=tuple(disagree),
                     hits=_hits(ctx, index, query) if query else None)
    shown = filter_battles(index, f)
    ids = [int(b) for b in shown["battle"]]
    st.caption(f"{len(shown)} of {len(table)} battles match"
               + (f"; the first {LIST_LIMIT} are listed" if len(shown) > LIST_LIMIT else "")
               + "; click a row to open its battle.")
    head = list_view(shown.head(LIST_LIMIT), index.questions)
    event = st.dataframe(head[LIST_COLUMNS], hide_index=True, width="stretch", height=300,
                         key="b_list", on_select="rerun", selection_mode="single-row")
    _open_clicked_row(event, [int(b) for b in head["battle"]])
    current = _current(ctx, index, ids)
    _picker(head, ids, current)
    if current is None:
        return
    key = index.key_of(current)
    if key is None:
        return
    detail = cache.battle(ctx.url, ctx.mark, *key)
    if detail is None:
        st.warning(f"Battle #{current}: its question is no longer stored.")
        return
    votes = index.votes[index.votes["battle"] == current]
    judges = arrange(detail, votes[_judge_rows(ctx, votes)])
    draw_battle(detail, current, judges, mode=ctx.render,
                policy=ratings_view.settings(ctx).policy)


def _judge_rows(ctx: Context, votes: Any) -> Any:
    return vote_mask(votes, ctx.judge).to_numpy()


def _all(label: str) -> Any:
    return lambda v: f"({label})" if v == ALL else v


def _hits(ctx: Context, index: BattleIndex, query: str) -> frozenset[int]:
    """Battles whose question, or one of whose two answers, holds every word of ``query``."""
    q_hit, a_hit = cache.search(ctx.url, cache.answers_mark(ctx.mark), query)
    t = index.table
    found = [int(bid) for bid, q, a, b in zip(t["battle"], t["question_id"], t["model_a"],
                                              t["model_b"])
             if q in q_hit or (q, a) in a_hit or (q, b) in a_hit]
    return frozenset(found)


def _open_clicked_row(event: Any, ids: list[int]) -> None:
    """A newly clicked row of the list opens its battle (a selection already acted on is
    left alone, so Previous / Next and the picker keep working after a click)."""
    rows = list(event.selection.rows) if event is not None else []
    seen = st.session_state.get("b_list_seen")
    st.session_state["b_list_seen"] = rows
    if rows and rows != seen and 0 <= rows[0] < len(ids):
        st.session_state[PICK] = ids[rows[0]]


def _go(battle: int) -> None:
    st.session_state[PICK] = battle


def _current(ctx: Context, index: BattleIndex, ids: list[int]) -> Optional[int]:
    """The open battle: the picker's, else the link's (``?battle=``); closed, with a note,
    when it does not match the filters."""
    if PICK not in st.session_state:
        raw = st.query_params.get("battle")
        wanted: Optional[int] = None
        if raw is not None:
            try:
                wanted = int(raw)
            except ValueError:
                st.warning(f"?battle={plain(raw)} is not a battle number")
        if wanted is not None:
            wanted = index.alias.get(wanted, wanted)
        st.session_state[PICK] = wanted
    current = st.session_state.get(PICK)
    if current is not None and current not in set(ids):
        st.caption(f"Battle #{current} closed: it does not match the filters.")
        st.session_state[PICK] = current = None
    if current is None:
        if "battle" in st.query_params:
            del st.query_params["battle"]
    else:
        st.query_params["battle"] = str(current)
    return current


def _picker(head: Any, ids: list[int], current: Optional[int]) -> None:
    labels = {int(b): f"#{b} · {q} · {a} vs {o}" for b, q, a, o in
              zip(head["battle"], head["question"], head["model_a"], head["model_b"])}
    options: list[Optional[int]] = [None, *labels]
    if current is not None and current not in labels:
        options.insert(1, current)  # matches the filters, beyond the listed rows
    pos = ids.index(current) if current in ids else -1
    prev_id = ids[pos - 1] if pos > 0 else None
    next_id = ids[pos + 1] if 0 <= pos < len(ids) - 1 else (ids[0] if pos < 0 and ids
                                                             else None)
    c1, c2, c3 = st.columns([1, 8, 1], vertical_alignment="bottom")
    c1.button("◀ Previous", key="b_prev", disabled=prev_id is None, on_click=_go,
              args=(prev_id,), width="stretch")
    c2.selectbox("Battle", options, key=PICK,
                 format_func=lambda b: "(choose a battle)" if b is None
                 else labels.get(b, f"#{b}"))
    c3.button("Next ▶", key="b_next", disabled=next_id is None, on_click=_go,
              args=(next_id,), width="stretch")
