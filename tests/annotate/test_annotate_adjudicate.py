"""Adjudication: the item page shows everything needed to decide, the admin's verdict is
stored as ``human-adjudicated`` and counted as the task's setting says; the disagreement list
is paginated with question text; skip reasons reach the dashboard and the exports."""

from __future__ import annotations

import csv
import html
import io
import json
import re

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, update

from annotate import adjudicate, dashboard
from annotate_fixtures import DOCUMENT, MODELS, add_user, login, make_task, seed
from arena.cli import main
from arena.ratings.selection import Selection, load_verdicts
from arena.store import Store
from arena.store.annotation_schema import Task, TaskItem
from arena.store.schema import Judgment
from research_kit import claim, item_of, submit_outcome

pytestmark = pytest.mark.db
SUB_RE = re.compile(r'name="submission_id" value="([0-9a-f]+)"')


def _disagree(store: Store, n_questions: int, **task_kw) -> tuple[int, dict[str, int]]:
    """A task over model-alpha vs model-beta where ann1 always prefers alpha and ann2 beta
    (every item is a disagreement); returns (task id, user ids)."""
    seed(store, n_questions=n_questions)
    tid = make_task(store, overlap=2, **task_kw)
    users = {name: add_user(store, name, password=None) for name in ("ann1", "ann2")}
    for name, fav in (("ann1", "model-alpha"), ("ann2", "model-beta")):
        k = 0
        while (lease := claim(store, tid, users[name], seed=k)) is not None:
            _, a, _, _ = item_of(store, lease)
            submit_outcome(store, lease, users[name], "A" if a == fav else "B")
            k += 1
    return tid, users


def _items(store: Store, tid: int) -> list[int]:
    with store.begin() as conn:
        return list(conn.execute(select(TaskItem.id).where(TaskItem.task_id == tid)
                                 .order_by(TaskItem.seq)).scalars())


def _adjudicate(client: FlaskClient, tid: int, item: int, outcome: str,
                comment: str = "") -> None:
    page = client.get(f"/admin/tasks/{tid}/items/{item}").get_data(as_text=True)
    tok = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    r = client.post(f"/admin/tasks/{tid}/items/{item}/adjudicate", data={
        "csrf_token": tok, "submission_id": SUB_RE.search(page).group(1), "outcome": outcome,
        "comment": comment})
    assert r.status_code == 303, r.get_data(as_text=True)


def test_item_page_shows_document_references_verdicts_and_skips(app: Flask, astore: Store,
                                                                client: FlaskClient) -> None:
    seed(astore, n_questions=2)
    tid = make_task(astore, overlap=3, show_references=False)
    ann = add_user(astore, "ann")
    other = add_user(astore, "bob")
    k, doc_item = 0, None
    while (lease := claim(astore, tid, ann, seed=k)) is not None:
        q, *_ = item_of(astore, lease)
        if q == "demo/q1":
            doc_item = lease.item_id
        with astore.begin() as conn:
            from annotate import verdicts
            verdicts.submit(conn, lease.assignment_id, ann, {"choice": "left", "comment":
                                                             f"comment on {q}"},
                            verdicts.new_submission_id())
        k += 1
    bob = app.test_client()
    btok = login(bob, "bob")
    while True:
        r = bob.post(f"/api/tasks/{tid}/next", headers={"X-CSRF-Token": btok}).get_json()
        if r["done"]:
            break
        bob.post(f"/a/{r['item']['assignment_id']}/skip", data={
            "csrf_token": btok, "reason": "text is broken or empty", "detail": "cut off"})
    login(client, "admin")
    page = html.unescape(client.get(f"/admin/tasks/{tid}/items/{doc_item}")
                         .get_data(as_text=True))
    assert 'id="doc-text"' in page and "Idris Fenwick" in page and 'id="doc-search"' in page
    assert "Reference answer 1" in page and "human" in page  # references, with their author
    assert "model-alpha" in page and "model-beta" in page  # names: admins may see them
    assert "comment on demo/q1" in page  # every verdict with its comment
    assert "text is broken or empty: cut off" in page  # the skip and its reason
    assert 'id="adjudicate-form"' in page
    assert other  # bob's id was used through his session
    assert client.get(f"/admin/tasks/{tid}/items/999999").status_code == 404


