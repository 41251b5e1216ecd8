"""Matrices: observed win rates, battle counts and BT-predicted win rates between models.

All three matrices are the leaderboard's own (``Leaderboard.win_rate``, ``.count``,
``.predicted`` from ``arena.leaderboard.compute_leaderboard``), for the sidebar's judge and
category. Rows and columns are ordered by BT rating, best first. A model pair's battles are one
click away: the Battles page link keeps the sidebar's choices (category, judge, how output is
shown) and adds ``?model=...&opponent=...``.
"""

from __future__ import annotations

from urllib.parse import urlencode

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from arena.leaderboard import Leaderboard
from arena.viz import ratings_view
from arena.viz.context import Context
from arena.viz.render import chart_text, plain

KEPT = ("category", "judge", "render")  # sidebar choices a link to the Battles page keeps


def heatmap(z: np.ndarray, names: list[str], title: str, fmt: str) -> go.Figure:
    """Rows: the model whose rate is shown; columns: its opponent. NaN cells stay blank."""
    text = [[("" if not np.isfinite(v) else format(v, fmt)) for v in row] for row in z]
    names = [chart_text(n) for n in names]
    fig = go.Figure(go.Heatmap(z=z, x=names, y=names, text=text, texttemplate="%{text}",
                               colorscale="RdBu" if fmt.endswith("%") else "Blues",
                               zmid=0.5 if fmt.endswith("%") else None,
                               hoverongaps=False))
    fig.update_layout(title=title, xaxis_title="opponent", yaxis_title="model",
                      yaxis_autorange="reversed", height=max(320, 38 * len(names) + 140),
                      margin=dict(l=10, r=10, t=50, b=10))
    return fig


def pair_link(params: dict[str, str], model: str, opponent: str) -> str:
    """``?page=battles&...``: the current sidebar choices plus the pair."""
    kept = {k: v for k, v in params.items() if k in KEPT}
    return "?" + urlencode({"page": "battles", **kept, "model": model, "opponent": opponent})


def render(ctx: Context) -> None:
    st.header("Matrices")
    s = ratings_view.settings(ctx, "pairwise")
    boards = ratings_view.boards(ctx, s)
    for group, board in boards:
        if group:
            st.subheader(f"Judge {plain(group)}")
        _draw(board, group)
    st.caption(plain(ratings_view.scope_caption(ctx, len(boards))))


def _draw(board: Leaderboard, group: str) -> None:
    if board.empty_reason or board.win_rate is None or board.count is None:
        st.info(f"No matrices: {board.empty_reason or 'no battles'}.")
        return
    order = [board.models.index(r.model) for r in board.rows]
    names = [board.models[i] for i in order]
    ix = np.ix_(order, order)
    st.plotly_chart(heatmap(board.win_rate[ix], names, "Observed win rate (ties count half)",
                            ".0%"), key=f"m_win{group}")
    counts = board.count[ix].astype(float)
    counts[counts == 0] = np.nan
    st.plotly_chart(heatmap(counts, names, "Battles", ".0f"), key=f"m_count{group}")
    if board.predicted is not None:
        st.plotly_chart(heatmap(board.predicted[ix], names, "BT-predicted win rate", ".0%"),
                        key=f"m_pred{group}")
    st.markdown("**Battles of a pair**")
    c1, c2 = st.columns(2)
    a = c1.selectbox("Model", names, key=f"m_a{group}")
    b = c2.selectbox("Opponent", [n for n in names if n != a] or names, key=f"m_b{group}")
    params = {k: st.query_params[k] for k in st.query_params}
    if group and "judge" not in params:
        # one board per fingerprint: the link opens that judge's battles
        params["judge"] = "kind:human" if group == "human annotators" else group
    st.markdown(f"[Open the battles of this pair]({pair_link(params, a, b)})")
    i, j = board.models.index(a), board.models.index(b)
    predicted = _pct(board.predicted[i, j]) if board.predicted is not None else "n/a"
    st.caption(f"{plain(a)} vs {plain(b)}: {int(board.count[i, j])} battles, observed win "
               f"rate {_pct(board.win_rate[i, j])}, BT-predicted {predicted}")


def _pct(x: float) -> str:
    return "n/a" if not np.isfinite(x) else f"{x:.1%}"
