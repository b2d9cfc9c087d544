"""orders.pod_policy: an order's own ways of handing over (issue 14, item 4)

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07 20:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.add_column(sa.Column("pod_policy", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_column("pod_policy")
