"""The login limit is shared by every server process and costs the same for every kind of
account; the secret key and the SQLite file stay private and outside the checkout; the app
binds the store through Flask-SQLAlchemy."""

from __future__ import annotations

import os
import stat
import statistics
import time
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import select, update

from annotate import create_app, db
from annotate.instance import CHECKOUT, instance_dir
from annotate_fixtures import PASSWORD, add_user, csrf_of
from arena.store import Store
from arena.store.annotation_schema import User
from arena.store.schema import Base


def _try(app: Flask, username: str, password: str = "wrong password") -> int:
    client = app.test_client()
    return client.post("/auth/login", data={"username": username, "password": password,
                                            "csrf_token": csrf_of(client)}).status_code


@pytest.mark.db
def test_login_limit_is_shared_by_worker_processes(app: Flask, astore: Store,
                                                   store_url: str, tmp_path: Path) -> None:
    """Two apps on one store (what ``--workers 2`` runs) count the same attempts."""
    add_user(astore, "ann")
    other = create_app({"TESTING": True, "DATABASE": store_url, "SECRET_KEY": "t" * 64,
                        "INSTANCE_PATH": str(tmp_path / "other")})
    try:
        assert [_try(app, "ann") for _ in range(3)] == [401] * 3
        assert [_try(other, "ann") for _ in range(2)] == [401] * 2
        assert _try(other, "ann", PASSWORD) == 429 and _try(app, "ann", PASSWORD) == 429
        assert _try(app, "admin", PASSWORD) == 302  # other accounts are not locked out
    finally:
        other.extensions[db.EXT].close()


@pytest.mark.db
def test_login_takes_as_long_for_every_kind_of_account(store_url: str, tmp_path: Path) -> None:
    app = create_app({"TESTING": True, "DATABASE": store_url, "SECRET_KEY": "t" * 64,
                      "INSTANCE_PATH": str(tmp_path / "i"), "LOGIN_LIMIT": 1000})
    try:
        store = app.extensions[db.EXT].writer
        add_user(store, "real")
        add_user(store, "invited", password=None)
        off = add_user(store, "deactivated")
        with store.begin() as conn:
            conn.execute(update(User).where(User.id == off).values(active=False))
        kinds = ("real", "invited", "deactivated", "nobody-has-this-name")
        times: dict[str, list[float]] = {k: [] for k in kinds}
        for _ in range(7):
            for name in kinds:
                client = app.test_client()
                tok = csrf_of(client)
                t0 = time.perf_counter()
                r = client.post("/auth/login", data={"username": name, "password": "wrong pw!",
                                                     "csrf_token": tok})
                times[name].append(time.perf_counter() - t0)
                assert r.status_code == 401
        med = {k: statistics.median(v) for k, v in times.items()}
        # The password hash dominates (scrypt: tens of ms); an account that skipped it
        # answered in a few ms before.
        for name in kinds[1:]:
            assert 0.5 < med[name] / med["real"] < 2.0, med  # (before: about 0.04)
    finally:
        app.extensions[db.EXT].close()


def test_secret_key_and_sqlite_file_are_private_and_outside_the_checkout(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ARENA_INSTANCE")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert instance_dir() == (tmp_path / "data" / "arena" / "annotate").resolve()
    monkeypatch.delenv("XDG_DATA_HOME")
    folder = instance_dir()
    assert folder == (tmp_path / "home" / ".local" / "share" / "arena" / "annotate").resolve()
    dbfile = tmp_path / "store" / "arena.db"
    app = create_app({"DATABASE": f"sqlite:///{dbfile}"})  # no key given: one is generated
    try:
        key_file = Path(app.instance_path) / "secret_key"
        assert Path(app.instance_path) == folder and key_file.exists()
        assert CHECKOUT not in key_file.resolve().parents
        assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
        assert stat.S_IMODE(os.stat(folder).st_mode) == 0o700
        assert stat.S_IMODE(os.stat(dbfile).st_mode) == 0o600
        with app.extensions[db.EXT].writer.begin() as conn:  # the WAL file inherits it
            conn.execute(update(User).values(active=True))
        wal = Path(f"{dbfile}-wal")
        assert wal.exists() and stat.S_IMODE(os.stat(wal).st_mode) == 0o600
    finally:
        app.extensions[db.EXT].close()
    # A store left world-readable by another tool is narrowed on start.
    os.chmod(dbfile, 0o644)
    app = create_app({"DATABASE": f"sqlite:///{dbfile}"})
    app.extensions[db.EXT].close()
    assert stat.S_IMODE(os.stat(dbfile).st_mode) == 0o600


@pytest.mark.db
def test_app_binds_the_store_through_flask_sqlalchemy(app: Flask, astore: Store) -> None:
    ext = app.extensions["sqlalchemy"]
    assert ext is db.fsa and ext.metadata is Base.metadata
    with app.app_context():
        assert ext.engine is astore.engine  # one engine: the app's writer
        names = ext.session.execute(select(User.username)).scalars().all()
        assert names == ["admin"]
        if astore.dialect == "sqlite":
            assert ext.engines[db.READER] is app.extensions[db.EXT].reader.engine
    # The engine is the project's (make_engine): SQLite in WAL with the busy timeout.
    if astore.dialect == "sqlite":
        with astore.begin() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 60000


def test_relative_sqlite_path_is_the_resolvers_not_the_instance_folder(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    app = create_app({"DATABASE": "sqlite:///rel/arena.db", "SECRET_KEY": "k" * 64})
    try:
        assert (tmp_path / "rel" / "arena.db").exists()
        assert not (Path(app.instance_path) / "rel").exists()
    finally:
        app.extensions[db.EXT].close()


@pytest.mark.db
def test_tutorial_fixtures_and_end_sessions_command(auth, client, runner  # type: ignore
                                                    ) -> None:
    assert client.get("/").status_code == 302
    assert auth.login().status_code == 302
    assert client.get("/").status_code == 200
    assert auth.logout().status_code == 302
    assert client.get("/").status_code == 302
    auth.login()
    result = runner.invoke(args=["end-sessions", "admin"])
    assert result.exit_code == 0 and "ended every session" in result.output
    assert client.get("/").status_code == 302  # the command ended this session
    result = runner.invoke(args=["end-sessions", "nobody"])
    assert result.exit_code != 0 and "no account named" in result.output


@pytest.mark.db
def test_many_logins_from_one_address_are_not_limited(app: Flask, astore: Store) -> None:
    """Only failures count against an address: a class of 30 annotators behind one NAT
    address all log in."""
    for k in range(30):
        add_user(astore, f"student{k}")
    assert [_try(app, f"student{k}", PASSWORD) for k in range(30)] == [302] * 30
    assert [_try(app, f"student{k}") for k in range(20)] == [401] * 20  # 20 failures ...
    assert _try(app, "student29", PASSWORD) == 429  # ... block the address
