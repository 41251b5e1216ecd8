"""Annotation server under load: simulated annotators over HTTP against the real server.

Starts ``arena annotate`` (waitress, as served to users) in a subprocess on a free loopback
port over a fresh store, logs in ``--annotators`` accounts, has each open the task (its first
item, fetched before the run as the login is), and has each of them run cycles (a verdict
stored and the next item received) with keep-alive connections for
``--duration`` seconds: by default one request per cycle (``POST /api/assignments/<id>/
verdict`` with ``"next": true``, answered with the next item), with ``--api separate`` two
(``POST /api/tasks/<id>/next`` then the verdict). A share of submits is sent
twice (a retried request: it must come back as the same verdict, ``duplicate: true``).

Prints throughput (cycles/s), p50 / p99 / max latency of a cycle, the CPU seconds used by the
server and by this load generator (they share the machine's cores), and the check: every
verdict a client was told about is stored exactly once, no assignment has two verdicts, no
item has more than k distinct annotators, and no annotator judged an item twice.

With ``--dashboard`` it times the admin dashboard instead: a task with ``--annotators``
annotators and ``--verdicts`` verdicts (written in bulk), the page rendered ``--renders``
times through the app; the median is printed (goal: 0.5 s for 100 annotators and 10,000
verdicts).

Usage:
  python bench/annotate.py [--db sqlite|postgresql+psycopg://user@host/db] [--duration 60]
         [--annotators 50] [--overlap 3] [--retry-share 0.02] [--threads N] [--workers N]
         [--rate R] [--api combined|separate]
  python bench/annotate.py --dashboard --annotators 100 [--verdicts 10000] [--db ...]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import re
import resource
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, select  # noqa: E402

from annotate.cli import DEFAULT_THREADS  # noqa: E402
from arena.store import Store  # noqa: E402
from arena.store.annotation_schema import Assignment  # noqa: E402
from arena.store.ingest import AnswerRecord, QuestionRecord, add_answers, add_questions  # noqa
from arena.store.schema import Judgment  # noqa: E402

PASSWORD = "bench-password-123"
MODELS = ["model-a", "model-b", "model-c"]
CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


def answer_text(model: str, i: int) -> str:
    # Realistic markdown: a heading, a list, code, a formula and some prose (~1.5 KB).
    prose = (f"The {i}th answer explains the idea step by step, with care for edge cases. "
             * 8)
    return (f"## Approach {i}\n\n{prose}\n\n- first point\n- second point with `code`\n"
            f"- third: $a_{i}^2 + b^2 = c^2$\n\n```python\ndef f(x):\n    return x * {i}\n```\n\n"
            f"In short: **{model[-1]}** variant, {prose[:200]}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def fill_store(url: str, n_questions: int, annotators: int, overlap: int) -> int:
    """Questions, answers, the task and the accounts; return the task id."""
    from annotate.auth import create_user
    from annotate.tasks import TaskSpec, create_task

    store = Store.open(url)
    try:
        with store.begin() as conn:
            add_questions(conn, [QuestionRecord(turns=[f"Question {i}: how would you do it?"],
                                                local_id=f"q{i}", category="bench")
                                 for i in range(n_questions)], "bench")
            add_answers(conn, [AnswerRecord(question_id=f"bench/q{i}", model=m,
                                            turns=[answer_text(m, i)])
                               for i in range(n_questions) for m in MODELS])
            tid, n_items, _ = create_task(conn, TaskSpec(name="bench", models=MODELS,
                                                         overlap=overlap))
            for k in range(annotators):
                create_user(conn, f"ann{k}", "annotator", PASSWORD)
        print(f"store: {n_questions} questions, {n_items} items, overlap {overlap}, "
              f"{annotators} annotators", flush=True)
        return tid
    finally:
        store.close()


class Client:
    """One annotator: a keep-alive connection, the session cookie and the CSRF token."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        self.cookie = ""
        self.token = ""

    def request(self, method: str, path: str, body: Optional[bytes] = None,
                headers: Optional[dict[str, str]] = None) -> tuple[int, bytes]:
        h = {"Cookie": self.cookie} if self.cookie else {}
        h.update(headers or {})
        for attempt in range(2):
            try:
                self.conn.request(method, path, body=body, headers=h)
                resp = self.conn.getresponse()
                data = resp.read()
                break
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                if attempt:
                    raise
                self.conn.close()
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        for name, value in resp.getheaders():
            if name.lower() == "set-cookie" and value.startswith("arena_session="):
                self.cookie = value.split(";", 1)[0]
        return resp.status, data

    def login(self, username: str) -> None:
        _, page = self.request("GET", "/auth/login")
        tok = CSRF_RE.search(page.decode()).group(1)  # type: ignore[union-attr]
        form = f"username={username}&password={PASSWORD}&csrf_token={tok}".encode()
        status, _ = self.request("POST", "/auth/login", form,
                                 {"Content-Type": "application/x-www-form-urlencoded"})
        if status != 302:
            raise RuntimeError(f"login of {username} failed: HTTP {status}")
        _, page = self.request("GET", "/")
        self.token = CSRF_RE.search(page.decode()).group(1)  # type: ignore[union-attr]

    def post_json(self, path: str, obj: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        status, data = self.request("POST", path, json.dumps(obj).encode(), {
            "Content-Type": "application/json", "X-CSRF-Token": self.token})
        return status, (json.loads(data) if data else {})


@dataclass
class Result:
    latencies: list[float] = field(default_factory=list)
    starts: list[float] = field(default_factory=list)  # perf_counter at each cycle's start
    stored: dict[int, int] = field(default_factory=dict)  # judgment id -> assignment id
    retries: int = 0
    retry_mismatch: int = 0
    errors: list[str] = field(default_factory=list)
    done_early: int = 0


def annotate_loop(client: Client, tid: int, stop: float, rng: random.Random,
                  retry_share: float, out: Result, lock: threading.Lock,
                  interval: float = 0.0, combined: bool = True,
                  first: Optional[dict[str, Any]] = None) -> None:
    """Cycles until ``stop``. With ``interval`` > 0 the annotator starts a cycle every
    ``interval`` seconds (random phase); latency then counts from the planned start, so a
    server that falls behind shows it (no coordinated omission). ``combined``: each verdict
    asks for the next item in the same request (``"next": true``); otherwise a cycle is two
    requests (next, then verdict). ``first``: the item the annotator already holds (fetched
    before the run, as the review page does when it opens)."""
    item: Optional[dict[str, Any]] = first if combined else None
    lat: list[float] = []
    starts: list[float] = []
    stored: dict[int, int] = {}
    retries = mismatch = 0
    planned = time.perf_counter() + rng.random() * interval
    try:
        while time.perf_counter() < stop:
            if interval > 0:
                wait = planned - time.perf_counter()
                if wait > 0:
                    time.sleep(wait)
                t0 = planned
                planned += interval
                if planned > stop:
                    break
            else:
                t0 = time.perf_counter()
            if item is None:  # separate requests, or the first item
                status, got = client.post_json(f"/api/tasks/{tid}/next", {})
                if status != 200:
                    raise RuntimeError(f"next: HTTP {status} {got}")
                if got.get("done"):
                    with lock:
                        out.done_early += 1
                    break
                item = got["item"]
            body = {"choice": rng.choice(("left", "right", "tie", "both_bad")),
                    "submission_id": item["submission_id"], "elapsed_ms": 1000}
            if combined:
                body["next"] = True
            path = f"/api/assignments/{item['assignment_id']}/verdict"
            status, res = client.post_json(path, body)
            if status != 200:
                raise RuntimeError(f"verdict: HTTP {status} {res}")
            lat.append(time.perf_counter() - t0)
            starts.append(t0)
            stored[int(res["judgment_id"])] = int(item["assignment_id"])
            if rng.random() < retry_share:  # a retried request: must be the same verdict
                retries += 1
                status, again = client.post_json(path, body)
                if status != 200 or again.get("judgment_id") != res["judgment_id"] \
                        or not again.get("duplicate") or (combined and (
                            again["next"].get("item") or {}).get("assignment_id") != (
                            res["next"].get("item") or {}).get("assignment_id")):
                    mismatch += 1
            item = None
            if combined:
                nxt = res["next"]
                if nxt.get("done"):
                    with lock:
                        out.done_early += 1
                    break
                item = nxt["item"]
    except Exception as exc:  # noqa: BLE001 - reported in the summary
        with lock:
            out.errors.append(repr(exc))
    with lock:
        out.latencies.extend(lat)
        out.starts.extend(starts)
        out.stored.update(stored)
        out.retries += retries
        out.retry_mismatch += mismatch


def check_store(url: str, tid: int, overlap: int, res: Result) -> list[str]:
    """The zero-lost / zero-duplicated check; returns the problems found."""
    problems = []
    store = Store.open(url, upgrade=False)
    try:
        with store.begin() as conn:
            rows = conn.execute(select(Judgment.id, Judgment.meta, Judgment.annotator_id)
                                .where(Judgment.task_id == tid)).all()
            by_assignment = conn.execute(select(Assignment.id, Assignment.judgment_id)
                                         .where(Assignment.task_id == tid,
                                                Assignment.status == "done")).all()
            twice = conn.execute(select(Assignment.item_id, Assignment.annotator_id)
                                 .where(Assignment.task_id == tid, Assignment.round == 1)
                                 .group_by(Assignment.item_id, Assignment.annotator_id)
                                 .having(func.count() > 1)).all()
            per_item = conn.execute(select(Assignment.item_id, func.count()).where(
                Assignment.task_id == tid, Assignment.status == "done", Assignment.round == 1)
                .group_by(Assignment.item_id).having(func.count() > overlap)).all()
    finally:
        store.close()
    stored_ids = {r.id for r in rows}
    told = set(res.stored)
    if told - stored_ids:
        problems.append(f"{len(told - stored_ids)} verdict(s) acknowledged but not stored")
    if stored_ids - told:
        problems.append(f"{len(stored_ids - told)} stored verdict(s) nobody was told about")
    per_assignment: dict[int, int] = {}
    for r in rows:
        aid = (r.meta or {}).get("assignment_id")
        per_assignment[aid] = per_assignment.get(aid, 0) + 1
    dup = sum(1 for n in per_assignment.values() if n > 1)
    if dup:
        problems.append(f"{dup} assignment(s) with more than one verdict")
    if len(by_assignment) != len(rows):
        problems.append(f"{len(by_assignment)} done assignments but {len(rows)} verdicts")
    if per_item:
        problems.append(f"{len(per_item)} item(s) above the overlap")
    if twice:
        problems.append(f"{len(twice)} (item, annotator) pairs assigned twice")
    if res.retry_mismatch:
        problems.append(f"{res.retry_mismatch} retried submit(s) not answered as duplicates")
    return problems


def pg_schema(base: str) -> tuple[str, Any]:
    import sqlalchemy as sa

    schema = "bench_" + uuid.uuid4().hex[:10]
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    sep = "&" if "?" in base else "?"

    def drop() -> None:
        with admin.connect() as c:
            c.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        admin.dispose()
    return f"{base}{sep}options=-csearch_path%3D{schema}", drop


def _stat(pid: int) -> list[str]:
    with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
        return fh.read().rsplit(")", 1)[1].split()


def proc_cpu(pid: int) -> float:
    """User + system CPU seconds of a process and its worker processes (Linux /proc)."""
    tick = os.sysconf("SC_CLK_TCK")
    pids = [pid]
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                if int(_stat(int(name))[1]) == pid:
                    pids.append(int(name))
            except (OSError, IndexError, ValueError):
                pass
    total = 0.0
    for p in pids:
        try:
            parts = _stat(p)
        except OSError:
            continue
        total += (int(parts[11]) + int(parts[12])) / tick
    return total


def fill_dashboard_store(url: str, annotators: int, verdicts_wanted: int, overlap: int = 3,
                         seed: int = 0) -> int:
    """A task with ``annotators`` annotators and about ``verdicts_wanted`` human verdicts
    (overlap ``overlap``, 6 models, 10 % swap probes, some gold items, an LLM judge on the
    same battles), written in bulk with the app's own row shapes; return the task id."""
    from datetime import timedelta

    from annotate.auth import create_user
    from annotate.tasks import TaskSpec, create_task
    from arena.store.annotation_schema import Assignment as A, Task as T, TaskItem as TI
    from arena.store.ingest import add_judgments
    from arena.store.schema import utcnow
    from sqlalchemy import update

    rng = random.Random(seed)
    models = [f"model-{c}" for c in "abcdef"]
    strength = {m: 100.0 * k for k, m in enumerate(models)}
    n_items = verdicts_wanted // overlap
    n_q = n_items // 15 + 1  # 15 pairs per question
    store = Store.open(url)
    try:
        with store.begin() as conn:
            add_questions(conn, [QuestionRecord(turns=[f"Question {i}?"], local_id=f"q{i}",
                                                category=f"c{i % 4}") for i in range(n_q)],
                          "dash")
            add_answers(conn, [AnswerRecord(question_id=f"dash/q{i}", model=m,
                                            turns=[f"{m} on {i}"])
                               for i in range(n_q) for m in models])
            tid, _, _ = create_task(conn, TaskSpec(name="dashboard", models=models,
                                                   overlap=overlap, swap_share=0.1,
                                                   question_limit=n_q))
            users = [create_user(conn, f"dash{k}", "annotator", None)[0]
                     for k in range(annotators)]
            items = conn.execute(select(TI.id, TI.question_id, TI.battle_id, TI.answer_a_id,
                                        TI.answer_b_id, TI.model_a, TI.model_b)
                                 .where(TI.task_id == tid).order_by(TI.seq)
                                 .limit(n_items)).all()
            conn.execute(update(TI).where(TI.id.in_([it.id for it in items[:30]]))
                         .values(kind="gold", gold={"accept": ["B"]}))
            now = utcnow()
            judg, assigns, llm = [], [], []
            for it in items:
                p = 1 / (1 + 10 ** ((strength[it.model_b] - strength[it.model_a]) / 400))
                for uid in rng.sample(users, overlap):
                    for rnd in ((1, 2) if rng.random() < 0.1 else (1,)):
                        first = rng.choice("AB")
                        outcome = "A" if rng.random() < p else "B"
                        if rng.random() < 0.1:
                            outcome = "TIE"
                        sub = secrets.token_hex(16)
                        judg.append({"mode": "pairwise-all", "battle_id": it.battle_id,
                                     "question_id": it.question_id, "model_a": it.model_a,
                                     "model_b": it.model_b, "answer_a_id": it.answer_a_id,
                                     "answer_b_id": it.answer_b_id, "first": first,
                                     "judge_kind": "human", "judge_id": f"human:{uid}",
                                     "policy": "random_order", "outcome": outcome,
                                     "annotator_id": uid, "task_id": tid, "round": rnd,
                                     "submission_id": sub, "time_on_task_s": rng.uniform(5, 90),
                                     "comment": None, "parse_status": "ok",
                                     "meta": {"item_id": it.id, "scale": "pairwise"}})
                        assigns.append({"item_id": it.id, "task_id": tid, "annotator_id": uid,
                                        "round": rnd, "status": "done", "first": first,
                                        "leased_at": now - timedelta(minutes=5),
                                        "expires_at": now, "finished_at": now,
                                        "time_on_task_s": 30.0, "_sub": sub})
                for first in "AB":
                    llm.append({"mode": "pairwise-all", "battle_id": it.battle_id,
                                "question_id": it.question_id, "model_a": it.model_a,
                                "model_b": it.model_b, "answer_a_id": it.answer_a_id,
                                "answer_b_id": it.answer_b_id, "first": first,
                                "judge_kind": "llm", "judge_id": "judge-x",
                                "outcome": "A" if rng.random() < p else "B",
                                "parse_status": "ok", "meta": {}})
            add_judgments(conn, judg)
            add_judgments(conn, llm)
            ids = dict(conn.execute(select(Judgment.submission_id, Judgment.id)
                                    .where(Judgment.task_id == tid)).all())
            for a in assigns:
                a["judgment_id"] = ids[a.pop("_sub")]
            conn.execute(A.__table__.insert(), assigns)
            conn.execute(update(TI).where(TI.task_id == tid, TI.id.in_(
                [it.id for it in items])).values(held_count=overlap))
            settings = dict(conn.execute(select(T.settings).where(T.id == tid)).scalar())
            settings["gold_items"] = 30
            conn.execute(update(T).where(T.id == tid).values(settings=settings))
        print(f"store: task {tid}, {annotators} annotators, {len(judg)} human verdicts "
              f"({len(items)} items x {overlap}, probes included), {len(llm)} LLM verdicts",
              flush=True)
        return int(tid)
    finally:
        store.close()


def dashboard_bench(url: str, args: argparse.Namespace) -> int:
    """Render the admin dashboard of a big task through the app; print the median time."""
    import tempfile as _tf

    from annotate import create_app

    tid = fill_dashboard_store(url, args.annotators, args.verdicts)
    app = create_app({"DATABASE": url, "SECRET_KEY": secrets.token_hex(32),
                      "ADMIN_USER": "boss", "ADMIN_PASSWORD": PASSWORD,
                      "INSTANCE_PATH": _tf.mkdtemp()})
    client = app.test_client()
    page = client.get("/auth/login").get_data(as_text=True)
    tok = CSRF_RE.search(page).group(1)
    assert client.post("/auth/login", data={"username": "boss", "password": PASSWORD,
                                            "csrf_token": tok}).status_code == 302
    def render() -> tuple[float, str]:
        t0 = time.perf_counter()
        r = client.get(f"/admin/tasks/{tid}/dashboard")
        if r.status_code != 200:
            raise RuntimeError(f"dashboard: HTTP {r.status_code}")
        return time.perf_counter() - t0, r.get_data(as_text=True)

    cold, _ = render()  # imports the ratings stack, loads the verdicts, starts the agreement
    t0 = time.perf_counter()
    while "Agreement figures from" not in render()[1]:  # the figures computed off the request
        time.sleep(1.0)
        if time.perf_counter() - t0 > 1800:
            raise RuntimeError("the agreement figures took more than 30 minutes")
    background = time.perf_counter() - t0
    times = [render()[0] for _ in range(args.renders)]
    med = statistics.median(times)
    print(f"\n== dashboard of a task with {args.annotators} annotators and about "
          f"{args.verdicts} verdicts ({'SQLite' if args.db == 'sqlite' else 'PostgreSQL'}, "
          f"load average {os.getloadavg()[0]:.1f}) ==")
    print(f"first render {cold * 1000:.0f} ms (agreement still computing; ready about "
          f"{background:.0f} s later, in the background)")
    print(f"render: median {med * 1000:.0f} ms over {len(times)} renders (min "
          f"{min(times) * 1000:.0f}, max {max(times) * 1000:.0f}); goal: at most 500 ms")
    app.extensions["arena_store"].close()
    return 0 if med <= 0.5 else 1


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--db", default="sqlite",
                    help="'sqlite' (a temp file) or a PostgreSQL URL (a fresh schema in it)")
    ap.add_argument("--duration", type=float, default=60.0)
    ap.add_argument("--annotators", type=int, default=50)
    ap.add_argument("--overlap", type=int, default=3)
    ap.add_argument("--questions", type=int, default=0,
                    help="questions (3 items each); default: enough for 300 cycles/s")
    ap.add_argument("--retry-share", type=float, default=0.02)
    ap.add_argument("--threads", type=int, default=None,
                    help="waitress threads per server process (default: the server's own)")
    ap.add_argument("--workers", type=int, default=1, help="server processes (arena annotate "
                    "--workers)")
    ap.add_argument("--rate", type=float, default=0.0,
                    help="paced load: total cycles/s the annotators aim at together (each "
                         "waits between cycles); 0 = closed loop, as fast as answers come")
    ap.add_argument("--api", choices=("combined", "separate"), default="combined",
                    help="combined: each verdict request also returns the next item (one "
                         "request per cycle); separate: POST next, then POST verdict")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--windows", type=float, default=0.0,
                    help="also print throughput and worst latency per window of this many s")
    ap.add_argument("--dashboard", action="store_true",
                    help="instead: time the admin dashboard of a task with --annotators "
                         "(give 100) and --verdicts verdicts")
    ap.add_argument("--verdicts", type=int, default=10_000, help="with --dashboard")
    ap.add_argument("--renders", type=int, default=5, help="with --dashboard")
    args = ap.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="arena-bench-annotate-"))
    drop = None
    if args.db == "sqlite":
        url = f"sqlite:///{tmp / 'arena.db'}"
    else:
        url, drop = pg_schema(args.db)
    n_q = args.questions or max(200, int(300 * args.duration / args.overlap / 3) + 1)
    server = None
    if args.dashboard:
        try:
            return dashboard_bench(url, args)
        finally:
            if drop is not None:
                drop()
            shutil.rmtree(tmp, ignore_errors=True)
    try:
        tid = fill_store(url, n_q, args.annotators, args.overlap)
        port = free_port()
        env = dict(os.environ, ARENA_SECRET_KEY=secrets.token_hex(32))
        env.pop("ARENA_DB", None)
        # The server's log goes to a file: an unread pipe would fill up and stall it.
        log_path = tmp / "server.log"
        log_file = open(log_path, "wb")
        server = subprocess.Popen(
            [sys.executable, "-m", "arena.cli", "-q", "annotate", "--db", url,
             "--port", str(port), "--workers", str(args.workers),
             *(["--threads", str(args.threads)] if args.threads else [])],
            cwd=tmp, env=env, stdout=subprocess.DEVNULL, stderr=log_file)
        deadline = time.time() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if server.poll() is not None or time.time() > deadline:
                    raise RuntimeError("server did not start: "
                                       + log_path.read_text(errors="replace")[-2000:])
                time.sleep(0.2)
        clients = [Client(port) for _ in range(args.annotators)]
        for k, c in enumerate(clients):
            c.login(f"ann{k}")
        # Each annotator opens the task (its first item) before the run, as it logged in:
        # a cycle is then what the rate paces, a verdict and the next item. Without this,
        # every annotator's first cycle would be two requests inside the first 1/rate x
        # annotators seconds: a start-up herd at twice the rate, not the paced load.
        firsts, first_s = [], []
        for c in clients:
            t_first = time.perf_counter()
            status, got = c.post_json(f"/api/tasks/{tid}/next", {})
            first_s.append(time.perf_counter() - t_first)
            if status != 200 or "item" not in got:
                raise RuntimeError(f"first item: HTTP {status} {got}")
            firsts.append(got["item"])
        print(f"server pid {server.pid} on port {port}; {args.annotators} annotators logged in "
              f"and hold their first item (fetched one by one: median "
              f"{statistics.median(first_s) * 1000:.1f} ms, max {max(first_s) * 1000:.1f} ms); "
              f"running {args.duration:g} s ...", flush=True)

        res, lock = Result(), threading.Lock()
        cpu0_self = resource.getrusage(resource.RUSAGE_SELF)
        cpu0_srv = proc_cpu(server.pid)
        t0 = time.perf_counter()
        stop = t0 + args.duration
        interval = args.annotators / args.rate if args.rate > 0 else 0.0
        threads = [threading.Thread(target=annotate_loop, args=(
            c, tid, stop, random.Random(args.seed * 1000 + k), args.retry_share, res, lock,
            interval, args.api == "combined", firsts[k])) for k, c in enumerate(clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.perf_counter() - t0
        cpu1_self = resource.getrusage(resource.RUSAGE_SELF)
        srv_cpu = proc_cpu(server.pid) - cpu0_srv
        gen_cpu = (cpu1_self.ru_utime - cpu0_self.ru_utime) + \
            (cpu1_self.ru_stime - cpu0_self.ru_stime)
        for c in clients:
            c.conn.close()

        if server.poll() is not None:
            res.errors.append(f"server exited with {server.returncode}")
        n = len(res.latencies)
        lat = sorted(res.latencies)
        q = statistics.quantiles(lat, n=100) if n >= 2 else [lat[0] if lat else 0.0] * 99
        pace = f"paced at {args.rate:g} cycles/s" if args.rate > 0 else "closed loop"
        print(f"\n== {('SQLite' if args.db == 'sqlite' else 'PostgreSQL')}, "
              f"{args.annotators} annotators ({pace}), {args.workers} worker(s) x "
              f"{args.threads or DEFAULT_THREADS} waitress threads, {os.cpu_count()} cores, "
              f"{args.api} API, "
              f"load average {os.getloadavg()[0]:.1f} at the end ==")
        print(f"cycles (verdict stored, next item received): {n} in {wall:.1f} s = "
              f"{n / wall:.1f} cycles/s")
        if n:
            print(f"latency per cycle: p50 {q[49] * 1000:.1f} ms, p99 {q[98] * 1000:.1f} ms, "
                  f"max {lat[-1] * 1000:.1f} ms")
        if n and args.windows:
            by: dict[int, list[float]] = {}
            for st, la in zip(res.starts, res.latencies):
                by.setdefault(int((st - t0) // args.windows), []).append(la)
            print("per window: " + ", ".join(
                f"{k * args.windows:g}s {len(v) / args.windows:.0f}/s max {max(v) * 1000:.0f}ms"
                for k, v in sorted(by.items())))
        print(f"CPU: server {srv_cpu:.1f} s ({srv_cpu / wall * 100:.0f}% of one core, "
              f"{srv_cpu / max(n, 1) * 1000:.2f} ms per cycle); load generator {gen_cpu:.1f} s "
              f"({gen_cpu / wall * 100:.0f}% of one core)")
        print(f"retried submits: {res.retries}; annotators who ran out of items: "
              f"{res.done_early}")
        if res.errors:
            print(f"client errors: {len(res.errors)}; first: {res.errors[0]}")
        log_file.close()
        warnings = [line for line in log_path.read_text(errors="replace").splitlines()
                    if "WARNING" in line or "ERROR" in line]
        if warnings:
            print(f"server log: {len(warnings)} warning(s); last: {warnings[-1][:200]}")
        problems = check_store(url, tid, args.overlap, res)
        print("check: " + ("OK - zero lost or duplicated verdicts, overlap respected"
                           if not problems else "FAILED - " + "; ".join(problems)))
        return 0 if not problems and not res.errors else 1
    finally:
        if server is not None and server.poll() is None:
            server.terminate()
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()
        if drop is not None:
            drop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
