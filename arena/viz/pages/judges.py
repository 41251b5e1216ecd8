"""Judges: position consistency, tie rate and first-position win rate per judge and per
annotator, and each LLM judge's agreement with the humans (with a confusion matrix).

All statistics come from ``arena.ratings.judge_stats`` and ``arena.ratings.agreement`` over the
verdicts the leaderboard would count (the sidebar's category applies; the judge choice does not,
since this page compares judges).
"""

from __future__ import annotations

import math

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from arena.ratings.agreement import agreement, vote_pairs
from arena.ratings.agreement import confusion as agreement_confusion
from arena.ratings.judge_stats import rater_stats, votes
from arena.viz import ratings_view
from arena.viz.context import Context
from arena.viz.filters import ALL

AGREEMENT_ROUNDS = 200  # bootstrap rounds for the agreement CIs (kappas refit per round)
LABELS = ["A wins", "B wins", "TIE", "BOTH_BAD"]


def render(ctx: Context) -> None:
    st.header("Judges")
    f = ratings_view.frame(ctx, judge=ALL)
    if ratings_view.is_dry_run(ctx):
        st.warning(ratings_view.DRY_RUN_LABEL)
    st.caption(ratings_view.caption_counts(f))
    if len(f) == 0:
        st.info("No pairwise verdicts to describe yet.")
        return
    st.subheader("Position bias and ties, per judge")
    st.dataframe(stats_table(rater_stats(f, by="judge")), hide_index=True)
    if any(j.startswith("human:") for j in f.used_judges()):
        st.subheader("Per annotator")
        st.dataframe(stats_table([s for s in rater_stats(f, by="annotator")
                                  if s.rater.startswith("annotator:")]), hide_index=True)
    _agreement(ctx, f)


def stats_table(stats: list) -> pd.DataFrame:
    return pd.DataFrame([{
        "rater": s.rater, "verdicts": s.n,
        "position consistency": s.position_consistency, "order pairs": s.n_pairs,
        "tie rate": s.tie_rate, "both-bad rate": s.both_bad_rate,
        "first-position win rate": s.first_win_rate,
        "decisive with known order": s.n_decisive_ordered} for s in stats])


def _agreement(ctx: Context, f) -> None:  # type: ignore[no-untyped-def]
    items, raters, values = votes(f, by="judge")
    humans = sorted({r for r in raters if r.startswith("human:")})
    judges = sorted({r for r in raters if r.startswith("llm:")})
    st.subheader("Agreement with humans")
    if not humans or not judges:
        st.caption("Needs both LLM-judge and human verdicts on the same battles.")
        return
    ratings = ctx.options.ratings
    rows = []
    for j in judges:
        keep = [k for k, r in enumerate(raters) if r == j or r in humans]
        it = [items[k] for k in keep]
        ra = [raters[k] for k in keep]
        va = [values[k] for k in keep]
        stats = agreement(it, ra, va, group_a=[j], group_b=humans, rounds=AGREEMENT_ROUNDS,
                          seed=ratings.seed, ci_level=ratings.ci_level)
        row = {"judge": j}
        for key, stat in stats.items():
            row[key] = stat.value
            row[f"{key} CI"] = _ci(stat.ci_low, stat.ci_high)
            row[f"{key} n"] = stat.n
        rows.append(row)
    st.dataframe(pd.DataFrame(rows), hide_index=True)
    st.caption(f"Agreement rates count pairs of (judge, human) votes on the same battle; "
               f"kappas and alpha use the judge and every annotator as raters. CIs: "
               f"percentile bootstrap over battles, {AGREEMENT_ROUNDS} rounds, "
               f"seed {ratings.seed}.")
    judge = st.selectbox("Confusion matrix for", judges, key="j_confusion")
    cm = confusion(items, raters, values, judge, humans)
    fig = go.Figure(go.Heatmap(z=cm.to_numpy(), x=[f"human: {c}" for c in cm.columns],
                               y=[f"{judge}: {r}" for r in cm.index], text=cm.to_numpy(),
                               texttemplate="%{text}", colorscale="Blues"))
    fig.update_layout(height=380, margin=dict(l=10, r=10, t=30, b=10),
                      yaxis_autorange="reversed",
                      title="verdict pairs on the same battle (A/B: the pair's models in "
                            "name order)")
    st.plotly_chart(fig)


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
