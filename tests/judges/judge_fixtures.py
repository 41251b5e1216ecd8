"""Helpers for judge tests: a store with questions and three models' answers, a config builder,
and a scripted judge for the fake OpenAI-compatible server.

The scripted judge reads the prompt it receives like a careful judge would: the answer (or
conversation) that contains the word GOOD wins; BAD loses; otherwise a tie. So verdicts in the
store can be checked against the order the prompt showed.
"""

from __future__ import annotations

import re
from typing import Any, Callable, Optional

import pytest

from arena.config import ArenaConfig, parse_config
from arena.store import Store
from arena.store.ingest import AnswerRecord, QuestionRecord, add_answers, add_questions

SOURCE = "t"
MODELS = ["m-good", "m-mid", "m-bad"]
QUESTIONS = [
    QuestionRecord(local_id="q1", category="generic", turns=["Name a colour."]),
    QuestionRecord(local_id="q2", category="math", turns=["What is 2 + 2?"],
                   references={"reference": ["The answer is 4."]}),
    QuestionRecord(local_id="q3", category="writing",
                   turns=["Write one line about the sea.", "Now make it shorter."]),
    QuestionRecord(local_id="q4", category="coding", turns=["Print hello in Python."]),
]


def answer_text(model: str, qid: str, turn: int) -> str:
    word = {"m-good": "GOOD", "m-mid": "MID", "m-bad": "BAD"}[model]
    return f"{word} answer of {model} to {qid} turn {turn}"


@pytest.fixture
def filled(store: Store) -> Store:
    with store.begin() as conn:
        add_questions(conn, QUESTIONS, SOURCE)
        recs = []
        for m in MODELS:
            for q in QUESTIONS:
                qid = f"{SOURCE}/{q.local_id}"
                recs.append(AnswerRecord(question_id=qid, model=m,
                                         turns=[answer_text(m, q.local_id, i + 1)
                                                for i in range(len(q.turns))]))
        add_answers(conn, recs)
    return store


def make_cfg(base_url: Optional[str], **judge: Any) -> ArenaConfig:
    """A config over the ``filled`` store's models (file backend) with an API judge."""
    jd: dict[str, Any] = {"mode": "pairwise-all", "position_policy": "none", "scale": "abc"}
    jd.update(judge)
    if base_url is not None and "judges" not in judge:
        jd["judges"] = [{"name": "judge-x", "backend": "openai", "model": "judge-x",
                         "base_url": base_url, "api_key_env": None,
                         "generation": {"max_new_tokens": 300, "temperature": 0.3}}]
    data = {"questions": [{"file": "q.jsonl", "source": SOURCE}],
            "models": [{"name": m, "backend": "store"} for m in MODELS],
            "generation": {"concurrency": 4, "max_retries": 1, "backoff_base_s": 0.01,
                           "backoff_max_s": 0.02},
            "judge": jd}
    return parse_config(data, "<test>", base=None)


_BLOCK = re.compile(r"<(answer_a|answer_b|conversation_a|conversation_b|answer|conversation)>"
                    r"\n(.*?)\n</\1>", re.DOTALL)


def blocks(req: dict) -> dict[str, str]:
    """The answer blocks of the first user message of a judge request."""
    user = [m["content"] for m in req["messages"] if m["role"] == "user"][0]
    return {m.group(1).replace("conversation", "answer"): m.group(2)
            for m in _BLOCK.finditer(user)}


def quality(text: str) -> int:
    return 2 if "GOOD" in text else 0 if "BAD" in text else 1


def fair_judge(scale: str = "abc") -> Callable[[dict], str]:
    """A consistent judge on ``scale``."""

    def reply(req: dict) -> str:
        b = blocks(req)
        if "answer" in b:  # single mode
            q = quality(b["answer"])
            if scale == "rubric":
                return ('Solid. {"Relevance": %d, "Accuracy": %d}' % (q + 2, q + 3))
            return f"Reasoning here. Rating: [[{[3, 6, 9][q]}]]"
        qa, qb = quality(b["answer_a"]), quality(b["answer_b"])
        if scale == "five_level":
            d = qa - qb
            v = {2: "A>>B", 1: "A>B", 0: "A=B", -1: "B>A", -2: "B>>A"}[d]
            return f"Compared.\n[[{v}]]"
        if scale == "score_pair":
            return f"Scores follow.\n[[{qa * 3 + 2}, {qb * 3 + 2}]]"
        v = "A" if qa > qb else "B" if qb > qa else "C"
        return f"Answer {v} is better or equal.\n[[{v}]]"

    return reply


def first_shown_model(req: dict) -> str:
    """Which model's answer the prompt showed first (labelled A)."""
    a = blocks(req)["answer_a"]
    for m in MODELS:
        if f"of {m} " in a:
            return m
    raise AssertionError(f"no model in {a!r}")
