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

from dataclasses import replace
from typing import Literal, Optional

import numpy as np
import streamlit as st

from arena.leaderboard import (DRY_RUN_LABEL, Leaderboard, LeaderboardSettings,
                               compute_leaderboard)
from arena.ratings.battles import Battles, build_battles
from arena.ratings.selection import Selection, VerdictFrame, load_verdicts
from arena.viz import cache
from arena.viz.categories import CategoryMap
from arena.viz.context import Context
from arena.viz.filters import ALL

__all__ = ["DRY_RUN_LABEL", "board", "battles", "frame", "settings", "narrow", "is_dry_run"]
Mode = Literal["pairwise", "single"]


@st.cache_resource(show_spinner="Reading verdicts for ratings...", max_entries=8)
def _load(url: str, mark: tuple[int, ...], selection: Selection) -> VerdictFrame:
    return load_verdicts(cache.store(url), selection)


def base_selection(ctx: Context, mode: Mode = "pairwise", *, lengths: bool = False
                   ) -> Selection:
    """The configured selection (or dry-run only, when a dry-run judge is chosen). Answer
    lengths are read only when asked for (they cost a read of every judged answer)."""
    sel = Selection.from_config(ctx.options.ratings, mode=mode, dry_run=is_dry_run(ctx))
    return replace(sel, with_lengths=lengths)


def is_dry_run(ctx: Context) -> bool:
    return ctx.judge.startswith("dry-run:")


def frame(ctx: Context, mode: Mode = "pairwise", *, judge: Optional[str] = None,
          category: Optional[str] = None, lengths: bool = False) -> VerdictFrame:
    """Verdicts the rating functions see for the sidebar's judge and category choice
    (``judge`` / ``category`` override them). The result is shared: do not modify it."""
    full = _load(ctx.url, ctx.mark, base_selection(ctx, mode, lengths=lengths))
    return narrow(full, ctx.categories, judge=ctx.judge if judge is None else judge,
                  category=ctx.category if category is None else category)


def narrow(full: VerdictFrame, categories: CategoryMap, *, judge: str,
           category: str) -> VerdictFrame:
    """Rows of ``full`` by the judge selector value and the category group."""
    mask = np.ones(len(full), dtype=bool)
    if judge != ALL:
        if judge.startswith("kind:"):
            prefix = judge[len("kind:"):] + ":"
            keep = [i for i, j in enumerate(full.judges) if j.startswith(prefix)]
        else:
            keep = [i for i, j in enumerate(full.judges) if j == judge]
        mask &= np.isin(full.judge, keep)
    if category != ALL:
        cats = [i for i, c in enumerate(full.categories) if categories.group(c) == category]
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


def settings(ctx: Context, mode: Mode = "pairwise", *, baseline: Optional[str] = None,
             length_controlled: bool = False) -> LeaderboardSettings:
    """``LeaderboardSettings.from_config`` for the viewer's config, with the page's choices:
    the mode, a baseline for win rates, and the length-controlled methods when asked for."""
    s = LeaderboardSettings.from_config(ctx.options.config, dry_run=is_dry_run(ctx))
    s.mode = mode
    s.per_category = False  # the viewer asks for one category at a time
    if baseline is not None:
        s.baseline = baseline or None
    methods = list(s.methods)
    for m in ("bt", "elo", "winrate"):  # the viewer always shows these (they cost little)
        if m not in methods:
            methods.append(m)
    if length_controlled:
        methods += [m for m in ("length_controlled", "style_bt") if m not in methods]
    s.methods = tuple(methods)
    return s


@st.cache_resource(show_spinner="Computing ratings...", max_entries=64,
                   hash_funcs={LeaderboardSettings: repr})
def _board(url: str, mark: tuple[int, ...], selection: Selection, judge: str, category: str,
           groups: tuple, s: LeaderboardSettings) -> Leaderboard:
    f = narrow(_load(url, mark, selection), CategoryMap(dict(groups)), judge=judge,
               category=category)
    return compute_leaderboard(f, s)


def board(ctx: Context, s: LeaderboardSettings) -> Leaderboard:
    """``arena.leaderboard.compute_leaderboard`` over the sidebar's selection, memoised per
    store change marker, judge, category and settings. Shared: do not modify it."""
    sel = base_selection(ctx, "single" if s.mode == "single" else "pairwise",
                         lengths=bool({"length_controlled", "style_bt"} & set(s.methods)))
    return _board(ctx.url, ctx.mark, sel, ctx.judge, ctx.category, ctx.categories.key(), s)


def battles(ctx: Context, f: VerdictFrame) -> Battles:
    """Games as the leaderboard builds them (position policy, both-bad, strong weight)."""
    s = settings(ctx)
    return build_battles(f, s.policy, both_bad=s.both_bad,  # type: ignore[arg-type]
                         strong_weight=s.strong_weight)
