"""Leaderboard: Bradley-Terry ratings with CI error bars, Elo, win rates, single-mode scores.

Every number is ``arena.leaderboard.compute_leaderboard``'s (via ``ratings_view.board``) for the
sidebar's judge and category: the same function the ``arena leaderboard`` command prints.
Choices here: pairwise or single mode, raw or length-controlled (style-controlled BT and, with a
baseline, AlpacaEval's length-controlled win rate), and the baseline for win rates.
"""

from __future__ import annotations

from typing import Optional

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from arena.leaderboard import Leaderboard
from arena.viz import cache, ratings_view
from arena.viz.context import Context, synced_selectbox
from arena.viz.render import chart_text, plain

NO_BASELINE = "(none)"


def pairwise_table(board: Leaderboard, length_controlled: bool) -> pd.DataFrame:
    """The board's rows as a table (numbers unchanged from the board)."""
    rows = []
    for r in board.rows:
        row = {"rank": r.rank, "model": r.model, "BT": r.bt, "CI low": r.ci_low,
               "CI high": r.ci_high, "Elo (online)": r.elo, "win rate %": r.win_rate,
               "BT expected win %": r.bt_expected, "battles": r.n}
        if board.settings.baseline:
            row.update({"vs baseline win %": r.baseline_win_rate, "SE": r.baseline_se,
                        "wins": r.n_wins, "draws": r.n_draws, "losses": r.n_losses})
        if length_controlled:
            row.update({"style-controlled BT": r.style_bt, "style CI low": r.style_ci_low,
                        "style CI high": r.style_ci_high})
            if board.settings.baseline:
                row["LC win %"] = r.lc_win_rate
        rows.append(row)
    return pd.DataFrame(rows)


def single_table(board: Leaderboard) -> pd.DataFrame:
    rows = []
    for r in board.rows:
        row = {"rank": r.rank, "model": r.model, "mean score": r.score,
               "CI low": r.score_ci_low, "CI high": r.score_ci_high, "verdicts": r.n}
        row.update({f"criterion: {k}": v for k, v in sorted(r.criteria.items())})
        rows.append(row)
    return pd.DataFrame(rows)


def ci_chart(models: list[str], value: list[Optional[float]], low: list[Optional[float]],
             high: list[Optional[float]], title: str, axis: str) -> go.Figure:
    """A dot per model with its CI as error bars, best at the top."""
    data = [(m, v, lo, hi) for m, v, lo, hi in zip(models, value, low, high) if v is not None]
    data.sort(key=lambda t: t[1])
    ms = [chart_text(d[0]) for d in data]
    vs = [d[1] for d in data]
    plus = [(d[3] - d[1]) if d[3] is not None else 0.0 for d in data]
    minus = [(d[1] - d[2]) if d[2] is not None else 0.0 for d in data]
    fig = go.Figure(go.Scatter(x=vs, y=ms, mode="markers", marker=dict(size=10),
                               error_x=dict(type="data", array=plus, arrayminus=minus,
                                            visible=True)))
    fig.update_layout(title=title, xaxis_title=axis, height=max(260, 40 * len(ms) + 120),
                      margin=dict(l=10, r=10, t=50, b=10))
    return fig


def render(ctx: Context) -> None:
    st.header("Leaderboard")
    summary = cache.store_summary(ctx.url, ctx.mark)
    has_single = summary.get("single", 0) > 0
    has_pairwise = summary.get("pairwise", 0) > 0 or not has_single
    modes = [m for m, ok in (("pairwise", has_pairwise), ("single", has_single)) if ok]
    default_mode = "single" if ctx.options.config.judge.mode.value == "single" and has_single \
        else modes[0]
    c1, c2, c3 = st.columns(3)
    mode = synced_selectbox("Verdicts", modes, key="lb_mode", param="mode", container=c1,
                            default=default_mode,
                            format_func={"pairwise": "pairwise (BT, Elo, win rates)",
                                         "single": "single-answer scores"}.get)
    if mode == "single":
        _each(ctx, ratings_view.settings(ctx, "single"), _single)
        return
    lc = synced_selectbox("Ratings", ["raw", "length-controlled"], key="lb_lc", param="lc",
                          container=c2) == "length-controlled"
    models = summary.get("models", [])
    configured = ctx.options.baseline if ctx.options.baseline in models else NO_BASELINE
    baseline = synced_selectbox("Baseline for win rates", [NO_BASELINE, *models],
                                key="lb_baseline", param="baseline", container=c3,
                                default=configured)
    s = ratings_view.settings(ctx, "pairwise", length_controlled=lc,
                              baseline="" if baseline == NO_BASELINE else baseline)
    _each(ctx, s, lambda board, key: _pairwise(board, lc, key))


def _each(ctx: Context, s: "ratings_view.LeaderboardSettings", draw) -> None:  # type: ignore
    """One board, or (no config, several judge fingerprints) one board per judge."""
    boards = ratings_view.boards(ctx, s)
    for group, board in boards:
        if group:
            st.subheader(f"Judge {plain(group)}")
        draw(board, group)
    st.caption(plain(ratings_view.scope_caption(ctx, len(boards))))


def _describe(board: Leaderboard) -> None:
    d = board.describe()
    st.caption(plain(f"{d['method']}; anchor {d['anchor']}; CI {d['ci']}; position policy "
               f"{d['position_policy']}; both-bad {d['both_bad']}; strong verdict weight "
               f"{d['strong_weight']}; {d['verdicts_used']} verdicts, {d['battles']} battles"
               + ("; left out: " + ", ".join(f"{n} {k.replace('_', ' ')}"
                                             for k, n in d["excluded"].items())
                  if d["excluded"] else "")
               + (f"; judges: {', '.join(d['judges'])}" if d["judges"] else "")))
    for w in board.warnings:
        st.warning(plain(w))


def _pairwise(board: Leaderboard, lc: bool, group: str = "") -> None:
    if board.empty_reason:
        st.info(f"No leaderboard: {board.empty_reason}.")
        return
    rows = board.rows
    # the table first: it is what a reader came for, and it draws before the charts do
    st.dataframe(pairwise_table(board, lc), hide_index=True, key=f"lb_table{group}")
    _describe(board)
    if lc and any(r.style_bt is not None for r in rows):
        st.plotly_chart(ci_chart([r.model for r in rows], [r.style_bt for r in rows],
                                 [r.style_ci_low for r in rows],
                                 [r.style_ci_high for r in rows],
                                 "Style-controlled BT (length held equal), with CI",
                                 "rating (Elo scale)"), key=f"lb_chart_lc{group}")
    st.plotly_chart(ci_chart([r.model for r in rows], [r.bt for r in rows],
                             [r.ci_low for r in rows], [r.ci_high for r in rows],
                             "Bradley-Terry rating with CI" + (f" ({board.label})"
                                                               if board.label else ""),
                             "rating (Elo scale)"), key=f"lb_chart{group}")


def _single(board: Leaderboard, group: str = "") -> None:
    if board.empty_reason:
        st.info(f"No single-mode scores: {board.empty_reason}.")
        return
    rows = board.rows
    st.dataframe(single_table(board), hide_index=True, key=f"lb_table_single{group}")
    _describe(board)
    st.plotly_chart(ci_chart([r.model for r in rows], [r.score for r in rows],
                             [r.score_ci_low for r in rows], [r.score_ci_high for r in rows],
                             "Mean score with CI", "score"), key=f"lb_chart_single{group}")
