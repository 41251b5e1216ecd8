"""``arena annotate``: serve the annotation app; ``arena annotate create-admin``.

Serving uses waitress (a multi-threaded production WSGI server, 8 threads per process by
default), binds 127.0.0.1 unless ``--host`` says otherwise, and never runs debug mode.
``create-admin`` reads the password from ``ARENA_ADMIN_PASSWORD``, else asks for it (or reads
one line from stdin with ``--password-stdin``); it is never a command-line argument (that
would leak into the process list and shell history).
"""

from __future__ import annotations

import argparse
import getpass
import logging
import os
import sys
from typing import Any

from arena.errors import ConfigError

log = logging.getLogger(__name__)

# Request threads per server process. A request spends most of its time on the CPU (Python
# holds the GIL) and a little waiting on the database, so a few threads keep one process
# busy; more only contend for the GIL. With 16, a burst of requests made every request cost
# 1.5-2x the CPU (a switch every millisecond among all of them), the queue grew instead of
# draining, and the benchmark's p99 at 200 cycles/s went from 0.06-0.16 s to 0.2-1.6 s.
# Slow clients do not hold a thread: waitress reads and writes sockets in its own loop.
DEFAULT_THREADS = 8
MAX_THREADS = 256
SWITCH_INTERVAL_S = 0.001


