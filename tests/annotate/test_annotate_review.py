"""The annotator's flow through the test client: begin, verdicts, skip, resume, edit."""

from __future__ import annotations

import re

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select

from annotate_fixtures import DOCUMENT, add_user, login, make_task, seed
from arena.store import Store
from arena.store.annotation_schema import Assignment
from arena.store.schema import Judgment

pytestmark = pytest.mark.db

SUB_RE = re.compile(r'name="submission_id" value="([0-9a-f]+)"')


def begin(client: FlaskClient, tok: str, tid: int) -> tuple[int, str]:
    """Begin/continue a task; return (assignment id, page html)."""
    resp = client.post(f"/tasks/{tid}/next", data={"csrf_token": tok})
    assert resp.status_code == 302, resp.get_data(as_text=True)
    aid = int(resp.headers["Location"].rsplit("/", 1)[1])
    return aid, client.get(f"/a/{aid}").get_data(as_text=True)


def judgments(store: Store) -> list:
    with store.begin() as conn:
        return conn.execute(select(Judgment).order_by(Judgment.id)).all()


def first_of(store: Store, aid: int) -> str:
    with store.begin() as conn:
        return conn.execute(select(Assignment.first).where(Assignment.id == aid)).scalar_one()


def test_pairwise_verdict_maps_displayed_side_to_models(astore: Store,
                                                        client: FlaskClient) -> None:
    seed(astore)
    tid = make_task(astore)
    uid = add_user(astore, "ann")
    tok = login(client, "ann")
    aid, html = begin(client, tok, tid)
    sub = SUB_RE.search(html).group(1)
    resp = client.post(f"/a/{aid}/submit", data={"csrf_token": tok, "choice": "left",
                                                 "submission_id": sub, "comment": " nice ",
                                                 "elapsed_ms": "4200"})
    assert resp.status_code == 302 and resp.headers["Location"].startswith("/a/")
    [j] = judgments(astore)
    first = first_of(astore, aid)
    assert j.first == first and j.outcome == first  # "left" is whatever was shown first
    assert (j.judge_kind, j.judge_id, j.annotator_id, j.task_id, j.round) == \
        ("human", f"human:{uid}", uid, tid, 1)
    assert j.model_a == "model-alpha" and j.model_b == "model-beta" and j.battle_id
    assert j.comment == "nice" and j.submission_id == sub
    assert 0 < j.time_on_task_s <= 4.2  # the page's visible time, capped by the server's


def test_double_submit_stores_one_verdict(astore: Store, client: FlaskClient) -> None:
    seed(astore)
    tid = make_task(astore)
    add_user(astore, "ann")
    tok = login(client, "ann")
    aid, html = begin(client, tok, tid)
    form = {"csrf_token": tok, "choice": "tie", "submission_id": SUB_RE.search(html).group(1)}
    for _ in range(3):
        assert client.post(f"/a/{aid}/submit", data=form).status_code == 302
    # Same item, a fresh form (another tab): refused, nothing more stored.
    form2 = dict(form, submission_id="f" * 32)
    client.post(f"/a/{aid}/submit", data=form2)
    assert len(judgments(astore)) == 1
    # JSON endpoint: a retried request stores one verdict and says it was a duplicate.
    nxt = client.post(f"/api/tasks/{tid}/next", headers={"X-CSRF-Token": tok}).get_json()
    item = nxt["item"]
    body = {"choice": "both_bad", "submission_id": item["submission_id"]}
    r1 = client.post(f"/api/assignments/{item['assignment_id']}/verdict", json=body,
                     headers={"X-CSRF-Token": tok})
    r2 = client.post(f"/api/assignments/{item['assignment_id']}/verdict", json=body,
                     headers={"X-CSRF-Token": tok})
    assert r1.get_json()["duplicate"] is False and r2.get_json()["duplicate"] is True
    assert r1.get_json()["judgment_id"] == r2.get_json()["judgment_id"]
    assert len(judgments(astore)) == 2
    assert judgments(astore)[1].outcome == "BOTH_BAD"


def test_bad_verdict_is_refused_and_stores_nothing(astore: Store, client: FlaskClient) -> None:
    seed(astore)
    tid = make_task(astore)
    add_user(astore, "ann")
    tok = login(client, "ann")
    aid, html = begin(client, tok, tid)
    resp = client.post(f"/a/{aid}/submit", data={"csrf_token": tok, "choice": "A-ish",
                                                 "submission_id": "1" * 32})
    assert resp.status_code == 400 and "field &#39;choice&#39;" in resp.get_data(as_text=True)
    r = client.post(f"/api/assignments/{aid}/verdict", json={"submission_id": "2" * 32},
                    headers={"X-CSRF-Token": tok})
    assert r.status_code == 400 and r.get_json()["field"] == "choice"
    assert judgments(astore) == []
    with astore.begin() as conn:
        assert conn.execute(select(Assignment.status).where(Assignment.id == aid)).scalar() \
            == "leased"


