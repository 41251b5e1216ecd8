"""bench/workers: N ``run_arena.py --worker`` processes judging one config on one store.

Default: 10,000 judge calls (5,000 battles x 2 orders) against the fake OpenAI-compatible
server (its own process) at 100 ms per reply, 64 calls in flight per worker, on PostgreSQL
(``--pg URL``) with 1, 2 and 4 workers, and on SQLite with 2 workers. Each case gets a fresh
store (a new PostgreSQL schema or SQLite file) and a fresh server.

Prints per case: the judging phase as the server saw it (first to last request, plus one
reply latency), throughput and its ratio to one worker, the ideal (in flight x workers /
latency), whole-process wall time, client CPU per call (all worker processes, start-up
included, and without the start-up of an idle worker), calls received vs distinct prompts
(calls = distinct means nothing was paid twice) and judgments stored vs distinct keys.

    .venv/bin/python bench/workers.py --pg postgresql+psycopg://root@127.0.0.1:5432/test
    .venv/bin/python bench/workers.py --calls 2000 --workers 1,2 --sqlite-workers 0   # quick
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Optional

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.append(str(ROOT / "tests"))  # fake_openai.spawn

from fake_openai import spawn  # noqa: E402

from arena.store import Store  # noqa: E402
from arena.store.ingest import (AnswerRecord, QuestionRecord, add_answers,  # noqa: E402
                                add_questions)

REPLY = "Answer A is more complete. [[A]]"


def start_server(latency: float) -> tuple[subprocess.Popen, int]:
    return spawn("--latency", str(latency), "--reply", REPLY)


def stats(port: int) -> dict:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/stats", timeout=10) as r:
        return json.loads(r.read())


def fresh_store(pg: Optional[str], tmp: Path) -> str:
    if pg is None:
        return f"sqlite:///{tmp / ('w-' + uuid.uuid4().hex[:6] + '.db')}"
    import sqlalchemy as sa

    schema = "benchw_" + uuid.uuid4().hex[:8]
    eng = sa.create_engine(pg, isolation_level="AUTOCOMMIT")
    with eng.connect() as c:
        c.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    eng.dispose()
    sep = "&" if "?" in pg else "?"
    return f"{pg}{sep}options=-csearch_path%3D{schema}"


def fill(url: str, n: int) -> None:
    store = Store.open(url)
    with store.begin() as conn:
        add_questions(conn, [QuestionRecord(local_id=str(i), category="generic",
                                            turns=[f"Question {i}: explain topic {i}."])
                             for i in range(n)], "bench")
        add_answers(conn, [AnswerRecord(question_id=f"bench/{i}", model=m,
                                        turns=[f"{m} explains topic {i}: " + "words " * 40])
                           for m in ("model-a", "model-b") for i in range(n)])
    store.close()


def write_config(tmp: Path, url: str, port: int, in_flight: int) -> Path:
    cfg = tmp / f"cfg-{uuid.uuid4().hex[:6]}.yaml"
    cfg.write_text(f"""name: bench-workers
store: {{url: '{url}'}}
questions: [{{file: {tmp / 'q.jsonl'}, source: bench}}]
models:
  - {{name: model-a, backend: store}}
  - {{name: model-b, backend: store}}
generation: {{max_retries: 0}}
judge:
  mode: pairwise-all
  position_policy: both_games
  concurrency: {in_flight}
  judges:
    - {{name: judge, backend: openai, model: j, base_url: 'http://127.0.0.1:{port}/v1',
       api_key_env: null, generation: {{max_new_tokens: 64}}}}
report: {{dir: {tmp / 'reports'}}}
""")
    return cfg


def proc_cpu(pid: int) -> float:
    """CPU seconds (user + system) of one process, from /proc (Linux); 0 once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_busy() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine so far, from /proc/stat (Linux): every
    process counts, PostgreSQL's backends and anything else running here included."""
    v = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = v[3] + v[4]  # idle + iowait
    tick = os.sysconf("SC_CLK_TCK")
    return (sum(v) - idle) / tick, sum(v) / tick


def children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def startup_cpu(cfg: Path, tmp: Path) -> float:
    """CPU of a worker that finds nothing to do (imports, config, planning, the skip)."""
    before = children_cpu()
    subprocess.run([sys.executable, str(ROOT / "run_arena.py"), "-c", str(cfg), "--worker",
                    "--no-progress"], cwd=tmp, capture_output=True, check=True)
    return children_cpu() - before


