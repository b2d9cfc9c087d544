"""stops: the as-dispatched arrival (what the driver and the customer were given) and the
route a stop was moved from

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07 19:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("stops", schema=None) as batch_op:
        batch_op.add_column(sa.Column("dispatched_arrival_s", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("moved_from_route_id", sa.String(length=32), nullable=True))
    # Routes already sent to drivers: their current arrival is the best record of it.
    op.execute(
        "UPDATE stops SET dispatched_arrival_s = arrival_s WHERE route_id IN "
        "(SELECT id FROM routes WHERE status IN ('dispatched', 'started', 'finished'))"
    )


def downgrade() -> None:
    with op.batch_alter_table("stops", schema=None) as batch_op:
        batch_op.drop_column("moved_from_route_id")
        batch_op.drop_column("dispatched_arrival_s")
