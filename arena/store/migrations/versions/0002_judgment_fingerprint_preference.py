"""judgments: judge fingerprint and fractional preference

``judgments.fingerprint`` (the judge's identity, arena.identity; indexed) and
``judgments.preference`` (a weighted pairwise verdict, AlpacaEval's 1..2 convention), both
nullable: rows stored before have neither.

Also records version 3 in the legacy ``arena_schema_version`` table. Arena releases from before
Alembic read only that table; version 3 is above their newest (2), so they refuse this store
("newer than this code") instead of writing to a schema they do not know.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

from datetime import datetime, timezone

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

LEGACY_MARKER = 3

_legacy = sa.table("arena_schema_version", sa.column("version", sa.Integer()),
                   sa.column("applied_at", sa.DateTime(timezone=True)))


def upgrade() -> None:
    with op.batch_alter_table("judgments") as batch:
        batch.add_column(sa.Column("fingerprint", sa.String(64), nullable=True))
        batch.add_column(sa.Column("preference", sa.Float(), nullable=True))
        batch.create_index("ix_judgments_fingerprint", ["fingerprint"])
    op.bulk_insert(_legacy, [{"version": LEGACY_MARKER,
                              "applied_at": datetime.now(timezone.utc)}])


def downgrade() -> None:
    op.execute(_legacy.delete().where(_legacy.c.version == LEGACY_MARKER))
    with op.batch_alter_table("judgments") as batch:
        batch.drop_index("ix_judgments_fingerprint")
        batch.drop_column("preference")
        batch.drop_column("fingerprint")
