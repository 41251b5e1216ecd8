"""Authoring (L-Eval's web_annotate_jsonl): open a long-document set, browse, begin /
continue, add and edit instruction / reference pairs (versions, never overwriting), and the
round trip to L-Eval jsonl."""

from __future__ import annotations

import html
import io
import json
import re
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from annotate_fixtures import add_user, login, make_task
from arena.cli import main
from arena.formats import import_questions
from arena.store import Store
from arena.store.annotation_schema import AuthoredPair, TaskItem
from arena.store.ingest import AnswerRecord, add_answers
from arena.store.schema import Question, Reference

pytestmark = pytest.mark.db

DOC_A = "The first report. " * 300 + "It names the harbour master, Ona Vale."
DOC_B = "A second, shorter record about the lighthouse keeper Idris Fenwick. " * 50
DOC_C = "A third document with no questions yet. " * 80
RECORDS = [
    {"instructions": ["Who is the harbour master?"], "outputs": ["Ona Vale."],
     "input": DOC_A, "source": "reports", "evaluation": "LLM"},
    {"instructions": ["Who kept the lighthouse?", "Summarise it."],
     "outputs": ["Idris Fenwick.", "A keeper kept a light."], "input": DOC_B,
     "source": "reports", "evaluation": "LLM"},
    {"input": DOC_C, "source": "reports", "evaluation": "LLM"},  # no pairs yet
]


def _upload(client: FlaskClient, tok: str, records: list[dict], **form) -> object:
    data = "".join(json.dumps(r) + "\n" for r in records).encode()
    return client.post("/admin/authoring/", content_type="multipart/form-data", data={
        "csrf_token": tok, "name": "Reports", "source": "reports", "new_pairs_num": "2",
        "file": (io.BytesIO(data), "reports.jsonl"), **form})


def _doc_form(client: FlaskClient, set_id: int, seq: int) -> tuple[str, dict[str, str]]:
    page = client.get(f"/admin/authoring/{set_id}/docs/{seq}").get_data(as_text=True)
    fields = {"csrf_token": re.search(r'name="csrf_token" value="([^"]+)"', page).group(1),
              "shown": re.search(r'name="shown" value="(\d+)"', page).group(1)}
    for kind, k, text in re.findall(r'<textarea name="(instruction|reference)_(\d+)"[^>]*>'
                                    r'([^<]*)</textarea>', page):
        fields[f"{kind}_{k}"] = html.unescape(text)
    return page, fields


