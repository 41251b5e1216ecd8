"""Battle browser speed: with 100,000 verdicts in the store, how long the first script run
takes to draw the leaderboard (cold caches) and how long a rerun takes (warm caches).

    .venv/bin/python bench/viz.py [--db URL] [--verdicts 100000] [--models 12]

Builds the store once (SQLite in a temp folder unless --db is given; an existing store with
enough verdicts is reused), then runs viz.py under ``streamlit.testing.v1.AppTest`` in this
process: Python's and Streamlit's own import time is not counted; everything the script does
(its imports of the viewer, plotly, the ratings code, the store reads, the BT fit with its
bootstrap, drawing) is. Targets: first run <= 3 s, rerun <= 0.5 s.
"""

from __future__ import annotations

import argparse
import itertools
import os
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, select  # noqa: E402

from arena.store import Store  # noqa: E402
from arena.store.ingest import (AnswerRecord, QuestionRecord, add_answers,  # noqa: E402
                                add_judgments, add_questions, ensure_models, insert_ignore)
from arena.store.schema import Answer, Battle, Judgment  # noqa: E402

CATEGORIES = ["math", "coding", "writing", "reasoning", "extraction", "roleplay"]


def build(url: str, n_verdicts: int, n_models: int, seed: int = 0) -> int:
    """Fill ``url`` with about ``n_verdicts`` LLM verdicts (both orders of each battle)."""
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
        n_questions = n_verdicts // (2 * per_q)
        with store.begin() as conn:
            add_questions(conn, [QuestionRecord(turns=[f"Question {i}: " + "context " * 20],
                                                local_id=str(i),
                                                category=CATEGORIES[i % len(CATEGORIES)])
                                 for i in range(n_questions)], "bench")
            ensure_models(conn, {m: {} for m in models})
            add_answers(conn, [AnswerRecord(question_id=f"bench/{i}", model=m,
                                            turns=["answer " * rng.randint(10, 120)])
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
            rows = []
            for bt in battles:
                q, a, b = bt["question_id"], bt["model_a"], bt["model_b"]
                p = 1 / (1 + 10 ** ((skill[b] - skill[a]) * 0.5))
                for first in ("A", "B"):
                    r = rng.random()
                    outcome = "TIE" if abs(r - p) < 0.08 else ("A" if r < p else "B")
                    rows.append({"mode": "pairwise-all", "battle_id": bid[(q, a, b)],
                                 "question_id": q, "model_a": a, "model_b": b,
                                 "answer_a_id": aid[(q, a)], "answer_b_id": aid[(q, b)],
                                 "first": first, "judge_kind": "llm", "judge_id": "bench-judge",
                                 "template_version": "v1", "outcome": outcome,
                                 "rationale": "because", "raw_output": f"[[{outcome}]]"})
            add_judgments(conn, rows)
        with store.begin() as conn:
            return int(conn.execute(select(func.count(Judgment.id))).scalar_one())
    finally:
        store.close()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", default=None, help="store URL (default: SQLite in a temp folder)")
    ap.add_argument("--verdicts", type=int, default=100_000)
    ap.add_argument("--models", type=int, default=12)
    ap.add_argument("--page", default="leaderboard")
    args = ap.parse_args()
    url = args.db or f"sqlite:///{Path(tempfile.gettempdir()) / 'arena-bench-viz.db'}"
    t0 = time.perf_counter()
    n = build(url, args.verdicts, args.models)
    print(f"store: {n} verdicts ready in {time.perf_counter() - t0:.1f} s ({url.split('://')[0]})")

    os.environ["ARENA_DB"] = url
    sys.argv = [sys.argv[0]]  # the script parses argv leniently; give it nothing of ours
    from streamlit.testing.v1 import AppTest  # Streamlit's own import: not counted

    # The test harness scans installed packages for components once per AppTest (a server
    # does it once at start-up): do that on a throw-away app so it is not counted.
    warm = AppTest.from_string("import streamlit as st\nst.write('warm-up')").run()
    at = AppTest.from_file(str(ROOT / "viz.py"), default_timeout=120)
    if hasattr(warm, "_bidi_component_manager"):
        at._bidi_component_manager = warm._bidi_component_manager
    at.query_params["page"] = args.page
    t1 = time.perf_counter()
    at.run()
    first = time.perf_counter() - t1
    problems = [e.value for e in at.exception] + [e.value for e in at.error]
    t2 = time.perf_counter()
    at.run()
    rerun = time.perf_counter() - t2
    print(f"first run ({args.page}, cold caches): {first:.2f} s   (target <= 3 s)")
    print(f"rerun (warm caches):              {rerun:.2f} s   (target <= 0.5 s)")
    if problems:
        print("the app reported:", *problems, sep="\n  ")
        return 1
    breakdown(url)
    return 0


def breakdown(url: str) -> None:
    """Where a cold leaderboard's time goes: the rating functions the page calls, timed
    outside the app with the same settings (default config)."""
    from arena.config import ArenaConfig
    from arena.leaderboard import LeaderboardSettings
    from arena.ratings import bt
    from arena.ratings.battles import build_battles
    from arena.ratings.selection import Selection, load_verdicts
    from arena.viz import data

    cfg = ArenaConfig()
    s = LeaderboardSettings.from_config(cfg)
    store = Store.open(url, upgrade=False, readonly=True)
    try:
        t = time.perf_counter()
        data.store_summary(store.engine)
        data.change_marker(store.engine)
        t_side = time.perf_counter() - t
        t = time.perf_counter()
        frame = load_verdicts(store, Selection.from_config(cfg.ratings))
        t_load = time.perf_counter() - t
    finally:
        store.close()
    t = time.perf_counter()
    games = build_battles(frame, s.policy, both_bad=s.both_bad,  # type: ignore[arg-type]
                          strong_weight=s.strong_weight)
    t_games = time.perf_counter() - t
    t = time.perf_counter()
    bt.fit_bt(games.model_a, games.model_b, games.score, games.models, weight=games.weight,
              unit=games.question, rounds=s.rounds, seed=s.seed)
    t_fit = time.perf_counter() - t
    print(f"breakdown: sidebar queries {t_side:.2f} s; ratings load_verdicts {t_load:.2f} s; "
          f"build_battles ({s.policy}) {t_games:.2f} s; fit_bt + {s.rounds} bootstrap rounds "
          f"{t_fit:.2f} s")


if __name__ == "__main__":
    raise SystemExit(main())
