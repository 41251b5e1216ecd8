"""Safe rendering of model output, judge rationales and question text.

Everything shown in the battle browser comes from models or files, so none of it is trusted:
- ``as_text`` mode shows the exact characters (no interpretation at all);
- ``as_markdown`` mode converts CommonMark with raw HTML switched *off* in markdown-it-py (a
  ``<script>`` in the output becomes the visible text ``<script>``), then passes the result
  through nh3 with a small allow-list of tags and attributes, so even a bug in the markdown
  step cannot let a script, an event handler, a style or a ``javascript:`` link through.

The functions here are pure (string in, string out) so they are tested without Streamlit.
"""

from __future__ import annotations

from functools import lru_cache

import nh3
from markdown_it import MarkdownIt

# Tags markdown-it can produce for CommonMark + tables + strikethrough; nothing else passes.
ALLOWED_TAGS: frozenset[str] = frozenset({
    "p", "br", "hr", "em", "strong", "s", "del", "code", "pre", "blockquote",
    "ul", "ol", "li", "h1", "h2", "h3", "h4", "h5", "h6", "a", "img",
    "table", "thead", "tbody", "tr", "th", "td",
})
ALLOWED_ATTRIBUTES: dict[str, set[str]] = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title"},
    "ol": {"start"},
    "code": {"class"},
    "th": {"style"},  # markdown-it writes text-align for table columns
    "td": {"style"},
}
URL_SCHEMES: frozenset[str] = frozenset({"http", "https", "mailto"})


@lru_cache(maxsize=1)
def _parser() -> MarkdownIt:
    # "commonmark" preset with html disabled: raw HTML blocks and inline tags are escaped.
    md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
    md.enable(["table", "strikethrough"])
    return md


def sanitise_html(html: str) -> str:
    """Clean an HTML fragment with the allow-list above (links get rel=noopener noreferrer)."""
    return nh3.clean(
        html,
        tags=set(ALLOWED_TAGS),
        attributes={k: set(v) for k, v in ALLOWED_ATTRIBUTES.items()},
        url_schemes=set(URL_SCHEMES),
        link_rel="noopener noreferrer nofollow",
        filter_style_properties={"text-align"},
    )


def markdown_to_safe_html(text: str | None) -> str:
    """Render ``text`` as sanitised HTML. ``None`` renders as an empty string.

    Never raises for odd input: markdown-it accepts any string.
    """
    if not text:
        return ""
    return sanitise_html(_parser().render(text))


def turns_to_text(turns: object) -> list[str]:
    """Normalise a stored ``turns`` value (list of str, or a bare str) to a list of strings.

    Non-string items are shown with ``str()`` rather than dropped, so odd stored data is visible.
    """
    if turns is None:
        return []
    if isinstance(turns, str):
        return [turns]
    if isinstance(turns, (list, tuple)):
        return ["" if t is None else t if isinstance(t, str) else str(t) for t in turns]
    return [str(turns)]
