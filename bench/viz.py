"""Battle browser speed at 100,000 verdicts: every page's first view (cold caches, as on a
freshly started server) and rerun (warm caches), with the server-side breakdown of the first
view; then the time until the leaderboard table is visible in chromium on a warm server.

    .venv/bin/python bench/viz.py [--db URL] [--verdicts 100000] [--models 12]
                                  [--pages leaderboard,battles,...] [--no-browser]

The store is built once (SQLite in a temp folder unless --db is given; a store that already
holds enough verdicts is reused): LLM verdicts in both orders (90 %), single-mode scores
(10 %), and two annotators on a few hundred battles. Pages run under
``streamlit.testing.v1.AppTest`` in this process (Python's and Streamlit's own imports are not
counted; the script's imports of the viewer, plotly and the ratings code are, on the first
page). Each page's first view starts from empty Streamlit caches. The breakdown lists the
phases the viewer times (``arena.viz.timing``: store reads, verdict loads, ratings, lists).
Targets (issue 16): first view <= 3 s, rerun <= 0.5 s.

Browser: ``streamlit run viz.py`` on a free port (the shipped .streamlit/config.toml), one
page load to warm it, then ``--loads`` fresh page loads in chromium, each timed from
navigation until the leaderboard table is visible; the median is printed.
"""

from __future__ import annotations

import argparse
import itertools
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, select  # noqa: E402

from arena.store import Store  # noqa: E402
from arena.store.annotation_schema import User  # noqa: E402
from arena.store.ingest import (AnswerRecord, QuestionRecord, add_answers,  # noqa: E402
                                add_judgments, add_questions, ensure_models, insert_ignore)
from arena.store.schema import Answer, Battle, Judgment  # noqa: E402

CATEGORIES = ["math", "coding", "writing", "reasoning", "extraction", "roleplay"]
PAGES = ["leaderboard", "categories", "matrices", "battles", "single", "judges", "length"]
CHROMIUM = os.environ.get("ARENA_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run", "--disable-sync"]


def build(url: str, n_verdicts: int, n_models: int, seed: int = 0) -> int:
    """Fill ``url`` with about ``n_verdicts`` verdicts (see the module docstring)."""
    store = Store.open(url)
    try:
        with store.begin() as conn:
            have = conn.execute(select(func.count(Judgment.id))).scalar_one()
        if have >= n_verdicts:
            return int(have)
        rng = random.Random(seed)
        models = [f"model-{i:02d}" for i in range(n_models)]
        skill = {m: rng.gauss(0, 1) for m in models}
        pairs = list(itertools.combinations(models, 2))
        per_q = 10
        n_pair = int(n_verdicts * 0.9) - 1000
        n_questions = n_pair // (2 * per_q)
        with store.begin() as conn:
            add_questions(conn, [QuestionRecord(turns=[f"Question {i}: " + "context " * 20],
                                                local_id=str(i),
                                                category=CATEGORIES[i % len(CATEGORIES)])
                                 for i in range(n_questions)], "bench")
            ensure_models(conn, {m: {} for m in models})
            add_answers(conn, [AnswerRecord(question_id=f"bench/{i}", model=m,
                                            turns=[f"{m} on {i}: " + "answer " *
                                                   rng.randint(10, 120)])
                               for i in range(n_questions) for m in models])
            battles = []
            for i in range(n_questions):
                for a, b in rng.sample(pairs, per_q):
                    battles.append({"question_id": f"bench/{i}", "model_a": a, "model_b": b})
            insert_ignore(conn, Battle.__table__, battles, ["question_id", "model_a", "model_b"])
            bid = {(q, a, b): i for i, q, a, b in conn.execute(
                select(Battle.id, Battle.question_id, Battle.model_a, Battle.model_b))}
            aid = {(q, m): i for i, q, m in conn.execute(
                select(Answer.id, Answer.question_id, Answer.model))}
            conn.execute(User.__table__.insert(), [
                {"username": f"ann{k}", "pseudonym": f"annotator-{k}", "role": "annotator"}
                for k in (1, 2)])
            users = dict(conn.execute(select(User.username, User.id)).all())
            rows = []

            def base(q: str, a: str, b: str) -> dict:
                return {"mode": "pairwise-all", "battle_id": bid[(q, a, b)], "question_id": q,
                        "model_a": a, "model_b": b, "answer_a_id": aid[(q, a)],
                        "answer_b_id": aid[(q, b)], "judge_kind": "llm",
                        "judge_id": "bench-judge", "template_version": "v1"}

            for bt in battles:
                q, a, b = bt["question_id"], bt["model_a"], bt["model_b"]
                p = 1 / (1 + 10 ** ((skill[b] - skill[a]) * 0.5))
                for first in ("A", "B"):
                    r = rng.random()
                    outcome = "TIE" if abs(r - p) < 0.08 else ("A" if r < p else "B")
                    rows.append({**base(q, a, b), "first": first, "outcome": outcome,
                                 "rationale": "because", "raw_output": f"[[{outcome}]]"})
            for bt in battles[:500]:  # two annotators on 500 battles
                q, a, b = bt["question_id"], bt["model_a"], bt["model_b"]
                for k in (1, 2):
                    rows.append({**base(q, a, b), "judge_kind": "human",
                                 "judge_id": f"human:ann{k}", "annotator_id": users[f"ann{k}"],
                                 "template_version": None, "first": "A" if k == 1 else "B",
                                 "outcome": rng.choice(["A", "B", "TIE"]),
                                 "submission_id": f"ann{k}-{bid[(q, a, b)]}",
                                 "rationale": None, "raw_output": None})
            n_single = n_verdicts - len(rows)
            for k, (q, m) in enumerate(itertools.islice(itertools.cycle(sorted(aid)),
                                                        max(n_single, 0))):
                rows.append({"mode": "single", "answer_id": aid[(q, m)], "question_id": q,
                             "model_a": m, "model_b": None, "judge_kind": "llm",
                             "judge_id": "bench-judge", "template_version": "v1",
                             "score_a": round(min(10, max(1, 6 + 2 * skill[m] +
                                                         rng.gauss(0, 1.5))), 1),
                             "rationale": "scored", "raw_output": "ok"})
            keys = sorted({k for r in rows for k in r})
            add_judgments(conn, [{k: r.get(k, "ok" if k == "parse_status" else None)
                                  for k in keys} for r in rows])
        with store.begin() as conn:
            return int(conn.execute(select(func.count(Judgment.id))).scalar_one())
    finally:
        store.close()


