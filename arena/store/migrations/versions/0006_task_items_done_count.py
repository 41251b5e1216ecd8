"""task_items loses done_count: an item's verdicts are counted from its done leases

``task_items.done_count`` was raised by every verdict in the verdict's transaction, on the row
every claim of the item locks; a verdict then waited for those claims to commit. The count
is now taken from ``assignments`` (round-1 leases with status ``done``: the same rule the
column followed), so the column is dropped. Nothing else changes; no row is lost.

Downgrade adds the column back with each item's count computed from its assignments.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("task_items") as batch:
        batch.drop_column("done_count")


def downgrade() -> None:
    with op.batch_alter_table("task_items") as batch:
        batch.add_column(sa.Column("done_count", sa.Integer(), nullable=False,
                                   server_default="0"))
    op.execute("UPDATE task_items SET done_count = (SELECT count(*) FROM assignments "
               "WHERE assignments.item_id = task_items.id AND assignments.status = 'done' "
               "AND assignments.round = 1)")
    # As 0001 made it: no server default.
    with op.batch_alter_table("task_items") as batch:
        batch.alter_column("done_count", server_default=None, existing_type=sa.Integer(),
                           existing_nullable=False)
