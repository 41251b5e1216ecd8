"""Who may see what: login everywhere, admin pages for admins, own work only, no model names."""

from __future__ import annotations

import re

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from annotate_fixtures import MODELS, add_user, login, make_task, seed
from arena.store import Store
from arena.store.schema import Judgment

pytestmark = pytest.mark.db

SUB_RE = re.compile(r'name="submission_id" value="([0-9a-f]+)"')


def _concrete(rule: str) -> str:
    return re.sub(r"<(?:int:)?[a-z_]+>", "1", rule)


def test_every_page_needs_login(app: Flask, client: FlaskClient, astore: Store) -> None:
    seed(astore, n_questions=1)
    make_task(astore)
    public = {"auth.login", "auth.invite", "static"}
    checked = 0
    for rule in app.url_map.iter_rules():
        if rule.endpoint in public:
            continue
        path = _concrete(rule.rule)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            if method == "GET":
                resp = client.get(path)
            else:  # with a valid CSRF token: only the missing login may stop it
                tok = client.get("/auth/login") and _anon_token(client)
                resp = client.open(path, method=method, data={"csrf_token": tok},
                                   headers={"X-CSRF-Token": tok})
            if path.startswith("/api/"):
                assert resp.status_code == 401, (method, path)
            else:
                assert resp.status_code == 302, (method, path, resp.status_code)
                assert resp.headers["Location"].startswith("/auth/login"), (method, path)
            checked += 1
    assert checked >= 15  # the test must not pass by checking nothing
    with astore.begin() as conn:
        assert conn.execute(select(Judgment.id)).first() is None


def _anon_token(client: FlaskClient) -> str:
    with client.session_transaction() as sess:
        return sess["csrf_token"]


def test_annotator_cannot_open_admin_pages(app: Flask, astore: Store,
                                           client: FlaskClient) -> None:
    seed(astore, n_questions=1)
    tid = make_task(astore)
    add_user(astore, "ann")
    tok = login(client, "ann")
    n = 0
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith("admin."):
            continue
        path = _concrete(rule.rule).replace("/1", f"/{tid}")
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            resp = client.open(path, method=method,
                               data={"csrf_token": tok, "username": "mallory",
                                     "role": "admin", "password": "x" * 12, "status": "closed"})
            assert resp.status_code == 403, (method, path)
            n += 1
    assert n >= 6
    assert "/admin/" not in client.get("/").get_data(as_text=True)
    admin = app.test_client()
    login(admin, "admin")
    page = admin.get("/admin/").get_data(as_text=True)
    assert "mallory" not in page and "ann" in page
    assert admin.get(f"/admin/tasks/{tid}").status_code == 200


def test_annotator_sees_no_model_names_nor_others_work(app: Flask, astore: Store) -> None:
    seed(astore, n_questions=2)
    tid = make_task(astore, overlap=2)
    add_user(astore, "ann1")
    add_user(astore, "ann2")
    c1, c2 = app.test_client(), app.test_client()
    t1, t2 = login(c1, "ann1"), login(c2, "ann2")
    loc = c1.post(f"/tasks/{tid}/next", data={"csrf_token": t1}).headers["Location"]
    aid1 = int(loc.rsplit("/", 1)[1])
    html = c1.get(loc).get_data(as_text=True)
    c1.post(f"/a/{aid1}/submit", data={"csrf_token": t1, "choice": "left",
                                       "submission_id": SUB_RE.search(html).group(1)})
    api_item = c1.post(f"/api/tasks/{tid}/next", headers={"X-CSRF-Token": t1}).get_json()
    with c1.application.app_context():
        with astore.begin() as conn:
            jid = conn.execute(select(Judgment.id)).scalar_one()
    pages = [html, c1.get("/").get_data(as_text=True),
             c1.get(f"/tasks/{tid}/mine").get_data(as_text=True),
             c1.get(f"/verdicts/{jid}/edit").get_data(as_text=True), str(api_item)]
    for page in pages:
        for name in MODELS:
            assert name not in page
    assert "model_a" not in str(api_item) and "answer_a_id" not in str(api_item)

    # ann2 cannot open ann1's item, verdict or edit page, nor submit to it.
    assert c2.get(f"/a/{aid1}").status_code == 404
    assert c2.get(f"/verdicts/{jid}/edit").status_code == 404
    r = c2.post(f"/verdicts/{jid}/edit", data={"csrf_token": t2, "choice": "tie",
                                               "submission_id": "9" * 32})
    assert r.status_code == 404
    r = c2.post(f"/api/assignments/{aid1}/verdict", json={"choice": "tie",
                                                          "submission_id": "8" * 32},
                headers={"X-CSRF-Token": t2})
    assert r.status_code == 404
    mine2 = c2.get(f"/tasks/{tid}/mine").get_data(as_text=True)
    assert "data-verdict=" not in mine2
    with astore.begin() as conn:
        assert len(conn.execute(select(Judgment.id)).all()) == 1
