"""What attackers and careless clients tried: bad input is a 400 naming the field (never a
500), redirects stay on the site, closed tasks take no verdicts, exports are inert, the admin
import is refused before its body is read, concurrent retries answer with the stored verdict."""

from __future__ import annotations

import csv
import html
import io
import json
import threading

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select, update

from annotate_fixtures import PASSWORD, add_user, csrf_of, login, make_task, seed
from arena.store import Store
from arena.store.annotation_schema import Assignment, Task
from arena.store.schema import Judgment

pytestmark = pytest.mark.db


def _count(store: Store) -> int:
    with store.begin() as conn:
        return conn.execute(select(func.count()).select_from(Judgment)).scalar_one()


def _next(client: FlaskClient, tok: str, tid: int) -> dict:
    r = client.post(f"/api/tasks/{tid}/next", headers={"X-CSRF-Token": tok})
    assert r.status_code == 200, r.get_data(as_text=True)
    return r.get_json()["item"]


def _verdict(client: FlaskClient, tok: str, aid: int, body: object, raw: bytes | None = None):
    data = raw if raw is not None else json.dumps(body)
    return client.post(f"/api/assignments/{aid}/verdict", data=data,
                       content_type="application/json", headers={"X-CSRF-Token": tok})


@pytest.fixture
def annotator(app: Flask, astore: Store, client: FlaskClient) -> tuple[FlaskClient, str, int]:
    seed(astore, n_questions=6)
    tid = make_task(astore)
    add_user(astore, "ann")
    return client, login(client, "ann"), tid


def test_login_redirect_refuses_tab_and_crlf_tricks(app: Flask, astore: Store) -> None:
    add_user(astore, "ann")
    for target in ("/\t/evil.example/phish", "/%09/evil.example/phish".replace("%09", "\t"),
                   "/\r\nSet-Cookie: x=1", "/\n/evil.example", "/\\evil.example",
                   "//evil.example", "https://evil.example/", "/ok\x7f"):
        client = app.test_client()
        r = client.post("/auth/login", data={"username": "ann", "password": PASSWORD,
                                             "csrf_token": csrf_of(client), "next": target})
        assert r.status_code == 302, (target, r.status_code)
        assert r.headers["Location"] == "/", (target, r.headers["Location"])
    # The login page does not carry a bad target into its form either.
    client = app.test_client()
    page = client.get("/auth/login?next=/%09/evil.example/phish").get_data(as_text=True)
    assert "evil.example" not in page
    r = client.post("/auth/login", data={"username": "ann", "password": PASSWORD,
                                         "csrf_token": csrf_of(client), "next": "/tasks/1/mine"})
    assert r.headers["Location"] == "/tasks/1/mine"


@pytest.mark.parametrize("status", ["closed", "paused", "archived"])
def test_closed_task_refuses_verdicts_and_edits(astore: Store, annotator, status: str) -> None:
    client, tok, tid = annotator
    first = _next(client, tok, tid)
    r = _verdict(client, tok, first["assignment_id"], {"choice": "left",
                                                       "submission_id": first["submission_id"]})
    jid = r.get_json()["judgment_id"]
    second = _next(client, tok, tid)
    with astore.begin() as conn:
        values = {"archived": True} if status == "archived" else {"status": status}
        conn.execute(update(Task).where(Task.id == tid).values(**values))
    before = _count(astore)
    r = _verdict(client, tok, second["assignment_id"],
                 {"choice": "right", "submission_id": second["submission_id"]})
    assert r.status_code == 409 and status in r.get_json()["detail"]
    r = client.post(f"/a/{second['assignment_id']}/submit",
                    data={"csrf_token": tok, "choice": "tie", "submission_id": "f" * 32})
    assert r.status_code == 409 and status in r.get_data(as_text=True)
    r = client.post(f"/verdicts/{jid}/edit", data={"csrf_token": tok, "choice": "tie",
                                                   "submission_id": "e" * 32})
    assert r.status_code == 409
    assert _count(astore) == before