def test_resume_skip_and_edit(astore: Store, client: FlaskClient) -> None:
    seed(astore, n_questions=3)
    tid = make_task(astore)
    add_user(astore, "ann")
    tok = login(client, "ann")
    aid, _ = begin(client, tok, tid)
    assert begin(client, tok, tid)[0] == aid  # continue: the same item, not a new one
    client2 = client.application.test_client()  # a new browser session resumes too
    tok2 = login(client2, "ann")
    assert begin(client2, tok2, tid)[0] == aid

    # Skip needs a reason and is not a verdict.
    assert client.post(f"/a/{aid}/skip", data={"csrf_token": tok}).status_code == 400
    resp = client.post(f"/a/{aid}/skip", data={"csrf_token": tok, "reason": "other",
                                               "detail": "garbled"})
    assert resp.status_code == 302
    with astore.begin() as conn:
        row = conn.execute(select(Assignment.status, Assignment.skip_reason)
                           .where(Assignment.id == aid)).first()
    assert row.status == "skipped" and row.skip_reason == "other: garbled"
    assert judgments(astore) == []

    aid2, html = begin(client, tok, tid)
    assert aid2 != aid
    client.post(f"/a/{aid2}/submit", data={"csrf_token": tok, "choice": "right",
                                           "submission_id": SUB_RE.search(html).group(1)})
    [j] = judgments(astore)
    mine = client.get(f"/tasks/{tid}/mine").get_data(as_text=True)
    assert f'data-verdict="{j.id}"' in mine and '<span class="given">B is better</span>' in mine

    # Edit: a new row superseding the old one; the list shows the new verdict only.
    page = client.get(f"/verdicts/{j.id}/edit").get_data(as_text=True)
    assert 'class="choice chosen"' in page and 'value="right"' in page
    resp = client.post(f"/verdicts/{j.id}/edit", data={
        "csrf_token": tok, "choice": "tie", "submission_id": SUB_RE.search(page).group(1)})
    assert resp.status_code == 302
    rows = judgments(astore)
    assert len(rows) == 2 and rows[1].supersedes_id == rows[0].id
    assert rows[1].outcome == "TIE" and rows[1].first == rows[0].first
    assert rows[0].outcome in ("A", "B")  # the old row is kept as it was
    mine = client.get(f"/tasks/{tid}/mine").get_data(as_text=True)
    assert f'data-verdict="{rows[1].id}"' in mine and f'data-verdict="{rows[0].id}"' not in mine
    # Editing through the old id supersedes the newest row of the chain.
    page = client.get(f"/verdicts/{rows[0].id}/edit").get_data(as_text=True)
    client.post(f"/verdicts/{rows[0].id}/edit", data={
        "csrf_token": tok, "choice": "left", "submission_id": SUB_RE.search(page).group(1)})
    rows = judgments(astore)
    assert len(rows) == 3 and rows[2].supersedes_id == rows[1].id


def test_single_and_rubric_scales(astore: Store, client: FlaskClient) -> None:
    seed(astore, n_questions=2)
    t1 = make_task(astore, name="single", mode="single", scale="1-10", models=["model-gamma"])
    t2 = make_task(astore, name="rubric", mode="single", scale="rubric",
                   criteria=["helpful", "correct"], criteria_max=5, models=["model-alpha"])
    add_user(astore, "ann")
    tok = login(client, "ann")
    aid, html = begin(client, tok, t1)
    assert 'name="score" value="10"' in html and "Answer B" not in html
    r = client.post(f"/a/{aid}/submit", data={"csrf_token": tok, "score": "11",
                                              "submission_id": SUB_RE.search(html).group(1)})
    assert r.status_code == 400
    client.post(f"/a/{aid}/submit", data={"csrf_token": tok, "score": "7",
                                          "submission_id": SUB_RE.search(html).group(1)})
    aid, html = begin(client, tok, t2)
    assert 'name="score_1" value="5"' in html
    r = client.post(f"/a/{aid}/submit", data={"csrf_token": tok, "score_0": "4",
                                              "submission_id": SUB_RE.search(html).group(1)})
    assert r.status_code == 400  # a criterion without a score
    client.post(f"/a/{aid}/submit", data={"csrf_token": tok, "score_0": "4", "score_1": "2",
                                          "submission_id": SUB_RE.search(html).group(1)})
    single, rubric = judgments(astore)
    assert single.mode == "single" and single.score_a == 7 and single.model_b is None
    assert single.answer_id == single.answer_a_id and single.outcome is None
    assert rubric.scores == {"helpful": 4, "correct": 2} and rubric.model_a == "model-alpha"