@pytest.mark.parametrize("mode", ["final", "extra", "ignore"])
def test_adjudication_counts_as_configured(app: Flask, astore: Store, client: FlaskClient,
                                           mode: str) -> None:
    tid, _ = _disagree(astore, 3, adjudication=mode)
    items = _items(astore, tid)
    login(client, "admin")
    _adjudicate(client, tid, items[0], "B", "beta is right here")
    _adjudicate(client, tid, items[1], "A")
    _adjudicate(client, tid, items[1], "B", "changed my mind")  # supersedes the first
    with astore.begin() as conn:
        adj = conn.execute(select(Judgment).where(
            Judgment.judge_kind == adjudicate.ADJUDICATED_KIND).order_by(Judgment.id)).all()
        board, _ = dashboard.live_leaderboard(conn, tid, rounds=0)
        pipeline = load_verdicts(conn, Selection(with_lengths=False))
    assert len(adj) == 3 and adj[2].supersedes_id == adj[1].id
    assert adj[0].outcome == "B" and adj[0].comment == "beta is right here"
    assert adj[0].meta["item_id"] == items[0] and adj[0].task_id == tid
    # 6 annotator verdicts (3 items x 2), 2 current adjudications (items 0 and 1).
    expected = {"final": 6 - 4 + 2, "extra": 6 + 2, "ignore": 6}[mode]
    assert board.n_verdicts == expected, (mode, board.n_verdicts)
    wins = {r.model: r.win_rate for r in board.rows}
    if mode == "final":  # item 2 is a tie of votes; items 0 and 1 went to beta
        assert wins["model-beta"] > wins["model-alpha"]
    if mode == "ignore":
        assert wins["model-beta"] == wins["model-alpha"]
    # A machine leaderboard with the default kinds never counts them.
    assert adjudicate.ADJUDICATED_KIND not in set(pipeline.judge_kinds)
    with astore.begin() as conn:
        with_adj = load_verdicts(conn, Selection(judge_kinds=("human", "human-adjudicated"),
                                                 with_lengths=False))
    assert len(with_adj) == len(pipeline) + 2  # only when a config names the kind
    # The dashboard says how they count.
    page = client.get(f"/admin/tasks/{tid}/dashboard?rounds=0").get_data(as_text=True)
    assert f"count as <strong>{mode}</strong>" in page


def test_adjudication_setting_changes_and_gold_items_are_refused(app: Flask, astore: Store,
                                                                client: FlaskClient) -> None:
    tid, _ = _disagree(astore, 2)
    items = _items(astore, tid)
    tok = login(client, "admin")
    r = client.post(f"/admin/tasks/{tid}/settings", data={"csrf_token": tok,
                                                          "adjudication": "sometimes"})
    assert r.status_code == 303
    with astore.begin() as conn:
        assert adjudicate.mode_of(conn.execute(select(Task.settings)).scalar()) == "final"
    client.post(f"/admin/tasks/{tid}/settings", data={"csrf_token": tok, "adjudication": "extra"})
    with astore.begin() as conn:
        assert conn.execute(select(Task.settings)).scalar()["adjudication"] == "extra"
        conn.execute(update(TaskItem).where(TaskItem.id == items[1]).values(
            kind="gold", gold={"accept": ["A"]}))
    page = client.get(f"/admin/tasks/{tid}/items/{items[1]}").get_data(as_text=True)
    assert 'id="adjudicate-form"' not in page
    r = client.post(f"/admin/tasks/{tid}/items/{items[1]}/adjudicate", data={
        "csrf_token": tok, "submission_id": "a" * 32, "outcome": "A"})
    assert r.status_code == 303
    r = client.post(f"/admin/tasks/{tid}/items/{items[0]}/adjudicate", data={
        "csrf_token": tok, "submission_id": "b" * 32, "outcome": "MAYBE"})
    assert r.status_code == 303
    with astore.begin() as conn:
        assert not conn.execute(select(Judgment.id).where(
            Judgment.judge_kind == adjudicate.ADJUDICATED_KIND)).all()


