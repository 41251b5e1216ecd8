"""Tables of the human-annotation app: accounts, tasks, items and leases.

They live in the same metadata and migration history as the pipeline's tables (revision 0001
of ``arena.store.migrations`` creates them), so one ``arena db upgrade`` serves every entry
point. Verdicts themselves are ``Judgment`` rows (judge_kind='human'); a skip is an
``Assignment`` row with a reason, never a verdict.

Counting rule (``annotate.assign``): ``TaskItem.held_count`` is the number of round-1
assignments of the item that are live (``leased``) or ``done``; a claim increments it only
while it is below the task's overlap, in one UPDATE, so an item is never held by more
annotators than its overlap, whatever the concurrency.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Optional

from sqlalchemy import (JSON, Boolean, DateTime, Float, ForeignKey, Index, Integer, String, Text,
                        UniqueConstraint, false, text)
from sqlalchemy.orm import Mapped, mapped_column

from arena.store.schema import Base, utcnow


class User(Base):
    """An account. ``password_hash`` is None until an invited user sets a password.

    ``invite_token`` holds the SHA-256 (hex) of an invite or password-reset link's token, never
    the token itself. ``session_version`` is written into every session cookie at login; a
    logout, password change or reset, deactivation or role change increments it, which ends
    every session of the account (``annotate.auth``).
    """

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
    session_version: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    # The first admin account: the only one that may reset, deactivate or change the role of
    # other admins (``annotate.accounts``).
    owner: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class LoginAttempt(Base):
    """One login attempt, kept for the rate limit's window (``annotate.ratelimit``).

    In the store, so every server process (``arena annotate --workers N``) counts the same
    attempts. ``key`` is ``user:<lower-case name>`` or ``addr:<client address>``.
    """

    __tablename__ = "login_attempts"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(200))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    __table_args__ = (Index("ix_login_attempts_key_at", "key", "at"),)


class Task(Base):
    """An annotation task: what is shown (mode, scale), to how many annotators (overlap)."""

    __tablename__ = "tasks"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(200))  # the admins' name; annotators never see it
    # What annotators see instead of the name (None: "Task <id>"): a name such as
    # "... vs turbo-16k" would unblind them.
    public_title: Mapped[Optional[str]] = mapped_column(String(200), nullable=True)
    mode: Mapped[str] = mapped_column(String(40))  # pairwise-all | pairwise-baseline | single
    scale: Mapped[str] = mapped_column(String(40), default="pairwise")  # pairwise|1-5|1-10|rubric
    criteria: Mapped[list[Any]] = mapped_column(JSON, default=list)
    overlap: Mapped[int] = mapped_column(Integer, default=1)
    status: Mapped[str] = mapped_column(String(20), default="active")  # active|paused|closed
    # Archived tasks are hidden from every list and refuse verdicts, whatever their status.
    archived: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # Only the users listed in task_members may work on it (``annotate.members``).
    restricted: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    guidelines: Mapped[str] = mapped_column(Text, default="")
    show_references: Mapped[bool] = mapped_column(Boolean, default=False)
    lease_seconds: Mapped[int] = mapped_column(Integer, default=900)
    settings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_by: Mapped[Optional[int]] = mapped_column(ForeignKey("users.id"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class TaskMember(Base):
    """An annotator chosen for a restricted task (``Task.restricted``)."""

    __tablename__ = "task_members"
    task_id: Mapped[int] = mapped_column(ForeignKey("tasks.id"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    added_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class TaskItem(Base):
    """One thing to annotate: a pair of answers (pairwise) or one answer (single).

    ``answer_a_id`` belongs to the item's ``model_a`` (battles are unordered pairs); display
    order is per assignment.
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
    # Round-1 leases that are live or done: the claim's "below the overlap" test, one atomic
    # UPDATE ... WHERE held_count < overlap. How many verdicts an item has is counted from
    # its done assignments (annotate.assign.done_per_item), not kept here: a verdict that
    # updated this row waited on every claim holding it (the hottest rows of a task).
    held_count: Mapped[int] = mapped_column(Integer, default=0)
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


