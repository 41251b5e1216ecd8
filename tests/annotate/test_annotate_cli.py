"""`arena annotate` (waitress), `arena annotate create-admin`, `flask --app annotate run`."""

from __future__ import annotations

import io
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from annotate import create_app, db
from annotate_fixtures import login
from arena.cli import main
from arena.errors import ConfigError

pytestmark = pytest.mark.db
ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_http(url: str, proc: subprocess.Popen, timeout: float = 30) -> httpx.Response:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            out = proc.stdout.read() if proc.stdout else ""
            raise AssertionError(f"server exited with {proc.returncode}: {out}")
        try:
            return httpx.get(url, timeout=2)
        except httpx.TransportError:
            time.sleep(0.2)
    raise AssertionError(f"{url} did not answer in {timeout}s")


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("ARENA_", "FLASK_")) and k != "OPENAI_API_KEY"}
    env.update(PYTHONPATH=str(ROOT), ARENA_SECRET_KEY="s" * 64,
               ARENA_INSTANCE=str(tmp_path / "instance"), **extra)
    return env


def test_create_admin_command(store_url: str, monkeypatch: pytest.MonkeyPatch,
                              capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("ARENA_SECRET_KEY", "s" * 64)
    monkeypatch.setenv("ARENA_ADMIN_PASSWORD", "first password")
    assert main(["annotate", "--db", store_url, "create-admin", "boss"]) == 0
    assert "created" in capsys.readouterr().out
    monkeypatch.delenv("ARENA_ADMIN_PASSWORD")
    monkeypatch.setattr(sys, "stdin", io.StringIO("second password\n"))
    assert main(["annotate", "create-admin", "boss", "--db", store_url,
                 "--password-stdin"]) == 0
    assert "updated" in capsys.readouterr().out
    monkeypatch.setattr(sys, "stdin", io.StringIO("short\n"))
    assert main(["annotate", "create-admin", "boss2", "--db", store_url,
                 "--password-stdin"]) == 2
    assert "password" in capsys.readouterr().err
    app = create_app({"DATABASE": store_url, "TESTING": True})
    try:
        assert login(app.test_client(), "boss", "second password")
    finally:
        app.extensions[db.EXT].close()


def test_arena_annotate_serves_with_waitress(store_url: str, tmp_path: Path) -> None:
    port = free_port()
    env = _env(tmp_path, ARENA_ADMIN_USER="root", ARENA_ADMIN_PASSWORD="root password")
    proc = subprocess.Popen([sys.executable, "-m", "arena.cli", "annotate", "--db", store_url,
                             "--port", str(port)], cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        resp = wait_http(f"http://127.0.0.1:{port}/auth/login", proc)
        assert resp.status_code == 200 and resp.headers["Server"] == "arena-annotate"
        assert "Content-Security-Policy" in resp.headers
        assert "Werkzeug" not in resp.text  # not the development server
        assert httpx.get(f"http://127.0.0.1:{port}/", timeout=5).status_code == 302
        with httpx.Client(base_url=f"http://127.0.0.1:{port}") as c:  # the env admin exists
            page = c.get("/auth/login").text
            tok = page.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
            r = c.post("/auth/login", data={"username": "root", "password": "root password",
                                            "csrf_token": tok})
            assert r.status_code == 302 and c.get("/admin/").status_code == 200
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.mark.parametrize("workers", ["1", "2"])
def test_busy_port_is_one_line_naming_it(store_url: str, tmp_path: Path, workers: str) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        proc = subprocess.run([sys.executable, "-m", "arena.cli", "annotate", "--db", store_url,
                               "--port", str(port), "--workers", workers], cwd=tmp_path,
                              env=_env(tmp_path), capture_output=True, text=True, timeout=120)
    err = proc.stderr.strip()
    assert proc.returncode == 2, (proc.returncode, err)
    assert "Traceback" not in err and len(err.splitlines()) == 1, err
    assert f"port {port}" in err and "--port" in err


def test_flask_run_finds_store_through_env(store_url: str, tmp_path: Path) -> None:
    port = free_port()
    flask = [sys.executable, "-m", "flask", "--app", "annotate", "run", "--port", str(port)]
    proc = subprocess.Popen(flask, cwd=tmp_path, env=_env(tmp_path, ARENA_DB=store_url),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        resp = wait_http(f"http://127.0.0.1:{port}/auth/login", proc)
        assert resp.status_code == 200 and "Log in" in resp.text
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    assert not (tmp_path / "outputs").exists()  # the ARENA_DB store, not the default file
    # Debug mode is refused outright.
    proc = subprocess.run(flask[:-2] + ["--port", str(free_port())], cwd=tmp_path,
                          env=_env(tmp_path, ARENA_DB=store_url, FLASK_DEBUG="1"),
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0 and "debug" in (proc.stdout + proc.stderr)


def test_config_file_names_the_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text("store:\n  url: sqlite:///from-config.db\n")
    monkeypatch.setenv("ARENA_CONFIG", str(cfg))  # as `flask --app annotate run` finds it
    app = create_app({"SECRET_KEY": "s" * 64})
    try:
        assert app.config["DATABASE"] == f"sqlite:///{tmp_path / 'from-config.db'}"
        assert (tmp_path / "from-config.db").exists()
    finally:
        app.extensions[db.EXT].close()
    bad = tmp_path / "bad.yaml"
    bad.write_text("store:\n  colour: red\n")
    monkeypatch.setenv("ARENA_CONFIG", str(bad))
    with pytest.raises(ConfigError, match="colour"):
        create_app({"SECRET_KEY": "s" * 64})


@pytest.mark.parametrize("threads", ["0", "257"])
def test_threads_out_of_range_is_one_line(store_url: str, tmp_path: Path, threads: str) -> None:
    proc = subprocess.run([sys.executable, "-m", "arena.cli", "annotate", "--db", store_url,
                           "--port", str(free_port()), "--threads", threads], cwd=tmp_path,
                          env=_env(tmp_path), capture_output=True, text=True, timeout=120)
    err = proc.stderr.strip()
    assert proc.returncode == 2 and "Traceback" not in err, (proc.returncode, err)
    assert f"--threads {threads}" in err and len(err.splitlines()) == 1, err


def test_serving_process_freezes_its_start_up_heap() -> None:
    """What a server process built before serving is out of the collector's reach: a full
    collection then walks only what requests made since."""
    import gc

    from annotate.cli import freeze_heap

    gc.unfreeze()
    junk = [[i] for i in range(10_000)]  # tracked objects alive "at start"
    try:
        freeze_heap()
        assert gc.get_freeze_count() >= len(junk)
        assert not any(junk[0] is o for o in gc.get_objects())  # frozen: not in any generation
    finally:
        gc.unfreeze()
