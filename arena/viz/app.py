"""The battle browser's script body: options, data source, sidebar and page dispatch.

``viz.py`` calls ``main()``. Pages live in ``arena.viz.pages``; each has ``render(ctx)``.
The page, category, judge and text mode are query parameters (``?page=battles&battle=12``),
so any view can be shared as a link.

Failure modes are shown, not raised: unknown arguments, a bad config or review file, a missing
store or one with no arena tables, a config whose judge cannot be identified: one clear error
box and the script stops. A dry-run view (a dry-run judge chosen) carries the DRY RUN label at
the top of every page.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Optional, Sequence

import streamlit as st

from arena.errors import ArenaError
from arena.leaderboard import DRY_RUN_LABEL
from arena.viz import cache, serving, timing
from arena.viz.categories import CategoryMap, load_category_map
from arena.viz.context import Context, synced_selectbox
from arena.viz.filters import ALL, judge_choices, judge_label_text
from arena.viz.options import ViewerOptions, parse_options
from arena.viz.pages import PAGES
from arena.viz.render import plain
from arena.viz.show import page_style

log = logging.getLogger(__name__)

RENDER_MODES = {"markdown": "markdown (sanitised)", "text": "plain text"}


@st.cache_resource(show_spinner=False, max_entries=8)
def _category_map(path: Optional[str], mtime_ns: int) -> CategoryMap:
    return load_category_map(Path(path) if path else None)


def _source(opts: ViewerOptions) -> tuple[str, str]:
    """(store URL, label): the review file's scratch store, or the arena store."""
    if opts.review_file is not None:
        stat = opts.review_file.stat()
        url = cache.review_store_url(str(opts.review_file), stat.st_mtime_ns, stat.st_size)
        return url, f"review file {opts.review_file.name}"
    return opts.db_url, f"store {cache.store(opts.db_url).describe()}"


def main(argv: Optional[Sequence[str]] = None) -> None:
    timing.start()
    try:
        _run(argv)
    finally:
        timing.finish()


def _run(argv: Optional[Sequence[str]]) -> None:
    st.set_page_config(page_title="Arena battle browser", layout="wide")
    page_style()
    try:
        opts = parse_options(argv)
        url, label = _source(opts)
        mark = cache.marker(url)
        cat_file = opts.category_file
        cats = _category_map(str(cat_file) if cat_file else None,
                             cat_file.stat().st_mtime_ns if cat_file else 0)
    except ArenaError as exc:
        _fail(exc)
        return

    side = st.sidebar
    side.title("Arena")
    for note in serving.notes():
        side.warning(note)
    page = synced_selectbox("Page", list(PAGES), key="page", param="page",
                            format_func=PAGES.get, container=side)
    summary = cache.store_summary(url, mark)
    groups = sorted({cats.group(c) for c in summary["categories"]})
    category = synced_selectbox("Category", [ALL, *groups], key="category", param="category",
                                container=side,
                                format_func=lambda c: "(all categories)" if c == ALL else c or
                                "(no category)")
    judge = synced_selectbox("Judge", judge_choices(summary["judges"]), key="judge",
                             param="judge", container=side, format_func=judge_label_text)
    render = synced_selectbox("Show model output as", list(RENDER_MODES), key="render",
                              param="render", container=side, format_func=RENDER_MODES.get)
    side.caption(f"Reading {plain(label)}" + (f", config {plain(opts.config_path.name)}"
                                             if opts.config_path else ""))
    side.caption(_counts_line(summary))
    for note in opts.legacy_notes:
        side.caption(f"config note: {plain(note)}")

    ctx = Context(url=url, mark=mark, options=opts, categories=cats, source_label=label,
                  category=category, judge=judge, render=render)
    if ctx.dry_run:
        st.warning(f"{DRY_RUN_LABEL}: this view shows dry-run verdicts only; they never "
                   f"enter a real leaderboard.")
    from arena.viz import pages

    try:
        pages.render(page, ctx)
    except ArenaError as exc:  # e.g. a config whose judge cannot be identified
        _fail(exc)
    if st.query_params.get("timing"):
        _timings(side)


def _fail(exc: ArenaError) -> None:
    st.title("Arena battle browser")
    st.error(str(exc))
    st.stop()


def _timings(side: object) -> None:
    with st.sidebar.expander("Server-side time of this run", expanded=True):
        for name, sec in timing.summarise(timing.current()).items():
            st.text(f"{name}: {sec * 1000:.0f} ms")
        st.text(f"script so far: {timing.elapsed() * 1000:.0f} ms")


def _counts_line(summary: dict) -> str:
    total = sum(n for _, _, n in summary["counts"])
    failed = sum(n for _, s, n in summary["counts"] if s != "ok")
    dry = sum(n for k, _, n in summary["counts"] if k == "dry-run")
    return (f"{total} verdicts stored: {failed} failed to parse, {dry} dry-run, "
            f"{summary['superseded']} corrected (failed, dry-run and corrected verdicts never "
            f"enter a leaderboard)")