class TaskPairStop(Base):
    """A pair of models the adaptive stop rule closed for a task (``annotate.adaptive``):
    ``reason`` separated (the CI of the rating difference excludes 0) or cap (the per-pair
    verdict cap), with the figures at that moment. Sticky: the pair gets no more items."""

    __tablename__ = "task_pair_stops"
    task_id: Mapped[int] = mapped_column(ForeignKey("tasks.id"), primary_key=True)
    model_a: Mapped[str] = mapped_column(String(200), primary_key=True)
    model_b: Mapped[str] = mapped_column(String(200), primary_key=True)
    reason: Mapped[str] = mapped_column(String(20))
    detail: Mapped[str] = mapped_column(String(300), default="")
    n: Mapped[int] = mapped_column(Integer, default=0)
    diff: Mapped[Optional[float]] = mapped_column(Float, nullable=True)
    ci_low: Mapped[Optional[float]] = mapped_column(Float, nullable=True)
    ci_high: Mapped[Optional[float]] = mapped_column(Float, nullable=True)
    stopped_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class AuthoringSet(Base):
    """A long-document set opened for writing instruction / reference pairs
    (``annotate.authoring``; L-Eval's ``web_annotate_jsonl``). Its questions live under
    ``source``; ``new_pairs_num`` is how many empty pairs each document page offers."""

    __tablename__ = "authoring_sets"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(200))
    source: Mapped[str] = mapped_column(String(200), index=True)
    new_pairs_num: Mapped[int] = mapped_column(Integer, default=1)
    created_by: Mapped[Optional[int]] = mapped_column(ForeignKey("users.id"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class AuthoringDocument(Base):
    """A document of a set, in the set's order; ``done_at`` once an author marked it done.
    ``task`` and ``evaluation`` are L-Eval's ``source`` and ``evaluation`` fields."""

    __tablename__ = "authoring_documents"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    set_id: Mapped[int] = mapped_column(ForeignKey("authoring_sets.id"))
    document_id: Mapped[str] = mapped_column(ForeignKey("documents.id"))
    seq: Mapped[int] = mapped_column(Integer)
    task: Mapped[str] = mapped_column(String(200), default="")
    evaluation: Mapped[Optional[str]] = mapped_column(String(80), nullable=True)
    done_at: Mapped[Optional[datetime]] = mapped_column(DateTime(timezone=True), nullable=True)
    done_by: Mapped[Optional[int]] = mapped_column(ForeignKey("users.id"), nullable=True)
    __table_args__ = (UniqueConstraint("set_id", "seq", name="uq_authoring_doc_seq"),
                      UniqueConstraint("set_id", "document_id", name="uq_authoring_doc"))


class AuthoredPair(Base):
    """One version of the instruction / reference pair at ``position`` of a set's document.

    Append-only: an edit is a new row with ``version + 1`` and a new question (the old
    question and its reference stay as they were); the current pair is the highest version;
    ``deleted`` marks a pair taken out (no question then)."""

    __tablename__ = "authored_pairs"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    doc_id: Mapped[int] = mapped_column(ForeignKey("authoring_documents.id"))
    position: Mapped[int] = mapped_column(Integer)
    version: Mapped[int] = mapped_column(Integer, default=1)
    question_id: Mapped[Optional[str]] = mapped_column(ForeignKey("questions.id"), nullable=True)
    deleted: Mapped[bool] = mapped_column(Boolean, default=False)
    author_id: Mapped[Optional[int]] = mapped_column(ForeignKey("users.id"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    __table_args__ = (UniqueConstraint("doc_id", "position", "version",
                                       name="uq_authored_pair_version"),
                      Index("ix_authored_pairs_question", "question_id"))


ANNOTATION_TABLES = [User, LoginAttempt, Task, TaskMember, TaskItem, Assignment, TaskPairStop,
                     AuthoringSet, AuthoringDocument, AuthoredPair]

