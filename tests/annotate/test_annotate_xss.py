"""Untrusted text (answers, questions, documents, references) comes out inert."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from flask.testing import FlaskClient

from arena.render import markdown
from annotate_fixtures import add_user, login, make_task, seed
from arena.store import Store

PAYLOADS = [
    "<script>alert('xss-1')</script>",
    "<img src=x onerror=alert('xss-2')>",
    "[click me](javascript:alert('xss-3'))",
    "[click me](JaVaScRiPt:alert('xss-3b'))",
    "[data](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "<svg onload=alert('xss-4')><circle r=1></circle></svg>",
    "<iframe src=\"javascript:alert('xss-5')\"></iframe>",
    "<a href=\"x\" onmouseover=\"alert('xss-6')\">hover</a>",
    "\"><script>alert('xss-7')</script>",
    "'><img src=x onerror=alert('xss-8')>",
    "![x](javascript:alert('xss-9'))",
    "![x\" onerror=\"alert('xss-10')](http://example.com/a.png)",
    "<style>body{display:none}</style>",
    "<form action=\"http://evil.example\"><button>go</button></form>",
    "<math><mtext><table><mglyph><style><img src=x onerror=alert('xss-11')>",
    "```\n</code></pre><script>alert('xss-12')</script>\n```",
    "```js\" onmouseover=\"alert('xss-13')\nx\n```",
    "<details open ontoggle=alert('xss-14')>",
    "[a](http://x.example \"t\\\" onmouseover=alert('xss-15')\")",
    "<object data=\"javascript:alert('xss-16')\"></object>",
    "<base href=\"http://evil.example/\">",
    "<meta http-equiv=\"refresh\" content=\"0;url=http://evil.example\">",
    "<<script>script>alert('xss-17')<</script>/script>",
    "&lt;script&gt;alert('xss-18')&lt;/script&gt;",
]

BAD_TAGS = {"script", "img", "svg", "iframe", "object", "embed", "style", "form", "base",
            "meta", "math", "details", "link", "input", "button", "textarea", "select",
            "video", "audio", "source"}


class Audit(HTMLParser):
    """Collects every real tag and attribute of a rendered fragment."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.attrs: list[tuple[str, str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        for k, v in attrs:
            self.attrs.append((tag, k, v or ""))


def assert_inert(fragment: str, allow: set[str] = frozenset()) -> None:  # type: ignore[assignment]
    audit = Audit()
    audit.feed(fragment)
    bad = [t for t in audit.tags if t in BAD_TAGS - allow]
    assert not bad, (bad, fragment)
    for tag, k, v in audit.attrs:
        assert not k.startswith("on"), (tag, k, fragment)
        assert k not in ("style", "srcdoc", "formaction"), (tag, k)
        if k in ("href", "src", "action", "data"):
            assert re.match(r"^(https?:|mailto:|/|#)", v.strip()), (tag, k, v)


@pytest.mark.parametrize("payload", PAYLOADS)
def test_render_makes_payload_inert(payload: str) -> None:
    html = str(markdown(payload))
    assert_inert(html)
    assert "javascript:" not in re.sub(r">[^<]*<", "><", html).lower()


def test_plain_markdown_still_renders() -> None:
    html = str(markdown("# T\n\n**b** _i_ `c` [l](https://e.org)\n\n```py\nx<1\n```\n\n"
                        "| a |\n|---|\n| 1 |"))
    for part in ("<h1>T</h1>", "<strong>b</strong>", "<em>i</em>", "<code>c</code>",
                 'href="https://e.org"', 'rel="noopener noreferrer nofollow"',
                 '<code class="language-py">x&lt;1', "<table>"):
        assert part in html


def test_the_project_sanitiser_loads_nothing_and_keeps_code_and_names_as_text() -> None:
    """``arena.render`` (shared with the battle browser): images become links the reader may
    open, code blocks keep their text, names are plain text."""
    from arena.render import markdown_to_safe_html, plain

    html = markdown_to_safe_html("see ![a chart](https://cdn.example/chart.png?x=1&y=2) and "
                                 "![local](/static/x.png)")
    assert "<img" not in html and "src=" not in html
    assert '<a href="https://cdn.example/chart.png?x=1&amp;y=2" rel="noopener noreferrer ' \
           'nofollow">[image: a chart]</a>' in html
    code = "def f(x):\n    return '<b>' + x  # <script>alert(1)</script> & $5 and $10\n"
    html = markdown_to_safe_html(f"```python\n{code}```")
    body = html.split('<code class="language-python">', 1)[1].split("</code>", 1)[0]
    from html import unescape
    assert unescape(body) == code and "<b>" not in body and "math-" not in body
    assert str(plain("**bold** <i>model</i> & co")) == \
        "**bold** &lt;i&gt;model&lt;/i&gt; &amp; co"
    for tag in ("<video src=x>", "<audio src=x>", "<iframe src=x>", "<link rel=x href=y>",
                '<p style="background:url(https://e.example/t.png)">x</p>'):
        out = markdown_to_safe_html(tag)
        audit = Audit()
        audit.feed(out)
        assert set(audit.tags) <= {"p"} and not audit.attrs, out


@pytest.mark.db
def test_pages_with_payloads_are_inert(astore: Store, client: FlaskClient) -> None:
    corpus = "\n\n".join(PAYLOADS)
    seed(astore, n_questions=3, answer_text=lambda m, i: corpus)
    # The question, document and reference get the payloads too.
    from sqlalchemy import update

    from arena.store.schema import Document, Question, Reference
    with astore.begin() as conn:
        conn.execute(update(Question).values(turns=[corpus, corpus]))
        conn.execute(update(Document).values(text=corpus))
        conn.execute(update(Reference).values(turns=[corpus]))
    tid = make_task(astore, show_references=True, guidelines=corpus)
    add_user(astore, "ann")
    tok = login(client, "ann")
    seen_doc = False
    for _ in range(2):
        loc = client.post(f"/tasks/{tid}/next", data={"csrf_token": tok}).headers["Location"]
        page = client.get(loc).get_data(as_text=True)
        main = page.split("<main>", 1)[1].split("</main>", 1)[0]
        # The page's own form controls are allowed; everything from the corpus is not.
        before_form = main.split('<form method="post" id="verdict-form"', 1)[0]
        assert_inert(before_form, allow={"details", "input", "button"})
        assert "<script" not in before_form.lower()
        assert "&lt;script&gt;alert(" in before_form  # shown as text, not run
        if 'id="doc-text"' in page:
            seen_doc = True
            doc = re.split(r'id="doc-text"[^>]*>', page, maxsplit=1)[1].split("</pre>", 1)[0]
            assert "&lt;script&gt;" in doc and "<" not in doc  # escaped plain text
        aid = int(loc.rsplit("/", 1)[1])
        client.post(f"/a/{aid}/skip", data={"csrf_token": tok, "reason": "other"})
    assert seen_doc
    # JSON endpoint: the same sanitised HTML.
    item = client.post(f"/api/tasks/{tid}/next", headers={"X-CSRF-Token": tok}).get_json()
    assert not item["done"]
    for a in item["item"]["answers"]:
        assert "&lt;script&gt;" in a["turns"][0]
        for t in a["turns"]:
            assert_inert(t)
