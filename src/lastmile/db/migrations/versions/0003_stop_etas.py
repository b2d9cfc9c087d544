"""live ETAs per stop (issue 6)

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24 16:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import lastmile.db.base

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "stop_etas",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("stop_id", sa.String(length=32), nullable=False),
        sa.Column("route_id", sa.String(length=32), nullable=False),
        sa.Column("order_id", sa.String(length=32), nullable=True),
        sa.Column("arrival_s", sa.Integer(), nullable=False),
        sa.Column("start_s", sa.Integer(), nullable=False),
        sa.Column("departure_s", sa.Integer(), nullable=False),
        sa.Column("level", sa.String(length=16), nullable=False),
        sa.Column("late_s", sa.Integer(), nullable=False),
        sa.Column("promise_start_s", sa.Integer(), nullable=True),
        sa.Column("promise_end_s", sa.Integer(), nullable=True),
        sa.Column("pace_travel", sa.Float(), nullable=False),
        sa.Column("pace_service", sa.Float(), nullable=False),
        sa.Column("computed_at", lastmile.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("org_id", sa.String(length=32), nullable=False),
        sa.Column("created_at", lastmile.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organisations.id"],
            name=op.f("fk_stop_etas_org_id_organisations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["route_id"], ["routes.id"], name=op.f("fk_stop_etas_route_id_routes"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["stop_id"], ["stops.id"], name=op.f("fk_stop_etas_stop_id_stops"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stop_etas")),
        sa.UniqueConstraint("stop_id", name=op.f("uq_stop_etas_stop_id")),
    )
    with op.batch_alter_table("stop_etas", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_stop_etas_org_id"), ["org_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_stop_etas_route_id"), ["route_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("stop_etas", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_stop_etas_route_id"))
        batch_op.drop_index(batch_op.f("ix_stop_etas_org_id"))
    op.drop_table("stop_etas")
