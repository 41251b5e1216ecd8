"""Safe rendering of untrusted text for the battle browser: pure functions (string in, string
out), tested without Streamlit.

Everything shown comes from models, judges or files, so none of it is trusted:

- **Markdown** goes through the project's one sanitiser (``_sanitised_markdown`` below: raw
  HTML off in the parser, then an nh3 allow-list; images become plain links the reader may
  open, so nothing is fetched when a page is drawn). This module is its only import site in
  the viewer: when the sanitiser moves to ``arena.render``, the import line changes and
  nothing else.
- **Viewer CSS** (``STYLE``): code blocks and tables scroll inside their own column instead of
  running under the other answer; long words wrap.
- **Names** (models, categories, judges, annotators) are plain text everywhere. Streamlit
  interprets markdown in headers, captions and labels, and plotly interprets a few HTML tags in
  chart text, so a name is passed through ``plain`` (markdown) or ``chart_text`` (plotly)
  before it lands in either; tables and widget options show text as is.
"""

from __future__ import annotations

import html
import re
import string

from arena.render import markdown as _sanitised_markdown  # THE sanitiser (one import site)

MD_CLASS = "arena-md"

# Scoped to the sanitised blocks and the battle page's columns; injected once per page.
STYLE = f"""<style>
.{MD_CLASS} {{ overflow-wrap: anywhere; max-width: 100%; }}
.{MD_CLASS} pre {{ overflow-x: auto; max-width: 100%; white-space: pre; padding: 0.6rem 0.8rem;
  background: rgba(127, 127, 127, 0.08); border-radius: 0.4rem; }}
.{MD_CLASS} pre code {{ white-space: pre; word-break: normal; overflow-wrap: normal; }}
.{MD_CLASS} table {{ display: block; overflow-x: auto; max-width: 100%; }}
.{MD_CLASS} a {{ word-break: break-all; }}
div[data-testid="stColumn"] {{ min-width: 0; }}
div[data-testid="stColumn"] pre {{ overflow-x: auto; max-width: 100%; }}
</style>"""

_MD_PUNCT = frozenset(string.punctuation)
WJ = "\u2060"  # WORD JOINER: invisible, keeps GFM from autolinking a name (see ``plain``)
_WWW = re.compile(r"www(?=\.)", re.IGNORECASE)


def markdown_to_safe_html(text: str | None) -> str:
    """``text`` as sanitised HTML inside a ``<div class="arena-md">`` (``""`` for none).

    Never raises for odd input: the markdown parser accepts any string.
    """
    if not text:
        return ""
    return f'<div class="{MD_CLASS}">{_sanitised_markdown(str(text))}</div>'


def plain(name: object) -> str:
    """``name`` escaped for a Streamlit markdown string (header, caption, label), so it shows
    as the exact characters: every ASCII punctuation mark becomes a numeric character
    reference (``&#58;``), which markdown shows as that character and never reads as syntax:
    no emphasis, link, heading, ``:color[...]`` directive, emoji shortcode or ``$`` maths.
    GFM's bare-URL and e-mail autolinks are found in the decoded text, so an invisible WORD
    JOINER (U+2060) follows every ``:`` and ``@`` and splits ``www.``: no name becomes a
    link. Line breaks become spaces (a name is one line)."""
    s = " ".join(str(name).split()) if name is not None else ""
    s = _WWW.sub("www" + WJ, s)
    return "".join(f"&#{ord(ch)};" + (WJ if ch in ":@" else "") if ch in _MD_PUNCT else ch
                   for ch in s)


def chart_text(name: object) -> str:
    """``name`` for plotly text (ticks, legends, hover): plotly reads a few HTML tags (links
    among them) in chart text, and shows entities as their characters."""
    return html.escape(str(name), quote=True)


def preview(text: object, limit: int = 90) -> str:
    """One line of at most ``limit`` characters from ``text`` (for lists and pickers)."""
    s = " ".join(str(text or "").split())
    return s if len(s) <= limit else s[:limit - 1].rstrip() + "…"


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
