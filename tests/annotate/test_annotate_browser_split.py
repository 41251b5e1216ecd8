"""The long-document layout in a real browser at 1400 x 900: the document and both answers
are visible together, the document pane keeps its search (and stays open) across two items of
one document, keys open the document and focus its search, and match counts are true.

Screenshot: ``test-artifacts/annotate-split.png``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from annotate import db
from annotate_fixtures import PASSWORD, add_user, make_task
from arena.store.ingest import AnswerRecord, QuestionRecord, add_answers, add_questions
from test_annotate_browser import ARGS, CHROMIUM, ROOT, server  # noqa: F401 - the fixture

pytestmark = [pytest.mark.browser, pytest.mark.db]

PARA = ("The harbour town of Wexmoor kept its lighthouse lit for ninety years, and every "
        "winter the keeper wrote the names of the ships that passed into a ledger. ")
DOCUMENT = "".join(f"Chapter {i}. {PARA * 6}\n\n" for i in range(120)) + \
    "The keeper's name was Idris Fenwick.\n"  # about 100 k characters
MODELS = ["model-a", "model-b", "model-c"]


def _seed(store) -> int:  # type: ignore[no-untyped-def]
    qs = [QuestionRecord(turns=[f"Question {i}: who kept the lighthouse, and for how long?"],
                         local_id=f"q{i}", category="long", document=DOCUMENT,
                         references={"human": [f"Idris Fenwick ({i})"],
                                     "turbo-16k": ["a baseline"]})
          for i in range(2)]
    with store.begin() as conn:
        add_questions(conn, qs, "doc")
        add_answers(conn, [AnswerRecord(question_id=f"doc/q{i}", model=m,
                                        turns=[f"Answer from {MODELS.index(m)} to {i}: the "
                                               f"keeper was Idris Fenwick.\n\n" + "More. " * 40])
                           for i in range(2) for m in MODELS])
    return make_task(store, models=MODELS, show_references=True, name="docs vs turbo-16k",
                     public_title="Long documents")


def _visible(page, selector: str) -> dict:  # type: ignore[no-untyped-def]
    box = page.locator(selector).first.bounding_box()
    assert box is not None, selector
    return box


def test_split_layout_keeps_document_and_answers_in_view(server) -> None:  # type: ignore
    if not Path(CHROMIUM).exists():
        pytest.skip(f"chromium not installed at {CHROMIUM}")
    from playwright.sync_api import expect, sync_playwright

    base, app = server
    store = app.extensions[db.EXT].writer
    tid = _seed(store)
    add_user(store, "ann")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.goto(f"{base}/auth/login")
        page.fill("input[name=username]", "ann")
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        assert "docs vs turbo-16k" not in page.content()  # the public title only
        page.click(f"button[data-begin='{tid}']")
        page.wait_for_selector("#verdict-form")
        html = page.content()
        assert "turbo-16k" not in html and "Reference 1" in html  # authors stay hidden

        # Document, question and both answers are on screen together, side by side.
        doc, answers = _visible(page, "#doc-text"), page.locator(".answer")
        assert answers.count() == 2
        for k in range(2):
            a = answers.nth(k).bounding_box()
            assert a and a["y"] < 900 - 60 and a["x"] >= doc["x"] + doc["width"], (a, doc)
        assert doc["y"] < 300 and doc["height"] > 400 and doc["x"] + doc["width"] <= 1400
        assert _visible(page, "#question")["y"] < 900
        buttons = _visible(page, "button[data-key='a']")
        assert buttons["y"] + buttons["height"] <= 900  # the verdict stays reachable
        # The references sit behind a toggle (key R).
        assert not page.locator("#references").evaluate("e => e.open")
        page.keyboard.press("r")
        assert page.locator("#references").evaluate("e => e.open")
        page.keyboard.press("r")

        # "/" focuses the search; counts are true (no cap at 5000).
        page.keyboard.press("/")
        assert page.evaluate("document.activeElement.id") == "doc-search"
        page.keyboard.type("e")
        total_e = DOCUMENT.lower().count("e")
        assert total_e > 5000
        expect(page.locator("#doc-count")).to_have_text(f"1 / {total_e}")
        page.fill("#doc-search", "lighthouse")
        n = DOCUMENT.count("lighthouse")
        expect(page.locator("#doc-count")).to_have_text(f"1 / {n}")
        for _ in range(3):
            page.keyboard.press("Enter")  # in the box: next match
        expect(page.locator("#doc-count")).to_have_text(f"4 / {n}")
        mark = _visible(page, "#doc-text mark.current")
        assert doc["y"] <= mark["y"] <= doc["y"] + doc["height"]  # scrolled into view
        page.keyboard.press("Escape")  # leave the box: keys are shortcuts again
        assert page.evaluate("document.activeElement.id") != "doc-search"
        Path(ROOT / "test-artifacts").mkdir(exist_ok=True)
        page.screenshot(path=str(ROOT / "test-artifacts" / "annotate-split.png"))
        first_url = page.url
        with page.expect_navigation():
            page.keyboard.press("a")

        # The next item shares the document: the pane is still open, with the same search.
        assert page.url != first_url
        page.wait_for_selector("#doc-text mark.current")
        assert page.locator("#doc-search").input_value() == "lighthouse"
        assert page.locator("#doc-count").inner_text() == f"4 / {n}"
        assert "doc-closed" not in (page.locator("#review").get_attribute("class") or "")
        mark = _visible(page, "#doc-text mark.current")
        doc = _visible(page, "#doc-text")
        assert doc["y"] <= mark["y"] <= doc["y"] + doc["height"]
        # D closes the pane (and that is remembered too), D opens it again.
        page.keyboard.press("d")
        assert "doc-closed" in page.locator("#review").get_attribute("class")
        assert not page.locator("#doc-text").is_visible()
        answers = page.locator(".answer")
        assert answers.nth(0).bounding_box()["width"] > 450  # the answers take the room
        page.keyboard.press("d")
        assert page.locator("#doc-text").is_visible()
        # The question stays in view when the right-hand pane scrolls.
        page.locator("#work").evaluate("e => e.scrollTo(0, e.scrollHeight)")
        q, work = _visible(page, "#question"), _visible(page, "#work")
        assert abs(q["y"] - work["y"]) < 30
        page.screenshot(path=str(ROOT / "test-artifacts" / "annotate-split-second-item.png"))
        assert not errors, errors
        browser.close()
