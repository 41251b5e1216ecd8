"""The `arena` console script: db upgrade/status, help, and plain errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from arena.cli import main
from arena.store import Store, migrations

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.db
def test_db_upgrade_and_status(store_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    head = migrations.head()
    assert main(["db", "status", "--db", store_url]) == 0
    out = capsys.readouterr().out
    assert "revision: none: an empty store" in out and f"head:     {head}" in out
    assert "pending: 0001" in out and "run: arena db upgrade" in out
    assert main(["db", "upgrade", "--db", store_url]) == 0
    out = capsys.readouterr().out
    assert "applied 0001  the schema of release a8040fd" in out
    assert f"applied {head}" in out and f"now at revision {head} (head)" in out
    assert main(["db", "upgrade", "--db", store_url]) == 0
    assert capsys.readouterr().out.strip().endswith(f"up to date at revision {head} (head)")
    assert main(["db", "status", "--db", store_url]) == 0
    out = capsys.readouterr().out
    assert f"revision: {head}" in out and "up to date" in out and "pending" not in out


def test_arena_db_env_is_used_by_every_entry_point(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'env.db'}"
    env = {"ARENA_DB": url, "PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-m", "arena.cli", "db", "upgrade"], env=env,
                          capture_output=True, text=True, cwd=tmp_path, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "env.db").exists()
    assert not (tmp_path / "outputs").exists()  # the default was not used
    s = Store.open(url, upgrade=False)
    assert migrations.status(s.engine).current == migrations.head()
    s.close()


def test_help_lists_every_subcommand() -> None:
    proc = subprocess.run([sys.executable, "-m", "arena.cli", "--help"], capture_output=True,
                          text=True, cwd=ROOT, timeout=60)
    for cmd in ("run", "import", "export", "leaderboard", "annotate", "db", "config",
                "batches"):
        assert cmd in proc.stdout


def test_bad_store_url_is_a_plain_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["db", "status", "--db", "mysql://x@y/z"]) == 2
    assert "only sqlite and postgresql" in capsys.readouterr().err
