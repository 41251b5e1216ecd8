"""Adaptive next pair: verdicts go where the ranking is uncertain, the stop rule closes pairs
(separated or capped, with the reason on the dashboard and in the store) and then the task,
overlap and swap probes still hold; the pipeline's claim path is the one used."""

from __future__ import annotations

import random
from collections import Counter

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from annotate import adaptive, assign, verdicts
from annotate.tasks import TaskSpec, create_task
from annotate_fixtures import add_user, login
from arena.errors import InputError
from arena.store import Store
from arena.store.annotation_schema import Assignment, Task, TaskItem, TaskPairStop
from arena.store.ingest import AnswerRecord, QuestionRecord, add_answers, add_questions
from arena.store.schema import utcnow

pytestmark = pytest.mark.db

# Two models a hair apart, three far from them and from each other.
STRENGTH = {"close-1": 0.0, "close-2": 5.0, "far-1": 700.0, "far-2": 1400.0, "far-3": 2100.0}


def _task(store: Store, n_questions: int = 30, **kw) -> int:
    with store.begin() as conn:
        add_questions(conn, [QuestionRecord(turns=[f"q{i}"], local_id=f"q{i}")
                             for i in range(n_questions)], "ad")
        add_answers(conn, [AnswerRecord(question_id=f"ad/q{i}", model=m, turns=[f"{m} {i}"])
                           for i in range(n_questions) for m in STRENGTH])
        tid, _, _ = create_task(conn, TaskSpec(name="adaptive", models=list(STRENGTH),
                                               adaptive=True, **kw))
    return tid


def _judge(store: Store, tid: int, uid: int, rng: random.Random, limit: int) -> list[tuple]:
    """Claim (with an explicit clock: plans are made at once) and answer as the strengths
    say; return the (model_a, model_b, round) of each item served."""
    served = []
    for _ in range(limit):
        with store.begin() as conn:
            lease = assign.claim(conn, tid, uid, rng=rng, now=utcnow())
            if lease is None:
                return served
            it = conn.execute(select(TaskItem.model_a, TaskItem.model_b)
                              .where(TaskItem.id == lease.item_id)).one()
            rnd = conn.execute(select(Assignment.round).where(
                Assignment.id == lease.assignment_id)).scalar_one()
            p = 1 / (1 + 10 ** ((STRENGTH[it.model_b] - STRENGTH[it.model_a]) / 400))
            outcome = "A" if rng.random() < p else "B"
            choice = "left" if (lease.first or "A") == outcome else "right"
            verdicts.submit(conn, lease.assignment_id, uid, {"choice": choice},
                            verdicts.new_submission_id(), 1.0)
        served.append((it.model_a, it.model_b, rnd))
    return served


def test_pairs_follow_the_uncertainty_and_the_stop_rule_closes_the_task(astore: Store) -> None:
    tid = _task(astore, adaptive_cap=12)
    uid = add_user(astore, "ann", password=None)
    served = _judge(astore, tid, uid, random.Random(1), 400)
    assert len(served) < 10 * 30  # it stopped well before the 300 items ran out
    per_pair = Counter(frozenset(s[:2]) for s in served)
    close = per_pair[frozenset(("close-1", "close-2"))]
    assert close == 12  # the close pair got verdicts until its cap ...
    far = [n for pair, n in per_pair.items() if pair != frozenset(("close-1", "close-2"))]
    assert max(far) < close  # ... the clear ones far fewer
    with astore.begin() as conn:
        stops = {(r.model_a, r.model_b): r for r in conn.execute(
            select(TaskPairStop).where(TaskPairStop.task_id == tid))}
        left = conn.execute(select(func.count()).select_from(TaskItem).where(
            TaskItem.task_id == tid, TaskItem.held_count == 0)).scalar_one()
        plan = adaptive.compute_plan(conn, tid, conn.execute(
            select(Task.settings).where(Task.id == tid)).scalar())
    assert left > 0 and plan.finished  # every pair stopped, items were left over
    # The cap is recorded with the figures of that moment ...
    assert set(stops) == {("close-1", "close-2")}
    close_stop = stops[("close-1", "close-2")]
    assert close_stop.reason == "cap" and close_stop.n == 12 and "cap of 12" in close_stop.detail
    # ... the others are separated: their rating CIs do not overlap.
    separated = [p for p in plan.pairs.values() if p.status == "separated"]
    assert len(separated) == 9
    for p in separated:
        lo_a, hi_a, lo_b, hi_b = (float(x) for x in p.reason.split("(")[1].split(")")[0]
                                  .replace(p.model_a, "").replace(p.model_b, "")
                                  .replace(" to ", " ").replace(",", " ").split())
        assert lo_a > hi_b or lo_b > hi_a, p.reason
        assert p.n >= adaptive.MIN_PAIR_VERDICTS
    other = add_user(astore, "bob", password=None)
    with astore.begin() as conn:  # nothing more for anyone
        assert assign.claim(conn, tid, other, rng=random.Random(2), now=utcnow()) is None


