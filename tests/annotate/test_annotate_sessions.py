"""Sessions end: logout, password change and reset, deactivation and role change end every
session of the account, copies of the cookie included; the owner alone manages admins."""

from __future__ import annotations

import hashlib

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from annotate_fixtures import PASSWORD, add_user, csrf_of, login
from arena.store import Store
from arena.store.annotation_schema import User

pytestmark = pytest.mark.db

COOKIE = "arena_session"


def copy_of(app: Flask, client: FlaskClient) -> FlaskClient:
    """A second client holding a saved copy of ``client``'s session cookie."""
    other = app.test_client()
    other.set_cookie(COOKIE, client.get_cookie(COOKIE).value)
    return other


def logged_in(client: FlaskClient, path: str = "/") -> bool:
    return client.get(path).status_code == 200


def test_logout_ends_a_saved_cookie(app: Flask, astore: Store, client: FlaskClient) -> None:
    add_user(astore, "ann")
    login(client, "ann")
    saved = copy_of(app, client)
    assert logged_in(saved)
    client.post("/auth/logout", data={"csrf_token": csrf_of(client, "/")})
    assert not logged_in(client)
    r = saved.get("/")
    assert r.status_code == 302 and r.headers["Location"].startswith("/auth/login")
    assert saved.post("/api/tasks/1/next", headers={"X-CSRF-Token": "x"}).status_code in (
        400, 401)


def test_password_change_ends_other_sessions_and_keeps_this_one(app: Flask, astore: Store,
                                                               client: FlaskClient) -> None:
    add_user(astore, "ann")
    tok = login(client, "ann")
    other_device = app.test_client()
    login(other_device, "ann")
    saved = copy_of(app, client)
    r = client.post("/auth/password", data={"csrf_token": tok, "current": "wrong password",
                                            "password": "a new password", "password2":
                                            "a new password"})
    assert r.status_code == 400 and logged_in(saved)  # nothing changed
    r = client.post("/auth/password", data={"csrf_token": tok, "current": PASSWORD,
                                            "password": "a new password", "password2":
                                            "a new password"})
    assert r.status_code == 302
    assert logged_in(client)  # the session that changed it goes on
    assert not logged_in(saved) and not logged_in(other_device)
    assert login(app.test_client(), "ann", "a new password")


def test_reset_link_ends_sessions_and_owner_alone_resets_admins(app: Flask, astore: Store,
                                                               client: FlaskClient) -> None:
    add_user(astore, "ann")
    add_user(astore, "second-admin", role="admin")
    ann = app.test_client()
    login(ann, "ann")
    owner_tok = login(client, "admin")
    r = client.post(f"/admin/users/{_uid(astore, 'ann')}/invite", data={"csrf_token": owner_tok})
    assert r.status_code == 200 and "password reset" in r.get_data(as_text=True)
    assert not logged_in(ann)  # a reset takes the account back at once
    link = r.get_data(as_text=True).split('id="invite-link" readonly value="', 1)[1]
    path = "/" + link.split('"', 1)[0].split("/", 3)[3]
    token = path.rsplit("/", 1)[1]
    with astore.begin() as conn:
        stored = conn.execute(select(User.invite_token).where(User.username == "ann")).scalar()
    assert stored == hashlib.sha256(token.encode()).hexdigest() and token not in stored
    fresh = app.test_client()
    t = csrf_of(fresh, path)
    r = fresh.post(path, data={"csrf_token": t, "password": "brand new pw",
                               "password2": "brand new pw"})
    assert r.status_code == 302 and login(app.test_client(), "ann", "brand new pw")

    # A second admin may reset annotators but not the owner (or another admin).
    second = app.test_client()
    tok2 = login(second, "second-admin")
    owner_id = _uid(astore, "admin")
    r = second.post(f"/admin/users/{owner_id}/invite", data={"csrf_token": tok2})
    assert r.status_code == 403 and "owner" in r.get_data(as_text=True)
    assert logged_in(client)  # the owner's session was not touched
    r = second.post(f"/admin/users/{owner_id}/active", data={"csrf_token": tok2, "active": "0"})
    assert r.status_code == 403
    r = second.post(f"/admin/users/{owner_id}/role", data={"csrf_token": tok2,
                                                            "role": "annotator"})
    assert r.status_code == 403
    with astore.begin() as conn:
        row = conn.execute(select(User.role, User.active).where(User.id == owner_id)).one()
    assert tuple(row) == ("admin", True)
    # The owner may reset the other admin.
    r = client.post(f"/admin/users/{_uid(astore, 'second-admin')}/invite",
                    data={"csrf_token": owner_tok})
    assert r.status_code == 200 and not logged_in(second)


def test_role_change_and_deactivation_end_sessions(app: Flask, astore: Store,
                                                   client: FlaskClient) -> None:
    uid = add_user(astore, "ann")
    ann = app.test_client()
    login(ann, "ann")
    saved = copy_of(app, ann)
    assert ann.get("/admin/").status_code == 403
    owner_tok = login(client, "admin")
    r = client.post(f"/admin/users/{uid}/role", data={"csrf_token": owner_tok, "role": "admin"})
    assert r.status_code == 303
    # The cookie issued before the promotion does not reach /admin/ (or anything else).
    r = saved.get("/admin/")
    assert r.status_code == 302 and r.headers["Location"].startswith("/auth/login")
    assert not logged_in(ann)
    promoted = app.test_client()
    login(promoted, "ann")
    assert promoted.get("/admin/").status_code == 200  # a new login has the new role
    r = client.post(f"/admin/users/{uid}/active", data={"csrf_token": owner_tok, "active": "0"})
    assert r.status_code == 303 and not logged_in(promoted)


def _uid(store: Store, name: str) -> int:
    with store.begin() as conn:
        return int(conn.execute(select(User.id).where(User.username == name)).scalar_one())
