"""Judges: position consistency, tie rate and first-position win rate per judge and per
annotator, and each LLM judge's agreement with the humans (with a confusion matrix).

All statistics come from ``arena.ratings.judge_stats`` and ``arena.ratings.agreement`` over the
verdicts the leaderboard would count (the sidebar's category applies; the judge choice does not,
since this page compares judges), computed once per (store state, view, category) and kept.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from arena.ratings.agreement import agreement, vote_pairs
from arena.ratings.agreement import confusion as agreement_confusion
from arena.ratings.judge_stats import rater_stats, votes
from arena.viz import ratings_view
from arena.viz.context import Context
from arena.viz.filters import ALL
from arena.viz.render import chart_text
from arena.viz.timing import phase

AGREEMENT_ROUNDS = 200  # bootstrap rounds for the agreement CIs (kappas refit per round)
LABELS = ["A wins", "B wins", "TIE", "BOTH_BAD"]


@st.cache_data(show_spinner="Computing judge statistics...", max_entries=32)
def _stats(url: str, mark: tuple, scope_key: tuple, dry: bool, category: str, groups: tuple,
           _ctx: Context) -> dict[str, Any]:
    """Position and tie statistics, computed once per (store state, view, category)."""
    with phase("judge statistics"):
        f = ratings_view.frame(_ctx, judge=ALL)
        out: dict[str, Any] = {"n": len(f), "counts": ratings_view.caption_counts(f)}
        if not len(f):
            return out
        with phase("rater statistics"):
            out["judges"] = stats_table(rater_stats(f, by="judge"))
        human = np.array([j.startswith("human:") for j in f.judges], dtype=bool)[f.judge]
        if human.any():  # per annotator: their own verdicts are all the statistics read
            out["annotators"] = stats_table([s for s in rater_stats(f.subset(human),
                                                                    by="annotator")
                                             if s.rater.startswith("annotator:")])
        return out


@st.cache_data(show_spinner="Computing agreement with humans...", max_entries=32)
def _agreement(url: str, mark: tuple, scope_key: tuple, dry: bool, category: str,
               groups: tuple, _ctx: Context) -> dict[str, Any]:
    """Agreement with humans and confusion matrices (the bootstrap is the slow part: it is
    computed after the tables above are drawn, and kept like them)."""
    with phase("agreement with humans"):
        f = ratings_view.frame(_ctx, judge=ALL)
        rated = _human_rated(f)  # agreement and confusion need only the battles humans rated
        items, raters, values = votes(f.subset(rated) if not rated.all() else f, by="judge")
        humans = sorted({r for r in raters if r.startswith("human:")})
        judges = sorted({r for r in raters if not r.startswith("human:")})
        out: dict[str, Any] = {"humans": humans, "machine": judges}
        if humans and judges:
            out["agreement"] = _agreement_table(_ctx, items, raters, values, judges, humans)
            out["confusion"] = {j: confusion(items, raters, values, j, humans)
                                for j in judges}
        return out


def _human_rated(f: Any) -> np.ndarray:
    """Rows of ``f`` on a (question, pair of models, turn) that a human verdict is on."""
    human = np.array([j.startswith("human:") for j in f.judges], dtype=bool)
    is_h = human[f.judge] if len(f) else np.zeros(0, dtype=bool)
    if not is_h.any():
        return is_h
    m = max(len(f.models), 1)
    lo = np.minimum(f.model_a, f.model_b).astype(np.int64)
    hi = np.maximum(f.model_a, f.model_b).astype(np.int64)
    key = ((f.question.astype(np.int64) * m + lo) * m + hi) * 1024 + (f.turn.astype(np.int64) + 1)
    return np.isin(key, key[is_h])


def render(ctx: Context) -> None:
    st.header("Judges")
    res = _stats(ctx.url, ctx.mark, ctx.options.key, ctx.dry_run, ctx.category,
                 ctx.categories.key(), ctx)
    st.caption(res["counts"])
    if not res["n"]:
        st.info("No pairwise verdicts to describe yet.")
        return
    st.subheader("Position bias and ties, per judge")
    st.dataframe(res["judges"], hide_index=True, key="j_stats")
    if "annotators" in res:
        st.subheader("Per annotator")
        st.dataframe(res["annotators"], hide_index=True, key="j_annotators")
    st.subheader("Agreement with humans")
    res = _agreement(ctx.url, ctx.mark, ctx.options.key, ctx.dry_run, ctx.category,
                     ctx.categories.key(), ctx)
    if "agreement" not in res:
        st.caption("Needs both machine-judge and human verdicts on the same battles.")
        return
    st.dataframe(res["agreement"], hide_index=True, key="j_agreement")
    ratings = ctx.options.ratings
    st.caption(f"Agreement rates count pairs of (judge, human) votes on the same battle; "
               f"kappas and alpha use the judge and every annotator as raters, on the battles "
               f"a human rated. CIs: percentile bootstrap over those battles, "
               f"{AGREEMENT_ROUNDS} rounds, "
               f"seed {ratings.seed}.")
    judge = st.selectbox("Confusion matrix for", res["machine"], key="j_confusion")
    cm = res["confusion"][judge]
    fig = go.Figure(go.Heatmap(z=cm.to_numpy(), x=[f"human: {c}" for c in cm.columns],
                               y=[chart_text(f"{judge}: {r}") for r in cm.index],
                               text=cm.to_numpy(), texttemplate="%{text}",
                               colorscale="Blues"))
    fig.update_layout(height=380, margin=dict(l=10, r=10, t=30, b=10),
                      yaxis_autorange="reversed",
                      title="verdict pairs on the same battle (A/B: the pair's models in "
                            "name order)")
    st.plotly_chart(fig, key="j_confusion_chart")


def stats_table(stats: list) -> pd.DataFrame:
    return pd.DataFrame([{
        "rater": s.rater, "verdicts": s.n,
        "position consistency": s.position_consistency, "order pairs": s.n_pairs,
        "tie rate": s.tie_rate, "both-bad rate": s.both_bad_rate,
        "first-position win rate": s.first_win_rate,
        "decisive with known order": s.n_decisive_ordered} for s in stats])


def _agreement_table(ctx: Context, items: list, raters: list, values: list,
                     judges: list[str], humans: list[str]) -> pd.DataFrame:
    ratings = ctx.options.ratings
    human_set = set(humans)
    # only the items a human rated can show agreement with humans: the judge's other
    # verdicts (most of them) would only slow the bootstrap down
    rated = {it for it, r in zip(items, raters) if r in human_set}
    rows = []
    for j in judges:
        keep = [k for k, r in enumerate(raters)
                if (r == j and items[k] in rated) or r in human_set]
        stats = agreement([items[k] for k in keep], [raters[k] for k in keep],
                          [values[k] for k in keep], group_a=[j], group_b=humans,
                          rounds=AGREEMENT_ROUNDS, seed=ratings.seed,
                          ci_level=ratings.ci_level)
        row: dict[str, Any] = {"judge": j}
        for key, stat in stats.items():
            row[key] = stat.value
            row[f"{key} CI"] = _ci(stat.ci_low, stat.ci_high)
            row[f"{key} n"] = stat.n
        rows.append(row)
    return pd.DataFrame(rows)


def _ci(lo: float, hi: float) -> str:
    return "" if not (math.isfinite(lo) and math.isfinite(hi)) else f"[{lo:.3f}, {hi:.3f}]"


def confusion(items: list, raters: list, values: list, judge: str,
              humans: list[str]) -> pd.DataFrame:
    """Counts of (judge verdict, human verdict) over the vote pairs the agreement table counts
    (``arena.ratings.agreement.vote_pairs``: each rater's latest vote per item, judge x human).

    Votes are winner names (or TIE / BOTH_BAD); they are shown as "A wins" / "B wins" where
    A and B are the item's two models in name order, so rows and columns line up.
    """
    pairs = vote_pairs(items, raters, values, group_a=[judge], group_b=humans)

    def label(it: tuple, v: str) -> str:
        _q, lo, hi, _t = it
        return "A wins" if v == lo else "B wins" if v == hi else v

    return pd.DataFrame(agreement_confusion(pairs, LABELS, label), index=LABELS, columns=LABELS)
