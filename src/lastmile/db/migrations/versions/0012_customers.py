"""customers, customer_addresses, customer_orders: the address book (issue 18)

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07 23:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import lastmile.db.base

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def _stamps() -> list[sa.Column]:  # type: ignore[type-arg]
    return [
        sa.Column("created_at", lastmile.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("org_id", sa.String(length=32), nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "customers",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("phone", sa.String(length=50), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("notes", sa.Text(), nullable=False),
        sa.Column("preferred_windows", sa.JSON(), nullable=False),
        sa.Column("external_ref", sa.String(length=120), nullable=True),
        sa.Column("updated_at", lastmile.db.base.UTCDateTime(timezone=True), nullable=False),
        *_stamps(),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organisations.id"],
            name=op.f("fk_customers_org_id_organisations"), ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customers")),
        sa.UniqueConstraint("org_id", "external_ref", name=op.f("uq_customers_org_id")),
    )
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.create_index("ix_customers_org_name", ["org_id", "name"], unique=False)
        batch_op.create_index(batch_op.f("ix_customers_org_id"), ["org_id"], unique=False)

    op.create_table(
        "customer_addresses",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("customer_id", sa.String(length=32), nullable=False),
        sa.Column("label", sa.String(length=100), nullable=False),
        sa.Column("address", sa.String(length=500), nullable=False),
        sa.Column("match_key", sa.String(length=500), nullable=False),
        sa.Column("lon", sa.Float(), nullable=True),
        sa.Column("lat", sa.Float(), nullable=True),
        sa.Column("verdict", sa.String(length=20), nullable=True),
        sa.Column("confirmed", sa.Boolean(), nullable=False),
        sa.Column("geocoded_at", lastmile.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("instructions", sa.Text(), nullable=False),
        *_stamps(),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"],
            name=op.f("fk_customer_addresses_customer_id_customers"), ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organisations.id"],
            name=op.f("fk_customer_addresses_org_id_organisations"), ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customer_addresses")),
    )
    with op.batch_alter_table("customer_addresses", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_customer_addresses_customer_id"), ["customer_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_customer_addresses_org_id"), ["org_id"], unique=False)

    op.create_table(
        "customer_orders",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("customer_id", sa.String(length=32), nullable=False),
        sa.Column("address_id", sa.String(length=32), nullable=True),
        sa.Column("order_id", sa.String(length=32), nullable=False),
        *_stamps(),
        sa.ForeignKeyConstraint(
            ["address_id"], ["customer_addresses.id"],
            name=op.f("fk_customer_orders_address_id_customer_addresses"), ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"],
            name=op.f("fk_customer_orders_customer_id_customers"), ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["order_id"], ["orders.id"],
            name=op.f("fk_customer_orders_order_id_orders"), ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organisations.id"],
            name=op.f("fk_customer_orders_org_id_organisations"), ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customer_orders")),
        sa.UniqueConstraint("org_id", "order_id", name=op.f("uq_customer_orders_org_id")),
    )
    with op.batch_alter_table("customer_orders", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_customer_orders_customer_id"), ["customer_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_customer_orders_order_id"), ["order_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_customer_orders_org_id"), ["org_id"], unique=False)


def downgrade() -> None:
    op.drop_table("customer_orders")
    op.drop_table("customer_addresses")
    op.drop_table("customers")
