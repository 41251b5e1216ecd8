"""``arena annotate --workers N``: N waitress processes sharing one listening socket.

One Python process runs Python code on one core at a time (the GIL), so a single waitress
process tops out near one core however many threads it has. With ``--workers N`` (POSIX
only) the parent binds the socket, forks N children that each build their own app (their own
database connections: nothing opened before the fork is used after it) and serve the shared
socket with waitress; the kernel spreads connections over them. The parent only waits: it
stops the children on SIGINT / SIGTERM and stops the others if one dies.

What is per process, and so per worker: the 2-second account cache, the cache of verified
session cookies and the rendered-item cache (the login rate limit is in the store, shared by
all). SQLite writers of different workers queue on a file lock beside the database
(``annotate.db``); PostgreSQL is unaffected.
"""

from __future__ import annotations

import errno
import logging
import os
import signal
import socket
import sys
from typing import Any, Callable

from arena.errors import ConfigError

log = logging.getLogger(__name__)


def listen(host: str, port: int) -> socket.socket:
    """A bound, listening TCP socket (IPv6 when the host is an IPv6 address)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise ConfigError(f"port {port} on {host} is already in use (another server?); "
                              f"stop it or choose a free port with --port") from None
        raise ConfigError(f"cannot listen on {host}:{port} ({exc.strerror or exc}); choose "
                          f"another address with --host or port with --port") from None
    sock.listen(1024)
    return sock


def serve_forked(workers: int, sock: socket.socket, make_app: Callable[[], Any],
                 serve_kw: dict[str, Any]) -> int:
    """Run ``workers`` waitress processes on the listening ``sock`` until stopped; return an
    exit code."""
    if not hasattr(os, "fork"):
        sock.close()
        raise ConfigError("--workers needs a POSIX system (fork); use --workers 1 here")
    import waitress

    children: list[int] = []
    for _ in range(workers):
        pid = os.fork()
        if pid == 0:  # child: its own app, its own connections
            code = 0
            try:
                signal.signal(signal.SIGINT, signal.SIG_DFL)
                signal.signal(signal.SIGTERM, signal.SIG_DFL)
                waitress.serve(make_app(), sockets=[sock], **serve_kw)
            except BaseException:  # noqa: BLE001 - the parent sees the exit code
                log.exception("annotation worker %d failed", os.getpid())
                code = 1
            finally:
                sys.stderr.flush()
                os._exit(code)
        children.append(pid)
    sock.close()

    stopping = []

    def stop(signum: int, _frame: Any) -> None:
        stopping.append(signum)
        for pid in children:
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    status = 0
    alive = set(children)
    while alive:
        try:
            pid, code = os.wait()
        except ChildProcessError:
            break
        except InterruptedError:
            continue
        if pid in alive:
            alive.discard(pid)
            if code and not stopping:
                log.error("worker %d stopped (status %d): stopping the others", pid, code)
                status = 1
                stop(signal.SIGTERM, None)
    return status
