"""Fill a real store with questions, answers, battles and judgments for the ratings tests."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any, Iterable, Optional

from sqlalchemy import select

from arena.store import Store
from arena.store.ingest import AnswerRecord, QuestionRecord, add_answers, add_judgments, \
    add_questions
from arena.store.schema import Answer, Battle

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)


def seed_questions(store: Store, questions: dict[str, str], models: dict[str, dict[str, str]],
                   source: str = "qs") -> dict[tuple[str, str], int]:
    """questions: local id -> category; models: name -> {local id: answer text}.
    Returns (question id, model) -> answer id."""
    with store.begin() as conn:
        add_questions(conn, [QuestionRecord(turns=[f"question {q}"], local_id=q, category=c)
                             for q, c in questions.items()], source)
        add_answers(conn, [AnswerRecord(question_id=f"{source}/{q}", model=m, turns=[text])
                           for m, answers in models.items() for q, text in answers.items()])
        rows = conn.execute(select(Answer.id, Answer.question_id, Answer.model)).all()
    return {(r.question_id, r.model): r.id for r in rows}


def battle_id(store: Store, qid: str, a: str, b: str) -> int:
    with store.begin() as conn:
        got = conn.execute(select(Battle.id).where(Battle.question_id == qid,
                                                   Battle.model_a == a,
                                                   Battle.model_b == b)).scalar()
        if got is None:
            got = conn.execute(Battle.__table__.insert().values(
                question_id=qid, model_a=a, model_b=b)).inserted_primary_key[0]
    return int(got)


class Verdicts:
    """Builds judgment rows with increasing created_at so the order is defined."""

    def __init__(self, store: Store, answers: dict[tuple[str, str], int]) -> None:
        self.store = store
        self.answers = answers
        self.rows: list[dict[str, Any]] = []
        self.clock = 0

    def pair(self, qid: str, a: str, b: str, outcome: Optional[str], *, first: str = "A",
             kind: str = "llm", judge: str = "judge-1", template: Optional[str] = "v1",
             strength: Optional[int] = None, status: str = "ok", annotator: Optional[int] = None,
             turn: Optional[int] = None, supersedes: Optional[int] = None, **extra: Any) -> None:
        self.clock += 1
        self.rows.append({
            "mode": "pairwise-all", "battle_id": battle_id(self.store, qid, a, b),
            "question_id": qid, "model_a": a, "model_b": b,
            "answer_a_id": self.answers.get((qid, a)), "answer_b_id": self.answers.get((qid, b)),
            "turn": turn, "first": first, "judge_kind": kind, "judge_id": judge,
            "template_version": template, "outcome": outcome, "strength": strength,
            "parse_status": status, "raw_output": "raw", "annotator_id": annotator,
            "supersedes_id": supersedes, "created_at": T0 + timedelta(seconds=self.clock),
            **extra})

    def single(self, qid: str, model: str, score: Optional[float], *, kind: str = "llm",
               judge: str = "judge-1", scores: Optional[dict] = None, status: str = "ok") -> None:
        self.clock += 1
        aid = self.answers.get((qid, model))
        self.rows.append({
            "mode": "single", "answer_id": aid, "answer_a_id": aid, "question_id": qid,
            "model_a": model, "model_b": None, "judge_kind": kind, "judge_id": judge,
            "template_version": "s1", "score_a": score, "scores": scores, "parse_status": status,
            "created_at": T0 + timedelta(seconds=self.clock)})

    def flush(self) -> None:
        keys = {k for r in self.rows for k in r}  # one executemany needs the same keys
        rows = [{k: r.get(k) for k in keys} for r in self.rows]
        with self.store.begin() as conn:
            add_judgments(conn, rows)
        self.rows = []


def ids_of(store: Store) -> list[int]:
    from arena.store.schema import Judgment

    with store.begin() as conn:
        return list(conn.execute(select(Judgment.id).order_by(Judgment.id)).scalars())


def all_pairs(models: Iterable[str]) -> list[tuple[str, str]]:
    ms = list(models)
    return [(ms[i], ms[j]) for i in range(len(ms)) for j in range(i + 1, len(ms))]