def _common(p: argparse.ArgumentParser, default: Any) -> None:
    p.add_argument("-c", "--config", default=default,
                   help="config file (its store.url is used; else ARENA_CONFIG)")
    p.add_argument("--db", default=default, help="store URL (overrides ARENA_DB and config)")


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("annotate", help="serve the human-annotation web app",
                              description="Serve the annotation app (waitress) on "
                                          "http://127.0.0.1:5000 by default.")
    _common(p, None)
    p.add_argument("--host", default="127.0.0.1",
                   help="interface to bind (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=int, default=5000)
    p.add_argument("--threads", type=int, default=DEFAULT_THREADS,
                   help=f"request threads per server process (default {DEFAULT_THREADS})")
    p.add_argument("--workers", type=int, default=1,
                   help="server processes sharing the port (POSIX; one process uses about "
                        "one core; default 1)")
    p.set_defaults(func=serve)
    sub = p.add_subparsers(dest="annotate_command", metavar="SUBCOMMAND")
    c = sub.add_parser("create-admin", help="create an admin account (or reset its password)")
    # SUPPRESS: options given before the sub-command are not overwritten by these defaults.
    _common(c, argparse.SUPPRESS)
    c.add_argument("username")
    c.add_argument("--password-stdin", action="store_true",
                   help="read the password from the first line of stdin")
    c.set_defaults(func=create_admin)
    e = sub.add_parser("export", help="export a task's human verdicts (JSONL or CSV)")
    _common(e, argparse.SUPPRESS)
    e.add_argument("task_id", type=int)
    e.add_argument("--format", choices=("jsonl", "csv"), default="jsonl")
    e.add_argument("--out", default="-", help="output file (default: stdout)")
    e.add_argument("--real-names", action="store_true",
                   help="annotators' usernames instead of their pseudonyms")
    e.add_argument("--all", action="store_true", help="superseded verdicts too")
    e.add_argument("--skips", action="store_true",
                   help="the skipped items with their reasons instead of the verdicts")
    e.set_defaults(func=export_cmd)
    w = sub.add_parser("export-authored",
                       help="write an authoring set's current pairs as L-Eval jsonl")
    _common(w, argparse.SUPPRESS)
    w.add_argument("set_id", type=int)
    w.add_argument("--out", default="-", help="output file (default: stdout)")
    w.set_defaults(func=export_authored_cmd)
    i = sub.add_parser("import-task", help="create a task from a question file and answer files")
    _common(i, argparse.SUPPRESS)
    i.add_argument("--questions", required=True, help="question file (any supported format)")
    i.add_argument("--answers", required=True, nargs="+", help="answer file(s)")
    i.add_argument("--name", required=True)
    i.add_argument("--source", default=None, help="question namespace (default: file stem)")
    i.add_argument("--mode", default="pairwise-all",
                   choices=("pairwise-all", "pairwise-baseline", "single"))
    i.add_argument("--scale", default=None, help="pairwise | 1-5 | 1-10 | rubric")
    i.add_argument("--models", nargs="*", default=[],
                   help="default: the models whose answers are in the --answers files")
    i.add_argument("--baseline", default=None)
    i.add_argument("--overlap", type=int, default=1)
    i.add_argument("--guidelines", default=None, help="markdown file shown to annotators")
    i.add_argument("--swap-share", type=float, default=0.0)
    i.add_argument("--criteria", default="",
                   help="rubric criteria, comma separated (with --scale rubric)")
    i.add_argument("--criteria-max", type=int, default=5, help="top of each criterion's scale")
    i.add_argument("--references", nargs="*", default=[],
                   help="reference-answer file(s) for the questions (any supported format)")
    i.add_argument("--show-references", action="store_true",
                   help="show reference answers to annotators (behind a toggle)")
    i.add_argument("--lease-minutes", type=int, default=15,
                   help="how long an unanswered item stays with one annotator (default 15)")
    i.add_argument("--public-title", default=None,
                   help="what annotators see instead of --name (default 'Task <id>')")
    i.set_defaults(func=import_cmd)


def _configure(args: argparse.Namespace) -> dict[str, Any]:
    cfg: dict[str, Any] = {}
    if getattr(args, "db", None):
        cfg["DATABASE"] = args.db
    if getattr(args, "config", None):
        cfg["ARENA_CONFIG"] = args.config
    return cfg


def build_app(args: argparse.Namespace) -> Any:
    from annotate import create_app

    return create_app(_configure(args))


def freeze_heap() -> None:
    """Before serving: collect once, then move every object alive now (modules, the app,
    SQLAlchemy's metadata and caches, the pool) out of the cyclic collector's reach.

    A full collection walks every tracked object while holding the GIL, so each one paused
    all of a worker's requests for 100-120 ms (seen under the 200 cycles/s benchmark); the
    objects made at start live as long as the process and never form garbage worth finding.
    Objects made later are collected as usual."""
    import gc

    gc.collect()
    gc.freeze()


def serve(args: argparse.Namespace) -> int:
    """Serve until interrupted. Raises ConfigError for a bad or busy port or thread count."""
    import waitress

    from annotate.manage import UPLOAD_LIMIT
    from annotate.workers import listen

    if not 0 <= args.port <= 65535:
        raise ConfigError(f"--port {args.port} is not a TCP port")
    threads = int(args.threads)
    if not 1 <= threads <= MAX_THREADS:
        raise ConfigError(f"--threads {threads}: give 1 to {MAX_THREADS}")
    workers = int(getattr(args, "workers", 1) or 1)
    if not 1 <= workers <= 64:
        raise ConfigError(f"--workers {workers}: give 1 to 64")
    # Bind first: a busy port is one line naming it, before any work.
    sock = listen(args.host, args.port)
    try:
        app = build_app(args)
        from annotate import db

        with app.app_context():
            from annotate.auth import admin_count

            with db.read() as conn:
                if not admin_count(conn):
                    log.warning("no admin account yet: run `arena annotate create-admin NAME` "
                                "or set ARENA_ADMIN_USER and ARENA_ADMIN_PASSWORD")
    except BaseException:
        sock.close()
        raise
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        log.warning("serving on %s: reachable from other machines; put it behind HTTPS",
                    args.host)
    # waitress reads and writes every connection in one thread; with Python's default 5 ms
    # GIL switch interval it waits up to that long behind busy request threads each time it
    # wakes, which under load queues requests (the latency tail) while a core idles.
    sys.setswitchinterval(SWITCH_INTERVAL_S)
    # "Task queue depth is N" is waitress reporting normal queueing under load, once per
    # request: at hundreds of requests a second it costs CPU and drowns real warnings.
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)
    port = sock.getsockname()[1]
    print(f"annotation app on http://{args.host}:{port}/ (store: "
          f"{db.describe_store(app)}; {workers} worker(s) x {threads} threads); Ctrl-C stops",
          file=sys.stderr, flush=True)
    # waitress buffers a whole request body before the app sees it: no request may be larger
    # than the admin file import allows (the app refuses others sooner, by role and size).
    serve_kw = dict(threads=threads, ident="arena-annotate", clear_untrusted_proxy_headers=True,
                    max_request_body_size=UPLOAD_LIMIT + 1024 * 1024)
    if workers > 1:
        from annotate.workers import serve_forked

        app.extensions[db.EXT].close()  # nothing opened before the fork is used after it

        def make() -> Any:
            child = build_app(args)
            db.warm_pool(child.extensions[db.EXT], threads)
            freeze_heap()
            return child

        return serve_forked(workers, sock, make, serve_kw)
    db.warm_pool(app.extensions[db.EXT], threads)
    freeze_heap()
    try:
        waitress.serve(app, sockets=[sock], **serve_kw)
    finally:
        sock.close()
    return 0


