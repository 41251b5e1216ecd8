"""Task creation: questions x models x mode, from stored battles, and through the admin form."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select

from annotate.tasks import TaskSpec, create_task
from annotate_fixtures import MODELS, csrf_of, login, seed
from arena.errors import InputError
from arena.identity import battle_pair
from arena.store import Store
from arena.store.annotation_schema import Task, TaskItem
from arena.store.ingest import ensure_battles
from arena.store.schema import Battle

pytestmark = pytest.mark.db


def items(store: Store, tid: int) -> list:
    with store.begin() as conn:
        return conn.execute(select(TaskItem).where(TaskItem.task_id == tid)
                            .order_by(TaskItem.seq)).all()


def make(store: Store, **kw) -> tuple[int, int, int]:  # type: ignore[no-untyped-def]
    with store.begin() as conn:
        return create_task(conn, TaskSpec(name=kw.pop("name", "t"), **kw))


def test_modes_make_the_right_items(store: Store) -> None:
    seed(store, n_questions=4)
    tid, n, missing = make(store, models=MODELS)
    assert (n, missing) == (12, 0)  # 4 questions x 3 pairs
    pairs = {(i.model_a, i.model_b) for i in items(store, tid)}
    assert pairs == {("model-alpha", "model-beta"), ("model-alpha", "model-gamma"),
                     ("model-beta", "model-gamma")}
    assert all(i.battle_id for i in items(store, tid))
    tid, n, _ = make(store, mode="pairwise-baseline", baseline="model-gamma", models=MODELS)
    # The baseline meets each model; the pairs reuse the battles stored the other way round.
    assert n == 8 and all("model-gamma" in (i.model_a, i.model_b) for i in items(store, tid))
    tid, n, _ = make(store, mode="single", scale="1-5", models=["model-beta"], categories=["math"])
    assert n == 2 and all(i.answer_b_id is None for i in items(store, tid))
    tid, n, _ = make(store, models=MODELS[:2], question_limit=1)
    assert n == 1
    with store.begin() as conn:  # battles are shared, not duplicated by a second task
        assert conn.execute(select(func.count()).select_from(Battle)).scalar() == 12


def test_task_battles_are_the_pipelines_battles(store: Store) -> None:
    """A task made first (the baseline shown first) stores each pair in the pipeline's order,
    so the judge stage finds the same battle and its verdicts join the human ones."""
    seed(store, n_questions=2)
    make(store, mode="pairwise-baseline", baseline="model-gamma", models=MODELS)
    with store.begin() as conn:
        stored = conn.execute(select(Battle.id, Battle.question_id, Battle.model_a,
                                     Battle.model_b)).all()
        assert len(stored) == 4
        assert all((a, b) == battle_pair(a, b) for _, _, a, b in stored)
        either = [(q, a, b) for _, q, a, b in stored] + [(q, b, a) for _, q, a, b in stored]
        found = ensure_battles(conn, either, create=False)
        assert found == {**{(q, a, b): i for i, q, a, b in stored},
                         **{(q, b, a): i for i, q, a, b in stored}}


def test_task_from_stored_battles_and_missing_answers(store: Store) -> None:
    seed(store, n_questions=3)
    with store.begin() as conn:
        conn.execute(Battle.__table__.insert(), [
            {"question_id": "demo/q0", "model_a": "model-beta", "model_b": "model-alpha"},
            {"question_id": "demo/q1", "model_a": "model-gamma", "model_b": "model-alpha"},
            {"question_id": "demo/q2", "model_a": "model-beta", "model_b": "model-nobody"}])
    tid, n, missing = make(store, from_battles=True)
    assert (n, missing) == (2, 1)
    got = [(i.question_id, i.model_a, i.model_b) for i in items(store, tid)]
    assert got == [("demo/q0", "model-beta", "model-alpha"),
                   ("demo/q1", "model-gamma", "model-alpha")]
    tid, n, _ = make(store, from_battles=True, models=["model-beta", "model-alpha"])
    assert n == 1


@pytest.mark.parametrize("kw,field", [
    (dict(models=["model-alpha"]), "models"),
    (dict(mode="pairwise-baseline", models=MODELS), "baseline"),
    (dict(mode="single", scale="pairwise", models=MODELS), "scale"),
    (dict(mode="single", scale="rubric", models=MODELS), "criteria"),
    (dict(models=MODELS, overlap=0), "overlap"),
    (dict(models=["model-alpha", "model-unknown"]), "models"),
    (dict(name=" ", models=MODELS), "name"),
])
def test_bad_specs_are_refused_and_write_nothing(store: Store, kw: dict, field: str) -> None:
    seed(store, n_questions=1)
    with pytest.raises(InputError) as err:
        make(store, **{"name": "t", **kw})
    assert err.value.field == field
    with store.begin() as conn:
        assert conn.execute(select(func.count()).select_from(Task)).scalar() == 0


def test_admin_creates_task_and_annotator_through_forms(client: FlaskClient,
                                                        astore: Store) -> None:
    seed(astore, n_questions=2)
    login(client, "admin")
    page = client.get("/admin/tasks/new").get_data(as_text=True)
    assert all(f'<option value="{m}"' in page for m in MODELS)
    tok = csrf_of(client, "/admin/tasks/new")
    r = client.post("/admin/tasks/new", data={
        "csrf_token": tok, "name": "form task", "mode": "pairwise-all", "scale": "pairwise",
        "models": ["model-alpha", "model-gamma"], "overlap": "3", "lease_minutes": "5",
        "show_references": "1", "guidelines": "Be *fair*."})
    assert r.status_code == 303
    page = client.get(r.headers["Location"]).get_data(as_text=True)
    assert "model-gamma" in page and "overlap 3" in page  # admins do see model names
    with astore.begin() as conn:
        t = conn.execute(select(Task)).one()
    assert (t.overlap, t.lease_seconds, t.show_references, t.guidelines) == \
        (3, 300, True, "Be *fair*.")
    r = client.post("/admin/tasks/new", data={"csrf_token": tok, "name": "bad",
                                              "mode": "pairwise-all", "scale": "pairwise",
                                              "models": ["model-alpha"], "overlap": "x"})
    assert r.status_code == 400 and "field &#39;overlap&#39;" in r.get_data(as_text=True)
    r = client.post("/admin/users", data={"csrf_token": tok, "username": "pw-user",
                                          "password": "long password", "role": "annotator"})
    assert r.status_code == 200 and "invite-link" not in r.get_data(as_text=True)
    assert login(client.application.test_client(), "pw-user", "long password")
    r = client.post(f"/admin/tasks/{t.id}/status", data={"csrf_token": tok, "status": "paused"})
    assert r.status_code == 303
    with astore.begin() as conn:
        assert conn.execute(select(Task.status)).scalar() == "paused"
