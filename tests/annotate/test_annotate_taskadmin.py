"""Task management: chosen annotators, rename with a public title, archive; ``import-task``
takes criteria, references and lease length and uses only the models in its files."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from annotate_fixtures import add_user, login, make_task, seed
from arena.cli import main
from arena.store import Store
from arena.store.annotation_schema import Task, TaskItem
from arena.store.schema import Reference

pytestmark = pytest.mark.db

QUESTIONS = [{"question_id": i, "category": "c", "turns": [f"Question {i}?"]} for i in (1, 2)]


def _answers(model: str) -> list[dict]:
    return [{"question_id": q["question_id"], "answer_id": f"{model}-{q['question_id']}",
             "model_id": model, "choices": [{"index": 0, "turns": [f"{model} says"]}],
             "tstamp": 1.0} for q in QUESTIONS]


def _jsonl(rows: list[dict]) -> bytes:
    return "".join(json.dumps(r) + "\n" for r in rows).encode()


def _next(client: FlaskClient, tok: str, tid: int):  # type: ignore[no-untyped-def]
    return client.post(f"/api/tasks/{tid}/next", headers={"X-CSRF-Token": tok})


def test_task_for_chosen_annotators_only(app: Flask, astore: Store, client: FlaskClient) -> None:
    seed(astore, n_questions=2)
    tid = make_task(astore, name="secret pilot")
    ann, bob = add_user(astore, "ann"), add_user(astore, "bob")
    atok = login(client, "admin")
    r = client.post(f"/admin/tasks/{tid}/members", data={"csrf_token": atok, "restricted": "1"})
    assert r.status_code == 303  # nobody chosen: refused with the field named
    with astore.begin() as conn:
        assert conn.execute(select(Task.restricted)).scalar() is False
    r = client.post(f"/admin/tasks/{tid}/members", data={"csrf_token": atok, "restricted": "1",
                                                         "members": [str(ann)]})
    assert r.status_code == 303
    a, b = app.test_client(), app.test_client()
    ta, tb = login(a, "ann"), login(b, "bob")
    assert f'data-begin="{tid}"' in a.get("/").get_data(as_text=True)
    assert f'data-begin="{tid}"' not in b.get("/").get_data(as_text=True)
    assert _next(a, ta, tid).get_json()["done"] is False
    assert _next(b, tb, tid).status_code == 404  # not a hint that it exists
    assert b.post(f"/tasks/{tid}/next", data={"csrf_token": tb}).status_code == 404
    assert b.get(f"/tasks/{tid}/mine").status_code == 404
    client.post(f"/admin/tasks/{tid}/members", data={"csrf_token": atok, "restricted": "0",
                                                     "members": [str(ann)]})
    assert _next(b, tb, tid).get_json()["done"] is False  # open to everyone again
    assert bob


def test_rename_public_title_and_archive(app: Flask, astore: Store, client: FlaskClient) -> None:
    seed(astore, n_questions=2)
    tid = make_task(astore, name="alpha vs baseline")
    add_user(astore, "ann")
    atok = login(client, "admin")
    r = client.post(f"/admin/tasks/{tid}/rename", data={"csrf_token": atok, "name": "x" * 201})
    assert r.status_code == 303
    client.post(f"/admin/tasks/{tid}/rename", data={"csrf_token": atok, "name": "alpha pilot 2",
                                                    "public_title": "Writing, round 2"})
    with astore.begin() as conn:
        t = conn.execute(select(Task.name, Task.public_title)).one()
    assert tuple(t) == ("alpha pilot 2", "Writing, round 2")
    ann = app.test_client()
    tok = login(ann, "ann")
    page = ann.get("/").get_data(as_text=True)
    assert "Writing, round 2" in page and "alpha" not in page
    item = _next(ann, tok, tid).get_json()["item"]
    client.post(f"/admin/tasks/{tid}/archive", data={"csrf_token": atok, "archived": "1"})
    assert f"Task {tid}" not in ann.get("/").get_data(as_text=True)
    assert "Writing, round 2" not in ann.get("/").get_data(as_text=True)
    assert _next(ann, tok, tid).status_code == 404
    r = ann.post(f"/api/assignments/{item['assignment_id']}/verdict", headers={
        "X-CSRF-Token": tok}, json={"choice": "tie", "submission_id": item["submission_id"]})
    assert r.status_code == 409 and "archived" in r.get_json()["detail"]
    admin_page = client.get("/admin/").get_data(as_text=True)
    assert "alpha pilot 2" not in admin_page and "archived tasks (1)" in admin_page
    assert "alpha pilot 2" in client.get("/admin/?archived=1").get_data(as_text=True)
    client.post(f"/admin/tasks/{tid}/archive", data={"csrf_token": atok, "archived": "0"})
    assert _next(ann, tok, tid).status_code == 200


def test_import_task_uses_only_the_models_in_its_files(tmp_path: Path, store_url: str,
                                                       store: Store) -> None:
    q = tmp_path / "q.jsonl"
    q.write_bytes(_jsonl(QUESTIONS))
    files = {}
    for m in ("m1", "m2", "m3", "m4", "m5"):
        files[m] = tmp_path / f"{m}.jsonl"
        files[m].write_bytes(_jsonl(_answers(m)))
    # An earlier import answered the same questions with five models.
    assert main(["annotate", "import-task", "--db", store_url, "--questions", str(q),
                 "--answers", *[str(files[m]) for m in files], "--name", "all five"]) == 0
    refs = tmp_path / "refs.jsonl"
    refs.write_bytes(_jsonl([{"question_id": q_["question_id"], "answer_id": f"r{i}",
                              "model_id": "gpt-4", "choices": [{"index": 0, "turns": [
                                  f"reference {i}"]}], "tstamp": 1.0}
                             for i, q_ in enumerate(QUESTIONS)]))
    guide = tmp_path / "g.md"
    guide.write_text("Be fair.")
    assert main(["annotate", "import-task", "--db", store_url, "--questions", str(q),
                 "--answers", str(files["m1"]), str(files["m2"]), "--name", "two files",
                 "--mode", "single", "--scale", "rubric", "--criteria", "accuracy, style",
                 "--criteria-max", "7", "--references", str(refs), "--lease-minutes", "45",
                 "--guidelines", str(guide), "--public-title", "Round 1"]) == 0
    with store.begin() as conn:
        t = conn.execute(select(Task).where(Task.name == "two files")).one()
        models = set(conn.execute(select(TaskItem.model_a).where(TaskItem.task_id == t.id))
                     .scalars())
        n_refs = conn.execute(select(Reference.id)).all()
    assert models == {"m1", "m2"}  # not the five every question was ever answered by
    assert t.settings["models"] == ["m1", "m2"]
    assert (t.scale, t.criteria, t.settings["criteria_max"]) == ("rubric", ["accuracy", "style"],
                                                                 7)
    assert t.lease_seconds == 45 * 60 and t.show_references and t.public_title == "Round 1"
    assert len(n_refs) == 2 and t.guidelines == "Be fair."
    # Bad options are one line naming the option.
    assert main(["annotate", "import-task", "--db", store_url, "--questions", str(q),
                 "--answers", str(files["m1"]), "--name", "x", "--lease-minutes", "0"]) == 2


def test_upload_import_refuses_nul_and_uses_its_models(astore: Store, client: FlaskClient) -> None:
    tok = login(client, "admin")
    nul = _answers("m9")
    nul[0]["choices"][0]["turns"] = ["bad \u0000 text"]
    r = client.post("/admin/tasks/import", content_type="multipart/form-data", data={
        "csrf_token": tok, "name": "nul", "source": "s1",
        "questions": (io.BytesIO(_jsonl(QUESTIONS)), "q.jsonl"),
        "answers": [(io.BytesIO(_jsonl(nul)), "m9.jsonl")]})
    assert r.status_code == 400 and "m9.jsonl:1" in r.get_data(as_text=True)
    for m, src in (("m1", "s2"), ("m2", "s2"), ("m3", "s2")):
        r = client.post("/admin/tasks/import", content_type="multipart/form-data", data={
            "csrf_token": tok, "name": f"only {m}", "source": src, "mode": "single",
            "scale": "1-5", "questions": (io.BytesIO(_jsonl(QUESTIONS)), "q.jsonl"),
            "answers": [(io.BytesIO(_jsonl(_answers(m))), f"{m}.jsonl")]})
        assert r.status_code == 303, r.get_data(as_text=True)
    r = client.post("/admin/tasks/import", content_type="multipart/form-data", data={
        "csrf_token": tok, "name": "pair", "source": "s2", "mode": "pairwise-all",
        "public_title": "Pairs", "questions": (io.BytesIO(_jsonl(QUESTIONS)), "q.jsonl"),
        "answers": [(io.BytesIO(_jsonl(_answers("m1"))), "m1.jsonl"),
                    (io.BytesIO(_jsonl(_answers("m3"))), "m3.jsonl")]})
    assert r.status_code == 303
    with astore.begin() as conn:
        t = conn.execute(select(Task).where(Task.name == "pair")).one()
        pairs = set(conn.execute(select(TaskItem.model_a, TaskItem.model_b)
                                 .where(TaskItem.task_id == t.id)).all())
    assert {tuple(sorted(p)) for p in pairs} == {("m1", "m3")} and t.public_title == "Pairs"
