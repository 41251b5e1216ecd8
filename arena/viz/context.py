"""What every page of the battle browser receives, and widgets kept in sync with the URL.

A page reads the store through ``Context`` (cached reads keyed by the change marker) and uses
``synced_selectbox`` / ``synced_multiselect`` / ``synced_text`` for selections that belong in a
shareable link: the widget's first value comes from the query parameter, and every change is
written back, so the address bar always reopens the same view.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import streamlit as st

from arena.viz import cache
from arena.viz.categories import CategoryMap
from arena.viz.filters import ALL, is_dry_choice
from arena.viz.options import ViewerOptions


@dataclass
class Context:
    url: str
    mark: tuple[int, ...]
    options: ViewerOptions
    categories: CategoryMap
    source_label: str
    category: str = ALL  # a display group, or ALL
    judge: str = ALL  # a judge selector value (arena.viz.filters.judge_choices)
    render: str = "markdown"  # "markdown" (sanitised) or "text"

    @property
    def dry_run(self) -> bool:
        """A dry-run judge is chosen: pages read dry-run verdicts only, labelled DRY RUN."""
        return is_dry_choice(self.judge)

    def groups_key(self) -> tuple[tuple[str, str], ...]:
        names = cache.store_summary(self.url, self.mark)["categories"]
        if not self.categories:
            return ()
        return tuple((c, self.categories.group(c)) for c in names)


def _init(key: str, param: str, options: Sequence[Any], default: Any) -> None:
    current = st.session_state.get(key)
    if current is None or current not in options:
        wanted = st.query_params.get(param)
        pick = next((o for o in options if str(o) == wanted), None)
        st.session_state[key] = pick if pick is not None else default


def synced_selectbox(label: str, options: Sequence[Any], *, key: str, param: str,
                     default: Any = None, container: Any = None, **kwargs: Any) -> Any:
    """A selectbox whose value is mirrored in ``?param=``; the default leaves no parameter."""
    opts = list(options)
    if not opts:
        return None
    default = default if default in opts else opts[0]
    _init(key, param, opts, default)
    value = (container or st).selectbox(label, opts, key=key, **kwargs)
    if value == default:
        if param in st.query_params:
            del st.query_params[param]
    else:
        st.query_params[param] = str(value)
    return value


def synced_multiselect(label: str, options: Sequence[str], *, key: str, param: str,
                       container: Any = None, **kwargs: Any) -> list[str]:
    """A multiselect mirrored in ``?param=a,b``."""
    opts = list(options)
    if key not in st.session_state:
        wanted = [w for w in (st.query_params.get(param) or "").split(",") if w in opts]
        st.session_state[key] = wanted
    else:
        st.session_state[key] = [v for v in st.session_state[key] if v in opts]
    values = (container or st).multiselect(label, opts, key=key, **kwargs)
    if values:
        st.query_params[param] = ",".join(values)
    elif param in st.query_params:
        del st.query_params[param]
    return list(values)


def synced_text(label: str, *, key: str, param: str, container: Any = None,
                **kwargs: Any) -> str:
    """A text input mirrored in ``?param=``; empty text leaves no parameter."""
    if key not in st.session_state:
        st.session_state[key] = st.query_params.get(param) or ""
    value = (container or st).text_input(label, key=key, **kwargs).strip()
    if value:
        st.query_params[param] = value
    elif param in st.query_params:
        del st.query_params[param]
    return value
