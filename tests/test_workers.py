"""Many workers, one store: concurrent ``run_arena.py`` processes split the paid work.

Real processes against one store (SQLite file or PostgreSQL schema) and one fake
OpenAI-compatible judge over sockets. Checked: judgments = distinct prompts exactly, calls =
distinct prompts (plus at most the in-flight calls of a killed worker), a killed worker's work
is finished by the others, a kill -9 re-pays at most the calls in flight, and the cost cap
holds across workers.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import func, select

from arena.store import Store
from arena.store.schema import Judgment
from fake_openai import FakeOpenAI

ROOT = Path(__file__).resolve().parent.parent
pytestmark = [pytest.mark.db, pytest.mark.slow]

MODELS = ("m1", "m2", "m3")


def setup(tmp: Path, store_url: str, base_url: str, *, n_q: int, lease_s: float = 120,
          concurrency: int = 8, max_calls: int | None = None) -> Path:
    with open(tmp / "q.jsonl", "w") as f:
        for i in range(n_q):
            f.write(json.dumps({"question_id": i, "text": f"Question {i}?",
                                "category": "c"}) + "\n")
    for m in MODELS:
        with open(tmp / f"{m}.jsonl", "w") as f:
            for i in range(n_q):
                f.write(json.dumps({"question_id": i, "text": f"Question {i}?", "category": "c",
                                    "model_id": m, "answer": f"{m} says {i}"}) + "\n")
    models = "\n".join(f"  - {{name: {m}, backend: file, path: {m}.jsonl, format: evalscope}}"
                       for m in MODELS)
    cap = f", max_calls: {max_calls}" if max_calls else ""
    cfg = tmp / "cfg.yaml"
    cfg.write_text(f"""name: workers
store: {{url: '{store_url}'}}
questions: [{{file: q.jsonl, format: evalscope, source: qs}}]
models:
{models}
generation: {{concurrency: {concurrency}, max_retries: 0, lease_s: {lease_s}{cap}}}
judge:
  mode: pairwise-all
  position_policy: both_games
  judges:
    - {{name: judge, backend: openai, model: j, base_url: '{base_url}', api_key_env: null}}
ratings: {{bootstrap_rounds: 10}}
report: {{dir: reports}}
""")
    return cfg


def worker(cfg: Path, tmp: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, str(ROOT / "run_arena.py"), "-c", str(cfg),
                             "--worker", "--no-progress"], cwd=tmp, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def prepare(cfg: Path, tmp: Path) -> None:
    """Import the inputs once (workers started together would all import them too: that is
    tested on its own below)."""
    proc = subprocess.run([sys.executable, str(ROOT / "run_arena.py"), "-c", str(cfg),
                           "--stages", "answers", "--no-progress"], cwd=tmp,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr


def stored(store_url: str) -> tuple[int, int]:
    s = Store.open(store_url)
    with s.begin() as conn:
        n = conn.execute(select(func.count()).select_from(Judgment)).scalar_one()
        keys = conn.execute(select(func.count(func.distinct(Judgment.cache_key)))).scalar_one()
    s.close()
    return n, keys


def bodies(srv: FakeOpenAI) -> Counter:
    return Counter(json.dumps(r["messages"], sort_keys=True) for r in srv.requests)


def judge(req: dict) -> str:
    return "Fine.\n[[A]]"


@pytest.mark.parametrize("n_workers", [2, 4])
def test_concurrent_workers_split_the_work(tmp_path: Path, store_url: str,
                                           n_workers: int) -> None:
    n_q = 40
    distinct = n_q * 3 * 2  # questions x pairs x orders
    # ~6 s of calls for one worker: long enough that every worker starts while work is left
    with FakeOpenAI(judge, latency=0.1) as srv:
        cfg = setup(tmp_path, store_url, srv.base_url, n_q=n_q, concurrency=4)
        procs = [worker(cfg, tmp_path) for _ in range(n_workers)]  # inputs imported at once
        outs = [p.communicate(timeout=300) for p in procs]
        for p, (_, err) in zip(procs, outs):
            assert p.returncode == 0, err
        seen = bodies(srv)
    assert len(seen) == distinct and srv.count() == distinct  # no prompt was paid twice
    assert stored(store_url) == (distinct, distinct)
    worked = sum(1 for _, err in outs if "judged now" in err and " 0 judged now" not in err)
    assert worked >= 2, [e[-400:] for _, e in outs]  # the work really was split


def test_a_killed_worker_is_taken_over_nothing_lost_or_doubled(tmp_path: Path,
                                                               store_url: str) -> None:
    n_q, conc = 40, 8
    distinct = n_q * 3 * 2
    with FakeOpenAI(judge, latency=0.05) as srv:
        cfg = setup(tmp_path, store_url, srv.base_url, n_q=n_q, lease_s=3, concurrency=conc)
        prepare(cfg, tmp_path)
        victim = worker(cfg, tmp_path)
        deadline = time.monotonic() + 60
        while srv.count() < 40 and time.monotonic() < deadline:
            time.sleep(0.01)
        victim.send_signal(signal.SIGKILL)
        victim.communicate()
        before = srv.count()
        others = [worker(cfg, tmp_path) for _ in range(2)]
        for p in others:
            _, err = p.communicate(timeout=300)
            assert p.returncode == 0, err
        seen = bodies(srv)
    assert len(seen) == distinct
    # only the victim's calls in flight: sent, or answered while the writer's last commit ran
    # (one commit: milliseconds; PostgreSQL's fsync makes it longer). Committing in batches
    # of 50, as before, re-paid up to 50 here.
    assert srv.count() - distinct <= 2 * conc, (before, srv.count())
    assert stored(store_url) == (distinct, distinct)


def test_kill_9_repays_at_most_the_calls_in_flight(tmp_path: Path, store_url: str) -> None:
    n_q, conc = 40, 4
    distinct = n_q * 3 * 2
    with FakeOpenAI(judge, latency=0.03) as srv:
        cfg = setup(tmp_path, store_url, srv.base_url, n_q=n_q, concurrency=conc)
        prepare(cfg, tmp_path)
        for _ in range(3):  # kill it again and again, then let it finish
            p = worker(cfg, tmp_path)
            start = srv.count()
            deadline = time.monotonic() + 60
            while srv.count() < start + 30 and time.monotonic() < deadline:
                time.sleep(0.005)
            p.send_signal(signal.SIGKILL)
            p.communicate()
        p = worker(cfg, tmp_path)
        _, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
    repaid = srv.count() - distinct
    assert 0 <= repaid <= 3 * 2 * conc, repaid  # each kill: at most the calls in flight
    assert stored(store_url) == (distinct, distinct)


def test_the_call_cap_holds_across_workers(tmp_path: Path, store_url: str) -> None:
    with FakeOpenAI(judge, latency=0.02) as srv:
        cfg = setup(tmp_path, store_url, srv.base_url, n_q=40, max_calls=50)
        prepare(cfg, tmp_path)
        procs = [worker(cfg, tmp_path) for _ in range(3)]
        for p in procs:
            p.communicate(timeout=300)
    assert srv.count() <= 50, srv.count()
    assert srv.count() >= 40  # and the workers did use it
