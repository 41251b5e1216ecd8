"""The project's one sanitiser: untrusted text (model answers, questions, references, judge
rationales, documents) to HTML that is safe to show and loads nothing.

Used by the annotation app and the battle browser. Rules:
- Markdown is parsed with raw HTML *off* (``<script>`` in an answer is shown as text), and the
  result goes through the nh3 (ammonia) sanitiser with a small allow-list of tags and
  attributes, ``http``/``https``/``mailto`` links only, ``rel="noopener noreferrer nofollow"``
  on every link, no ``style`` attribute.
- Nothing loads a remote resource: there is no ``<img>``, ``<iframe>``, ``<video>``... in the
  allow-list; a markdown image becomes a plain link ``[image: alt]`` the reader may open.
- Code blocks keep their exact text (escaped, never interpreted).
- Names (models, authors, judges) are never markdown: ``plain`` escapes them as text.
- Formulas become ``<span class="math-inline|math-display">`` holding the escaped TeX (the
  annotation app typesets them in the browser with its vendored KaTeX; elsewhere they read as
  TeX).
Every function is pure (string in, markup out) and never raises for odd input.
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
    """An image becomes a plain link to it: the reader's browser never loads it."""
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
    typeset in the browser by the vendored KaTeX (``annotate/static/math.js``).
    """
    if not text:
        return Markup("")
    return Markup(_render_cached(str(text)))


def markdown_to_safe_html(text: str | None) -> str:
    """``markdown`` as a plain string (for callers that are not Jinja templates)."""
    return str(markdown(text))


def plain(text: object) -> Markup:
    """A name or label shown as exactly its characters (escaped; never markdown or HTML)."""
    return escape("" if text is None else str(text))


def turns_to_text(turns: object) -> list[str]:
    """A stored ``turns`` value (list of str, or a bare str) as a list of strings; odd items
    are shown with ``str()`` rather than dropped."""
    if turns is None:
        return []
    if isinstance(turns, str):
        return [turns]
    if isinstance(turns, (list, tuple)):
        return ["" if t is None else t if isinstance(t, str) else str(t) for t in turns]
    return [str(turns)]


__all__ = ["markdown", "markdown_to_safe_html", "plain", "sanitize", "turns_to_text",
           "ALLOWED_TAGS", "ALLOWED_ATTRIBUTES", "URL_SCHEMES"]