def test_authoring_round_trip_to_leval_jsonl(app: Flask, astore: Store, client: FlaskClient,
                                             tmp_path: Path, store_url: str) -> None:
    tok = login(client, "admin")
    bad = _upload(client, tok, [{"instructions": ["x"], "source": "reports"}])
    assert bad.status_code == 400 and "reports.jsonl:1" in bad.get_data(as_text=True)
    r = _upload(client, tok, RECORDS)
    assert r.status_code == 303
    set_id = int(r.headers["Location"].rstrip("/").rsplit("/", 1)[1])
    overview = client.get(f"/admin/authoring/{set_id}").get_data(as_text=True)
    assert overview.count('<tr data-seq="') == 3 and 'id="begin"' in overview
    assert "document 1, the first not done" in overview

    # Document 1: the document beside its pair, and two empty pairs to add (new_pairs_num).
    page, form = _doc_form(client, set_id, 0)
    assert 'id="doc-text"' in page and "Ona Vale" in page and 'id="doc-search"' in page
    assert form["instruction_0"] == "Who is the harbour master?" and form["shown"] == "3"
    form.update(instruction_0="Who is the harbour master of the first report?",
                reference_0="Ona Vale.", instruction_1="How long is the report?",
                reference_1="About 300 sentences.", action="done")
    r = client.post(f"/admin/authoring/{set_id}/docs/0", data=form)
    assert r.status_code == 303 and r.headers["Location"].endswith(f"/{set_id}/docs/1")
    # Document 2: remove the second pair, keep the first; a reference without instruction
    # is refused and nothing is stored.
    page, form = _doc_form(client, set_id, 1)
    before = _count(astore, Question)
    r = client.post(f"/admin/authoring/{set_id}/docs/1",
                    data={**form, "instruction_2": "", "reference_2": "orphan"})
    assert r.status_code == 400 and "pair 3 instruction" in html.unescape(
        r.get_data(as_text=True))
    assert _count(astore, Question) == before
    form.update(instruction_1="", reference_1="", action="done")
    assert client.post(f"/admin/authoring/{set_id}/docs/1", data=form).status_code == 303
    # Continue: the first document not done is the third; add its first pair.
    overview = client.get(f"/admin/authoring/{set_id}").get_data(as_text=True)
    assert "document 3, the first not done" in overview
    page, form = _doc_form(client, set_id, 2)
    form.update(instruction_0="What is this document about?", reference_0="Nothing yet.")
    assert client.post(f"/admin/authoring/{set_id}/docs/2", data=form).status_code == 303

    # Versions, never overwriting: the edited pair's old question and reference are kept.
    with astore.begin() as conn:
        old = conn.execute(select(Question.turns).where(
            Question.turns.is_not(None), Question.source == "reports")).scalars().all()
        refs = conn.execute(select(Reference.turns)).scalars().all()
        versions = conn.execute(select(AuthoredPair.position, AuthoredPair.version,
                                       AuthoredPair.deleted)).all()
    assert ["Who is the harbour master?"] in old and \
        ["Who is the harbour master of the first report?"] in old
    assert ["Summarise it."] in old  # removed from the set, still stored
    assert ["Ona Vale."] in refs and ["A keeper kept a light."] in refs
    assert (0, 2, False) in versions and (1, 2, True) in versions

    # Export: L-Eval jsonl with the current pairs only, in the set's order.
    text = client.get(f"/admin/authoring/{set_id}/export.jsonl").get_data(as_text=True)
    rows = [json.loads(x) for x in text.splitlines()]
    assert [r["instructions"] for r in rows] == [
        ["Who is the harbour master of the first report?", "How long is the report?"],
        ["Who kept the lighthouse?"], ["What is this document about?"]]
    assert [r["outputs"] for r in rows] == [["Ona Vale.", "About 300 sentences."],
                                           ["Idris Fenwick."], ["Nothing yet."]]
    assert [r["input"] for r in rows] == [DOC_A, DOC_B, DOC_C]
    assert {r["source"] for r in rows} == {"reports"} and rows[0]["evaluation"] == "LLM"
    # ... which the project's own L-Eval importer reads back, in a fresh store.
    out = tmp_path / "authored.jsonl"
    assert main(["annotate", "--db", store_url, "export-authored", str(set_id), "--out",
                 str(out)]) == 0
    assert out.read_text() == text
    fresh = Store.open(f"sqlite:///{tmp_path / 'fresh.db'}")
    try:
        with fresh.begin() as conn:
            import_questions(conn, out, "leval", source="again")
            back = conn.execute(select(Question.turns, Reference.turns).join(
                Reference, Reference.question_id == Question.id)
                .order_by(Question.seq)).all()
    finally:
        fresh.close()
    assert [(q[0], r[0]) for q, r in back] == [
        ("Who is the harbour master of the first report?", "Ona Vale."),
        ("How long is the report?", "About 300 sentences."),
        ("Who kept the lighthouse?", "Idris Fenwick."),
        ("What is this document about?", "Nothing yet.")]

    # A task over the source asks the current pairs only.
    with astore.begin() as conn:
        current = conn.execute(select(Question.id).where(Question.source == "reports")).all()
        add_answers(conn, [AnswerRecord(question_id=q, model=m, turns=["an answer"])
                           for (q,) in current for m in ("m1", "m2")])
    tid = make_task(astore, models=["m1", "m2"], sources=["reports"])
    with astore.begin() as conn:
        asked = conn.execute(select(Question.turns).join(
            TaskItem, TaskItem.question_id == Question.id).where(TaskItem.task_id == tid)
        ).scalars().all()
    assert sorted(t[0] for t in asked) == sorted(
        ["Who is the harbour master of the first report?", "How long is the report?",
         "Who kept the lighthouse?", "What is this document about?"])


def test_set_from_a_stored_source_and_annotators_kept_out(app: Flask, astore: Store,
                                                          client: FlaskClient,
                                                          tmp_path: Path) -> None:
    src = tmp_path / "stored.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in RECORDS[:2]))
    with astore.begin() as conn:
        import_questions(conn, src, "leval", source="stored")
    tok = login(client, "admin")
    r = client.post("/admin/authoring/", data={"csrf_token": tok, "name": "From store",
                                               "existing": "stored", "new_pairs_num": "0"})
    assert r.status_code == 303
    set_id = int(r.headers["Location"].rstrip("/").rsplit("/", 1)[1])
    page, form = _doc_form(client, set_id, 1)
    assert form["shown"] == "2" and form["instruction_1"] == "Summarise it."
    add_user(astore, "ann")
    ann = app.test_client()
    login(ann, "ann")
    assert ann.get("/admin/authoring/").status_code == 403
    assert ann.get(f"/admin/authoring/{set_id}/export.jsonl").status_code == 403


def _count(store: Store, table) -> int:  # type: ignore[no-untyped-def]
    with store.begin() as conn:
        return conn.execute(select(func.count()).select_from(table)).scalar_one()
