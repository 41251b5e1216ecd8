"""The viewer's bridge to ``arena.ratings``: which verdicts a page sees, loaded once per view.

Nothing here decides what counts; it calls the functions that do, the way ``arena
leaderboard`` does:

- with ``-c CONFIG`` (a config naming models) the view is the config's **run scope**:
  ``arena.scope.build_scope(store, cfg, arena.leaderboard.scope_judges(cfg),
  create=False)`` (the read-only path: no battle is stored), passed to
  ``Selection(scope=...)``; one board, exactly ``arena.leaderboard.build_boards``' numbers;
- without one, every stored verdict, and boards are grouped per judge fingerprint
  (``arena.leaderboard.judge_groups``, as ``build_unscoped_boards``), each labelled;
- ``Selection.from_config(cfg.ratings, dry_run=...)`` drops failed, dry-run, corrected,
  excluded annotators' and duplicate verdicts; a dry-run view (a dry-run judge chosen in the
  sidebar) reads dry-run verdicts only, and every page then shows the DRY RUN label.

The sidebar's judge and category narrow the loaded frame in memory (``narrow``), so changing
them re-reads nothing. Every heavy result is cached per (store state, view, choices).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Literal, Optional

import numpy as np
import streamlit as st

from arena.leaderboard import (DRY_RUN_LABEL, NO_SCOPE, Leaderboard, LeaderboardSettings,
                               compute_leaderboard, judge_groups, scope_judges, scope_note)
from arena.ratings.battles import Battles, build_battles
from arena.ratings.selection import Selection, VerdictFrame, load_verdicts
from arena.scope import VerdictScope, build_scope
from arena.viz import cache
from arena.viz.categories import CategoryMap
from arena.viz.context import Context
from arena.viz.filters import ALL, DRY_KIND, BattleIndex, build_index
from arena.viz.options import ViewerOptions
from arena.viz.timing import phase

__all__ = ["DRY_RUN_LABEL", "board", "boards", "battles", "frame", "settings", "narrow",
           "is_dry_run", "index", "scope_caption"]
Mode = Literal["pairwise", "single"]
GROUPED = ("no config: one board per judge fingerprint, each over every stored verdict of "
           "that judge (pass -c CONFIG for a run's scope)")


def is_dry_run(ctx: Context) -> bool:
    return ctx.dry_run


def scoped(opts: ViewerOptions) -> bool:
    """A config that names models has a run scope (as ``arena leaderboard -c``)."""
    return opts.config_path is not None and bool(opts.config.models)


@st.cache_resource(show_spinner="Working out the config's run scope...", max_entries=8)
def _scope(url: str, amark: tuple[int, ...], scope_key: tuple, dry: bool,
           _opts: ViewerOptions) -> VerdictScope:
    cfg = _opts.config
    with phase("run scope"):
        return build_scope(cache.store(url), cfg, scope_judges(cfg, dry_run=dry),
                           categories=cfg.generation.categories or None, create=False)


def scope_of(ctx: Context) -> Optional[VerdictScope]:
    """The view's run scope (None without a config). Raises ConfigError / BackendUnavailable
    when the config names a judge that cannot be identified (the app shows it)."""
    if not scoped(ctx.options):
        return None
    return _scope(ctx.url, cache.answers_mark(ctx.mark), ctx.options.key, ctx.dry_run,
                  ctx.options)


def selection(opts: ViewerOptions, mode: Mode, dry: bool,
              scope: Optional[VerdictScope]) -> Selection:
    sel = Selection.from_config(opts.ratings, mode=mode, dry_run=dry)
    return replace(sel, with_lengths=True, scope=scope)


@st.cache_resource(show_spinner="Reading verdicts...", max_entries=8)
def _frame(url: str, mark: tuple[int, ...], scope_key: tuple, dry: bool, mode: Mode,
           _opts: ViewerOptions) -> VerdictFrame:
    scope = _scope(url, cache.answers_mark(mark), scope_key, dry, _opts) if scoped(_opts) \
        else None
    with phase(f"load verdicts ({mode})"):
        return load_verdicts(cache.store(url), selection(_opts, mode, dry, scope))


def full_frame(ctx: Context, mode: Mode = "pairwise") -> VerdictFrame:
    """Every verdict of the view that counts (shared: do not modify)."""
    return _frame(ctx.url, ctx.mark, ctx.options.key, ctx.dry_run, mode, ctx.options)


def frame(ctx: Context, mode: Mode = "pairwise", *, judge: Optional[str] = None,
          category: Optional[str] = None) -> VerdictFrame:
    """The view's verdicts for the sidebar's judge and category (``judge`` / ``category``
    override them). The result may be shared: do not modify it."""
    return narrow(full_frame(ctx, mode), ctx.categories,
                  judge=ctx.judge if judge is None else judge,
                  category=ctx.category if category is None else category)


def narrow(full: VerdictFrame, categories: CategoryMap, *, judge: str,
           category: str) -> VerdictFrame:
    """Rows of ``full`` by the judge selector value and the category group."""
    mask = np.ones(len(full), dtype=bool)
    if judge not in (ALL, DRY_KIND):
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


def group_names(ctx: Context, mode: Mode = "pairwise") -> list[str]:
    """The boards a page draws: one ("") with a config, else one per judge fingerprint."""
    if scoped(ctx.options):
        return [""]
    return _group_names(ctx.url, ctx.mark, ctx.options.key, ctx.dry_run, mode, ctx.judge,
                        ctx.category, ctx.categories.key(), ctx.options)


@st.cache_data(show_spinner=False, max_entries=64)
def _group_names(url: str, mark: tuple[int, ...], scope_key: tuple, dry: bool, mode: Mode,
                 judge: str, category: str, groups: tuple, _opts: ViewerOptions) -> list[str]:
    f = narrow(_frame(url, mark, scope_key, dry, mode, _opts), CategoryMap(dict(groups)),
               judge=judge, category=category)
    names = list(judge_groups(f))
    return [""] if len(names) <= 1 else names


def group_frame(ctx: Context, group: str, mode: Mode = "pairwise", *,
                category: Optional[str] = None) -> VerdictFrame:
    """The verdicts of one board (``group`` from ``group_names``)."""
    return _in_group(frame(ctx, mode, category=category), group)


def _in_group(f: VerdictFrame, group: str) -> VerdictFrame:
    """The rows of one judge group ("" = all); none when the group has no rows here."""
    if not group:
        return f
    mask = judge_groups(f).get(group)
    return f.subset(mask if mask is not None else np.zeros(len(f), dtype=bool))


def settings(ctx: Context, mode: Mode = "pairwise", *, baseline: Optional[str] = None,
             length_controlled: bool = False, style: bool = False) -> LeaderboardSettings:
    """``LeaderboardSettings.from_config`` for the viewer's config, with the page's choices:
    the mode, a baseline for win rates, and the length-controlled methods when asked for."""
    s = LeaderboardSettings.from_config(ctx.options.config, dry_run=ctx.dry_run)
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
    if style and "style_bt" not in methods:
        methods.append("style_bt")
    s.methods = tuple(methods)
    return s


@st.cache_resource(show_spinner="Computing ratings...", max_entries=128,
                   hash_funcs={LeaderboardSettings: repr})
def _board(url: str, mark: tuple[int, ...], scope_key: tuple, dry: bool, judge: str,
           category: str, group: str, groups: tuple, s: LeaderboardSettings,
           _opts: ViewerOptions) -> Leaderboard:
    mode: Mode = "single" if s.mode == "single" else "pairwise"
    f = narrow(_frame(url, mark, scope_key, dry, mode, _opts), CategoryMap(dict(groups)),
               judge=judge, category=category)
    f = _in_group(f, group)
    with phase("ratings"):
        return compute_leaderboard(f, s)


def board(ctx: Context, s: LeaderboardSettings, *, group: str = "",
          category: Optional[str] = None) -> Leaderboard:
    """``arena.leaderboard.compute_leaderboard`` over one board's verdicts (``group``), for the
    sidebar's judge and category (or ``category``), memoised per store state and choices.
    Shared: do not modify it."""
    return _board(ctx.url, ctx.mark, ctx.options.key, ctx.dry_run, ctx.judge,
                  ctx.category if category is None else category, group,
                  ctx.categories.key(), s, ctx.options)


def boards(ctx: Context, s: LeaderboardSettings) -> list[tuple[str, Leaderboard]]:
    """(group label, board) for every board of the page (see ``group_names``)."""
    return [(g, board(ctx, s, group=g)) for g in group_names(ctx, "single" if s.mode ==
                                                             "single" else "pairwise")]


def battles(ctx: Context, f: VerdictFrame) -> Battles:
    """Games as the leaderboard builds them (position policy, both-bad, strong weight)."""
    s = settings(ctx)
    return build_battles(f, s.policy, both_bad=s.both_bad,  # type: ignore[arg-type]
                         strong_weight=s.strong_weight)


@st.cache_resource(show_spinner="Listing battles...", max_entries=8)
def _index(url: str, mark: tuple[int, ...], scope_key: tuple, dry: bool, groups: tuple,
           both_bad: str, _opts: ViewerOptions) -> BattleIndex:
    f = _frame(url, mark, scope_key, dry, "pairwise", _opts)
    extra = cache.left_out(url, mark)
    extra = extra[extra["model_b"].notna()]
    kinds = selection(_opts, "pairwise", dry, None).judge_kinds
    extra = extra[extra["judge_kind"].isin(kinds)]  # the view's kinds only (dry-run or not)
    if scoped(_opts) and len(extra):
        scope = _scope(url, cache.answers_mark(mark), scope_key, dry, _opts)
        keep = scope.mask(extra["judge_kind"].tolist(), extra["cache_key"].tolist(),
                          _ids(extra["answer_a_id"]), _ids(extra["answer_b_id"]))
        extra = extra[keep]
    questions = cache.question_texts(url, cache.answers_mark(mark))
    with phase("battle list"):
        return build_index(f, extra, both_bad=both_bad, groups=dict(groups) or None,
                           questions=questions)


def _ids(col: Any) -> list[Optional[int]]:
    return [None if v is None or v != v else int(v) for v in col.tolist()]


def index(ctx: Context) -> BattleIndex:
    """The battle list of the view (every judge and category; the page filters it)."""
    return _index(ctx.url, ctx.mark, ctx.options.key, ctx.dry_run, ctx.groups_key(),
                  settings(ctx).both_bad, ctx.options)


def scope_caption(ctx: Context, groups: int = 1) -> str:
    """What the boards count, for a caption under them (plain text)."""
    if scoped(ctx.options):
        scope = scope_of(ctx)
        return scope_note(ctx.options.config, scope) if scope is not None else ""
    if groups > 1:
        return GROUPED
    return NO_SCOPE


def caption_counts(f: VerdictFrame) -> str:
    c = f.counts
    left_out = ", ".join(f"{c.get(k, 0)} {label}" for k, label in (
        ("out_of_scope", "outside the config's scope"), ("failed", "failed"),
        ("dry_run", "dry-run"), ("superseded", "corrected"),
        ("excluded_annotator", "from excluded annotators"),
        ("judge_kind", "from other judge kinds"), ("judge_id", "from other judges"),
        ("template_version", "from other templates"), ("duplicate", "duplicates"))
        if c.get(k, 0))
    return (f"{len(f)} verdicts rated" + (f" (left out of {c.get('rows', 0)} stored: "
                                          f"{left_out})" if left_out else ""))
