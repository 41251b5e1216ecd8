"""annotation: sessions that end, store-wide login limit, chosen annotators, pair stops, authoring

``users`` gets ``session_version`` (bumped by logout, password change, reset, deactivation and
role change: older session cookies stop working) and ``owner`` (the first admin, who alone
may reset other admins); ``tasks`` gets ``public_title``, ``archived`` and ``restricted``.
New tables: ``login_attempts`` (the login rate limit, shared by every server process),
``task_members`` (the annotators of a restricted task), ``task_pair_stops`` (pairs the
adaptive stop rule closed), and the authoring tables ``authoring_sets``,
``authoring_documents`` and ``authored_pairs``.

Rows stored before: invite tokens were kept in clear; they are replaced by their sha256 (what
the app now stores and looks up), so links already sent keep working. The owner is not set on
old stores: the app takes the admin with the lowest id, as it did.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import hashlib

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_users = sa.table("users", sa.column("id", sa.Integer()),
                  sa.column("invite_token", sa.String(80)))


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("session_version", sa.Integer(), server_default=sa.text("0"),
                                   nullable=False))
        batch.add_column(sa.Column("owner", sa.Boolean(), server_default=sa.false(),
                                   nullable=False))
    with op.batch_alter_table("tasks") as batch:
        batch.add_column(sa.Column("public_title", sa.String(length=200), nullable=True))
        batch.add_column(sa.Column("archived", sa.Boolean(), server_default=sa.false(),
                                   nullable=False))
        batch.add_column(sa.Column("restricted", sa.Boolean(), server_default=sa.false(),
                                   nullable=False))
    op.create_table(
        "login_attempts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"))
    op.create_index("ix_login_attempts_at", "login_attempts", ["at"])
    op.create_index("ix_login_attempts_key_at", "login_attempts", ["key", "at"])
    op.create_table(
        "task_members",
        sa.Column("task_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["task_id"], ["tasks.id"]),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"]),
        sa.PrimaryKeyConstraint("task_id", "user_id"))
    op.create_table(
        "task_pair_stops",
        sa.Column("task_id", sa.Integer(), nullable=False),
        sa.Column("model_a", sa.String(length=200), nullable=False),
        sa.Column("model_b", sa.String(length=200), nullable=False),
        sa.Column("reason", sa.String(length=20), nullable=False),
        sa.Column("detail", sa.String(length=300), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.Column("diff", sa.Float(), nullable=True),
        sa.Column("ci_low", sa.Float(), nullable=True),
        sa.Column("ci_high", sa.Float(), nullable=True),
        sa.Column("stopped_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["task_id"], ["tasks.id"]),
        sa.PrimaryKeyConstraint("task_id", "model_a", "model_b"))
    op.create_table(
        "authoring_sets",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("source", sa.String(length=200), nullable=False),
        sa.Column("new_pairs_num", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["created_by"], ["users.id"]),
        sa.PrimaryKeyConstraint("id"))
    op.create_index("ix_authoring_sets_source", "authoring_sets", ["source"])
    op.create_table(
        "authoring_documents",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("set_id", sa.Integer(), nullable=False),
        sa.Column("document_id", sa.String(length=80), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("task", sa.String(length=200), nullable=False),
        sa.Column("evaluation", sa.String(length=80), nullable=True),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("done_by", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["document_id"], ["documents.id"]),
        sa.ForeignKeyConstraint(["done_by"], ["users.id"]),
        sa.ForeignKeyConstraint(["set_id"], ["authoring_sets.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("set_id", "document_id", name="uq_authoring_doc"),
        sa.UniqueConstraint("set_id", "seq", name="uq_authoring_doc_seq"))
    op.create_table(
        "authored_pairs",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("doc_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("question_id", sa.String(length=255), nullable=True),
        sa.Column("deleted", sa.Boolean(), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["author_id"], ["users.id"]),
        sa.ForeignKeyConstraint(["doc_id"], ["authoring_documents.id"]),
        sa.ForeignKeyConstraint(["question_id"], ["questions.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("doc_id", "position", "version", name="uq_authored_pair_version"))
    op.create_index("ix_authored_pairs_question", "authored_pairs", ["question_id"])

    conn = op.get_bind()
    for uid, token in conn.execute(sa.select(_users.c.id, _users.c.invite_token).where(
            _users.c.invite_token.is_not(None))).all():
        if len(token) == 64 and all(c in "0123456789abcdef" for c in token):
            continue  # already a digest
        digest = hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()
        conn.execute(_users.update().where(_users.c.id == uid).values(invite_token=digest))


def downgrade() -> None:
    # Hashed invite tokens stay hashed (the clear tokens are gone): re-invite those users.
    op.drop_index("ix_authored_pairs_question", table_name="authored_pairs")
    op.drop_table("authored_pairs")
    op.drop_table("authoring_documents")
    op.drop_index("ix_authoring_sets_source", table_name="authoring_sets")
    op.drop_table("authoring_sets")
    op.drop_table("task_pair_stops")
    op.drop_table("task_members")
    op.drop_index("ix_login_attempts_key_at", table_name="login_attempts")
    op.drop_index("ix_login_attempts_at", table_name="login_attempts")
    op.drop_table("login_attempts")
    with op.batch_alter_table("tasks") as batch:
        batch.drop_column("restricted")
        batch.drop_column("archived")
        batch.drop_column("public_title")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("owner")
        batch.drop_column("session_version")
