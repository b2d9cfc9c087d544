"""notifications: the delivery window each message told the customer (corrections follow when
the promise moves away from it)

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07 23:45:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from lastmile.db.base import UTCDateTime

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.add_column(sa.Column("promise_from", UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("promise_to", UTCDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.drop_column("promise_to")
        batch_op.drop_column("promise_from")
