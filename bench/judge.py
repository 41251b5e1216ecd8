"""bench/judge: battles judged in both orders against the fake server, through the reviews stage.

Default: 5,000 battles x 2 orders = 10,000 judge calls, the fake OpenAI-compatible server in its
own process at 100 ms per reply, 64 calls in flight. The whole stage runs as in a real run
(plan items, skip stored ones by cache key, build prompts from templates, call through the
shared runner, parse, store rows in batches) into a fresh SQLite file (or PostgreSQL with --pg).

Prints: wall time of the judging phase against the ideal (calls x latency / in flight), the
percentage of the ideal reached (goal >= 90 %), client CPU per call, resident memory sampled
at each quarter of the run (goal: flat), and the rerun (zero calls).

    .venv/bin/python bench/judge.py
    .venv/bin/python bench/judge.py --battles 1000          # a quick run
    .venv/bin/python bench/judge.py --pg postgresql+psycopg://root@127.0.0.1:5432/test
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.append(str(ROOT / "tests"))  # fake_openai.spawn

from fake_openai import spawn  # noqa: E402

from arena.config import parse_config  # noqa: E402
from arena.reviews import pending_items, plan_items, run_reviews  # noqa: E402
from arena.store import Store  # noqa: E402
from arena.store.ingest import (AnswerRecord, QuestionRecord, add_answers,  # noqa: E402
                                add_questions)
from judges.factory import build_judge  # noqa: E402


def start_server(latency: float) -> tuple[subprocess.Popen, int]:
    """The fake server in a child process, so its CPU is not counted as the client's."""
    return spawn("--latency", str(latency), "--reply", "Answer A is more complete. [[A]]")


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def fill(store: Store, n: int) -> None:
    qs = [QuestionRecord(local_id=str(i), category="generic",
                         turns=[f"Question {i}: explain topic number {i} in two sentences."])
          for i in range(n)]
    with store.begin() as conn:
        add_questions(conn, qs, "bench")
        add_answers(conn, [AnswerRecord(question_id=f"bench/{i}", model=m,
                                        turns=[f"{m} explains topic {i}: " + "words " * 40])
                           for m in ("model-a", "model-b") for i in range(n)])


def pg_schema_url(base: str) -> tuple[str, str]:
    import sqlalchemy as sa

    schema = "bench_" + uuid.uuid4().hex[:8]
    eng = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    with eng.connect() as c:
        c.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    eng.dispose()
    sep = "&" if "?" in base else "?"
    return f"{base}{sep}options=-csearch_path%3D{schema}", schema


def drop_schema(base: str, schema: str) -> None:
    import sqlalchemy as sa

    eng = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    with eng.connect() as c:
        c.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
    eng.dispose()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--battles", type=int, default=5000)
    ap.add_argument("--latency", type=float, default=0.1)
    ap.add_argument("--inflight", type=int, default=64)
    ap.add_argument("--pg", help="PostgreSQL URL (a fresh schema is made and dropped)")
    args = ap.parse_args()

    tmp = tempfile.TemporaryDirectory()
    schema = None
    if args.pg:
        url, schema = pg_schema_url(args.pg)
    else:
        url = f"sqlite:///{tmp.name}/bench.db"
    proc, port = start_server(args.latency)
    try:
        store = Store.open(url)
        fill(store, args.battles)
        cfg = parse_config({
            "questions": [{"file": "q.jsonl", "source": "bench"}],
            "models": [{"name": m, "backend": "store"} for m in ("model-a", "model-b")],
            "generation": {"max_retries": 2, "timeout_s": 30},
            "judge": {"mode": "pairwise-all", "position_policy": "tie_if_inconsistent",
                      "concurrency": args.inflight,
                      "judges": [{"name": "bench-judge", "backend": "openai", "model": "judge",
                                  "base_url": f"http://127.0.0.1:{port}/v1",
                                  "api_key_env": None,
                                  "generation": {"max_new_tokens": 64}}]}}, "<bench>")
        [judge] = build_judge(cfg)
        judge.bind(store)
        judge.provider()  # import and client creation are not part of the measured load

        t0 = time.perf_counter()
        items = plan_items(store, cfg)
        judge.prepare(items)
        todo, _ = pending_items(store, judge, items)
        plan_s = time.perf_counter() - t0
        n_calls = len(todo)

        samples: list[tuple[int, float]] = []
        stop = threading.Event()

        def sample() -> None:
            while not stop.is_set():
                samples.append((judge.stats.calls, rss_mb()))
                stop.wait(0.25)

        sampler = threading.Thread(target=sample, daemon=True)
        rss0 = rss_mb()
        cpu0 = time.process_time()
        sampler.start()
        t1 = time.perf_counter()
        report = run_reviews(store, cfg, judge, progress=False, run_id="bench")
        wall = time.perf_counter() - t1
        cpu = time.process_time() - cpu0
        stop.set()
        sampler.join()
        assert report.judged == n_calls and judge.stats.calls == n_calls, (report, judge.stats)

        ideal = n_calls * args.latency / args.inflight
        calls_s = judge.stats.seconds or wall
        print(f"bench/judge: {args.battles} battles x 2 orders = {n_calls} calls, "
              f"{args.latency * 1000:g} ms latency, {args.inflight} in flight, "
              f"store {'postgresql' if args.pg else 'sqlite'}")
        print(f"  planning {len(items)} items (battles stored, cache keys): {plan_s:.2f} s")
        print(f"  judging (prompts, calls, parsing, stored rows): {calls_s:.2f} s; ideal "
              f"{ideal:.2f} s -> {100 * ideal / calls_s:.1f} % of ideal "
              f"({n_calls / calls_s:.0f} calls/s)")
        print(f"  whole stage (planning again + judging + final flush): {wall:.2f} s -> "
              f"{100 * ideal / wall:.1f} % of ideal")
        print(f"  client CPU: {cpu:.1f} s = {1000 * cpu / n_calls:.2f} ms per call")
        quarter = []
        for q in (0.25, 0.5, 0.75, 1.0):
            want = int(q * n_calls)
            mb = next((m for c, m in samples if c >= want), samples[-1][1] if samples else rss0)
            quarter.append(f"{int(q * 100)} %: {mb:.0f} MB")
        print(f"  resident memory: start {rss0:.0f} MB; " + ", ".join(quarter) +
              f"; max {max(m for _, m in samples):.0f} MB")
        print(f"  judgments stored: {report.judged} ({report.failed} failed)")

        t2 = time.perf_counter()
        [judge2] = build_judge(cfg)
        again = run_reviews(store, cfg, judge2, progress=False)
        print(f"  rerun: {again.judged} judged, {judge2.stats.calls} calls, "
              f"{again.skipped} already stored, {time.perf_counter() - t2:.2f} s")
        store.close()
    finally:
        proc.kill()
        proc.wait()
        if schema and args.pg:
            drop_schema(args.pg, schema)
        tmp.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