def app_pages(pages: list[str]) -> int:
    """First view and rerun of each page under AppTest; prints a table and the breakdowns."""
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    from arena.viz import timing

    warm = AppTest.from_string("import streamlit as st\nst.write('warm-up')").run()
    # A server imports the viewer once, at its first session: timed apart from the pages.
    t = time.perf_counter()
    import importlib

    for name in ("arena.viz.app", *[f"arena.viz.pages.{p}" for p in PAGES], "scipy.stats",
                 "plotly.graph_objects"):
        importlib.import_module(name)
    print(f"imports of the viewer, plotly and scipy (once per server): "
          f"{time.perf_counter() - t:.2f} s\n")
    rows, worst = [], 0
    for page in pages:
        st.cache_data.clear()
        st.cache_resource.clear()  # a fresh server: nothing cached
        at = AppTest.from_file(str(ROOT / "viz.py"), default_timeout=300)
        if hasattr(warm, "_bidi_component_manager"):
            at._bidi_component_manager = warm._bidi_component_manager
        at.query_params["page"] = page
        t = time.perf_counter()
        at.run()
        first = time.perf_counter() - t
        phases = timing.summarise(timing.last_run())
        problems = [str(e.value) for e in at.exception] + [str(e.value) for e in at.error]
        t = time.perf_counter()
        at.run()
        rerun = time.perf_counter() - t
        rerun_phases = timing.summarise(timing.last_run())
        rows.append((page, first, rerun, phases, rerun_phases))
        if problems:
            print(f"{page}: the app reported:", *problems, sep="\n  ")
            worst = 1
    print(f"{'page':<12} {'first view':>11} {'rerun':>8}   (targets: 3.00 s, 0.50 s)")
    for page, first, rerun, _p, _r in rows:
        flag = "" if first <= 3 and rerun <= 0.5 else "   over target"
        print(f"{page:<12} {first:>9.2f} s {rerun:>6.2f} s{flag}")
    print("\nserver-side breakdown of each first view (phases that ran, ms; nested phases "
          "are also inside their parents):")
    for page, _f, _r, phases, rerun_phases in rows:
        parts = ", ".join(f"{n} {s * 1000:.0f}" for n, s in phases.items()
                          if s >= 0.005 or n == "script total")
        print(f"  {page}: {parts}")
        again = [n for n in rerun_phases if n not in ("script total", "change marker")]
        print(f"    rerun: script total {rerun_phases.get('script total', 0) * 1000:.0f} ms; "
              f"recomputed: {', '.join(again) or 'nothing'}")
    return worst


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def browser(url: str, loads: int) -> None:
    """Median time from navigation until the leaderboard table is visible (warm server)."""
    from playwright.sync_api import sync_playwright

    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "ARENA_DB": url}
    log = Path(tempfile.gettempdir()) / "arena-bench-viz-server.log"
    with open(log, "w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run",
                                 str(ROOT / "viz.py"), "--server.port", str(port)],
                                env=env, stdout=out, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{base}/_stcore/health", timeout=2):
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("server did not start: " + log.read_text()) from None
                time.sleep(0.3)
        with sync_playwright() as p:
            b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
            times = []
            for k in range(loads + 1):
                page = b.new_page(viewport={"width": 1400, "height": 1000})
                t = time.perf_counter()
                page.goto(f"{base}/?page=leaderboard")
                page.locator('[data-testid="stDataFrame"]').first.wait_for(
                    state="visible", timeout=300_000)
                dt = time.perf_counter() - t
                if k:  # the first load warms the server's caches
                    times.append(dt)
                else:
                    print(f"\nchromium, cold server: leaderboard table visible after {dt:.2f} s")
                page.close()
            b.close()
        print(f"chromium, warm server: leaderboard table visible after "
              f"{statistics.median(times):.2f} s (median of {loads} loads; "
              f"min {min(times):.2f}, max {max(times):.2f})")
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


def main() -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--db", default=None, help="store URL (default: SQLite in a temp folder)")
    ap.add_argument("--verdicts", type=int, default=100_000)
    ap.add_argument("--models", type=int, default=12)
    ap.add_argument("--pages", default=",".join(PAGES))
    ap.add_argument("--loads", type=int, default=5, help="browser page loads to time")
    ap.add_argument("--no-browser", action="store_true")
    args = ap.parse_args()
    url = args.db or f"sqlite:///{Path(tempfile.gettempdir()) / 'arena-bench-viz-16.db'}"
    t0 = time.perf_counter()
    n = build(url, args.verdicts, args.models)
    print(f"store: {n} verdicts ready in {time.perf_counter() - t0:.1f} s "
          f"({url.split('://')[0]}, {os.cpu_count()} CPUs)\n")
    os.environ["ARENA_DB"] = url
    sys.argv = [sys.argv[0]]  # the script reads its own arguments: give it none
    rc = app_pages([p for p in args.pages.split(",") if p])
    if not args.no_browser:
        browser(url, args.loads)
    return rc


if __name__ == "__main__":
    raise SystemExit(main())