def case(label: str, pg: Optional[str], workers: int, battles: int, latency: float,
         in_flight: int, tmp: Path, base: Optional[float]) -> float:
    url = fresh_store(pg, tmp)
    fill(url, battles)
    server, port = start_server(latency)
    try:
        cfg = write_config(tmp, url, port, in_flight)
        cpu0 = children_cpu()
        srv0, mach0 = proc_cpu(server.pid), machine_busy()
        t0 = time.perf_counter()
        procs = [subprocess.Popen([sys.executable, str(ROOT / "run_arena.py"), "-c", str(cfg),
                                   "--worker", "--no-progress"], cwd=tmp,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
                 for _ in range(workers)]
        errs = [p.communicate()[1] for p in procs]
        wall = time.perf_counter() - t0
        cpu = children_cpu() - cpu0
        srv_cpu = proc_cpu(server.pid) - srv0
        mach = machine_busy()
        busy_s, total_s = mach[0] - mach0[0], mach[1] - mach0[1]
        for p, e in zip(procs, errs):
            if p.returncode != 0:
                raise SystemExit(f"a worker failed:\n{e[-2000:]}")
        st = stats(port)
        idle = startup_cpu(cfg, tmp)
    finally:
        server.kill()
        server.wait()
    calls = st["requests"]
    phase = (st["last"] - st["first"]) + latency if st["first"] is not None else float("nan")
    rate = calls / phase
    ideal = workers * in_flight / latency
    s = Store.open(url)
    with s.begin() as conn:
        n, keys = conn.execute(__import__("sqlalchemy").text(
            "SELECT count(*), count(DISTINCT cache_key) FROM judgments")).one()
    s.close()
    ratio = f"{rate / base:.2f}x" if base else "1.00x"
    per_call = cpu / max(calls, 1) * 1000
    net = (cpu - workers * idle) / max(calls, 1) * 1000
    print(f"{label:<11} {workers:>2} workers: {calls:>6} calls in {phase:6.2f} s -> "
          f"{rate:7.1f} calls/s ({ratio} one worker; ideal {ideal:.0f}/s = "
          f"{rate / ideal:5.1%}); wall {wall:6.2f} s; client CPU {per_call:.2f} ms/call "
          f"({net:.2f} without start-up); calls {calls} / distinct {st['distinct']}; "
          f"judgments {n} / keys {keys}", flush=True)
    # What bounds it: every process of the case shares the machine's cores.
    srv_ms = srv_cpu / max(calls, 1) * 1000
    print(f"{'':<11} CPU per call: workers {per_call:.2f} ms + fake server {srv_ms:.2f} ms = "
          f"{per_call + srv_ms:.2f} ms (the database's share is in the machine figure); machine "
          f"{busy_s / total_s:.0%} busy over the case ({os.cpu_count()} cores, every process)",
          flush=True)
    return rate


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calls", type=int, default=10_000)
    ap.add_argument("--latency", type=float, default=0.1)
    ap.add_argument("--in-flight", type=int, default=64)
    ap.add_argument("--workers", default="1,2,4")
    ap.add_argument("--pg", default=None, help="PostgreSQL URL (default: SQLite only)")
    ap.add_argument("--sqlite-workers", type=int, default=2, help="0 = skip the SQLite case")
    args = ap.parse_args()
    battles = args.calls // 2
    print(f"{args.calls} judge calls, fake server at {args.latency * 1000:.0f} ms, "
          f"{args.in_flight} in flight per worker, {os.cpu_count()} CPUs, load "
          f"{os.getloadavg()[0]:.1f}", flush=True)
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        with open(tmp / "q.jsonl", "w") as f:
            for i in range(battles):
                f.write(json.dumps({"question_id": str(i), "category": "generic",
                                    "turns": [f"Question {i}: explain topic {i}."]}) + "\n")
        if args.pg:
            base = None
            for w in [int(x) for x in args.workers.split(",") if x]:
                r = case("PostgreSQL", args.pg, w, battles, args.latency, args.in_flight, tmp,
                         base)
                base = base or r
        if args.sqlite_workers:
            base = case("SQLite", None, 1, battles, args.latency, args.in_flight, tmp, None)
            case("SQLite", None, args.sqlite_workers, battles, args.latency, args.in_flight,
                 tmp, base)
    print(f"load after: {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
