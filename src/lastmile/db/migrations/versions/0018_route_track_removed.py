"""routes: track_removed_m, the GPS track length whose positions retention deleted

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-08 02:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("routes", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("track_removed_m", sa.Float(), nullable=False, server_default="0")
        )


def downgrade() -> None:
    with op.batch_alter_table("routes", schema=None) as batch_op:
        batch_op.drop_column("track_removed_m")
