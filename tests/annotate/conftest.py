"""Fixtures for the annotation app, as in Flask's tutorial: ``app`` (the factory on a real
store), ``client``, ``runner`` (the app's CLI) and ``auth`` (log in / out through the forms)."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner

from annotate import create_app, db
from annotate_fixtures import PASSWORD, csrf_of
from arena.store import Store


@pytest.fixture(autouse=True)
def _private_instance(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Apps started by a test (also in subprocesses) keep their secret key in the test's
    # folder, never in the developer's ~/.local/share.
    monkeypatch.setenv("ARENA_INSTANCE", str(tmp_path / "instance"))
    monkeypatch.delenv("ARENA_SECRET_KEY", raising=False)


@pytest.fixture
def app(store_url: str, tmp_path: Path) -> Iterator[Flask]:
    app = create_app({"TESTING": True, "DATABASE": store_url, "SECRET_KEY": "t" * 64,
                      "ADMIN_USER": "admin", "ADMIN_PASSWORD": PASSWORD,
                      "INSTANCE_PATH": str(tmp_path / "instance")})
    yield app
    app.extensions[db.EXT].close()


@pytest.fixture
def astore(app: Flask) -> Store:
    """The app's own writer store (same database as the app)."""
    return app.extensions[db.EXT].writer


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def runner(app: Flask) -> FlaskCliRunner:
    return app.test_cli_runner()


class AuthActions:
    """Log the test client in and out through the real forms (the tutorial's ``auth``)."""

    def __init__(self, client: FlaskClient) -> None:
        self._client = client

    def login(self, username: str = "admin", password: str = PASSWORD):  # type: ignore
        return self._client.post("/auth/login", data={
            "username": username, "password": password, "csrf_token": csrf_of(self._client)})

    def logout(self):  # type: ignore[no-untyped-def]
        return self._client.post("/auth/logout", data={"csrf_token": csrf_of(self._client, "/")})


@pytest.fixture
def auth(client: FlaskClient) -> AuthActions:
    return AuthActions(client)