def _read_password(args: argparse.Namespace) -> str:
    env = os.environ.get("ARENA_ADMIN_PASSWORD")
    if env:
        return env
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    if not sys.stdin.isatty():
        raise ConfigError("no password: set ARENA_ADMIN_PASSWORD, pass --password-stdin, or "
                          "run in a terminal")
    first = getpass.getpass("password for the new admin: ")
    if first != getpass.getpass("repeat it: "):
        raise ConfigError("the two passwords differ")
    return first


def create_admin(args: argparse.Namespace) -> int:
    """Create the admin ``username`` (or, if it exists, make it an admin with this password)."""
    from sqlalchemy import select

    from arena.errors import InputError
    from arena.store.annotation_schema import User
    from annotate import accounts, auth, db

    password = _read_password(args)
    app = build_app(args)

    def do(conn: Any) -> str:
        uid = conn.execute(select(User.id).where(User.username == args.username)).scalar()
        if uid is None:
            auth.create_user(conn, args.username, "admin", password)
            return "created"
        auth.set_password(conn, uid, password)  # ends the account's sessions
        accounts.set_role(conn, None, uid, "admin")
        accounts.set_active(conn, None, uid, True)
        return "updated"

    with app.app_context():
        try:
            what = db.write(do)
        except InputError as err:
            raise ConfigError(f"create-admin: {err}") from None
    print(f"admin {args.username!r} {what}")
    return 0


def export_cmd(args: argparse.Namespace) -> int:
    """Write a task's verdicts; pseudonymised unless --real-names."""
    from annotate import db, export

    from annotate import skips

    app = build_app(args)
    with app.app_context(), db.read() as conn:
        if args.skips:
            text = skips.export_text(conn, args.task_id, args.format,
                                     real_names=args.real_names)
        else:
            text = export.export_text(conn, args.task_id, args.format,
                                      real_names=args.real_names, include_superseded=args.all)
    if args.out == "-":
        sys.stdout.write(text)
    else:
        with open(args.out, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
        what = "skip(s)" if args.skips else "verdict(s)"
        print(f"wrote {text.count(chr(10)) - (args.format == 'csv')} {what} to {args.out}",
              file=sys.stderr)
    return 0


def export_authored_cmd(args: argparse.Namespace) -> int:
    """Write an authoring set (annotate.authoring) as L-Eval jsonl."""
    from annotate import authoring, db

    app = build_app(args)
    with app.app_context(), db.read() as conn:
        try:
            text = authoring.export_text(conn, args.set_id)
        except LookupError:
            raise ConfigError(f"no authoring set {args.set_id}") from None
    if args.out == "-":
        sys.stdout.write(text)
    else:
        with open(args.out, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
        print(f"wrote {text.count(chr(10))} document(s) to {args.out}", file=sys.stderr)
    return 0


def import_cmd(args: argparse.Namespace) -> int:
    """Import the files and create the task in one transaction (nothing stored on error)."""
    from pathlib import Path

    from annotate import db
    from annotate.importer import import_task
    from annotate.tasks import TaskSpec

    from arena.errors import InputError

    guidelines = Path(args.guidelines).read_text(encoding="utf-8") if args.guidelines else ""
    criteria = [c.strip() for c in args.criteria.split(",") if c.strip()]
    scale = args.scale or ("rubric" if criteria else
                           "1-10" if args.mode == "single" else "pairwise")
    spec = TaskSpec(name=args.name, public_title=args.public_title, mode=args.mode,
                    scale=scale, models=list(args.models), baseline=args.baseline,
                    overlap=args.overlap, guidelines=guidelines, swap_share=args.swap_share,
                    criteria=criteria, criteria_max=args.criteria_max,
                    show_references=args.show_references or bool(args.references),
                    lease_seconds=args.lease_minutes * 60)
    app = build_app(args)
    with app.app_context():
        try:
            done = db.write(lambda c: import_task(c, spec, args.questions, args.answers,
                                                  source=args.source,
                                                  references=args.references))
        except InputError as err:
            field = {"lease_seconds": "--lease-minutes", "criteria": "--criteria",
                     "criteria_max": "--criteria-max"}.get(err.field or "")
            raise InputError(err.detail, file=err.file, line=err.line,
                             field=field or err.field) from None
    for note in done.notes:
        print(note)
    print(f"task {done.task_id}: {done.items} items over {', '.join(done.models)}"
          + (f" ({done.missing} left out: an answer is missing)" if done.missing else ""))
    return 0
