"""The real server in chromium: a formula typeset by the app's own KaTeX, Chinese text shown
as text (not mojibake, not escaped), and no CSP violation on the way."""

from __future__ import annotations

from pathlib import Path

import pytest

from annotate_fixtures import PASSWORD, add_user, make_task
from arena.store.ingest import AnswerRecord, QuestionRecord, add_answers, add_questions
from test_annotate_browser import ROOT, page, server  # noqa: F401  (fixtures)

pytestmark = [pytest.mark.browser, pytest.mark.db]

CHINESE = "北京是中华人民共和国的首都，也是一座历史悠久的城市。"


def test_formula_and_chinese_render(server, page) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    base, app = server
    from annotate import db

    store = app.extensions[db.EXT].writer
    with store.begin() as conn:
        add_questions(conn, [QuestionRecord(turns=["请解释：$\\frac{a}{b} + \\sqrt{x^2}$ 是什么？"],
                                            local_id="m1", category="math")], "demo")
        add_answers(conn, [
            AnswerRecord(question_id="demo/m1", model="model-alpha",
                         turns=[f"{CHINESE}\n\n$$\\int_0^1 x^2\\,dx = \\frac{{1}}{{3}}$$"]),
            AnswerRecord(question_id="demo/m1", model="model-beta",
                         turns=["答案：$e^{i\\pi} + 1 = 0$，并且 `$HOME` 不是公式。"])])
    tid = make_task(store, models=["model-alpha", "model-beta"])
    add_user(store, "ann")

    page.goto(f"{base}/auth/login")
    page.fill("input[name=username]", "ann")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.click(f"button[data-begin='{tid}']")
    page.wait_for_selector("#verdict-form")
    page.wait_for_selector("span.math-display .katex-display")
    # three formulas typeset by KaTeX (question, display, inline); code left alone
    assert page.locator("span.math-inline .katex").count() == 2
    assert page.locator(".katex .mfrac").count() >= 2
    assert page.locator("code", has_text="$HOME").count() == 1
    text = page.locator("main").inner_text()
    assert CHINESE in text and "请解释" in text and "不是公式" in text
    # the KaTeX stylesheet and fonts come from the app itself
    fonts = page.evaluate("""async () => { await document.fonts.ready;
        return Array.from(document.fonts).filter(f => f.status === 'loaded')
                    .map(f => f.family); }""")
    assert any("KaTeX" in f for f in fonts), fonts
    # Chinese glyphs take room: the text is laid out, not dropped
    width = page.evaluate("""() => { const r = document.createRange();
        const el = Array.from(document.querySelectorAll('.answer .md p'))
                        .find(p => p.textContent.includes('北京'));
        r.selectNodeContents(el); return r.getBoundingClientRect().width; }""")
    assert width > 200
    Path(ROOT / "test-artifacts").mkdir(exist_ok=True)
    page.screenshot(path=str(ROOT / "test-artifacts" / "annotate-math-cjk.png"), full_page=True)
    assert not page.errors, page.errors  # no CSP violations or script errors
