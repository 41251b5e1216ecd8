"""A frozen copy of the store's models at commit a8040fd (the last release before Alembic).

Copied verbatim from ``git show a8040fd:arena/store/schema.py`` and
``a8040fd:arena/store/annotation_schema.py`` (docstrings kept, imports merged, the migration
registration replaced by ``build_legacy_store``). Never edit the models below: they are what
users' stores look like, and revision 0001 is tested against them. ``build_legacy_store`` does
what a8040fd's ``Store.open`` did on an empty store: ``create_all`` of the spine (migration 1),
then of the annotation tables (migration 2), recording both in ``arena_schema_version``.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Optional

from sqlalchemy import (JSON, Boolean, DateTime, Float, ForeignKey, Index, Integer, String, Text,
                        UniqueConstraint, create_engine, event)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON}


class SchemaVersion(Base):
    """One row per applied migration."""

    __tablename__ = "arena_schema_version"
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    applied_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Document(Base):
    """A long context stored once and shared by all its questions (L-Eval, LongBench)."""

    __tablename__ = "documents"
    id: Mapped[str] = mapped_column(String(80), primary_key=True)  # sha256 of the text
    source: Mapped[str] = mapped_column(String(200), default="")
    text: Mapped[str] = mapped_column(Text)
    meta: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class Question(Base):
    __tablename__ = "questions"
    id: Mapped[str] = mapped_column(String(255), primary_key=True)  # "<source>/<local id>"
    source: Mapped[str] = mapped_column(String(200), index=True)
    local_id: Mapped[str] = mapped_column(String(255))
    category: Mapped[str] = mapped_column(String(200), default="", index=True)
    turns: Mapped[list[Any]] = mapped_column(JSON)  # list[str], one user message per turn
    document_id: Mapped[Optional[str]] = mapped_column(ForeignKey("documents.id"), nullable=True)
    meta: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    content_hash: Mapped[str] = mapped_column(String(64))
    seq: Mapped[int] = mapped_column(Integer, default=0)  # order within its source file
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Reference(Base):
    """A reference answer for a question (a human's, GPT-4's, ...); not a competing model."""

    __tablename__ = "references"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    question_id: Mapped[str] = mapped_column(ForeignKey("questions.id"), index=True)
    author: Mapped[str] = mapped_column(String(200), default="reference")
    turns: Mapped[list[Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    __table_args__ = (UniqueConstraint("question_id", "author", name="uq_reference"),)


class ModelRow(Base):
    """A model known to the store, with the spec (no secrets) that produced its answers."""

    __tablename__ = "models"
    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    backend: Mapped[str] = mapped_column(String(40), default="file")
    spec: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Answer(Base):
    """A model's answer to all turns of a question.

    Unique on (question, model, params_hash): ``params_hash`` covers everything that changes
    the output (backend, model id/path + revision, endpoint, system prompt, chat template,
    generation parameters), so it is also the generation cache key.
    """

    __tablename__ = "answers"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    question_id: Mapped[str] = mapped_column(ForeignKey("questions.id"))
    model: Mapped[str] = mapped_column(String(200), index=True)
    params_hash: Mapped[str] = mapped_column(String(64))
    turns: Mapped[list[Any]] = mapped_column(JSON)  # list[str]: the answer per turn
    reasoning: Mapped[Optional[list[Any]]] = mapped_column(JSON, nullable=True)  # per turn
    finish_reason: Mapped[Optional[str]] = mapped_column(String(40), nullable=True)
    prompt_tokens: Mapped[Optional[int]] = mapped_column(Integer, nullable=True)
    completion_tokens: Mapped[Optional[int]] = mapped_column(Integer, nullable=True)
    latency_s: Mapped[Optional[float]] = mapped_column(Float, nullable=True)
    truncated: Mapped[bool] = mapped_column(Boolean, default=False)
    origin: Mapped[str] = mapped_column(String(40), default="generated")  # generated|imported
    meta: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    __table_args__ = (UniqueConstraint("question_id", "model", "params_hash", name="uq_answer"),)


class AnswerFailure(Base):
    """A generation call that still failed after retries. Append-only; retried next run."""

    __tablename__ = "answer_failures"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    question_id: Mapped[str] = mapped_column(ForeignKey("questions.id"), index=True)
    model: Mapped[str] = mapped_column(String(200))
    params_hash: Mapped[str] = mapped_column(String(64))
    error: Mapped[str] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Battle(Base):
    """A question and two models. Display order is not part of a battle."""

    __tablename__ = "battles"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    question_id: Mapped[str] = mapped_column(ForeignKey("questions.id"))
    model_a: Mapped[str] = mapped_column(String(200))
    model_b: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    __table_args__ = (UniqueConstraint("question_id", "model_a", "model_b", name="uq_battle"),)


class Judgment(Base):
    """One judgment (append-only). Pairwise rows have a battle; single rows have an answer.

    ``first`` is which answer was shown first. ``outcome`` is relative to model_a/model_b.
    Scores: ``score_a``/``score_b`` for pairs and single ratings (single uses score_a),
    ``scores`` for rubric criteria. Human rows carry annotator, round, submission id (unique:
    a retried submit stores one row), time on task and comment.
    """

    __tablename__ = "judgments"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    mode: Mapped[str] = mapped_column(String(40))
    battle_id: Mapped[Optional[int]] = mapped_column(ForeignKey("battles.id"), nullable=True)
    answer_id: Mapped[Optional[int]] = mapped_column(ForeignKey("answers.id"), nullable=True)
    question_id: Mapped[str] = mapped_column(ForeignKey("questions.id"))
    model_a: Mapped[str] = mapped_column(String(200))
    model_b: Mapped[Optional[str]] = mapped_column(String(200), nullable=True)
    answer_a_id: Mapped[Optional[int]] = mapped_column(Integer, nullable=True)
    answer_b_id: Mapped[Optional[int]] = mapped_column(Integer, nullable=True)
    turn: Mapped[Optional[int]] = mapped_column(Integer, nullable=True)  # None = whole dialogue
    first: Mapped[Optional[str]] = mapped_column(String(1), nullable=True)
    judge_kind: Mapped[str] = mapped_column(String(20))
    judge_id: Mapped[str] = mapped_column(String(200))
    template_version: Mapped[Optional[str]] = mapped_column(String(64), nullable=True)
    policy: Mapped[Optional[str]] = mapped_column(String(40), nullable=True)
    outcome: Mapped[Optional[str]] = mapped_column(String(10), nullable=True)
    strength: Mapped[Optional[int]] = mapped_column(Integer, nullable=True)  # 1 = A>B, 2 = A>>B
    score_a: Mapped[Optional[float]] = mapped_column(Float, nullable=True)
    score_b: Mapped[Optional[float]] = mapped_column(Float, nullable=True)
    scores: Mapped[Optional[dict[str, Any]]] = mapped_column(JSON, nullable=True)
    rationale: Mapped[Optional[str]] = mapped_column(Text, nullable=True)
    raw_output: Mapped[Optional[str]] = mapped_column(Text, nullable=True)
    parse_status: Mapped[str] = mapped_column(String(10), default="ok")
    error: Mapped[Optional[str]] = mapped_column(Text, nullable=True)
    cache_key: Mapped[Optional[str]] = mapped_column(String(64), nullable=True, index=True)
    run_id: Mapped[Optional[str]] = mapped_column(String(64), nullable=True)
    annotator_id: Mapped[Optional[int]] = mapped_column(Integer, nullable=True, index=True)
    task_id: Mapped[Optional[int]] = mapped_column(Integer, nullable=True, index=True)
    round: Mapped[Optional[int]] = mapped_column(Integer, nullable=True)
    submission_id: Mapped[Optional[str]] = mapped_column(String(64), nullable=True, unique=True)
    time_on_task_s: Mapped[Optional[float]] = mapped_column(Float, nullable=True)
    comment: Mapped[Optional[str]] = mapped_column(Text, nullable=True)
    supersedes_id: Mapped[Optional[int]] = mapped_column(ForeignKey("judgments.id"), nullable=True,
                                                         index=True)
    meta: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    __table_args__ = (
        Index("ix_judgments_kind_judge", "judge_kind", "judge_id"),
        Index("ix_judgments_battle", "battle_id"),
    )



class User(Base):
    """An account. ``password_hash`` is None until an invited user sets a password."""

    __tablename__ = "users"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(120), unique=True)
    password_hash: Mapped[Optional[str]] = mapped_column(String(255), nullable=True)
    role: Mapped[str] = mapped_column(String(20), default="annotator")  # admin | annotator
    pseudonym: Mapped[str] = mapped_column(String(40), unique=True)  # used in exports
    invite_token: Mapped[Optional[str]] = mapped_column(String(80), nullable=True, unique=True)
    invite_expires_at: Mapped[Optional[datetime]] = mapped_column(DateTime(timezone=True),
                                                                  nullable=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    excluded: Mapped[bool] = mapped_column(Boolean, default=False)  # verdicts kept out of ratings
    # Why (the gold rule's figures, or "by <admin>"); cleared when the exclusion is undone.
    excluded_note: Mapped[Optional[str]] = mapped_column(String(300), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Task(Base):
    """An annotation task: what is shown (mode, scale), to how many annotators (overlap)."""

    __tablename__ = "tasks"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(200))
    mode: Mapped[str] = mapped_column(String(40))  # pairwise-all | pairwise-baseline | single
    scale: Mapped[str] = mapped_column(String(40), default="pairwise")  # pairwise|1-5|1-10|rubric
    criteria: Mapped[list[Any]] = mapped_column(JSON, default=list)
    overlap: Mapped[int] = mapped_column(Integer, default=1)
    status: Mapped[str] = mapped_column(String(20), default="active")  # active|paused|closed
    guidelines: Mapped[str] = mapped_column(Text, default="")
    show_references: Mapped[bool] = mapped_column(Boolean, default=False)
    lease_seconds: Mapped[int] = mapped_column(Integer, default=900)
    settings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_by: Mapped[Optional[int]] = mapped_column(ForeignKey("users.id"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class TaskItem(Base):
    """One thing to annotate: a pair of answers (pairwise) or one answer (single).

    ``answer_a_id`` belongs to the battle's ``model_a``; display order is per assignment.
    """

    __tablename__ = "task_items"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("tasks.id"))
    question_id: Mapped[str] = mapped_column(ForeignKey("questions.id"))
    battle_id: Mapped[Optional[int]] = mapped_column(ForeignKey("battles.id"), nullable=True)
    answer_a_id: Mapped[int] = mapped_column(ForeignKey("answers.id"))
    answer_b_id: Mapped[Optional[int]] = mapped_column(ForeignKey("answers.id"), nullable=True)
    model_a: Mapped[str] = mapped_column(String(200))
    model_b: Mapped[Optional[str]] = mapped_column(String(200), nullable=True)
    kind: Mapped[str] = mapped_column(String(20), default="normal")  # normal | gold
    # Gold items (annotate.gold): {"accept": [outcomes relative to model_a]} for pairs,
    # {"min": n, "max": m} for scores; verdicts on them are quality checks (judge_kind
    # "human-gold"), never ratings.
    gold: Mapped[Optional[dict[str, Any]]] = mapped_column(JSON, nullable=True)
    held_count: Mapped[int] = mapped_column(Integer, default=0)  # round-1 leased + done
    done_count: Mapped[int] = mapped_column(Integer, default=0)
    seq: Mapped[int] = mapped_column(Integer, default=0)
    __table_args__ = (
        UniqueConstraint("task_id", "answer_a_id", "answer_b_id", name="uq_task_item"),
    )


# The claim's scan order (annotate.assign): open items of a task, most holders first, then
# task order (id breaks ties). With this index the first open item is found without sorting
# the task, on SQLite and PostgreSQL alike.
Index("ix_task_items_claim", TaskItem.task_id, TaskItem.held_count.desc(), TaskItem.seq,
      TaskItem.id)


class Assignment(Base):
    """A lease of an item to an annotator.

    ``first`` is the side shown first (left) to this annotator, recorded on the server only.
    Status: leased -> done | skipped | expired (an expired lease may be leased again).
    """

    __tablename__ = "assignments"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("task_items.id"))
    task_id: Mapped[int] = mapped_column(ForeignKey("tasks.id"), index=True)
    annotator_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    round: Mapped[int] = mapped_column(Integer, default=1)  # 2+ for swap probes
    status: Mapped[str] = mapped_column(String(20), default="leased")  # leased|done|skipped|expired
    first: Mapped[Optional[str]] = mapped_column(String(1), nullable=True)
    leased_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[Optional[datetime]] = mapped_column(DateTime(timezone=True), nullable=True)
    finished_at: Mapped[Optional[datetime]] = mapped_column(DateTime(timezone=True), nullable=True)
    judgment_id: Mapped[Optional[int]] = mapped_column(ForeignKey("judgments.id"), nullable=True)
    skip_reason: Mapped[Optional[str]] = mapped_column(Text, nullable=True)
    time_on_task_s: Mapped[Optional[float]] = mapped_column(Float, nullable=True)
    __table_args__ = (
        UniqueConstraint("item_id", "annotator_id", "round", name="uq_assignment"),
        Index("ix_assignments_item_status", "item_id", "status"),
        Index("ix_assignments_task_status_expires", "task_id", "status", "expires_at"),
        # "my live lease on this task" (every claim): without it the lookup walks all of the
        # annotator's assignments, which grows with their work.
        Index("ix_assignments_annotator_task_status", "annotator_id", "task_id", "status"),
    )



SPINE_TABLES = [SchemaVersion, Document, Question, Reference, ModelRow, Answer, AnswerFailure,
                Battle, Judgment]
ANNOTATION_TABLES = [User, Task, TaskItem, Assignment]
METADATA = Base.metadata


def build_legacy_store(url: str) -> None:
    """Create a8040fd's schema in the empty store at ``url``, as its migrations 1 and 2 did."""
    engine = create_engine(url)
    if engine.dialect.name == "sqlite":
        @event.listens_for(engine, "connect")
        def _wal(dbapi_conn, _record):  # type: ignore[no-untyped-def]
            dbapi_conn.execute("PRAGMA journal_mode=WAL")  # as a8040fd's engine set it
    try:
        for version, tables in ((1, SPINE_TABLES), (2, ANNOTATION_TABLES)):
            with engine.begin() as conn:
                METADATA.create_all(conn, tables=[t.__table__ for t in tables])
                conn.execute(SchemaVersion.__table__.insert().values(version=version))
    finally:
        engine.dispose()
