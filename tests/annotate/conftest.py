"""Fixtures for the annotation app: the app on a real store, its test client."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient

from annotate import create_app, db
from annotate_fixtures import PASSWORD
from arena.store import Store


@pytest.fixture
def app(store_url: str, tmp_path: Path) -> Iterator[Flask]:
    app = create_app({"TESTING": True, "DATABASE": store_url, "SECRET_KEY": "t" * 64,
                      "ADMIN_USER": "admin", "ADMIN_PASSWORD": PASSWORD})
    app.instance_path = str(tmp_path / "instance")
    yield app
    app.extensions[db.EXT].close()


@pytest.fixture
def astore(app: Flask) -> Store:
    """The app's own writer store (same database as the app)."""
    return app.extensions[db.EXT].writer


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


