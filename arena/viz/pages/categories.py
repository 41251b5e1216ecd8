"""Categories: the Chatbot Arena board, every model's rank in every category (raw and
style-controlled), with a minimum-battles filter.

The table is ``arena.viz.rank_table.category_rank_table`` over one
``compute_leaderboard`` board per category group (``ratings_view.board``), for the sidebar's
judge; the sidebar's category does not narrow it (every category is a column).
"""

from __future__ import annotations

import streamlit as st

from arena.viz import ratings_view
from arena.viz.context import Context
from arena.viz.filters import ALL
from arena.viz.rank_table import OVERALL, RANK_RULE, category_rank_table, rank_table_html
from arena.viz.render import plain

MIN_BATTLES_PARAM = "min_battles"


def _min_battles() -> int:
    if "c_min" not in st.session_state:
        raw = st.query_params.get(MIN_BATTLES_PARAM, "0")
        st.session_state["c_min"] = int(raw) if raw.isdigit() else 0
    value = int(st.number_input("Minimum battles (a model with fewer in a category is not "
                                "ranked there)", min_value=0, step=10, key="c_min"))
    if value:
        st.query_params[MIN_BATTLES_PARAM] = str(value)
    elif MIN_BATTLES_PARAM in st.query_params:
        del st.query_params[MIN_BATTLES_PARAM]
    return value


def categories_of(ctx: Context) -> list[str]:
    """The category groups present in the view's verdicts, sorted."""
    f = ratings_view.frame(ctx, category=ALL)
    return sorted({ctx.categories.group(c) for c in f.used_categories()})


def render(ctx: Context) -> None:
    st.header("Categories")
    min_battles = _min_battles()
    s = ratings_view.settings(ctx, style=True)
    cats = categories_of(ctx)
    groups = ratings_view.group_names(ctx)
    for group in groups:
        if group:
            st.subheader(f"Judge {plain(group)}")
        boards = {OVERALL: ratings_view.board(ctx, s, group=group, category=ALL)}
        for c in cats:
            boards[c or "(no category)"] = ratings_view.board(ctx, s, group=group, category=c)
        top = boards[OVERALL]
        if top.empty_reason:
            st.info(f"No board: {top.empty_reason}.")
            continue
        table = category_rank_table(boards, min_battles=min_battles)
        ci = f"{s.ci_level:.0%} CI"
        table = table.rename(columns={"95% CI": ci})
        st.html(rank_table_html(table, list(boards), ci_label=ci))
        st.caption(RANK_RULE + f" Ratings: Bradley-Terry, Elo scale, to one decimal; "
                   f"{s.ci_level:.0%} bootstrap CIs over {s.rounds} rounds (+ above, − below "
                   f"the rating).")
        with st.expander("The same table, sortable"):
            st.dataframe(table, hide_index=True, width="stretch",
                         key=f"c_table_{group}" if group else "c_table")
    st.caption(plain(ratings_view.scope_caption(ctx, len(groups))))
