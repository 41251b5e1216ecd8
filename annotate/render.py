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
import secrets
from functools import lru_cache

import nh3
from markdown_it import MarkdownIt
from markupsafe import Markup, escape

ALLOWED_TAGS = {
    "p", "br", "hr", "strong", "em", "del", "s", "code", "pre", "blockquote",
    "ul", "ol", "li", "h1", "h2", "h3", "h4", "h5", "h6",
    "table", "thead", "tbody", "tr", "th", "td", "a", "span",
}
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "code": {"class"},
    "ol": {"start"},
    "span": {"class"},
}
MATH_CLASSES = {"math-inline", "math-display"}
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
        if tag == "code" and _LANG_CLASS.match(value):
            return value
        return value if tag == "span" and value in MATH_CLASSES else None
    if attr == "style":
        return None
    return value


def sanitize(html: str) -> str:
    """Sanitise an HTML fragment with the allow-list above."""
    return nh3.clean(html, tags=ALLOWED_TAGS, attributes=ALLOWED_ATTRIBUTES,
                     url_schemes=URL_SCHEMES, link_rel="noopener noreferrer nofollow",
                     attribute_filter=_attribute_filter, strip_comments=True)


# Math: $$...$$, \[...\], \(...\) and $...$ (pandoc's rule: no space just inside the
# dollars, no digit right after the closing one, so "$5 and $10" stays text). Fenced and
# inline code are matched first so that a "$" in code is never taken for math.
_MATH = re.compile(
    r"(?P<fence>^[ ]{0,3}(?P<f>`{3,}|~{3,})[^\n]*\n.*?(?:^[ ]{0,3}(?P=f)[ \t]*$|\Z))"
    r"|(?P<code>(?P<tick>`+).+?(?P=tick))"
    r"|\$\$(?P<dd>.+?)\$\$"
    r"|\\\[(?P<db>.+?)\\\]"
    r"|\\\((?P<ip>.+?)\\\)"
    r"|(?<![\\$\w])\$(?P<id>[^\s$](?:[^$\n]*?[^\s$\\])?)\$(?![\d$])",
    re.DOTALL | re.MULTILINE)
MAX_MATH = 2000  # characters of TeX in one formula; longer stays plain text


def _protect_math(text: str) -> tuple[str, dict[str, str]]:
    """Replace formulas by inert placeholders; return the text and placeholder -> HTML."""
    if "$" not in text and "\\" not in text:
        return text, {}
    nonce = secrets.token_hex(4)
    found: dict[str, str] = {}

    def sub(m: re.Match[str]) -> str:
        if m.group("fence") is not None or m.group("code") is not None:
            return m.group(0)
        display = m.group("dd") is not None or m.group("db") is not None
        tex = next(g for g in (m.group("dd"), m.group("db"), m.group("ip"), m.group("id"))
                   if g is not None)
        if len(tex) > MAX_MATH or not tex.strip():
            return m.group(0)
        key = f"mathph{nonce}x{len(found)}z"
        cls = "math-display" if display else "math-inline"
        # The TeX is escaped text; the page's math.js typesets it with KaTeX (trust off).
        found[key] = f'<span class="{cls}">{escape(tex.strip())}</span>'
        return key

    return _MATH.sub(sub, text), found


@lru_cache(maxsize=8192)
def _render_cached(text: str) -> str:
    # Rendering is a pure function of the text; answers are shown again and again (every
    # annotator, every overlap), so the hot path reuses the HTML instead of re-parsing.
    body, math = _protect_math(text)
    html = _parser().render(body)
    for key, value in math.items():
        html = html.replace(key, value)
    # Sanitise last: a placeholder may have landed inside an attribute (a link target).
    return sanitize(html)


def markdown(text: str | None) -> Markup:
    """Render untrusted markdown to sanitised HTML, safe to put into a template as is.

    Formulas become ``<span class="math-inline|math-display">`` holding the escaped TeX,
    typeset in the browser by the vendored KaTeX (``static/math.js``).
    """
    if not text:
        return Markup("")
    return Markup(_render_cached(str(text)))
