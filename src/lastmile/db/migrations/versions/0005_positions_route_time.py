"""positions: index (route_id, recorded_at) for a route's newest point and its track

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06 23:20:00
"""

from __future__ import annotations

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("positions", schema=None) as batch_op:
        batch_op.create_index("ix_positions_route_time", ["route_id", "recorded_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("positions", schema=None) as batch_op:
        batch_op.drop_index("ix_positions_route_time")
