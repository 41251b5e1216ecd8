"""Helpers for the annotation-app tests: a seeded store, tasks, users, logging in.

The store holds a small question set (one multi-turn question, one with a long document,
references) answered by three models; answers carry the XSS corpus where a test asks for it.
"""

from __future__ import annotations

import re
from typing import Any, Callable

from flask.testing import FlaskClient

from arena.store import Store
from arena.store.ingest import AnswerRecord, QuestionRecord, add_answers, add_questions
from annotate.auth import create_user
from annotate.tasks import TaskSpec, create_task

MODELS = ["model-alpha", "model-beta", "model-gamma"]
DOCUMENT = ("Chapter one. The harbour town of Wexmoor kept its lighthouse lit for ninety "
            "years.\n" * 40 + "The keeper's name was Idris Fenwick.\n")
PASSWORD = "correct horse battery"


def seed(store: Store, n_questions: int = 6, answer_text: Callable[[str, int], str] | None = None
         ) -> list[str]:
    """Store ``n_questions`` questions (q0 has two turns, q1 a document and references) and an
    answer from each model. Returns the question ids."""
    # Answer texts never contain the model's name: tests check names do not reach annotators.
    text = answer_text or (lambda m, i: f"**Reply {MODELS.index(m)}** to question {i}.\n\n"
                                        f"```python\nprint({i})\n```")
    recs = []
    for i in range(n_questions):
        turns = [f"Question {i}: explain `x` please."]
        if i == 0:
            turns.append("And a follow-up turn?")
        recs.append(QuestionRecord(
            turns=turns, local_id=f"q{i}", category="writing" if i % 2 else "math",
            document=DOCUMENT if i == 1 else None,
            references={"human": [f"Reference answer {i}"]} if i == 1 else {}))
    with store.begin() as conn:
        add_questions(conn, recs, "demo")
        answers = []
        for i in range(n_questions):
            for m in MODELS:
                turns = [text(m, i)] + (["second turn answer"] if i == 0 else [])
                answers.append(AnswerRecord(question_id=f"demo/q{i}", model=m, turns=turns))
        add_answers(conn, answers)
    return [f"demo/q{i}" for i in range(n_questions)]


def make_task(store: Store, **kw: Any) -> int:
    spec = TaskSpec(name=kw.pop("name", "demo task"), models=kw.pop("models", MODELS[:2]), **kw)
    with store.begin() as conn:
        tid, _, _ = create_task(conn, spec)
    return tid


def add_user(store: Store, name: str, role: str = "annotator",
             password: str | None = PASSWORD) -> int:
    """An account; ``password=None`` makes an invited one (no hashing: fast, cannot log in)."""
    with store.begin() as conn:
        uid, _ = create_user(conn, name, role, password)
    return uid


CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(client: FlaskClient, path: str = "/auth/login") -> str:
    html = client.get(path).get_data(as_text=True)
    m = CSRF_RE.search(html)
    assert m, f"no CSRF token on {path}"
    return m.group(1)


def login(client: FlaskClient, username: str, password: str = PASSWORD) -> str:
    """Log in through the form; return the session's CSRF token."""
    token = csrf_of(client)
    resp = client.post("/auth/login", data={"username": username, "password": password,
                                            "csrf_token": token})
    assert resp.status_code == 302, resp.get_data(as_text=True)
    return csrf_of(client, "/")
