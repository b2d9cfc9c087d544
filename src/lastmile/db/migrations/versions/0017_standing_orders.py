"""standing_orders, standing_occurrences, closed_days: recurring orders (issue 18 b)

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-08 02:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import lastmile.db.base

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('closed_days',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('date', sa.Date(), nullable=False),
    sa.Column('note', sa.String(length=200), nullable=False),
    sa.Column('org_id', sa.String(length=32), nullable=False),
    sa.Column('created_at', lastmile.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['org_id'], ['organisations.id'], name=op.f('fk_closed_days_org_id_organisations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_closed_days')),
    sa.UniqueConstraint('org_id', 'date', name=op.f('uq_closed_days_org_id'))
    )
    op.create_index(op.f('ix_closed_days_org_id'), 'closed_days', ['org_id'], unique=False)
    op.create_table('standing_orders',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('customer_id', sa.String(length=32), nullable=False),
    sa.Column('address_id', sa.String(length=32), nullable=True),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('frequency', sa.String(length=10), nullable=False),
    sa.Column('weekdays', sa.JSON(), nullable=False),
    sa.Column('every_weeks', sa.Integer(), nullable=False),
    sa.Column('month_day', sa.Integer(), nullable=True),
    sa.Column('starts_on', sa.Date(), nullable=False),
    sa.Column('ends_on', sa.Date(), nullable=True),
    sa.Column('paused_from', sa.Date(), nullable=True),
    sa.Column('paused_until', sa.Date(), nullable=True),
    sa.Column('windows', sa.JSON(), nullable=False),
    sa.Column('service_s', sa.Integer(), nullable=True),
    sa.Column('demand', sa.JSON(), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('notes', sa.Text(), nullable=False),
    sa.Column('required', sa.Boolean(), nullable=False),
    sa.Column('value', sa.Float(), nullable=False),
    sa.Column('updated_at', lastmile.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('org_id', sa.String(length=32), nullable=False),
    sa.Column('created_at', lastmile.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['address_id'], ['customer_addresses.id'], name=op.f('fk_standing_orders_address_id_customer_addresses'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_standing_orders_customer_id_customers'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['org_id'], ['organisations.id'], name=op.f('fk_standing_orders_org_id_organisations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_standing_orders'))
    )
    op.create_index(op.f('ix_standing_orders_customer_id'), 'standing_orders', ['customer_id'], unique=False)
    op.create_index(op.f('ix_standing_orders_org_id'), 'standing_orders', ['org_id'], unique=False)
    op.create_table('standing_occurrences',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('standing_order_id', sa.String(length=32), nullable=False),
    sa.Column('date', sa.Date(), nullable=False),
    sa.Column('order_id', sa.String(length=32), nullable=True),
    sa.Column('applied', sa.JSON(), nullable=False),
    sa.Column('org_id', sa.String(length=32), nullable=False),
    sa.Column('created_at', lastmile.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_standing_occurrences_order_id_orders'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['org_id'], ['organisations.id'], name=op.f('fk_standing_occurrences_org_id_organisations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['standing_order_id'], ['standing_orders.id'], name=op.f('fk_standing_occurrences_standing_order_id_standing_orders'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_standing_occurrences')),
    sa.UniqueConstraint('standing_order_id', 'date', name=op.f('uq_standing_occurrences_standing_order_id'))
    )
    op.create_index(op.f('ix_standing_occurrences_order_id'), 'standing_occurrences', ['order_id'], unique=False)
    op.create_index('ix_standing_occurrences_org_date', 'standing_occurrences', ['org_id', 'date'], unique=False)
    op.create_index(op.f('ix_standing_occurrences_org_id'), 'standing_occurrences', ['org_id'], unique=False)


def downgrade() -> None:
    op.drop_table("standing_occurrences")
    op.drop_table("standing_orders")
    op.drop_table("closed_days")
