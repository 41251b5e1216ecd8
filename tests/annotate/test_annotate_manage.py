"""Task management: guidelines shown to annotators, pause / resume / close, reliability
settings, gold forms, creating a task from files (upload and CLI), math and CJK rendering."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select

from arena.render import markdown
from annotate_fixtures import add_user, login, make_task, seed
from arena.store import Store
from arena.store.annotation_schema import Task, TaskItem
from arena.store.schema import Answer, Question

pytestmark = pytest.mark.db

QUESTIONS = [{"question_id": 1, "category": "math", "turns": ["Solve $x^2 = 4$."]},
             {"question_id": 2, "category": "writing", "turns": ["用一句话介绍北京。"]}]


def _answers(model: str) -> list[dict]:
    return [{"question_id": q["question_id"], "answer_id": f"{model}-{q['question_id']}",
             "model_id": model, "choices": [{"index": 0, "turns": [f"{model}: $x = \\pm 2$"]}],
             "tstamp": 1686286924.5} for q in QUESTIONS]


def _jsonl(rows: list[dict]) -> bytes:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows).encode("utf-8")


def _next(client: FlaskClient, tok: str, tid: int) -> dict:
    resp = client.post(f"/api/tasks/{tid}/next", json={}, headers={"X-CSRF-Token": tok})
    assert resp.status_code == 200
    return resp.get_json()


def test_guidelines_shown_and_pause_resume_close(astore: Store, client: FlaskClient) -> None:
    seed(astore, n_questions=2)
    tid = make_task(astore, guidelines="Prefer **correct** answers over long ones.")
    add_user(astore, "ann")
    admin = FlaskClient(client.application, use_cookies=True)
    atok = login(admin, "admin")
    tok = login(client, "ann")
    resp = client.post(f"/tasks/{tid}/next", data={"csrf_token": tok})
    page = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert "<strong>correct</strong> answers over long ones" in page
    # the admin edits the guidelines (markdown, sanitised) and pauses the task
    admin.post(f"/admin/tasks/{tid}/settings", data={
        "csrf_token": atok, "guidelines": "New rule <script>alert(1)</script>",
        "swap_share": "0.2", "swap_gap": "4", "gold_share": "0.1", "gold_threshold": "0.8",
        "gold_min": "2"})
    with astore.begin() as conn:
        t = conn.execute(select(Task).where(Task.id == tid)).one()
    assert t.guidelines.startswith("New rule") and t.settings["swap_share"] == 0.2
    assert (t.settings["swap_gap"], t.settings["gold_threshold"]) == (4, 0.8)
    page = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert "New rule &lt;script&gt;" in page and "<script>alert" not in page
    bad = admin.post(f"/admin/tasks/{tid}/settings", data={"csrf_token": atok,
                                                           "swap_share": "1.5"})
    assert bad.status_code == 303
    with astore.begin() as conn:
        assert conn.execute(select(Task.settings).where(Task.id == tid)).scalar()[
            "swap_share"] == 0.2  # refused, nothing written
    assert "swap-probe share" in admin.get(f"/admin/tasks/{tid}").get_data(as_text=True)

    # pause: the annotator's live lease is kept, but nothing new is handed out
    client.post(resp.headers["Location"] + "/submit", data={"csrf_token": tok, "choice": "tie",
                                                          "submission_id": "x1"})
    admin.post(f"/admin/tasks/{tid}/status", data={"csrf_token": atok, "status": "paused"})
    assert _next(client, tok, tid) == {"done": True}
    assert "paused" in client.get("/").get_data(as_text=True)
    admin.post(f"/admin/tasks/{tid}/status", data={"csrf_token": atok, "status": "active"})
    assert _next(client, tok, tid)["done"] is False
    admin.post(f"/admin/tasks/{tid}/status", data={"csrf_token": atok, "status": "closed"})
    assert _next(client, tok, tid) == {"done": True}


def test_gold_forms(astore: Store, client: FlaskClient) -> None:
    seed(astore, n_questions=2)
    tid = make_task(astore)
    with astore.begin() as conn:
        first = conn.execute(select(TaskItem.id).where(TaskItem.task_id == tid)
                             .order_by(TaskItem.id)).scalars().first()
    tok = login(client, "admin")
    client.post(f"/admin/tasks/{tid}/gold", data={"csrf_token": tok, "item_id": first,
                                                  "accept": ["B"]})
    client.post(f"/admin/tasks/{tid}/gold", data={"csrf_token": tok, "item_id": first,
                                                  "action": "broken", "side": "b"})
    resp = client.post(f"/admin/tasks/{tid}/gold", data={"csrf_token": tok, "item_id": first,
                                                         "accept": ["sideways"]})
    assert resp.status_code == 303
    with astore.begin() as conn:
        rows = conn.execute(select(TaskItem.id, TaskItem.kind, TaskItem.gold, TaskItem.model_b,
                                   TaskItem.answer_b_id).where(TaskItem.task_id == tid,
                                                               TaskItem.kind == "gold")
                            .order_by(TaskItem.id)).all()
        settings = conn.execute(select(Task.settings).where(Task.id == tid)).scalar()
        broken = conn.execute(select(Answer.turns, Answer.origin).where(
            Answer.id == rows[1].answer_b_id)).one()
    assert [r.gold for r in rows] == [{"accept": ["B"]}, {"accept": ["A"]}]
    assert rows[1].model_b == "gold:broken" and broken.origin == "gold"
    assert settings["gold_items"] == 2
    page = client.get(f"/admin/tasks/{tid}").get_data(as_text=True)
    assert "accepted outcomes must be among" in page  # the refused form, field named
    # another task's item is a 404, not a silent success
    other = make_task(astore, name="other")
    assert client.post(f"/admin/tasks/{other}/gold", data={
        "csrf_token": tok, "item_id": first, "accept": ["A"]}).status_code == 404
    # the task form does not offer the broken pseudo-model
    assert "gold:broken" not in client.get("/admin/tasks/new").get_data(as_text=True)


def test_import_task_from_uploaded_files(astore: Store, client: FlaskClient) -> None:
    tok = login(client, "admin")
    resp = client.post("/admin/tasks/import", content_type="multipart/form-data", data={
        "csrf_token": tok, "name": "imported", "mode": "pairwise-all", "scale": "pairwise",
        "overlap": "2", "source": "mt",
        "questions": (io.BytesIO(_jsonl(QUESTIONS)), "question.jsonl"),
        "answers": [(io.BytesIO(_jsonl(_answers("m1"))), "m1.jsonl"),
                    (io.BytesIO(_jsonl(_answers("m2"))), "m2.jsonl")]})
    assert resp.status_code == 303, resp.get_data(as_text=True)
    with astore.begin() as conn:
        t = conn.execute(select(Task).where(Task.name == "imported")).one()
        n = conn.execute(select(func.count()).select_from(TaskItem)
                         .where(TaskItem.task_id == t.id)).scalar()
        qs = conn.execute(select(Question.id).where(Question.source == "mt")).scalars().all()
    assert (t.overlap, n, sorted(qs)) == (2, 2, ["mt/1", "mt/2"])
    # a bad answer file: the error names file, line and field; nothing at all is stored
    broken = _answers("m3")
    broken[1] = {"question_id": 2, "model_id": "m3"}  # no choices
    resp = client.post("/admin/tasks/import", content_type="multipart/form-data", data={
        "csrf_token": tok, "name": "bad", "source": "mt2",
        "questions": (io.BytesIO(_jsonl(QUESTIONS)), "q.jsonl"),
        "answers": [(io.BytesIO(_jsonl(broken)), "m3.jsonl")]})
    assert resp.status_code == 400
    body = resp.get_data(as_text=True)
    assert re.search(r"m3\.jsonl:2", body), body
    with astore.begin() as conn:
        assert conn.execute(select(Question.id).where(Question.source == "mt2")).first() is None
        assert conn.execute(select(Task.id).where(Task.name == "bad")).first() is None


def test_import_task_cli(tmp_path: Path, store_url: str, store: Store) -> None:
    from arena.cli import main

    q, a1, a2 = tmp_path / "q.jsonl", tmp_path / "a1.jsonl", tmp_path / "a2.jsonl"
    q.write_bytes(_jsonl(QUESTIONS))
    a1.write_bytes(_jsonl(_answers("m1")))
    a2.write_bytes(_jsonl(_answers("m2")))
    assert main(["annotate", "import-task", "--db", store_url, "--questions", str(q),
                 "--answers", str(a1), str(a2), "--name", "cli task", "--swap-share",
                 "0.25"]) == 0
    with store.begin() as conn:
        t = conn.execute(select(Task).where(Task.name == "cli task")).one()
    assert t.settings["swap_share"] == 0.25 and t.settings["sources"] == ["q"]


def test_math_and_cjk_rendering() -> None:
    html = str(markdown("Euler: $e^{i\\pi} + 1 = 0$, costs $5 and $10.\n\n$$\\int_0^1 x_1 "
                        "* y_2\\,dx$$\n\n```sh\necho $HOME$\n```\n\n北京是中国的首都。"))
    assert '<span class="math-inline">e^{i\\pi} + 1 = 0</span>' in html
    assert '<span class="math-display">\\int_0^1 x_1 * y_2\\,dx</span>' in html
    assert "costs $5 and $10." in html and "echo $HOME$" in html
    assert "北京是中国的首都。" in html
    for evil in ("$<img src=x onerror=alert(1)>$", "$$</span><script>alert(1)</script>$$",
                 "[a]($x\" onclick=\"alert(1)$)", '\\(<svg onload="alert(1)">\\)'):
        tags = _tags(str(markdown(evil)))
        assert {t for t, _ in tags} <= {"p", "a", "span"}, tags
        assert not [a for _, attrs in tags for a in attrs if a.startswith("on")], tags


def _tags(html: str) -> list[tuple[str, list[str]]]:
    """Every element and its attribute names, as a browser's parser sees them."""
    from html.parser import HTMLParser

    found: list[tuple[str, list[str]]] = []

    class P(HTMLParser):
        def handle_starttag(self, tag, attrs):  # type: ignore[no-untyped-def]
            found.append((tag, [k for k, _ in attrs]))

    P().feed(html)
    return found