def test_disagreements_are_paginated_with_question_text(app: Flask, astore: Store,
                                                        client: FlaskClient) -> None:
    tid, _ = _disagree(astore, 30)
    login(client, "admin")
    page1 = client.get(f"/admin/tasks/{tid}/disagreements").get_data(as_text=True)
    rows1 = re.findall(r'<tr data-item="(\d+)">', page1)
    assert len(rows1) == 25 and "page 1 of 2" in page1
    assert "Question 0: explain" in html.unescape(page1)  # the text, not only an id
    page2 = client.get(f"/admin/tasks/{tid}/disagreements?page=2").get_data(as_text=True)
    rows2 = re.findall(r'<tr data-item="(\d+)">', page2)
    assert len(rows2) == 5 and not set(rows1) & set(rows2)
    assert client.get(f"/admin/tasks/{tid}/disagreements?page=x").status_code == 400
    dash = client.get(f"/admin/tasks/{tid}/dashboard?rounds=0").get_data(as_text=True)
    assert len(re.findall(r'<tr data-item="(\d+)">', dash)) == 20
    _adjudicate(client, tid, int(rows2[0]), "TIE")
    page2 = client.get(f"/admin/tasks/{tid}/disagreements?page=2").get_data(as_text=True)
    assert "adjudicated · change" in page2 and "1 adjudicated" in page2


def test_skip_reasons_in_dashboard_and_exports(app: Flask, astore: Store, client: FlaskClient,
                                               store_url: str, capsys) -> None:  # type: ignore
    seed(astore, n_questions=3)
    tid = make_task(astore, models=MODELS[:2])
    add_user(astore, "zed")
    ann = app.test_client()
    tok = login(ann, "zed")
    reasons = [("question is unclear", "which city?"), ("other", ""),
               ("text is broken or empty", "=cmd|' /C calc'!A0")]
    for reason, detail in reasons:
        item = ann.post(f"/api/tasks/{tid}/next", headers={"X-CSRF-Token": tok}).get_json()
        r = ann.post(f"/a/{item['item']['assignment_id']}/skip",
                     data={"csrf_token": tok, "reason": reason, "detail": detail})
        assert r.status_code in (200, 302)
    login(client, "admin")
    dash = html.unescape(client.get(f"/admin/tasks/{tid}/dashboard?rounds=0")
                         .get_data(as_text=True))
    assert "Skips (3)" in dash and "which city?" in dash and "question is unclear" in dash
    text = client.get(f"/admin/tasks/{tid}/skips.csv").get_data(as_text=True)
    got = {(r["reason"], r["detail"]) for r in csv.DictReader(io.StringIO(text))}
    assert got == {("question is unclear", "which city?"), ("other", ""),
                   ("text is broken or empty", "'=cmd|' /C calc'!A0")}
    assert "zed" not in text  # pseudonyms unless asked
    rows = [json.loads(x) for x in client.get(f"/admin/tasks/{tid}/skips.jsonl")
            .get_data(as_text=True).splitlines()]
    assert len(rows) == 3 and all(r["annotator"].startswith("ann-") for r in rows)
    assert main(["annotate", "--db", store_url, "export", str(tid), "--skips",
                 "--format", "jsonl"]) == 0
    out = capsys.readouterr().out
    assert "which city?" in out and len(out.splitlines()) == 3
    assert DOCUMENT  # the fixture's long document is in the store
