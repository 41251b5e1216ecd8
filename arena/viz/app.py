"""The battle browser's script body: options, data source, sidebar and page dispatch.

``viz.py`` calls ``main()``. Pages live in ``arena.viz.pages``; each has ``render(ctx)``.
The page, category, judge and text mode are query parameters (``?page=battles&battle=12``),
so any view can be shared as a link.

Failure modes are shown, not raised: a bad config or review file, a missing store or one with
no arena tables yields one clear error box and the script stops.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Optional, Sequence

import streamlit as st

from arena.errors import ArenaError
from arena.viz import cache
from arena.viz.categories import CategoryMap, load_category_map
from arena.viz.context import Context, synced_selectbox
from arena.viz.filters import ALL, judge_choices, judge_label
from arena.viz.options import ViewerOptions, parse_options

log = logging.getLogger(__name__)

PAGES = {"leaderboard": "Leaderboard", "matrices": "Matrices", "battles": "Battles",
         "judges": "Judges", "length": "Length"}
RENDER_MODES = {"markdown": "markdown (sanitised)", "text": "plain text"}


@st.cache_resource(show_spinner=False, max_entries=8)
def _category_map(path: Optional[str], mtime_ns: int) -> CategoryMap:
    return load_category_map(Path(path) if path else None)


def _source(opts: ViewerOptions) -> tuple[str, str]:
    """(store URL, label): the review file's scratch store, or the arena store."""
    if opts.review_file is not None:
        stat = opts.review_file.stat()
        url = cache.review_store_url(str(opts.review_file), stat.st_mtime_ns, stat.st_size)
        return url, f"review file `{opts.review_file.name}`"
    return opts.db_url, f"store `{cache.store(opts.db_url).describe()}`"


def main(argv: Optional[Sequence[str]] = None) -> None:
    st.set_page_config(page_title="Arena battle browser", layout="wide")
    try:
        opts = parse_options(argv)
        url, label = _source(opts)
        mark = cache.marker(url)
        cat_file = opts.category_file
        cats = _category_map(str(cat_file) if cat_file else None,
                             cat_file.stat().st_mtime_ns if cat_file else 0)
    except ArenaError as exc:
        st.title("Arena battle browser")
        st.error(str(exc))
        st.stop()
        return

    side = st.sidebar
    side.title("Arena")
    page = synced_selectbox("Page", list(PAGES), key="page", param="page",
                            format_func=PAGES.get, container=side)
    summary = cache.store_summary(url, mark)
    groups = sorted({cats.group(c) for c in summary["categories"]})
    category = synced_selectbox("Category", [ALL, *groups], key="category", param="category",
                                container=side,
                                format_func=lambda c: "(all categories)" if c == ALL else c or
                                "(no category)")
    judge = synced_selectbox("Judge", judge_choices(summary["judges"]), key="judge",
                             param="judge", container=side, format_func=judge_label)
    render = synced_selectbox("Show model output as", list(RENDER_MODES), key="render",
                              param="render", container=side, format_func=RENDER_MODES.get)
    side.caption(f"Reading {label}")
    side.caption(_counts_line(summary))
    for note in opts.legacy_notes:
        side.caption(f"config note: {note}")

    ctx = Context(url=url, mark=mark, options=opts, categories=cats, source_label=label,
                  category=category, judge=judge, render=render)
    from arena.viz import pages

    pages.render(page, ctx)


def _counts_line(summary: dict) -> str:
    total = sum(n for _, _, n in summary["counts"])
    failed = sum(n for _, s, n in summary["counts"] if s != "ok")
    dry = sum(n for k, _, n in summary["counts"] if k == "dry-run")
    return (f"{total} verdicts stored: {failed} failed to parse, {dry} dry-run, "
            f"{summary['superseded']} corrected (failed, dry-run and corrected verdicts never "
            f"enter a leaderboard)")
