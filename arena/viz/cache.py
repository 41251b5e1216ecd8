"""Streamlit caching around ``arena.viz.data``: store reads keyed by the store's state.

Every cached read takes the store URL and the part of the change marker it depends on (one
cheap query per script run, ``data.change_marker``), so a rerun reuses everything and an
append (a verdict, an answer, a question) refreshes exactly the reads that depend on it.
Heavy results are kept with ``st.cache_resource`` (no copy on a hit: callers must not mutate
them); small ones with ``st.cache_data``. Each miss is timed (``arena.viz.timing``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import pandas as pd
import streamlit as st

from arena.store import Store
from arena.viz import data
from arena.viz.review_file import build_scratch_store
from arena.viz.timing import phase

Marker = tuple[int, ...]


@st.cache_resource(show_spinner=False, max_entries=8)
def store(url: str) -> Store:
    """One read-only Store per URL for the life of the server (raises StoreNotReady)."""
    with phase("open store"):
        return data.open_readonly(url)


def marker(url: str) -> Marker:
    """The change marker, read fresh on every run (milliseconds)."""
    with phase("change marker"):
        return data.change_marker(store(url).engine)


def answers_mark(mark: Marker) -> Marker:
    """The part of the marker that answers and questions depend on."""
    return mark[2:4] + mark[6:7]


@st.cache_resource(show_spinner="Loading the review file...", max_entries=8)
def review_store_url(path: str, mtime_ns: int, size: int) -> str:
    """The scratch store for a review file; rebuilt when the file changes (mtime/size)."""
    with phase("load review file"):
        return build_scratch_store(Path(path))


@st.cache_data(show_spinner=False, max_entries=8)
def store_summary(url: str, mark: Marker) -> dict[str, Any]:
    with phase("sidebar summary"):
        return data.store_summary(store(url).engine)


@st.cache_resource(show_spinner=False, max_entries=8)
def left_out(url: str, mark: Marker) -> pd.DataFrame:
    with phase("left-out verdicts"):
        return data.left_out_rows(store(url).engine)


@st.cache_resource(show_spinner=False, max_entries=4)
def question_texts(url: str, amark: Marker) -> dict[str, str]:
    with phase("question texts"):
        return data.question_texts(store(url).engine)


@st.cache_resource(show_spinner="Reading answers for the search...", max_entries=2)
def search_corpus(url: str, amark: Marker) -> tuple[list[tuple[str, str]], list[str],
                                                    dict[str, str]]:
    """((question id, model) per answer, its folded text, question id -> folded text)."""
    with phase("search corpus"):
        rows = data.answer_texts(store(url).engine)
        qs = {q: t.casefold() for q, t in question_texts(url, amark).items()}
        return [(q, m) for q, m, _ in rows], [t.casefold() for _, _, t in rows], qs


@st.cache_data(show_spinner=False, max_entries=64)
def search(url: str, amark: Marker, query: str) -> tuple[frozenset[str],
                                                         frozenset[tuple[str, str]]]:
    """(questions whose text has every term, (question, model) answers that have every
    term). Terms are the query's words, matched case-insensitively as substrings."""
    keys, texts, qs = search_corpus(url, amark)
    terms = [t for t in query.casefold().split() if t]
    if not terms:
        return frozenset(), frozenset()
    with phase("search"):
        q_hit = frozenset(q for q, t in qs.items() if all(x in t for x in terms))
        a_hit = frozenset(k for k, t in zip(keys, texts) if all(x in t for x in terms))
    return q_hit, a_hit


@st.cache_data(show_spinner=False, max_entries=256)
def battle(url: str, mark: Marker, question_id: str, model_a: str, model_b: str
           ) -> Optional[data.BattleDetail]:
    with phase("battle detail"):
        return data.load_battle(store(url).engine, question_id, model_a, model_b)


@st.cache_data(show_spinner=False, max_entries=256)
def single(url: str, mark: Marker, judgment_id: int) -> Optional[data.SingleDetail]:
    with phase("single detail"):
        return data.load_single(store(url).engine, judgment_id)
