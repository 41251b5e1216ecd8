"""Streamlit helpers that draw untrusted text safely (see ``arena.viz.render``).

Model output, questions, rationales, raw judge output and annotator comments are only ever
drawn by these functions: as plain text (``st.text``) or as sanitised HTML from markdown
(``render.markdown_to_safe_html``). Raw judge output is always plain text: it is evidence,
shown verbatim. Names go into markdown strings only through ``render.plain``.
"""

from __future__ import annotations

from typing import Any, Optional

import streamlit as st

from arena.viz.render import STYLE, markdown_to_safe_html


def page_style() -> None:
    """The viewer's CSS (code blocks scroll inside their column); once per script run."""
    st.html(STYLE)


def text_block(text: Optional[str], mode: str, *, container: Any = None,
               empty: str = "(empty)") -> None:
    """Draw ``text`` in ``mode`` ("markdown" sanitised, or "text")."""
    c = container or st
    if text is None or text == "":
        c.caption(empty)
        return
    if mode == "markdown":
        c.html(markdown_to_safe_html(text))
    else:
        c.text(text)


def verbatim(text: Optional[str], *, container: Any = None, empty: str = "(none)") -> None:
    """Exact characters, no interpretation (raw judge output, errors)."""
    c = container or st
    if not text:
        c.caption(empty)
        return
    c.code(text, language=None, wrap_lines=True)
