"""stored_jobs: the embedded runner's jobs survive a restart (issue 13)

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07 19:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import lastmile.db.base

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "stored_jobs",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=50), nullable=False),
        sa.Column("kwargs", sa.JSON(), nullable=False),
        sa.Column("run_at", lastmile.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("last_error", sa.String(length=1000), nullable=True),
        sa.Column("created_at", lastmile.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stored_jobs")),
    )
    with op.batch_alter_table("stored_jobs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_stored_jobs_run_at"), ["run_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("stored_jobs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_stored_jobs_run_at"))
    op.drop_table("stored_jobs")
