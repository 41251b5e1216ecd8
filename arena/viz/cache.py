"""Streamlit caching around ``arena.viz.data`` and the rating functions.

Every cached read is keyed by the store URL and the store's change marker (counts and max ids,
one cheap query per script run), so a rerun reuses everything and an append (a new verdict, a
new answer) invalidates exactly the reads that depend on it. Heavy results (rating frames,
leaderboards) are kept with ``st.cache_resource`` (no copy on a hit: callers must not mutate
them); small frames with ``st.cache_data``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import pandas as pd
import streamlit as st

from arena.store import Store
from arena.viz import data
from arena.viz.review_file import build_scratch_store

Marker = tuple[int, ...]


@st.cache_resource(show_spinner=False, max_entries=8)
def store(url: str) -> Store:
    """One read-only Store per URL for the life of the server (raises StoreNotReady)."""
    return data.open_readonly(url)


def marker(url: str) -> Marker:
    """The change marker, read fresh on every run (milliseconds)."""
    return data.change_marker(store(url).engine)


@st.cache_resource(show_spinner="Loading the review file...", max_entries=8)
def review_store_url(path: str, mtime_ns: int, size: int) -> str:
    """The scratch store for a review file; rebuilt when the file changes (mtime/size)."""
    return build_scratch_store(Path(path))


@st.cache_data(show_spinner=False, max_entries=8)
def store_summary(url: str, mark: Marker) -> dict[str, Any]:
    return data.store_summary(store(url).engine)


@st.cache_resource(show_spinner="Reading verdicts...", max_entries=4)
def verdicts(url: str, mark: Marker) -> pd.DataFrame:
    return data.load_verdicts(store(url).engine)


@st.cache_data(show_spinner=False, max_entries=512)
def battle(url: str, battle_id: int, mark: Marker) -> Optional[data.BattleDetail]:
    return data.load_battle(store(url).engine, battle_id)


@st.cache_resource(show_spinner=False, max_entries=4)
def battle_table(url: str, mark: Marker, groups_key: tuple[tuple[str, str], ...]
                 ) -> pd.DataFrame:
    from arena.viz.filters import battle_table as build

    return build(verdicts(url, mark), dict(groups_key) or None)