def test_document_references_and_turns_are_shown(astore: Store, client: FlaskClient) -> None:
    seed(astore, n_questions=2)
    tid = make_task(astore, show_references=True, question_limit=2)
    tid_noref = make_task(astore, name="no refs")
    add_user(astore, "ann")
    tok = login(client, "ann")
    pages = [begin(client, tok, tid)[1]]
    client.post(f"/a/{begin(client, tok, tid)[0]}/skip", data={"csrf_token": tok,
                                                               "reason": "other"})
    pages.append(begin(client, tok, tid)[1])
    with_doc = [p for p in pages if 'id="doc-text"' in p]
    assert len(with_doc) == 1
    assert "Idris Fenwick" in with_doc[0] and 'id="doc-search"' in with_doc[0]
    assert f"{len(DOCUMENT):,} characters" in with_doc[0]
    assert "Reference answer 1" in with_doc[0]
    multi = [p for p in pages if "Turn 2" in p]
    assert multi and "And a follow-up turn?" in multi[0] and "second turn answer" in multi[0]
    # The same question in a task without references shows none.
    for _ in range(2):
        aid, html = begin(client, tok, tid_noref)
        assert "Reference answer" not in html
        client.post(f"/a/{aid}/skip", data={"csrf_token": tok, "reason": "other"})


def test_progress_and_all_done(astore: Store, client: FlaskClient) -> None:
    seed(astore, n_questions=2)
    tid = make_task(astore)
    add_user(astore, "ann")
    tok = login(client, "ann")
    for n in range(2):
        aid, html = begin(client, tok, tid)
        assert f'<progress id="progress" value="{n}" max="2">' in html
        client.post(f"/a/{aid}/submit", data={"csrf_token": tok, "choice": "left",
                                              "submission_id": SUB_RE.search(html).group(1)})
    resp = client.post(f"/tasks/{tid}/next", data={"csrf_token": tok})
    assert resp.status_code == 200 and 'id="all-done"' in resp.get_data(as_text=True)
    with astore.begin() as conn:
        assert conn.execute(select(func.count()).select_from(Judgment)).scalar() == 2


def test_verdict_with_next_answers_the_next_item(astore: Store, client: FlaskClient) -> None:
    """One request per item: the verdict's answer carries the next item; a retry of that
    request gets the same verdict and the same next item."""
    seed(astore, n_questions=2)
    tid = make_task(astore)
    add_user(astore, "ann")
    tok = login(client, "ann")
    item = client.post(f"/api/tasks/{tid}/next", headers={"X-CSRF-Token": tok}).get_json()["item"]
    body = {"choice": "left", "submission_id": item["submission_id"], "next": True}
    r = client.post(f"/api/assignments/{item['assignment_id']}/verdict", json=body,
                    headers={"X-CSRF-Token": tok}).get_json()
    assert r["duplicate"] is False and r["next"]["done"] is False
    nxt = r["next"]["item"]
    assert nxt["assignment_id"] != item["assignment_id"] and nxt["answers"]
    again = client.post(f"/api/assignments/{item['assignment_id']}/verdict", json=body,
                        headers={"X-CSRF-Token": tok}).get_json()
    assert again["duplicate"] is True and again["judgment_id"] == r["judgment_id"]
    assert again["next"]["item"]["assignment_id"] == nxt["assignment_id"]
    last = client.post(f"/api/assignments/{nxt['assignment_id']}/verdict", json={
        "choice": "tie", "submission_id": nxt["submission_id"], "next": True},
        headers={"X-CSRF-Token": tok}).get_json()
    assert last["next"] == {"done": True}
    assert len(judgments(astore)) == 2


def test_verdict_then_next_keeps_one_live_lease_after_a_late_submit(store: Store) -> None:
    """A late submit (its lease had expired and another item is live) must not skip the
    claim's look for the live lease: the user keeps one live lease per task."""
    from datetime import timedelta

    from annotate import assign, verdicts
    from arena.store.schema import utcnow

    seed(store, n_questions=3)
    tid = make_task(store, lease_seconds=60)
    uid = add_user(store, "ann", password=None)
    from sqlalchemy import update

    from arena.store.annotation_schema import TaskItem

    t0 = utcnow()
    with store.begin() as conn:
        old = assign.claim(conn, tid, uid, now=t0)
    with store.begin() as conn:  # the lease runs out, and (its item full for a moment) the
        assign.expire_leases(conn, tid, t0 + timedelta(seconds=120))  # next claim gives
        conn.execute(update(TaskItem).where(TaskItem.id == old.item_id)  # another item
                     .values(held_count=TaskItem.held_count + 1))
        live = assign.claim(conn, tid, uid, now=t0 + timedelta(seconds=121))
        conn.execute(update(TaskItem).where(TaskItem.id == old.item_id)
                     .values(held_count=TaskItem.held_count - 1))
    assert live.assignment_id != old.assignment_id
    with store.begin() as conn:
        late = verdicts.submit(conn, old.assignment_id, uid, {"choice": "tie"}, "late-1")
        assert late.task is None  # not the live lease: a claim must read the task again
        nxt = assign.claim(conn, tid, uid, after=late.task)
    assert nxt.assignment_id == live.assignment_id and nxt.resumed
    with store.begin() as conn:
        fresh = verdicts.submit(conn, live.assignment_id, uid, {"choice": "tie"}, "live-1")
        assert fresh.task is not None and fresh.task.status == "active"
        nxt = assign.claim(conn, tid, uid, after=fresh.task)
        n_live = conn.execute(select(func.count()).select_from(Assignment).where(
            Assignment.annotator_id == uid, Assignment.status == "leased")).scalar_one()
    assert nxt is not None and not nxt.resumed and n_live == 1
