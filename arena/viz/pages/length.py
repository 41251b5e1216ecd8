"""Length: how verdicts follow answer length.

The chart bins battles by the length difference of the two answers (characters, model_a minus
model_b) and shows model_a's mean score per bin (1 win, 0.5 tie, 0 loss, as the ratings count
them), with the number of battles per bin. Games come from ``arena.ratings.battles`` under the
configured position policy; the style-controlled BT (the leaderboard's ``style_bt`` method,
``arena.ratings.length.style_bt``) gives the fitted length coefficient. Without a config, one
chart per judge fingerprint.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from arena.viz import ratings_view
from arena.viz.context import Context
from arena.viz.render import plain
from arena.viz.timing import phase

BINS = 12


def length_bins(len_a: np.ndarray, len_b: np.ndarray, score: np.ndarray,
                bins: int = BINS) -> pd.DataFrame:
    """Quantile bins of (len_a - len_b): centre, mean score of model_a, battles. Battles
    without both lengths are left out."""
    ok = np.isfinite(len_a) & np.isfinite(len_b) & np.isfinite(score)
    d = (len_a - len_b)[ok]
    s = score[ok]
    if d.size == 0:
        return pd.DataFrame(columns=["length difference", "model_a score", "battles"])
    edges = np.unique(np.quantile(d, np.linspace(0, 1, bins + 1)))
    if edges.size < 2:
        edges = np.array([d.min() - 0.5, d.max() + 0.5])
    idx = np.clip(np.searchsorted(edges, d, side="right") - 1, 0, edges.size - 2)
    n = np.bincount(idx, minlength=edges.size - 1)
    tot = np.bincount(idx, weights=s, minlength=edges.size - 1)
    centre = np.bincount(idx, weights=d, minlength=edges.size - 1)
    keep = n > 0
    return pd.DataFrame({"length difference": centre[keep] / n[keep],
                         "model_a score": tot[keep] / n[keep], "battles": n[keep]})


@st.cache_data(show_spinner=False, max_entries=64)
def _bins(url: str, mark: tuple, scope_key: tuple, dry: bool, judge: str, category: str,
          group: str, groups: tuple, _ctx: Context) -> tuple[pd.DataFrame, int, str]:
    """(bins, battles, counts caption) of one board's games, cached per view and choice."""
    with phase("length bins"):
        f = ratings_view.group_frame(_ctx, group)
        b = ratings_view.battles(_ctx, f)
        return length_bins(b.len_a, b.len_b, b.score), len(b), ratings_view.caption_counts(f)


def render(ctx: Context) -> None:
    st.header("Length")
    groups = ratings_view.group_names(ctx)
    for group in groups:
        if group:
            st.subheader(f"Judge {plain(group)}")
        _draw(ctx, group)
    st.caption(plain(ratings_view.scope_caption(ctx, len(groups))))


def _draw(ctx: Context, group: str) -> None:
    table, n, counts = _bins(ctx.url, ctx.mark, ctx.options.key, ctx.dry_run, ctx.judge,
                             ctx.category, group, ctx.categories.key(), ctx)
    st.caption(counts)
    if n == 0:
        st.info("No pairwise battles in this selection.")
        return
    if table.empty:
        st.info("No battle has the lengths of both answers.")
        return
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=table["length difference"], y=table["model_a score"],
                             mode="lines+markers", name="model_a mean score",
                             text=[f"{n} battles" for n in table["battles"]]))
    fig.add_hline(y=0.5, line_dash="dot")
    fig.update_layout(xaxis_title="length of model_a's answer minus model_b's (characters)",
                      yaxis_title="model_a's mean score (win 1, tie 0.5)", yaxis_range=[0, 1],
                      height=420, margin=dict(l=10, r=10, t=30, b=10))
    st.plotly_chart(fig, key=f"len_chart{group}")
    st.dataframe(table, hide_index=True, key=f"len_table{group}")
    # the style-controlled fit is the leaderboard's own (shared with the Categories page)
    board = ratings_view.board(ctx, ratings_view.settings(ctx, style=True), group=group)
    coef = board.style_length_coef
    if coef is None or not math.isfinite(coef):
        st.caption("Style-controlled fit not available: " + plain(
            "; ".join(w for w in board.warnings if "style" in w) or "no answer lengths"))
        return
    st.metric("Length coefficient (style-controlled BT, standardised length feature)",
              f"{coef:+.3f}", help="Positive: longer answers win more often at equal ratings.")
    st.caption(f"Fitted on {board.n_battles} battles. " + plain(" ".join(
        w for w in board.warnings if "style" in w or "length" in w)))
