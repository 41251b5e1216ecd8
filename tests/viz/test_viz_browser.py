"""The battle browser served for real (``streamlit run viz.py``) and read in Debian's chromium
through Playwright.

- The shipped ``.streamlit/config.toml`` binds 127.0.0.1 (checked in the kernel's socket
  table) and polls source files instead of inotify on the project tree, even when the server
  is started from another folder.
- A remote image in model output triggers no request: every request the page makes goes to
  127.0.0.1; the image is a link the reader may open.
- Names are plain text (a model named like a markdown link is no link); a long code line
  scrolls inside its column; the category rank table shows every column at 1400 px.

Screenshots of the battle page (both games) and of the category rank table are kept under
``test-artifacts/``.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Iterator
from urllib.parse import urlencode, urlparse

import pytest

from arena.store import Store
from viz_fixtures import (EVIL_CATEGORY, EVIL_MODEL, REMOTE_IMAGE, VIZ, BrowserFilled,
                          fill_browser)

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = os.environ.get("ARENA_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run", "--disable-sync"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def listening_addresses(port: int) -> set[str]:
    """Local addresses of the sockets listening on ``port`` (from /proc/net/tcp{,6})."""
    out = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            local, state = line.split()[1], line.split()[3]
            addr, hexport = local.rsplit(":", 1)
            if state == "0A" and int(hexport, 16) == port:  # 0A = LISTEN
                out.add(addr)
    return out


@pytest.fixture
def served(store_url: str, tmp_path: Path) -> Iterator[tuple[str, BrowserFilled, Path]]:
    """A filled store and ``streamlit run viz.py`` on a free port, started from tmp_path
    (not the project folder) with the shipped config only."""
    s = Store.open(store_url)
    try:
        filled = fill_browser(s)
    finally:
        s.close()
    port = free_port()
    log = tmp_path / "server.log"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "ARENA_DB": store_url,
           "HOME": str(tmp_path)}  # no ~/.streamlit of the developer's
    with open(log, "w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", str(VIZ),
                                 "--server.port", str(port)], cwd=tmp_path, env=env,
                                stdout=out, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{base}/_stcore/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("viz server did not start:\n" + log.read_text())
            time.sleep(0.3)
        yield base, filled, log
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture
def browser():  # type: ignore[no-untyped-def]
    if not Path(CHROMIUM).exists() and not shutil.which("chromium"):
        pytest.skip(f"chromium not installed at {CHROMIUM} (the CI setup installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        yield b
        b.close()


def open_page(browser, base: str, width: int = 1400, **params: str):  # type: ignore
    page = browser.new_page(viewport={"width": width, "height": 1000})
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.requests = requests  # type: ignore[attr-defined]
    page.goto(f"{base}/?{urlencode(params)}")
    return page


def screenshot_games(page, path: Path) -> None:  # type: ignore[no-untyped-def]
    """The battle page from the battle's title to both games (Streamlit scrolls inside its
    main block, so the view is scrolled there and made tall enough)."""
    path.parent.mkdir(exist_ok=True)
    page.set_viewport_size({"width": 1400, "height": 2000})
    page.locator("h3", has_text="Battle #").first.scroll_into_view_if_needed()
    page.evaluate("""() => {
        const h = [...document.querySelectorAll('h3')].find(e => e.textContent.includes('Battle #'));
        const main = document.querySelector('[data-testid="stMain"]');
        if (h && main) main.scrollTop += h.getBoundingClientRect().top - 20;
    }""")
    page.wait_for_timeout(800)
    page.screenshot(path=str(path))


def test_served_on_loopback_with_polling_watcher(served) -> None:  # type: ignore
    base, _filled, log = served
    port = urlparse(base).port or 0
    assert listening_addresses(port) == {"0100007F"}, "only 127.0.0.1 listens"
    text = log.read_text()
    assert "inotify" not in text.lower() and "Failed to watch" not in text


def test_battle_page_loads_nothing_remote_and_names_stay_text(served, browser) -> None:  # type: ignore
    base, filled, _log = served
    page = open_page(browser, base, page="battles", battle=str(filled.image_battle))
    page.get_by_text("Game 2", exact=False).first.wait_for(timeout=60_000)
    page.get_by_text("Done.").first.wait_for(timeout=30_000)
    page.wait_for_timeout(1500)  # anything the answers could fetch would have started
    hosts = {urlparse(u).hostname for u in page.requests if urlparse(u).scheme in
             ("http", "https", "ws", "wss")}
    assert hosts == {"127.0.0.1"}, sorted(u for u in page.requests if "127.0.0.1" not in u)
    # the shipped config was read (started from another folder): no serving warning
    assert page.get_by_text("This server listens on").count() == 0
    assert page.get_by_text("The file watcher uses inotify").count() == 0
    assert page.locator(f'img[src^="{REMOTE_IMAGE}"]').count() == 0
    link = page.locator(f'a[href="{REMOTE_IMAGE}"]')
    assert link.count() == 1 and "[image: chart]" in link.inner_text()  # the reader may open it
    # the long code line scrolls inside its column instead of running under the other answer
    box = page.evaluate("""() => {
        const pre = [...document.querySelectorAll('.arena-md pre')].find(
            p => p.textContent.includes('xxxxxxxxxx'));
        const col = pre.closest('[data-testid="stColumn"]');
        const p = pre.getBoundingClientRect(), c = col.getBoundingClientRect();
        return {pre_right: p.right, col_right: c.right, scroll: pre.scrollWidth,
                client: pre.clientWidth};
    }""")
    assert box["pre_right"] <= box["col_right"] + 1 and box["scroll"] > box["client"], box
    screenshot_games(page, ARTIFACTS / "viz-battle.png")
    # a model named like a markdown link is text everywhere, never a link
    for params in ({"page": "battles", "model": EVIL_MODEL}, {"page": "leaderboard"},
                   {"page": "categories"}):
        p = open_page(browser, base, **params)
        p.get_by_text(params["page"].capitalize(), exact=True).first.wait_for(timeout=60_000)
        p.wait_for_timeout(1500)
        assert p.locator('a[href^="http://198.51.100.7"]').count() == 0, params
        assert p.locator("strong", has_text="stem").count() == 0, params
    p = open_page(browser, base, page="battles", model=EVIL_MODEL,
                  battle=str(filled.evil_battle))
    p.get_by_text("Game 1").first.wait_for(timeout=60_000)
    shown = p.locator("h3").first.inner_text().replace("\u2060", "")
    assert EVIL_MODEL in shown, shown  # the exact characters, as text
    assert p.locator('a[href^="http://198.51.100.7/x"]').count() == 0, p.evaluate(
        """() => [...document.querySelectorAll('a[href^="http://198.51.100.7/x"]')]
           .map(a => a.parentElement.parentElement.outerHTML.slice(0, 600))""")


def test_category_rank_table_shows_every_column_at_1400px(served, browser) -> None:  # type: ignore
    base, _filled, _log = served
    page = open_page(browser, base, width=1400, page="categories")
    page.get_by_text("Rank (UB) = 1 +", exact=False).first.wait_for(timeout=90_000)
    page.locator("table.arena-rank").first.wait_for(timeout=30_000)
    page.wait_for_timeout(500)
    fit = page.evaluate("""() => {
        const t = document.querySelector('table.arena-rank');
        const wrap = t.closest('.arena-rank-wrap');
        const main = document.querySelector('[data-testid="stMainBlockContainer"]')
            || wrap.parentElement;
        return {table: t.getBoundingClientRect().right, main: main.getBoundingClientRect().right,
                scroll: wrap.scrollWidth, client: wrap.clientWidth,
                columns: t.querySelectorAll('tbody tr:first-child td').length,
                heads: [...t.querySelectorAll('th.cat')].map(h => h.textContent)};
    }""")
    # every column shows without scrolling: model, rating, CI, battles, rank and SC per board
    assert fit["scroll"] <= fit["client"] + 1 and fit["table"] <= fit["main"] + 1, fit
    assert fit["columns"] == 4 + 2 * len(fit["heads"]) and len(fit["heads"]) == 7, fit
    assert EVIL_CATEGORY in fit["heads"]  # a category named with markdown, as plain text
    ARTIFACTS.mkdir(exist_ok=True)
    page.set_viewport_size({"width": 1400, "height": 1100})
    page.wait_for_timeout(500)
    page.screenshot(path=str(ARTIFACTS / "viz-categories.png"))
