"""Benchmark: answer generation through an OpenAI-compatible endpoint.

Starts the fake server (tests/fake_openai.py) in its own process with a fixed latency per
reply, then sends the same loads through

- ``arena``: the project's call runner + its lean HTTP path (``http_client: fast``, what
  ``auto`` picks for http:// endpoints);
- ``arena-openai``: the call runner + the official async client (``http_client: openai``);
- ``threads``: a thread pool with the synchronous official client (how FastChat does it);

and prints, per load, wall time against the ideal (n x latency / in-flight), the percentage of
the ideal reached, client CPU per request (this process's CPU time / n) and the fake server's
CPU per request (when the server saturates a core, the figures measure the server).

    .venv/bin/python bench/generate_api.py                  # 2,000 @ 64 and 8,000 @ 256
    .venv/bin/python bench/generate_api.py --loads 500x64   # a quick run
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from arena.llm.fast_http import FastHTTPProvider  # noqa: E402
from arena.llm.openai_provider import OpenAIProvider  # noqa: E402
from arena.llm.runner import CallRunner, RunnerSettings  # noqa: E402
from arena.llm.types import ChatRequest  # noqa: E402


def start_server(latency: float, procs: int) -> tuple[list[subprocess.Popen], int]:
    """The fake server in a child process, so its CPU is not counted as the client's."""
    proc = subprocess.Popen([sys.executable, str(ROOT / "tests" / "fake_openai.py"),
                             "--latency", str(latency), "--reply", "a short answer"],
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline().split()
    if len(line) != 2 or line[0] != "PORT":
        proc.kill()
        raise SystemExit(f"fake server did not start: {line}")
    return [proc], int(line[1])


def server_cpu(pid: int) -> float:
    """CPU seconds (user + system) of the server process, from /proc (Linux)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def requests(n: int) -> list[ChatRequest]:
    return [ChatRequest(messages=[{"role": "user", "content": f"question {i}: what is {i}+1?"}],
                        max_new_tokens=64, key=str(i)) for i in range(n)]


def run_arena(base_url: str, n: int, inflight: int, official: bool = False
              ) -> tuple[float, float, int]:
    cls = OpenAIProvider if official else FastHTTPProvider
    provider = cls("bench", "bench-model", api_key="x", base_url=base_url,
                   max_connections=inflight)
    runner = CallRunner(provider, RunnerSettings(concurrency=inflight, max_retries=2,
                                                 timeout_s=30, backoff_base_s=0.05))
    reqs = requests(n)
    # Warm-up (client creation, connection set-up) is not part of the measured load.
    runner.run(reqs[:inflight])
    c0, t0 = time.process_time(), time.perf_counter()
    res = runner.run(reqs)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    return wall, cpu, sum(1 for r in res if r.ok)


def run_threads(base_url: str, n: int, inflight: int) -> tuple[float, float, int]:
    import httpx
    import openai

    client = openai.OpenAI(api_key="x", base_url=base_url, max_retries=2,
                           http_client=openai.DefaultHttpxClient(
                               limits=httpx.Limits(max_connections=inflight,
                                                   max_keepalive_connections=inflight)))
    reqs = requests(n)

    def one(r: ChatRequest) -> bool:
        out = client.chat.completions.create(model="bench-model", messages=r.messages,
                                             max_tokens=r.max_new_tokens, temperature=0.0)
        return bool(out.choices[0].message.content)

    with ThreadPoolExecutor(inflight) as pool:
        list(pool.map(one, reqs[:inflight]))
        c0, t0 = time.process_time(), time.perf_counter()
        ok = sum(pool.map(one, reqs))
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    client.close()
    return wall, cpu, ok


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--latency", type=float, default=0.1, help="server seconds per reply")
    ap.add_argument("--loads", nargs="+", default=["2000x64", "8000x256"],
                    help="N x IN_FLIGHT pairs")
    ap.add_argument("--clients", nargs="+", default=["arena", "arena-openai", "threads"],
                    choices=["arena", "arena-openai", "threads"])
    args = ap.parse_args()
    procs, port = start_server(args.latency, 1)
    base_url = f"http://127.0.0.1:{port}/v1"
    print(f"fake server pid {procs[0].pid} port {port}, latency {args.latency * 1000:.0f} ms, "
          f"{os.cpu_count()} CPUs")
    print(f"{'client':12} {'n':>6} {'in-flight':>9} {'wall s':>8} {'ideal s':>8} "
          f"{'% ideal':>8} {'CPU ms/req':>10} {'server ms/req':>13} {'ok':>6}")
    try:
        for load in args.loads:
            n, inflight = (int(x) for x in load.lower().split("x"))
            ideal = n * args.latency / inflight
            for name in args.clients:
                s0 = server_cpu(procs[0].pid)
                if name == "threads":
                    wall, cpu, ok = run_threads(base_url, n, inflight)
                else:
                    wall, cpu, ok = run_arena(base_url, n, inflight, name == "arena-openai")
                # The server also served the warm-up (in-flight requests more than n).
                srv = (server_cpu(procs[0].pid) - s0) / (n + inflight)
                print(f"{name:12} {n:6d} {inflight:9d} {wall:8.2f} {ideal:8.2f} "
                      f"{100 * ideal / wall:7.1f}% {1000 * cpu / n:10.3f} {1000 * srv:13.3f} "
                      f"{ok:6d}", flush=True)
    finally:
        for p in procs:
            p.terminate()
            p.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
