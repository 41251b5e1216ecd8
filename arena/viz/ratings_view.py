"""The viewer's bridge to ``arena.ratings``: which verdicts a page rates, loaded once.

Numbers on the rating pages are computed by the project's rating functions only; this module
decides *which* verdicts they see, the same way the leaderboard command does:
``arena.ratings.selection.Selection.from_config(cfg.ratings)`` (failed, dry-run, superseded and
excluded annotators' verdicts never count), then the sidebar's judge and category choices narrow
the frame in memory (``VerdictFrame.subset``), so changing them re-reads nothing.

A dry-run judge chosen by name gives a frame of dry-run verdicts only, and pages label every
number from it "DRY RUN - random verdicts".
"""

from __future__ import annotations

from typing import Literal, Optional

import numpy as np
import streamlit as st

from arena.ratings.selection import Selection, VerdictFrame, load_verdicts
from arena.viz import cache
from arena.viz.context import Context
from arena.viz.filters import ALL

DRY_RUN_LABEL = "DRY RUN - random verdicts"
Mode = Literal["pairwise", "single"]


@st.cache_resource(show_spinner="Reading verdicts for ratings...", max_entries=8)
def _load(url: str, mark: tuple[int, ...], selection: Selection) -> VerdictFrame:
    return load_verdicts(cache.store(url), selection)


def base_selection(ctx: Context, mode: Mode = "pairwise") -> Selection:
    """The configured selection (or dry-run only, when a dry-run judge is chosen)."""
    if is_dry_run(ctx):
        return Selection(mode=mode, judge_kinds=("dry-run",))
    return Selection.from_config(ctx.options.ratings, mode=mode)


def is_dry_run(ctx: Context) -> bool:
    return ctx.judge.startswith("dry-run:")


def frame(ctx: Context, mode: Mode = "pairwise", *, judge: Optional[str] = None,
          category: Optional[str] = None) -> VerdictFrame:
    """Verdicts the rating functions see for the sidebar's judge and category choice
    (``judge`` / ``category`` override them). The result is shared: do not modify it."""
    full = _load(ctx.url, ctx.mark, base_selection(ctx, mode))
    return narrow(full, ctx, judge=ctx.judge if judge is None else judge,
                  category=ctx.category if category is None else category)


def narrow(full: VerdictFrame, ctx: Context, *, judge: str, category: str) -> VerdictFrame:
    mask = np.ones(len(full), dtype=bool)
    if judge != ALL:
        if judge.startswith("kind:"):
            prefix = judge[len("kind:"):] + ":"
            keep = [i for i, j in enumerate(full.judges) if j.startswith(prefix)]
        else:
            keep = [i for i, j in enumerate(full.judges) if j == judge]
        mask &= np.isin(full.judge, keep)
    if category != ALL:
        cats = [i for i, c in enumerate(full.categories) if ctx.categories.group(c) == category]
        mask &= np.isin(full.category, cats)
    return full if mask.all() else full.subset(mask)


def caption_counts(f: VerdictFrame) -> str:
    c = f.counts
    left_out = ", ".join(f"{c.get(k, 0)} {label}" for k, label in (
        ("failed", "failed"), ("dry_run", "dry-run"), ("superseded", "corrected"),
        ("excluded_annotator", "from excluded annotators"),
        ("judge_kind", "from other judge kinds"), ("judge_id", "from other judges"),
        ("template_version", "from other templates")) if c.get(k, 0))
    return (f"{len(f)} verdicts rated" + (f" (left out of {c.get('rows', 0)} stored: "
                                          f"{left_out})" if left_out else ""))
