"""The real server in a real browser: log in, annotate three items by keyboard, edit one.

Playwright drives Debian's chromium (``/usr/bin/chromium``) against waitress on a free
loopback port. A screenshot of the review page is kept under ``test-artifacts/``.
"""

from __future__ import annotations

import os
import shutil
import threading
from pathlib import Path
from typing import Iterator

import pytest
from sqlalchemy import select

from annotate import create_app, db
from annotate_fixtures import PASSWORD, add_user, make_task, seed
from arena.store.annotation_schema import Assignment
from arena.store.schema import Judgment

pytestmark = [pytest.mark.browser, pytest.mark.db]

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("ARENA_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run", "--disable-sync"]


@pytest.fixture
def server(store_url: str) -> Iterator[tuple[str, object]]:
    import waitress

    app = create_app({"DATABASE": store_url, "SECRET_KEY": "b" * 64})
    srv = waitress.create_server(app, host="127.0.0.1", port=0, threads=16)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{srv.effective_port}", app
    finally:
        srv.close()
        thread.join(timeout=5)
        app.extensions[db.EXT].close()


@pytest.fixture
def page(server):  # type: ignore[no-untyped-def]
    if not Path(CHROMIUM).exists() and not shutil.which("chromium"):
        pytest.skip(f"chromium not installed at {CHROMIUM} (the CI setup installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        pg = browser.new_page(viewport={"width": 1280, "height": 900})
        errors: list[str] = []
        pg.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        pg.on("pageerror", lambda e: errors.append(str(e)))
        pg.errors = errors  # type: ignore[attr-defined]
        yield pg
        browser.close()


def test_annotate_three_items_by_keyboard_and_edit_one(server, page) -> None:  # type: ignore
    base, app = server
    store = app.extensions[db.EXT].writer
    seed(store, n_questions=4)
    tid = make_task(store, show_references=True)
    uid = add_user(store, "ann")

    page.goto(f"{base}/")
    assert "/auth/login" in page.url
    page.fill("input[name=username]", "ann")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.click(f"button[data-begin='{tid}']")
    page.wait_for_selector("#verdict-form")

    keys = ["a", "b", "t"]
    expected_choice = {"a": "left", "b": "right", "t": "tie"}
    seen: list[int] = []
    for n, key in enumerate(keys):
        aid = int(page.url.rsplit("/", 1)[1])
        seen.append(aid)
        assert page.locator("progress#progress").get_attribute("value") == str(n)
        assert page.locator("button[data-key='a'] kbd").inner_text() == "A"
        if n == 0:
            page.fill("textarea[name=comment]", "first one")
            page.locator("h1").click()  # leave the text box: keys are shortcuts again
            Path(ROOT / "test-artifacts").mkdir(exist_ok=True)
            page.screenshot(path=str(ROOT / "test-artifacts" / "annotate-review.png"),
                            full_page=True)
        if page.locator("#doc-search").count():  # the long-document item: search inside it
            page.fill("#doc-search", "Idris")
            page.wait_for_selector("#doc-text mark.current")
            assert page.locator("#doc-count").inner_text() == "1 / 1"
            page.locator("h1").click()
        with page.expect_navigation():
            page.keyboard.press(key)
            page.keyboard.press(key)  # a double press must not store a second verdict
        assert int(page.url.rsplit("/", 1)[1]) not in seen

    with store.begin() as conn:
        rows = conn.execute(select(Judgment).order_by(Judgment.id)).all()
        firsts = dict(conn.execute(select(Assignment.id, Assignment.first)).all())
    assert len(rows) == 3
    for row, key in zip(rows, keys):
        assert row.meta["choice"] == expected_choice[key] and row.annotator_id == uid
        aid = row.meta["assignment_id"]
        if key == "a":
            assert row.outcome == firsts[aid] and row.comment == "first one"
        elif key == "b":
            assert row.outcome == ("B" if firsts[aid] == "A" else "A")
        else:
            assert row.outcome == "TIE"
        assert row.time_on_task_s is not None and row.time_on_task_s > 0

    # Edit the first verdict from "my previous verdicts": a new row supersedes it.
    page.click("text=My previous verdicts")
    page.click(f"tr[data-verdict='{rows[0].id}'] >> text=Edit")
    page.wait_for_selector("button.choice.chosen[value='left']")
    with page.expect_navigation():
        page.keyboard.press("x")
    assert f"/tasks/{tid}/mine" in page.url
    assert "Both bad" in page.locator(f"tr[data-verdict]").first.inner_text()
    with store.begin() as conn:
        rows = conn.execute(select(Judgment).order_by(Judgment.id)).all()
    assert len(rows) == 4 and rows[3].supersedes_id == rows[0].id
    assert rows[3].outcome == "BOTH_BAD" and rows[0].meta["choice"] == "left"
    assert not page.errors, page.errors  # no CSP violations or script errors
