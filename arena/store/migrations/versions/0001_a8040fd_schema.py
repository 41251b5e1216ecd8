"""the schema of release a8040fd: pipeline spine and annotation tables

The last schema made by the pre-Alembic migrations (versions 1 and 2 in
``arena_schema_version``). Stores built by that code are stamped at this revision instead of
running it. Constraints are listed in the order ``create_all`` emitted them, so the DDL text
on SQLite is the same; ``tests/store/test_store_revisions.py`` compares both schemas.

Revision ID: 0001
Revises: (none)
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

_TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "arena_schema_version",
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("applied_at", _TZ, nullable=False),
        sa.PrimaryKeyConstraint("version"),
    )
    op.create_table(
        "documents",
        sa.Column("id", sa.String(80), nullable=False),
        sa.Column("source", sa.String(200), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("meta", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "questions",
        sa.Column("id", sa.String(255), nullable=False),
        sa.Column("source", sa.String(200), nullable=False),
        sa.Column("local_id", sa.String(255), nullable=False),
        sa.Column("category", sa.String(200), nullable=False),
        sa.Column("turns", sa.JSON(), nullable=False),
        sa.Column("document_id", sa.String(80), nullable=True),
        sa.Column("meta", sa.JSON(), nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("created_at", _TZ, nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.ForeignKeyConstraint(["document_id"], ["documents.id"]),
    )
    op.create_index("ix_questions_source", "questions", ["source"])
    op.create_index("ix_questions_category", "questions", ["category"])
    op.create_table(
        "references",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("question_id", sa.String(255), nullable=False),
        sa.Column("author", sa.String(200), nullable=False),
        sa.Column("turns", sa.JSON(), nullable=False),
        sa.Column("created_at", _TZ, nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("question_id", "author", name="uq_reference"),
        sa.ForeignKeyConstraint(["question_id"], ["questions.id"]),
    )
    op.create_index("ix_references_question_id", "references", ["question_id"])
    op.create_table(
        "models",
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("backend", sa.String(40), nullable=False),
        sa.Column("spec", sa.JSON(), nullable=False),
        sa.Column("created_at", _TZ, nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_table(
        "answers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("question_id", sa.String(255), nullable=False),
        sa.Column("model", sa.String(200), nullable=False),
        sa.Column("params_hash", sa.String(64), nullable=False),
        sa.Column("turns", sa.JSON(), nullable=False),
        sa.Column("reasoning", sa.JSON(), nullable=True),
        sa.Column("finish_reason", sa.String(40), nullable=True),
        sa.Column("prompt_tokens", sa.Integer(), nullable=True),
        sa.Column("completion_tokens", sa.Integer(), nullable=True),
        sa.Column("latency_s", sa.Float(), nullable=True),
        sa.Column("truncated", sa.Boolean(), nullable=False),
        sa.Column("origin", sa.String(40), nullable=False),
        sa.Column("meta", sa.JSON(), nullable=False),
        sa.Column("created_at", _TZ, nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("question_id", "model", "params_hash", name="uq_answer"),
        sa.ForeignKeyConstraint(["question_id"], ["questions.id"]),
    )
    op.create_index("ix_answers_model", "answers", ["model"])
    op.create_table(
        "answer_failures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("question_id", sa.String(255), nullable=False),
        sa.Column("model", sa.String(200), nullable=False),
        sa.Column("params_hash", sa.String(64), nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", _TZ, nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.ForeignKeyConstraint(["question_id"], ["questions.id"]),
    )
    op.create_index("ix_answer_failures_question_id", "answer_failures", ["question_id"])
    op.create_table(
        "battles",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("question_id", sa.String(255), nullable=False),
        sa.Column("model_a", sa.String(200), nullable=False),
        sa.Column("model_b", sa.String(200), nullable=False),
        sa.Column("created_at", _TZ, nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("question_id", "model_a", "model_b", name="uq_battle"),
        sa.ForeignKeyConstraint(["question_id"], ["questions.id"]),
    )
    op.create_table(
        "judgments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("mode", sa.String(40), nullable=False),
        sa.Column("battle_id", sa.Integer(), nullable=True),
        sa.Column("answer_id", sa.Integer(), nullable=True),
        sa.Column("question_id", sa.String(255), nullable=False),
        sa.Column("model_a", sa.String(200), nullable=False),
        sa.Column("model_b", sa.String(200), nullable=True),
        sa.Column("answer_a_id", sa.Integer(), nullable=True),
        sa.Column("answer_b_id", sa.Integer(), nullable=True),
        sa.Column("turn", sa.Integer(), nullable=True),
        sa.Column("first", sa.String(1), nullable=True),
        sa.Column("judge_kind", sa.String(20), nullable=False),
        sa.Column("judge_id", sa.String(200), nullable=False),
        sa.Column("template_version", sa.String(64), nullable=True),
        sa.Column("policy", sa.String(40), nullable=True),
        sa.Column("outcome", sa.String(10), nullable=True),
        sa.Column("strength", sa.Integer(), nullable=True),
        sa.Column("score_a", sa.Float(), nullable=True),
        sa.Column("score_b", sa.Float(), nullable=True),
        sa.Column("scores", sa.JSON(), nullable=True),
        sa.Column("rationale", sa.Text(), nullable=True),
        sa.Column("raw_output", sa.Text(), nullable=True),
        sa.Column("parse_status", sa.String(10), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("cache_key", sa.String(64), nullable=True),
        sa.Column("run_id", sa.String(64), nullable=True),
        sa.Column("annotator_id", sa.Integer(), nullable=True),
        sa.Column("task_id", sa.Integer(), nullable=True),
        sa.Column("round", sa.Integer(), nullable=True),
        sa.Column("submission_id", sa.String(64), nullable=True),
        sa.Column("time_on_task_s", sa.Float(), nullable=True),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("supersedes_id", sa.Integer(), nullable=True),
        sa.Column("meta", sa.JSON(), nullable=False),
        sa.Column("created_at", _TZ, nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.ForeignKeyConstraint(["battle_id"], ["battles.id"]),
        sa.ForeignKeyConstraint(["answer_id"], ["answers.id"]),
        sa.ForeignKeyConstraint(["question_id"], ["questions.id"]),
        sa.UniqueConstraint("submission_id"),
        sa.ForeignKeyConstraint(["supersedes_id"], ["judgments.id"]),
    )
    op.create_index("ix_judgments_cache_key", "judgments", ["cache_key"])
    op.create_index("ix_judgments_annotator_id", "judgments", ["annotator_id"])
    op.create_index("ix_judgments_task_id", "judgments", ["task_id"])
    op.create_index("ix_judgments_supersedes_id", "judgments", ["supersedes_id"])
    op.create_index("ix_judgments_kind_judge", "judgments", ["judge_kind", "judge_id"])
    op.create_index("ix_judgments_battle", "judgments", ["battle_id"])
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(120), nullable=False),
        sa.Column("password_hash", sa.String(255), nullable=True),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("pseudonym", sa.String(40), nullable=False),
        sa.Column("invite_token", sa.String(80), nullable=True),
        sa.Column("invite_expires_at", _TZ, nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("excluded", sa.Boolean(), nullable=False),
        sa.Column("excluded_note", sa.String(300), nullable=True),
        sa.Column("created_at", _TZ, nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("username"),
        sa.UniqueConstraint("pseudonym"),
        sa.UniqueConstraint("invite_token"),
    )
    op.create_table(
        "tasks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("mode", sa.String(40), nullable=False),
        sa.Column("scale", sa.String(40), nullable=False),
        sa.Column("criteria", sa.JSON(), nullable=False),
        sa.Column("overlap", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("guidelines", sa.Text(), nullable=False),
        sa.Column("show_references", sa.Boolean(), nullable=False),
        sa.Column("lease_seconds", sa.Integer(), nullable=False),
        sa.Column("settings", sa.JSON(), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", _TZ, nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.ForeignKeyConstraint(["created_by"], ["users.id"]),
    )
    op.create_table(
        "task_items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("task_id", sa.Integer(), nullable=False),
        sa.Column("question_id", sa.String(255), nullable=False),
        sa.Column("battle_id", sa.Integer(), nullable=True),
        sa.Column("answer_a_id", sa.Integer(), nullable=False),
        sa.Column("answer_b_id", sa.Integer(), nullable=True),
        sa.Column("model_a", sa.String(200), nullable=False),
        sa.Column("model_b", sa.String(200), nullable=True),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("gold", sa.JSON(), nullable=True),
        sa.Column("held_count", sa.Integer(), nullable=False),
        sa.Column("done_count", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("task_id", "answer_a_id", "answer_b_id", name="uq_task_item"),
        sa.ForeignKeyConstraint(["task_id"], ["tasks.id"]),
        sa.ForeignKeyConstraint(["question_id"], ["questions.id"]),
        sa.ForeignKeyConstraint(["battle_id"], ["battles.id"]),
        sa.ForeignKeyConstraint(["answer_a_id"], ["answers.id"]),
        sa.ForeignKeyConstraint(["answer_b_id"], ["answers.id"]),
    )
    # The annotation claim's scan order: most holders first (DESC on both dialects).
    op.create_index("ix_task_items_claim", "task_items",
                    ["task_id", sa.text("held_count DESC"), "seq", "id"])
    op.create_table(
        "assignments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("task_id", sa.Integer(), nullable=False),
        sa.Column("annotator_id", sa.Integer(), nullable=False),
        sa.Column("round", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("first", sa.String(1), nullable=True),
        sa.Column("leased_at", _TZ, nullable=False),
        sa.Column("expires_at", _TZ, nullable=True),
        sa.Column("finished_at", _TZ, nullable=True),
        sa.Column("judgment_id", sa.Integer(), nullable=True),
        sa.Column("skip_reason", sa.Text(), nullable=True),
        sa.Column("time_on_task_s", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("item_id", "annotator_id", "round", name="uq_assignment"),
        sa.ForeignKeyConstraint(["item_id"], ["task_items.id"]),
        sa.ForeignKeyConstraint(["task_id"], ["tasks.id"]),
        sa.ForeignKeyConstraint(["annotator_id"], ["users.id"]),
        sa.ForeignKeyConstraint(["judgment_id"], ["judgments.id"]),
    )
    op.create_index("ix_assignments_task_id", "assignments", ["task_id"])
    op.create_index("ix_assignments_annotator_id", "assignments", ["annotator_id"])
    op.create_index("ix_assignments_item_status", "assignments", ["item_id", "status"])
    op.create_index("ix_assignments_task_status_expires", "assignments",
                    ["task_id", "status", "expires_at"])
    op.create_index("ix_assignments_annotator_task_status", "assignments",
                    ["annotator_id", "task_id", "status"])


def downgrade() -> None:
    for table in ("assignments", "task_items", "tasks", "users", "judgments", "battles",
                  "answer_failures", "answers", "models", "references", "questions",
                  "documents", "arena_schema_version"):
        op.drop_table(table)
