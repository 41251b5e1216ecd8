"""Single: answers with their scores, rationale and rubric; evalscope's per-category mean-score
table with differences coloured, a radar chart of categories per model, score distributions.

Every mean is the single-mode board's (``arena.leaderboard.compute_leaderboard``, one board per
category group, via ``ratings_view.board``); the list shows the single verdicts of the view
(those that count, plus failed ones marked as such). A row opens the verdict in full.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from arena.viz import cache, ratings_view
from arena.viz.context import Context, synced_multiselect, synced_text
from arena.viz.filters import ALL
from arena.viz.render import chart_text, plain, preview, turns_to_text
from arena.viz.show import text_block, verbatim
from arena.viz.single_tables import answer_rows, colours, criteria_text, mean_table
from arena.viz.timing import phase

OVERALL = "(all categories)"
LIST_LIMIT = 2000


def categories_of(ctx: Context) -> list[str]:
    f = ratings_view.frame(ctx, "single", category=ALL)
    return sorted({ctx.categories.group(c) for c in f.used_categories()})


def render(ctx: Context) -> None:
    st.header("Single")
    s = ratings_view.settings(ctx, "single")
    groups = ratings_view.group_names(ctx, "single")
    for group in groups:
        if group:
            st.subheader(f"Judge {plain(group)}")
        boards = {OVERALL: ratings_view.board(ctx, s, group=group, category=ALL)}
        if boards[OVERALL].empty_reason:
            st.info(f"No single-mode scores: {boards[OVERALL].empty_reason}.")
            continue
        for c in categories_of(ctx):
            boards[c or "(no category)"] = ratings_view.board(ctx, s, group=group, category=c)
        _means(ctx, boards, group)
    st.caption(plain(ratings_view.scope_caption(ctx, len(groups))))
    _browser(ctx)


def _means(ctx: Context, boards: dict[str, Any], group: str) -> None:
    table = mean_table(boards)
    models = list(table.columns)
    st.markdown("**Mean score per category**")
    ref = st.selectbox("Differences against", models, key=f"s_ref{group}",
                       help="Cells are coloured by their difference from this model's mean in "
                            "the same category: green above, red below.")
    st.dataframe(table.style.apply(lambda _t: colours(table, ref), axis=None)
                 .format("{:.2f}", na_rep="—"), key=f"s_means{group}")
    c1, c2 = st.columns(2)
    cats = [c for c in table.index if c != OVERALL]
    radar = go.Figure()
    for m in models:
        vals = table.loc[cats, m].tolist() if cats else []
        radar.add_trace(go.Scatterpolar(r=vals + vals[:1], theta=[chart_text(c) for c in
                                                                  cats + cats[:1]],
                                        name=chart_text(m), fill="toself", opacity=0.5))
    radar.update_layout(title="Mean score per category", height=420,
                        margin=dict(l=30, r=30, t=50, b=30), polar=dict(radialaxis=dict(
                            visible=True)))
    c1.plotly_chart(radar, key=f"s_radar{group}")
    _dist_chart(ctx, c2, group)


def _dist_chart(ctx: Context, col: Any, group: str) -> None:
    f = ratings_view.group_frame(ctx, group, "single")
    fig = go.Figure()
    for i, m in enumerate(f.models):
        vals = f.score_a[(f.model_a == i) & np.isfinite(f.score_a)]
        if len(vals):
            fig.add_trace(go.Box(y=vals, name=chart_text(m), boxpoints="outliers"))
    fig.update_layout(title="Score distribution per model (overall scores)", height=420,
                      margin=dict(l=30, r=30, t=50, b=30), showlegend=False)
    col.plotly_chart(fig, key=f"s_dist{group}")


@st.cache_data(show_spinner=False, max_entries=16)
def _rows(url: str, mark: tuple, scope_key: tuple, dry: bool, _ctx: Context) -> pd.DataFrame:
    """The single verdicts of the view: those that count, then failed ones."""
    with phase("single answers list"):
        f = ratings_view.full_frame(_ctx, "single")
        questions = cache.question_texts(url, cache.answers_mark(mark))
        rows = answer_rows(f, questions)
        extra = cache.left_out(url, mark)
        extra = extra[extra["model_b"].isna() & ~extra["id"].isin(f.id)]
        kinds = ratings_view.selection(_ctx.options, "single", dry, None).judge_kinds
        extra = extra[extra["judge_kind"].isin(kinds)]
        scope = ratings_view.scope_of(_ctx)
        if scope is not None and len(extra):
            aids = [None if v != v else int(v) for v in
                    extra["answer_id"].fillna(extra["answer_a_id"]).tolist()]
            extra = extra[scope.mask(extra["judge_kind"].tolist(), extra["cache_key"].tolist(),
                                     aids, None)]
        if len(extra):
            from arena.identity import judge_label

            left = pd.DataFrame({
                "id": extra["id"], "question_id": extra["question_id"],
                "question": [preview(questions.get(q, "")) for q in extra["question_id"]],
                "category": extra["category"], "model": extra["model_a"],
                "judge": [judge_label(f"{k}:{i}", fp) for k, i, fp in zip(
                    extra["judge_kind"], extra["judge_id"], extra["fingerprint"])],
                "score": extra["score_a"], "criteria": "",
                "status": np.where(extra["superseded"], "corrected later",
                                   np.where(extra["excluded"], "annotator excluded",
                                            "failed"))})
            rows = pd.concat([rows, left], ignore_index=True)
        return rows.sort_values("id", ignore_index=True)


def _browser(ctx: Context) -> None:
    st.markdown("#### Answers")
    rows = _rows(ctx.url, ctx.mark, ctx.options.key, ctx.dry_run, ctx)
    if rows.empty:
        st.caption("No single-mode verdicts in this view.")
        return
    c1, c2 = st.columns([1, 2])
    models = synced_multiselect("Models", sorted(set(rows["model"])), key="s_models",
                                param="s_models", container=c1)
    query = synced_text("Search questions and answers", key="s_query", param="s_q",
                        container=c2)
    m = np.ones(len(rows), dtype=bool)
    if ctx.category != ALL:
        m &= np.array([ctx.categories.group(c) == ctx.category for c in rows["category"]])
    if ctx.judge != ALL and not ctx.judge.startswith("kind:"):
        m &= (rows["judge"] == ctx.judge).to_numpy()
    elif ctx.judge.startswith("kind:") and not ctx.dry_run:
        m &= rows["judge"].str.startswith(ctx.judge[len("kind:"):] + ":").to_numpy()
    if models:
        m &= rows["model"].isin(models).to_numpy()
    if query:
        q_hit, a_hit = cache.search(ctx.url, cache.answers_mark(ctx.mark), query)
        m &= np.array([q in q_hit or (q, mo) in a_hit
                       for q, mo in zip(rows["question_id"], rows["model"])], dtype=bool)
    shown = rows[m]
    st.caption(f"{len(shown)} of {len(rows)} single verdicts match"
               + (f"; the first {LIST_LIMIT} are listed" if len(shown) > LIST_LIMIT else "")
               + "; click a row to open it.")
    head = shown.head(LIST_LIMIT)
    event = st.dataframe(head.drop(columns=["question_id"]), hide_index=True, width="stretch",
                         height=300, key="s_list", on_select="rerun",
                         selection_mode="single-row")
    _open_clicked_row(event, [int(i) for i in head["id"]])
    ids = [int(i) for i in shown["id"]]
    if "s_pick" not in st.session_state:
        raw = st.query_params.get("verdict")
        st.session_state["s_pick"] = int(raw) if raw and raw.isdigit() else None
    pick = st.session_state.get("s_pick")
    if pick is not None and pick not in set(ids):
        st.caption(f"Verdict #{pick} closed: it does not match the filters.")
        st.session_state["s_pick"] = pick = None
    if pick is None:
        if "verdict" in st.query_params:
            del st.query_params["verdict"]
        return
    st.query_params["verdict"] = str(pick)
    detail = cache.single(ctx.url, ctx.mark, int(pick))
    if detail is None:
        return
    _draw(detail, rows[rows["id"] == pick].iloc[0], ctx.render)


def _open_clicked_row(event: Any, ids: list[int]) -> None:
    """A newly clicked row opens its verdict (see the Battles page)."""
    rows = list(event.selection.rows) if event is not None else []
    seen = st.session_state.get("s_list_seen")
    st.session_state["s_list_seen"] = rows
    if rows and rows != seen and 0 <= rows[0] < len(ids):
        st.session_state["s_pick"] = ids[rows[0]]


def _draw(d: Any, row: pd.Series, mode: str) -> None:
    j = d.judgment
    st.subheader(f"Verdict #{j['id']}: {plain(j['model_a'])}")
    st.caption(f"question {plain(d.question_id)} · category {plain(d.category or '(none)')} · "
               f"judge {plain(row['judge'])} · {plain(row['status'])}")
    for t, q in enumerate(turns_to_text(d.question_turns)):
        st.markdown(f"**Question, turn {t + 1}**" if len(d.question_turns) > 1
                    else "**Question**")
        text_block(q, mode)
    st.markdown(f"**Answer · {plain(j['model_a'])}**")
    if d.answer is None:
        st.caption("(no stored answer)")
    else:
        for turn in turns_to_text(d.answer["turns"]):
            text_block(turn, mode)
    score = j.get("score_a")
    st.metric("Score", "—" if score is None else f"{score:g}")
    if j.get("scores"):
        st.markdown("**Rubric**")
        st.dataframe(pd.DataFrame([{"criterion": k, "score": v} for k, v in
                                   j["scores"].items()]), hide_index=True, key="s_rubric")
        st.caption(plain(criteria_text(j["scores"])))
    if j.get("template_version"):
        st.caption(f"template {plain(j['template_version'])}")
    if j.get("rationale"):
        st.markdown("**Rationale**")
        text_block(j["rationale"], mode)
    if j.get("error"):
        st.markdown("**Error**")
        verbatim(j["error"])
    with st.expander("Raw judge output"):
        verbatim(j.get("raw_output"))
    for ref in d.references:
        with st.expander(f"Reference answer ({plain(ref['author'])})"):
            for turn in turns_to_text(ref["turns"]):
                text_block(turn, mode)
