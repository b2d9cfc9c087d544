"""organisations: simulation organisations and their own clock (start, speed)

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07 23:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from lastmile.db.base import UTCDateTime

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("organisations", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("simulation", sa.Boolean(), nullable=False, server_default="0")
        )
        batch_op.add_column(sa.Column("simulation_of", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("clock_start", UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column("clock_anchor", UTCDateTime(), nullable=True))
        batch_op.add_column(
            sa.Column("clock_speed", sa.Float(), nullable=False, server_default="1")
        )
        batch_op.create_index(
            batch_op.f("ix_organisations_simulation_of"), ["simulation_of"], unique=False
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_organisations_simulation_of_organisations"),
            "organisations",
            ["simulation_of"],
            ["id"],
            ondelete="CASCADE",
        )


def downgrade() -> None:
    with op.batch_alter_table("organisations", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_organisations_simulation_of_organisations"), type_="foreignkey"
        )
        batch_op.drop_index(batch_op.f("ix_organisations_simulation_of"))
        batch_op.drop_column("clock_speed")
        batch_op.drop_column("clock_anchor")
        batch_op.drop_column("clock_start")
        batch_op.drop_column("simulation_of")
        batch_op.drop_column("simulation")
