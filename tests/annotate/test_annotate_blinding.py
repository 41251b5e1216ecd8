"""Annotators see neither the task's admin name nor who wrote a reference answer: "... vs
turbo-16k" in a name, or a reference by the baseline model, would tell them which side is
which."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient
from sqlalchemy import update

from annotate_fixtures import add_user, login, make_task, seed
from arena.store import Store
from arena.store.schema import Reference

pytestmark = pytest.mark.db


def test_task_name_and_reference_authors_stay_hidden(astore: Store, client: FlaskClient) -> None:
    seed(astore, n_questions=2)
    with astore.begin() as conn:
        conn.execute(update(Reference).values(author="turbo-16k-baseline"))
    secret = "model-alpha vs turbo-16k"
    titled = make_task(astore, name=secret, public_title="Summaries, round 1",
                       show_references=True)
    untitled = make_task(astore, name="beta vs turbo-16k (pilot)", models=["model-beta",
                                                                           "model-gamma"])
    add_user(astore, "ann")
    tok = login(client, "ann")
    pages = [client.get("/").get_data(as_text=True)]
    for tid in (titled, untitled):
        r = client.post(f"/tasks/{tid}/next", data={"csrf_token": tok})
        pages.append(client.get(r.headers["Location"]).get_data(as_text=True))
        pages.append(client.get(f"/tasks/{tid}/mine").get_data(as_text=True))
    api = client.post(f"/api/tasks/{titled}/next", headers={"X-CSRF-Token": tok}).get_json()
    for q in range(2):  # reach the item with the reference (question 1)
        if api["item"]["references"]:
            break
        client.post(f"/a/{api['item']['assignment_id']}/skip",
                    data={"csrf_token": tok, "reason": "other"})
        api = client.post(f"/api/tasks/{titled}/next", headers={"X-CSRF-Token": tok}).get_json()
    text = "\n".join(pages) + str(api)
    assert "turbo-16k" not in text and "pilot" not in text and secret not in text
    assert "Summaries, round 1" in pages[0] and f"Task {untitled}" in pages[0]
    assert api["item"]["references"] == [{"label": "Reference", "turns":
                                          api["item"]["references"][0]["turns"]}]
    assert "author" not in str(api["item"])