def test_bad_json_and_numbers_are_400_naming_the_field(astore: Store, annotator) -> None:
    client, tok, tid = annotator
    item = _next(client, tok, tid)
    aid, sub = item["assignment_id"], item["submission_id"]
    cases = [
        ({"choice": "left", "submission_id": sub, "comment": "a\x00b"}, None, "comment"),
        (None, b'{"choice": "left", "submission_id": "%s", "comment": "\\ud800"}'
         % sub.encode(), "comment"),
        (None, b'{"choice": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", "body"),
        (None, b'{"choice": "left", "submission_id": "%s", "elapsed_ms": NaN}' % sub.encode(),
         "elapsed_ms"),
        ({"choice": "left", "submission_id": sub, "elapsed_ms": -5}, None, "elapsed_ms"),
        ({"choice": "left", "submission_id": sub, "elapsed_ms": "1e400"}, None, "elapsed_ms"),
        ({"choice": "left", "submission_id": 12345}, None, "submission_id"),
        (None, b'[1, 2]', "body"),
        (None, b'{"choice": ', "body"),
    ]
    for body, raw, field in cases:
        r = _verdict(client, tok, aid, body, raw)
        assert r.status_code == 400, (field, r.status_code, r.get_data(as_text=True)[:300])
        assert field in (r.get_json().get("field") or "") + r.get_json()["detail"], \
            (field, r.get_json())
    assert _count(astore) == 0
    # Ids beyond the database's integers, in the URL or a form.
    r = client.post("/api/assignments/99999999999999999999/verdict",
                    data=json.dumps({"choice": "left", "submission_id": sub}),
                    content_type="application/json", headers={"X-CSRF-Token": tok})
    assert r.status_code == 400 and "assignment_id" in r.get_json()["detail"]
    assert client.get("/a/99999999999999999999").status_code == 400
    assert client.get(f"/tasks/{tid}/mine?x=\x00").status_code == 400
    r = _verdict(client, tok, aid, {"choice": "left", "submission_id": sub, "elapsed_ms": 900})
    assert r.status_code == 200 and _count(astore) == 1


def test_nul_and_oversized_form_fields_are_400(app: Flask, astore: Store) -> None:
    seed(astore, n_questions=2)
    anon = app.test_client()
    r = anon.post("/auth/login", data={"username": "ad\x00min", "password": "x",
                                       "csrf_token": csrf_of(anon)})
    assert r.status_code == 400 and "field 'username'" in html.unescape(r.get_data(as_text=True))
    client = app.test_client()
    tok = login(client, "admin")
    base = {"csrf_token": tok, "mode": "pairwise-all", "scale": "pairwise",
            "models": ["model-alpha", "model-beta"]}
    for extra, field in (({"name": "x" * 201}, "name"),
                         ({"name": "ok", "question_limit": "-1"}, "question_limit"),
                         ({"name": "ok", "question_limit": "99999999999999999999"},
                          "question_limit"),
                         ({"name": "ok", "overlap": "99999999999999999999"}, "overlap"),
                         ({"name": "n\x00ul"}, "name"),
                         ({"name": "ok", "guidelines": "g\x00"}, "guidelines")):
        r = client.post("/admin/tasks/new", data={**base, **extra})
        assert r.status_code == 400, (extra, r.status_code)
        assert f"field '{field}'" in html.unescape(r.get_data(as_text=True)), field
    with astore.begin() as conn:
        assert conn.execute(select(func.count()).select_from(Task)).scalar_one() == 0
    r = client.post("/admin/tasks/new", data={**base, "name": "fine", "question_limit": "1"})
    assert r.status_code == 303
    r = client.post("/admin/tasks/1/gold", data={"csrf_token": tok, "item_id":
                                                 "99999999999999999999"})
    assert r.status_code in (303, 400) and r.status_code != 500


def test_csv_export_neutralises_formulas_and_jsonl_has_no_nan(app: Flask, astore: Store,
                                                             annotator) -> None:
    client, tok, tid = annotator
    for comment in ("=HYPERLINK(\"http://evil.example\",\"x\")", "+1", "-2+3", "@SUM(A1)",
                    "plain"):
        item = _next(client, tok, tid)
        r = _verdict(client, tok, item["assignment_id"], {
            "choice": "tie", "submission_id": item["submission_id"], "comment": comment,
            "elapsed_ms": 1000})
        assert r.status_code == 200
    with astore.begin() as conn:  # a row stored before the input check existed
        conn.execute(update(Assignment).values(time_on_task_s=float("nan")))
        conn.execute(update(Judgment).where(Judgment.comment == "plain")
                     .values(time_on_task_s=float("nan")))
    admin = app.test_client()
    login(admin, "admin")
    text = admin.get(f"/admin/tasks/{tid}/export.csv").get_data(as_text=True)
    comments = [row["comment"] for row in csv.DictReader(io.StringIO(text))]
    assert sorted(comments) == sorted(["'=HYPERLINK(\"http://evil.example\",\"x\")", "'+1",
                                       "'-2+3", "'@SUM(A1)", "plain"])
    jsonl = admin.get(f"/admin/tasks/{tid}/export.jsonl").get_data(as_text=True)
    assert "NaN" not in jsonl
    rows = [json.loads(line) for line in jsonl.splitlines()]
    assert [r["time_on_task_s"] for r in rows if r["comment"] == "plain"] == [None]


class CountingStream(io.RawIOBase):
    """A request body of ``size`` bytes that counts how much the server read of it."""

    def __init__(self, size: int) -> None:
        self.size, self.pos, self.read_bytes = size, 0, 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:  # the test client measures the body by seeking
        return True

    def tell(self) -> int:
        return self.pos

    def seek(self, offset: int, whence: int = 0) -> int:
        self.pos = {0: offset, 1: self.pos + offset, 2: self.size + offset}[whence]
        return self.pos

    def readinto(self, buf) -> int:  # type: ignore[no-untyped-def]
        n = max(0, min(len(buf), self.size - self.pos))
        buf[:n] = b"a" * n
        self.pos += n
        self.read_bytes += n
        return n


def test_admin_import_refuses_non_admins_before_reading_the_body(app: Flask, astore: Store
                                                                 ) -> None:
    add_user(astore, "ann")
    client = app.test_client()
    tok = login(client, "ann")
    size = 64 * 1024 * 1024
    stream = CountingStream(size)
    r = client.post("/admin/tasks/import", input_stream=stream, content_length=size,
                    content_type="multipart/form-data; boundary=xyz",
                    headers={"X-CSRF-Token": tok})
    assert r.status_code == 403
    assert stream.read_bytes == 0
    anon = app.test_client()
    stream = CountingStream(size)
    r = anon.post("/admin/tasks/import", input_stream=stream, content_length=size,
                  content_type="multipart/form-data; boundary=xyz")
    assert r.status_code == 302 and stream.read_bytes == 0


def test_concurrent_retries_of_one_submission_both_succeed(app: Flask, astore: Store) -> None:
    """Two identical submits at once: one verdict stored, and both replies are its success
    (PostgreSQL used to answer one of them with a 409)."""
    seed(astore, n_questions=20)
    tid = make_task(astore, models=["model-alpha", "model-beta", "model-gamma"])
    add_user(astore, "ann")
    first = app.test_client()
    tok = login(first, "ann")
    second = app.test_client()
    second.set_cookie("arena_session", first.get_cookie("arena_session").value)
    failures = []
    for _ in range(40):
        item = _next(first, tok, tid)
        body = json.dumps({"choice": "left", "submission_id": item["submission_id"]})
        barrier = threading.Barrier(2)
        replies: list = [None, None]

        def send(k: int, c: FlaskClient) -> None:
            barrier.wait()
            replies[k] = c.post(f"/api/assignments/{item['assignment_id']}/verdict", data=body,
                                content_type="application/json",
                                headers={"X-CSRF-Token": tok})

        threads = [threading.Thread(target=send, args=(k, c))
                   for k, c in enumerate((first, second))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        codes = [r.status_code for r in replies]
        ids = {r.get_json().get("judgment_id") for r in replies}
        if codes != [200, 200] or len(ids) != 1:
            failures.append((codes, [r.get_json() for r in replies]))
    assert not failures, failures[:3]
    with astore.begin() as conn:
        per_assignment = conn.execute(select(func.count()).select_from(Judgment)
                                      .group_by(Judgment.submission_id)).scalars().all()
    assert len(per_assignment) == 40 and set(per_assignment) == {1}
