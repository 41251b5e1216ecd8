"""The one schema every entry point shares: pipeline, annotation app and viewer.

Tables are SQLAlchemy 2.0 declarative models on ``Base``; the annotation app binds
Flask-SQLAlchemy to ``Base.metadata`` so there is one schema and one migration history
(``arena.store.migrations``).

Conventions:
- Question ids are namespaced by source (``"<source>/<id>"``) so two question sets never collide.
- A pairwise ``Judgment.outcome`` is relative to ``model_a`` / ``model_b``; which answer was
  *displayed* first is ``Judgment.first`` ("A" or "B") and belongs to each judgment.
- Judgments are append-only; a correction is a new row whose ``supersedes_id`` names the row it
  replaces. A verdict that could not be parsed has ``parse_status='failed'`` and no outcome.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Optional

from sqlalchemy import (JSON, Boolean, DateTime, Float, ForeignKey, Index, Integer, String, Text,
                        UniqueConstraint, text)
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
    judge_id: Mapped[str] = mapped_column(String(200))  # a label; the fingerprint is the identity
    # Hash of everything that changes a machine judge's output (arena.identity); None for humans.
    fingerprint: Mapped[Optional[str]] = mapped_column(String(64), nullable=True, index=True)
    template_version: Mapped[Optional[str]] = mapped_column(String(64), nullable=True)
    policy: Mapped[Optional[str]] = mapped_column(String(40), nullable=True)
    outcome: Mapped[Optional[str]] = mapped_column(String(10), nullable=True)
    strength: Mapped[Optional[int]] = mapped_column(Integer, nullable=True)  # 1 = A>B, 2 = A>>B
    # A fractional pairwise verdict in AlpacaEval's convention, in model terms: 1 = model_a's
    # answer preferred, 2 = model_b's, 1.5 a draw (weighted judges, AlpacaEval 2 annotations).
    # ``outcome`` then holds the nearest discrete outcome; ratings use the fraction.
    preference: Mapped[Optional[float]] = mapped_column(Float, nullable=True)
    score_a: Mapped[Optional[float]] = mapped_column(Float, nullable=True)
    score_b: Mapped[Optional[float]] = mapped_column(Float, nullable=True)
    scores: Mapped[Optional[dict[str, Any]]] = mapped_column(JSON, nullable=True)
    rationale: Mapped[Optional[str]] = mapped_column(Text, nullable=True)
    raw_output: Mapped[Optional[str]] = mapped_column(Text, nullable=True)
    parse_status: Mapped[str] = mapped_column(String(10), default="ok")
    error: Mapped[Optional[str]] = mapped_column(Text, nullable=True)
    # The judgment's identity (arena.identity.judgment_key); unique among usable rows.
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
        # One usable judgment per identity, enforced by the database (several workers may
        # judge one config at once). Failed rows are not unique: each retry is kept.
        Index("uq_judgments_key_ok", "cache_key", unique=True,
              sqlite_where=text("parse_status = 'ok'"),
              postgresql_where=text("parse_status = 'ok'")),
    )


class JudgeFailure(Base):
    """A judge call that still failed after retries (connection refused, timeout, HTTP 5xx).
    Not a judgment: nothing was judged, so a plain rerun retries the item. Append-only."""

    __tablename__ = "judge_failures"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    cache_key: Mapped[str] = mapped_column(String(64), index=True)
    fingerprint: Mapped[str] = mapped_column(String(64))
    judge_id: Mapped[str] = mapped_column(String(200))
    question_id: Mapped[str] = mapped_column(String(255))
    model_a: Mapped[str] = mapped_column(String(200))
    model_b: Mapped[Optional[str]] = mapped_column(String(200), nullable=True)
    error: Mapped[str] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=1)
    run_id: Mapped[Optional[str]] = mapped_column(String(64), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Claim(Base):
    """A unit of paid work (one answer, one judgment) held by one worker until ``expires_at``.

    Workers claim before they call and delete the claim when the result is stored; a worker
    that dies leaves its claims to expire, and then another takes them (``arena.claims``)."""

    __tablename__ = "claims"
    key: Mapped[str] = mapped_column(String(80), primary_key=True)
    owner: Mapped[str] = mapped_column(String(120))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class BudgetRound(Base):
    """Spend of one config's workers that run at the same time (``arena.llm.shared_budget``):
    ``max_calls`` / ``max_cost`` hold across them. A round is open while a worker has been seen
    within its lease; a run that starts when none is open starts a new round."""

    __tablename__ = "budget_rounds"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(200))
    generation: Mapped[int] = mapped_column(Integer)
    calls: Mapped[int] = mapped_column(Integer, default=0)
    cost: Mapped[float] = mapped_column(Float, default=0.0)  # booked: spent + reserved
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_seen: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    __table_args__ = (UniqueConstraint("key", "generation", name="uq_budget_round"),)


class BatchJob(Base):
    """One OpenAI Batch API batch (``arena.llm.batch_store``): recorded, with every request
    id it holds, in one transaction before it is created at the provider (``provider_batch_id``
    is ``file:<input file id>`` until the provider answers with its id), so a rerun finds it
    and polls it instead of submitting its requests again. ``key`` names the
    endpoint and model (``batch_key``). ``status`` is the provider's (validating, in_progress,
    finalizing, completed, failed, expired, cancelling, cancelled); ``ingested_at`` is set once
    all its results were handed to the stage. ``cost`` is the worst-case estimate at batch
    prices when it was submitted. ``not_created``: recorded, never created (closed)."""

    __tablename__ = "batches"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    provider_batch_id: Mapped[str] = mapped_column(String(120), unique=True)
    key: Mapped[str] = mapped_column(String(300), index=True)
    model: Mapped[str] = mapped_column(String(200))
    endpoint: Mapped[str] = mapped_column(String(300))
    status: Mapped[str] = mapped_column(String(40))
    request_count: Mapped[int] = mapped_column(Integer, default=0)
    completed: Mapped[int] = mapped_column(Integer, default=0)
    failed: Mapped[int] = mapped_column(Integer, default=0)
    cost: Mapped[Optional[float]] = mapped_column(Float, nullable=True)
    input_file_id: Mapped[str] = mapped_column(String(120))
    output_file_id: Mapped[Optional[str]] = mapped_column(String(120), nullable=True)
    error_file_id: Mapped[Optional[str]] = mapped_column(String(120), nullable=True)
    reason: Mapped[Optional[str]] = mapped_column(Text, nullable=True)
    submitted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    finished_at: Mapped[Optional[datetime]] = mapped_column(DateTime(timezone=True),
                                                            nullable=True)
    ingested_at: Mapped[Optional[datetime]] = mapped_column(DateTime(timezone=True),
                                                            nullable=True)


class BatchRequest(Base):
    """A request id (``custom_id``: a hash of the request body) inside a batch."""

    __tablename__ = "batch_requests"
    batch_id: Mapped[int] = mapped_column(ForeignKey("batches.id"), primary_key=True)
    custom_id: Mapped[str] = mapped_column(String(80), primary_key=True, index=True)


SPINE_TABLES = [SchemaVersion, Document, Question, Reference, ModelRow, Answer, AnswerFailure,
                Battle, Judgment, JudgeFailure, Claim, BudgetRound, BatchJob, BatchRequest]
