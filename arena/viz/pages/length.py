"""Length: how verdicts follow answer length.

The chart bins battles by the length difference of the two answers (characters, model_a minus
model_b) and shows model_a's mean score per bin (1 win, 0.5 tie, 0 loss, as the ratings count
them), with the number of battles per bin. Games come from ``arena.ratings.battles`` under the
configured position policy; the style-controlled BT (``arena.ratings.length.style_bt``) gives
the fitted length coefficient.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from arena.ratings.length import style_bt
from arena.viz import ratings_view
from arena.viz.context import Context

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


def render(ctx: Context) -> None:
    st.header("Length")
    f = ratings_view.frame(ctx, lengths=True)
    if ratings_view.is_dry_run(ctx):
        st.warning(ratings_view.DRY_RUN_LABEL)
    st.caption(ratings_view.caption_counts(f))
    b = ratings_view.battles(ctx, f)
    if len(b) == 0:
        st.info("No pairwise battles in this selection.")
        return
    table = length_bins(b.len_a, b.len_b, b.score)
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
    st.plotly_chart(fig)
    st.dataframe(table, hide_index=True)
    try:
        res = style_bt(b, ci_level=ctx.options.ratings.ci_level)
    except ValueError as exc:
        st.caption(f"Style-controlled fit not available: {exc}")
        return
    coef = res.length_coef
    st.metric("Length coefficient (style-controlled BT, standardised length feature)",
              f"{coef:+.3f}", help="Positive: longer answers win more often at equal ratings. "
              f"Standard error {res.length_coef_se:.3f}.")
    if math.isfinite(coef):
        st.caption(f"Fitted on {res.n} battles. " + " ".join(res.warnings))
