"""bench/batch: judge requests through the Batch API path against the fake server's endpoints.

Each measurement runs in a fresh child process (so peak RSS is its own) against the fake
OpenAI-compatible server in another process (its CPU is not the client's): N judge requests
(a pairwise prompt of ~700 characters each) go through ``CallRunner`` + ``BatchProvider``
(prepare the JSONL lines, upload ``/v1/files``, create ``/v1/batches``, record the batch and
its request ids in the store, poll, download the output file, parse it line by line) and every
result is handed to ``on_result``, which parses the verdict and puts a judgment row into the
``ResultWriter`` storing into a SQLite store. ``max_requests_per_file`` is 5,000 (so the runner
keeps at most one file's worth in flight and memory does not grow with N).

Prints, per N (5,000 and 20,000; median of ``--repeats``): client CPU per request (process
time of the child: event loop, provider, store, writer thread), peak RSS, and the tracemalloc
peak (a separate run: tracing slows the CPU figure). Goal: <= 0.2 ms CPU per request, memory
flat in N.

    .venv/bin/python bench/batch.py
    .venv/bin/python bench/batch.py --sizes 2000 --repeats 1     # a quick run
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.append(str(ROOT / "tests"))  # fake_openai.spawn

from fake_openai import spawn  # noqa: E402

PER_FILE = 5000


def start_server() -> tuple[subprocess.Popen, int]:
    return spawn("--reply", "Answer A is more complete. [[A]]", "--batch-delay", "2")


def peak_rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def child(n: int, port: int, trace: bool) -> dict:
    import tracemalloc

    from arena.config import BatchSettings
    from arena.llm.batch_provider import BatchProvider
    from arena.llm.runner import CallRunner, RunnerSettings
    from arena.llm.types import ChatRequest
    from arena.llm.writer import ResultWriter
    from arena.store import Store
    from arena.store.ingest import QuestionRecord, add_questions
    from judges import parsing

    tmp = tempfile.TemporaryDirectory()
    store = Store.open(f"sqlite:///{tmp.name}/bench.db")
    with store.begin() as conn:
        add_questions(conn, [QuestionRecord(local_id="q", turns=["Which is better?"])], "bench")
    provider = BatchProvider("bench-judge", "judge", api_key="x",
                             base_url=f"http://127.0.0.1:{port}/v1", store=store,
                             settings=BatchSettings(max_requests_per_file=PER_FILE,
                                                    poll_s=0.05, quiet_s=0.2))
    settings = RunnerSettings(concurrency=PER_FILE, max_retries=1)
    runner = CallRunner(provider, settings)
    words = "words " * 40

    def requests():  # built lazily: the caller's items are not what is measured
        for i in range(n):
            yield ChatRequest(messages=[
                {"role": "system", "content": "You are a careful judge."},
                {"role": "user", "content": f"Question {i}: explain topic {i}.\n<answer_a>\n"
                 f"model-a on {i}: {words}\n</answer_a>\n<answer_b>\nmodel-b on {i}: "
                 f"{words}\n</answer_b>\nReply [[A]], [[B]] or [[C]]."}],
                max_new_tokens=64, key=str(i))

    writer = ResultWriter(store)
    stored = {"ok": 0}

    def on_result(req: ChatRequest, res) -> None:
        v = parsing.parse("abc", res.text)
        writer.put("judgment", {
            "mode": "pairwise-all", "question_id": "bench/q", "model_a": "model-a",
            "model_b": "model-b", "first": "A", "judge_kind": "llm", "judge_id": "bench-judge",
            "fingerprint": "bench", "cache_key": f"k{req.key}",
            "outcome": v.winner if v.ok else None,
            "raw_output": res.text, "parse_status": "ok" if v.ok else "failed"})
        stored["ok"] += v.ok

    async def main() -> None:
        class Source:
            def __init__(self) -> None:
                self.it = requests()

            async def take(self):
                return next(self.it, None)

        try:
            await runner.amap_source(Source(), runner.call, on_result)
        finally:
            await provider.aclose()

    from arena.llm.runner import run_sync

    if trace:
        tracemalloc.start()
    cpu0, t0 = time.process_time(), time.perf_counter()
    run_sync(main())
    writer.close()
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - t0
    traced = tracemalloc.get_traced_memory()[1] / 2**20 if trace else None
    assert stored["ok"] == n, stored
    assert provider.stats["lines"] == n and writer.committed["judgment"] == n
    store.close()
    tmp.cleanup()
    return {"n": n, "cpu_s": cpu, "wall_s": wall, "rss_mb": peak_rss_mb(),
            "traced_mb": traced, "batches": provider.stats["batches"]}


def run_child(n: int, port: int, trace: bool) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", str(n), "--port", str(port)]
                         + (["--trace"] if trace else []), capture_output=True, text=True,
                         timeout=1800)
    if out.returncode != 0:
        raise SystemExit(out.stderr[-3000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[5000, 20000])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--child", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--port", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--trace", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.port, args.trace)))
        return 0
    proc, port = start_server()
    try:
        print(f"bench/batch: judge requests through the Batch API path (fake server, "
              f"{PER_FILE} requests per file, SQLite store); median of {args.repeats}")
        for n in args.sizes:
            runs = [run_child(n, port, False) for _ in range(args.repeats)]
            traced = run_child(n, port, True)
            cpu = statistics.median(r["cpu_s"] for r in runs)
            rss = statistics.median(r["rss_mb"] for r in runs)
            wall = statistics.median(r["wall_s"] for r in runs)
            print(f"  {n:>6} requests: {runs[0]['batches']} batches; client CPU {cpu:.2f} s = "
                  f"{1000 * cpu / n:.3f} ms per request (goal <= 0.2); wall {wall:.1f} s "
                  f"(polling included); peak RSS {rss:.0f} MB; tracemalloc peak "
                  f"{traced['traced_mb']:.1f} MB")
    finally:
        proc.kill()
        proc.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
