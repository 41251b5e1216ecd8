"""Safe rendering of untrusted text (model answers, questions, references) to HTML.

Two layers, both always on: the markdown parser runs with raw HTML *off* (``<script>`` in an
answer is shown as text, not parsed as a tag), and its output then goes through the nh3
(ammonia) sanitiser with a small allow-list of tags and attributes, ``http``/``https``/``mailto``
links only, and ``rel="noopener noreferrer nofollow"`` on every link. Images are not rendered
(an answer must not make the annotator's browser fetch anything); the page's CSP would block
them anyway.
"""

from __future__ import annotations

import re
from functools import lru_cache

import nh3
from markdown_it import MarkdownIt
from markupsafe import Markup, escape

ALLOWED_TAGS = {
    "p", "br", "hr", "strong", "em", "del", "s", "code", "pre", "blockquote",
    "ul", "ol", "li", "h1", "h2", "h3", "h4", "h5", "h6",
    "table", "thead", "tbody", "tr", "th", "td", "a",
}
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "code": {"class"},
    "ol": {"start"},
}
URL_SCHEMES = {"http", "https", "mailto"}
_LANG_CLASS = re.compile(r"^language-[A-Za-z0-9_+#.-]{1,40}$")


@lru_cache(maxsize=1)
def _parser() -> MarkdownIt:
    # commonmark with raw HTML disabled; tables and strikethrough as in GitHub markdown.
    md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
    md.enable(["table", "strikethrough"])
    md.add_render_rule("image", _image_as_link)
    return md


def _image_as_link(self, tokens, idx, options, env) -> str:  # type: ignore[no-untyped-def]
    """An image becomes a plain link to it: the annotator's browser never loads it."""
    token = tokens[idx]
    src = token.attrGet("src") or ""
    alt = self.renderInlineAsText(token.children or [], options, env) or "image"
    if not _parser().validateLink(src):
        return escape(f"[image: {alt}]")
    return f'<a href="{escape(src)}">[image: {escape(alt)}]</a>'


def _attribute_filter(tag: str, attr: str, value: str) -> str | None:
    # Only the classes markdown-it writes for fenced code. Inline styles (table alignment)
    # are dropped: the CSP forbids them anyway.
    if attr == "class":
        return value if tag == "code" and _LANG_CLASS.match(value) else None
    if attr == "style":
        return None
    return value


def sanitize(html: str) -> str:
    """Sanitise an HTML fragment with the allow-list above."""
    return nh3.clean(html, tags=ALLOWED_TAGS, attributes=ALLOWED_ATTRIBUTES,
                     url_schemes=URL_SCHEMES, link_rel="noopener noreferrer nofollow",
                     attribute_filter=_attribute_filter, strip_comments=True)


def markdown(text: str | None) -> Markup:
    """Render untrusted markdown to sanitised HTML, safe to put into a template as is."""
    if not text:
        return Markup("")
    return Markup(sanitize(_parser().render(str(text))))
