"""Safe rendering of untrusted text (model output, rationales, questions, names)."""

from __future__ import annotations

import html
import re

from arena.viz.render import (STYLE, WJ, chart_text, markdown_to_safe_html, plain, preview,
                              turns_to_text)


def test_script_and_raw_html_become_visible_text() -> None:
    html = markdown_to_safe_html('<script>alert("x")</script><img src=x onerror="alert(1)">')
    assert "<script" not in html and "<img" not in html
    assert "&lt;script&gt;" in html and "onerror" in html  # shown as text, not as an attribute


def test_markdown_still_renders_inside_the_scrolling_block() -> None:
    html = markdown_to_safe_html("**bold** and `code`\n\n| a | b |\n|---|---|\n| 1 | 2 |"
                                 "\n\n```\n" + "x" * 500 + "\n```")
    assert html.startswith('<div class="arena-md">')
    assert "<strong>bold</strong>" in html and "<code>code</code>" in html
    assert "<table>" in html and "<td>1</td>" in html and "<pre>" in html
    assert ".arena-md pre { overflow-x: auto;" in STYLE  # code scrolls inside its column


def test_a_remote_image_becomes_a_link_the_reader_may_open() -> None:
    html = markdown_to_safe_html("see ![a chart](https://198.51.100.7/pixel.png) here")
    assert "<img" not in html
    assert '<a href="https://198.51.100.7/pixel.png"' in html and "[image: a chart]" in html


def test_dangerous_links_are_dropped_and_safe_ones_get_rel() -> None:
    html = markdown_to_safe_html("[x](javascript:alert(1)) [y](https://example.org)")
    assert 'href="javascript' not in html
    assert 'href="https://example.org"' in html and "noopener" in html


def test_names_are_plain_text() -> None:
    name = "[evil](https://198.51.100.7/x) **b** :red[c] $x$ <i>"
    escaped = plain(name)
    shown = html.unescape(escaped)
    assert shown.replace(WJ, "") == name  # shown as the exact characters
    # nothing markdown could read as syntax is left: only letters, digits, spaces, references
    assert re.fullmatch(r"(?:[A-Za-z0-9 \u2060]|&#\d+;)*", escaped), escaped
    # GFM autolinks (found in the decoded text) need "https://", "www." or "@domain"
    assert "://" not in shown and not re.search(r"www\.|@\w", plain("www.x.org a@b.co"))
    assert plain("two\nlines") == "two lines" and plain("café") == "café"
    assert chart_text('<a href="x">m</a>') == "&lt;a href=&quot;x&quot;&gt;m&lt;/a&gt;"


def test_empty_and_odd_turns() -> None:
    assert markdown_to_safe_html(None) == "" and markdown_to_safe_html("") == ""
    assert turns_to_text(["a", None, 3]) == ["a", "", "3"]
    assert turns_to_text("one") == ["one"] and turns_to_text(None) == []
    assert preview("a  b\n c") == "a b c" and preview("x" * 200, 10) == "x" * 9 + "…"
