"""Safe rendering of untrusted text (model output, rationales, questions)."""

from __future__ import annotations

from arena.viz.render import markdown_to_safe_html, sanitise_html, turns_to_text


def test_script_and_raw_html_become_visible_text() -> None:
    html = markdown_to_safe_html('<script>alert("x")</script><img src=x onerror="alert(1)">')
    assert "<script" not in html and "<img" not in html
    assert "&lt;script&gt;" in html and "onerror" in html  # shown as text, not as an attribute


def test_markdown_still_renders() -> None:
    html = markdown_to_safe_html("**bold** and `code`\n\n| a | b |\n|---|---|\n| 1 | 2 |")
    assert "<strong>bold</strong>" in html and "<code>code</code>" in html
    assert "<table>" in html and "<td>1</td>" in html


def test_dangerous_links_are_dropped_and_safe_ones_get_rel() -> None:
    html = markdown_to_safe_html("[x](javascript:alert(1)) [y](https://example.org)")
    assert "javascript:" not in html.split("[x]")[0]  # no href with javascript:
    assert 'href="javascript' not in html
    assert 'href="https://example.org"' in html and "noopener" in html


def test_sanitiser_strips_what_markdown_never_makes() -> None:
    out = sanitise_html('<p onclick="x()" style="color:red">hi<iframe src="//e"></iframe>'
                        '<a href="vbscript:x">l</a></p>')
    assert "onclick" not in out and "iframe" not in out and "vbscript" not in out
    assert "color" not in out and ">hi<" in out


def test_empty_and_odd_turns() -> None:
    assert markdown_to_safe_html(None) == "" and markdown_to_safe_html("") == ""
    assert turns_to_text(["a", None, 3]) == ["a", "", "3"]
    assert turns_to_text("one") == ["one"] and turns_to_text(None) == []
