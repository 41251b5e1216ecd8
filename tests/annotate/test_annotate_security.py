"""CSRF, cookies, headers, login rate limit, secret key, debug refusal, redirects."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from annotate import create_app
from annotate.security import load_secret_key
from annotate_fixtures import PASSWORD, add_user, csrf_of, login, make_task, seed
from arena.errors import ConfigError
from arena.store import Store
from arena.store.annotation_schema import Assignment, User
from arena.store.schema import Judgment

pytestmark = pytest.mark.db


def _count(store: Store, table) -> int:  # type: ignore[no-untyped-def]
    with store.begin() as conn:
        return conn.execute(select(func.count()).select_from(table)).scalar_one()


def test_post_without_csrf_is_rejected_and_stores_nothing(astore: Store,
                                                          client: FlaskClient) -> None:
    seed(astore, n_questions=2)
    tid = make_task(astore)
    add_user(astore, "ann")
    tok = login(client, "ann")
    loc = client.post(f"/tasks/{tid}/next", data={"csrf_token": tok}).headers["Location"]
    aid = int(loc.rsplit("/", 1)[1])
    verdict = {"choice": "left", "submission_id": "a" * 32}
    assert client.post(f"/a/{aid}/submit", data=verdict).status_code == 400
    assert client.post(f"/a/{aid}/submit",
                       data={**verdict, "csrf_token": "forged"}).status_code == 400
    r = client.post(f"/api/assignments/{aid}/verdict", json=verdict)
    assert r.status_code == 400 and "CSRF" in r.get_json()["detail"]
    r = client.post(f"/api/assignments/{aid}/verdict", json={**verdict, "csrf_token": tok})
    assert r.status_code == 400  # JSON endpoints take the token from the header only
    assert client.post(f"/a/{aid}/skip", data={"reason": "other"}).status_code == 400
    assert client.post(f"/tasks/{tid}/next").status_code == 400
    assert client.post("/auth/logout").status_code == 400
    assert _count(astore, Judgment) == 0
    with astore.begin() as conn:
        assert conn.execute(select(Assignment.status)).scalars().all() == ["leased"]
    # A token from another session is no good either.
    other = client.application.test_client()
    other_tok = csrf_of(other)
    assert client.post(f"/a/{aid}/submit",
                       data={**verdict, "csrf_token": other_tok}).status_code == 400
    assert _count(astore, Judgment) == 0
    # And with the right one it works.
    r = client.post(f"/api/assignments/{aid}/verdict", json=verdict,
                    headers={"X-CSRF-Token": tok})
    assert r.status_code == 200 and _count(astore, Judgment) == 1


def test_admin_post_without_csrf_creates_no_account(app: Flask, astore: Store,
                                                    client: FlaskClient) -> None:
    login(client, "admin")
    before = _count(astore, User)
    r = client.post("/admin/users", data={"username": "eve", "role": "admin",
                                          "password": "x" * 12})
    assert r.status_code == 400 and _count(astore, User) == before
    # Login itself needs the token too (login CSRF).
    anon = app.test_client()
    r = anon.post("/auth/login", data={"username": "admin", "password": PASSWORD})
    assert r.status_code == 400


def test_headers_and_cookies(app: Flask, client: FlaskClient) -> None:
    resp = client.get("/auth/login")
    csp = resp.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert "frame-ancestors 'none'" in csp and "object-src 'none'" in csp
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    cookie = resp.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    html = resp.get_data(as_text=True)
    assert "<script>" not in html and " onclick=" not in html and "style=" not in html
    # Static assets are served by the app itself, no CDN.
    assert client.get("/static/review.js").status_code == 200
    assert client.get("/static/app.css").status_code == 200
    for tpl in (Path(app.root_path) / "templates").rglob("*.html"):
        text = tpl.read_text()
        assert "http://" not in text and "https://" not in text, tpl
        assert "<script>" not in text and "style=" not in text, tpl


def test_login_is_rate_limited(app: Flask, astore: Store) -> None:
    add_user(astore, "ann")
    client = app.test_client()
    for _ in range(5):
        tok = csrf_of(client)
        r = client.post("/auth/login", data={"username": "ann", "password": "wrong",
                                             "csrf_token": tok})
        assert r.status_code == 401
    tok = csrf_of(client)
    r = client.post("/auth/login", data={"username": "ann", "password": PASSWORD,
                                         "csrf_token": tok})
    assert r.status_code == 429  # even the right password waits now
    assert client.get("/").headers["Location"].startswith("/auth/login")  # not logged in
    # Other accounts are not locked out by attacks on this one.
    assert login(app.test_client(), "admin")


def test_login_redirect_stays_on_site(app: Flask, astore: Store) -> None:
    add_user(astore, "ann")
    client = app.test_client()
    for target, expected in (("//evil.example/x", "/"), ("https://evil.example", "/"),
                             ("/tasks/1/mine", "/tasks/1/mine")):
        client.post("/auth/logout", data={"csrf_token": csrf_of(client)})
        tok = csrf_of(client)
        r = client.post("/auth/login", data={"username": "ann", "password": PASSWORD,
                                             "csrf_token": tok, "next": target})
        assert r.headers["Location"] == expected


def test_secret_key_from_env_or_instance_file(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ARENA_SECRET_KEY", raising=False)
    key = load_secret_key(tmp_path / "inst")
    path = tmp_path / "inst" / "secret_key"
    assert len(key) == 64 and path.read_text() == key
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert load_secret_key(tmp_path / "inst") == key  # stable across restarts
    monkeypatch.setenv("ARENA_SECRET_KEY", "k" * 40)
    assert load_secret_key(tmp_path / "other") == "k" * 40
    assert not (tmp_path / "other").exists()


def test_debug_mode_is_refused(store_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLASK_DEBUG", "1")
    with pytest.raises(ConfigError, match="debug"):
        create_app({"DATABASE": store_url, "SECRET_KEY": "s" * 64})
    monkeypatch.delenv("FLASK_DEBUG")
    with pytest.raises(ConfigError, match="debug"):
        create_app({"DATABASE": store_url, "SECRET_KEY": "s" * 64, "DEBUG": True})


def test_invite_link_sets_password_once(app: Flask, client: FlaskClient, astore: Store) -> None:
    login(client, "admin")
    tok = csrf_of(client, "/admin/")
    r = client.post("/admin/users", data={"csrf_token": tok, "username": "newbie",
                                          "role": "annotator"})
    html = r.get_data(as_text=True)
    link = html.split('id="invite-link" readonly value="', 1)[1].split('"', 1)[0]
    path = "/" + link.split("/", 3)[3]
    invited = app.test_client()
    assert invited.get(path).status_code == 200
    itok = csrf_of(invited, path)
    r = invited.post(path, data={"csrf_token": itok, "password": "short", "password2": "short"})
    assert r.status_code == 400
    r = invited.post(path, data={"csrf_token": itok, "password": "long enough pw",
                                 "password2": "long enough pw"})
    assert r.status_code == 302 and invited.get("/").status_code == 200
    assert app.test_client().get(path).status_code == 404  # used up
    assert login(app.test_client(), "newbie", "long enough pw")
