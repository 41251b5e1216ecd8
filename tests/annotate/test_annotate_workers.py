"""``arena annotate --workers 2``: two processes serve one port and stop together."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="--workers needs fork")

ROOT = Path(__file__).resolve().parents[2]


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _children(pid: int) -> list[int]:
    """Live (not zombie) child processes of ``pid``, from /proc."""
    out = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", encoding="ascii") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid and fields[0] != "Z":
            out.append(int(name))
    return out


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")
def test_two_workers_serve_one_port_and_stop(tmp_path: Path) -> None:
    port = _port()
    env = dict(os.environ, ARENA_SECRET_KEY="w" * 64, PYTHONPATH=str(ROOT))
    env.pop("ARENA_DB", None)
    log = open(tmp_path / "server.log", "wb")
    proc = subprocess.Popen([sys.executable, "-m", "arena.cli", "annotate", "--db",
                             f"sqlite:///{tmp_path / 'a.db'}", "--port", str(port),
                             "--workers", "2"], cwd=tmp_path, env=env, stderr=log)
    try:
        deadline = time.time() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/auth/login",
                                            timeout=5) as r:
                    assert r.status == 200
                break
            except OSError:
                assert proc.poll() is None, (tmp_path / "server.log").read_text()
                assert time.time() < deadline, "server did not start"
                time.sleep(0.3)
        kids = _children(proc.pid)
        assert len(kids) == 2
        for _ in range(20):  # every request answered, whichever worker takes it
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/auth/login", timeout=5) as r:
                assert r.status == 200 and b"csrf_token" in r.read()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
        assert not [k for k in kids if _alive(k)]  # the parent reaped both workers
    finally:
        if proc.poll() is None:
            proc.kill()
        log.close()