def test_overlap_and_swap_probes_hold_under_adaptive(astore: Store) -> None:
    tid = _task(astore, n_questions=6, overlap=2, adaptive_cap=1000, swap_share=1.0,
                swap_gap=1)
    users = [add_user(astore, n, password=None) for n in ("u1", "u2", "u3")]
    rng = random.Random(3)
    served = {u: _judge(astore, tid, u, rng, 20) for u in users}
    assert any(s[2] == 2 for u in users for s in served[u])  # probes came back
    with astore.begin() as conn:
        done = assign.done_per_item(tid)
        held = conn.execute(select(TaskItem.held_count, func.coalesce(done.c.done, 0))
                            .outerjoin(done, done.c.item_id == TaskItem.id)
                            .where(TaskItem.task_id == tid)).all()
        twice = conn.execute(select(Assignment.item_id, Assignment.annotator_id)
                             .where(Assignment.round == 1)
                             .group_by(Assignment.item_id, Assignment.annotator_id)
                             .having(func.count() > 1)).all()
    assert all(h <= 2 and d <= 2 for h, d in held) and not twice


def test_adaptive_needs_a_pairwise_task(store: Store) -> None:
    with store.begin() as conn:
        add_questions(conn, [QuestionRecord(turns=["q"], local_id="q")], "s")
        add_answers(conn, [AnswerRecord(question_id="s/q", model="m", turns=["a"])])
        with pytest.raises(InputError, match="pairwise"):
            create_task(conn, TaskSpec(name="x", mode="single", scale="1-5", models=["m"],
                                       adaptive=True))


def test_dashboard_shows_why_each_pair_stopped(app: Flask, astore: Store,
                                               client: FlaskClient) -> None:
    tid = _task(astore, n_questions=10, adaptive_cap=5)
    add_user(astore, "ann")
    ann = app.test_client()
    tok = login(ann, "ann")
    rng = random.Random(4)
    n = 0
    while n < 200:  # through the HTTP API and the real clock (plans refresh in the back)
        got = ann.post(f"/api/tasks/{tid}/next", headers={"X-CSRF-Token": tok}).get_json()
        if got["done"]:
            break
        item = got["item"]
        r = ann.post(f"/api/assignments/{item['assignment_id']}/verdict",
                     json={"choice": rng.choice(["left", "right"]),
                           "submission_id": item["submission_id"]},
                     headers={"X-CSRF-Token": tok})
        assert r.status_code == 200
        n += 1
    login(client, "admin")
    page = client.get(f"/admin/tasks/{tid}/dashboard?rounds=0").get_data(as_text=True)
    assert 'id="pair-states"' in page and page.count("<tr data-pair=") == 10
    with astore.begin() as conn:
        stops = conn.execute(select(TaskPairStop.reason)).scalars().all()
    for reason in set(stops):  # recorded caps
        assert f'data-status="{reason}"' in page and "reached the cap of 5" in page
    assert 'data-status="separated"' in page or 'data-status="cap"' in page
    if 'data-status="separated"' in page:
        assert "rating CIs do not overlap" in page
