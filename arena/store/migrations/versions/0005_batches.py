"""batches: OpenAI Batch API jobs and their request ids, so a rerun polls instead of resubmitting

New tables ``batches`` (one row per provider batch: endpoint/model key, status, counts, file
ids, cost estimate, submitted / finished / ingested times) and ``batch_requests`` (the
``custom_id`` of every request a batch holds; unique per batch). Nothing existing changes.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "batches",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("provider_batch_id", sa.String(length=120), nullable=False),
        sa.Column("key", sa.String(length=300), nullable=False),
        sa.Column("model", sa.String(length=200), nullable=False),
        sa.Column("endpoint", sa.String(length=300), nullable=False),
        sa.Column("status", sa.String(length=40), nullable=False),
        sa.Column("request_count", sa.Integer(), nullable=False),
        sa.Column("completed", sa.Integer(), nullable=False),
        sa.Column("failed", sa.Integer(), nullable=False),
        sa.Column("cost", sa.Float(), nullable=True),
        sa.Column("input_file_id", sa.String(length=120), nullable=False),
        sa.Column("output_file_id", sa.String(length=120), nullable=True),
        sa.Column("error_file_id", sa.String(length=120), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ingested_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("provider_batch_id"))
    op.create_index("ix_batches_key", "batches", ["key"])
    op.create_table(
        "batch_requests",
        sa.Column("batch_id", sa.Integer(), nullable=False),
        sa.Column("custom_id", sa.String(length=80), nullable=False),
        sa.ForeignKeyConstraint(["batch_id"], ["batches.id"]),
        sa.PrimaryKeyConstraint("batch_id", "custom_id"))
    op.create_index("ix_batch_requests_custom_id", "batch_requests", ["custom_id"])


def downgrade() -> None:
    op.drop_index("ix_batch_requests_custom_id", table_name="batch_requests")
    op.drop_table("batch_requests")
    op.drop_index("ix_batches_key", table_name="batches")
    op.drop_table("batches")
