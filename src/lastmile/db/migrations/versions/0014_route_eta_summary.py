"""routes: when and from where lastmile.live last predicted the route (readers use that stored
prediction while it is fresh; reads never write)

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07 23:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from lastmile.db.base import UTCDateTime

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("routes", schema=None) as batch_op:
        batch_op.add_column(sa.Column("eta_computed_at", UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("eta_origin", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("eta_end_s", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column("eta_overtime_s", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.add_column(
            sa.Column("eta_pace_travel", sa.Float(), nullable=False, server_default="1.0")
        )
        batch_op.add_column(
            sa.Column("eta_pace_service", sa.Float(), nullable=False, server_default="1.0")
        )


def downgrade() -> None:
    with op.batch_alter_table("routes", schema=None) as batch_op:
        for name in (
            "eta_pace_service",
            "eta_pace_travel",
            "eta_overtime_s",
            "eta_end_s",
            "eta_origin",
            "eta_computed_at",
        ):
            batch_op.drop_column(name)
