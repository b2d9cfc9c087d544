"""orders: a flexible date range (earliest_date, latest_date); plan_weeks: multi-day plans,
one plan per day grouped by plans.week_id

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-08 02:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from lastmile.db.base import UTCDateTime

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.add_column(sa.Column("earliest_date", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("latest_date", sa.Date(), nullable=True))
    op.create_table(
        "plan_weeks",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("org_id", sa.String(length=32), nullable=False),
        sa.Column("start", sa.Date(), nullable=False),
        sa.Column("end", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("progress", sa.Float(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("summary", sa.JSON(), nullable=True),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("finished_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organisations.id"],
            name=op.f("fk_plan_weeks_org_id_organisations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_plan_weeks")),
    )
    with op.batch_alter_table("plan_weeks", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_plan_weeks_org_id"), ["org_id"], unique=False)
    with op.batch_alter_table("plans", schema=None) as batch_op:
        batch_op.add_column(sa.Column("week_id", sa.String(length=32), nullable=True))
        batch_op.create_index(batch_op.f("ix_plans_week_id"), ["week_id"], unique=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_plans_week_id_plan_weeks"),
            "plan_weeks",
            ["week_id"],
            ["id"],
            ondelete="SET NULL",
        )


def downgrade() -> None:
    with op.batch_alter_table("plans", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_plans_week_id_plan_weeks"), type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_plans_week_id"))
        batch_op.drop_column("week_id")
    with op.batch_alter_table("plan_weeks", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_plan_weeks_org_id"))
    op.drop_table("plan_weeks")
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_column("latest_date")
        batch_op.drop_column("earliest_date")
