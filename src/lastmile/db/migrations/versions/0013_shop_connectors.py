"""shop_connections, shop_deliveries, shop_orders: the Shopify connector (issue 18)

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-08 00:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import lastmile.db.base

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

UTC = lastmile.db.base.UTCDateTime


def _org(table: str) -> list[sa.schema.SchemaItem]:
    return [
        sa.Column("created_at", UTC(timezone=True), nullable=False),
        sa.Column("org_id", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organisations.id"],
            name=op.f(f"fk_{table}_org_id_organisations"), ondelete="CASCADE",
        ),
    ]


def _connection(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["connection_id"], ["shop_connections.id"],
        name=op.f(f"fk_{table}_connection_id_shop_connections"), ondelete="CASCADE",
    )


def upgrade() -> None:
    op.create_table(
        "shop_connections",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("platform", sa.String(length=20), nullable=False),
        sa.Column("shop_host", sa.String(length=255), nullable=False),
        sa.Column("access_token", sa.String(length=500), nullable=False),
        sa.Column("webhook_secret", sa.String(length=500), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("notify_customer", sa.Boolean(), nullable=False),
        sa.Column("last_error", sa.String(length=1000), nullable=True),
        sa.Column("updated_at", UTC(timezone=True), nullable=False),
        *_org("shop_connections"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_shop_connections")),
        sa.UniqueConstraint("org_id", "shop_host", name=op.f("uq_shop_connections_org_id")),
    )
    with op.batch_alter_table("shop_connections", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_shop_connections_org_id"), ["org_id"], unique=False)

    op.create_table(
        "shop_deliveries",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("connection_id", sa.String(length=32), nullable=False),
        sa.Column("received_at", UTC(timezone=True), nullable=False),
        sa.Column("topic", sa.String(length=100), nullable=False),
        sa.Column("webhook_id", sa.String(length=200), nullable=False),
        sa.Column("dedup_key", sa.String(length=200), nullable=True),
        sa.Column("shop_order_id", sa.String(length=40), nullable=False),
        sa.Column("shop_order_name", sa.String(length=100), nullable=False),
        sa.Column("shop_updated_at", UTC(timezone=True), nullable=True),
        sa.Column("outcome", sa.String(length=20), nullable=False),
        sa.Column("reason", sa.String(length=1000), nullable=False),
        sa.Column("order_id", sa.String(length=32), nullable=True),
        sa.Column("body", sa.JSON(), nullable=True),
        sa.Column("applied_at", UTC(timezone=True), nullable=True),
        *_org("shop_deliveries"),
        _connection("shop_deliveries"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_shop_deliveries")),
        sa.UniqueConstraint(
            "connection_id", "dedup_key", name=op.f("uq_shop_deliveries_connection_id")
        ),
    )
    with op.batch_alter_table("shop_deliveries", schema=None) as batch_op:
        batch_op.create_index(
            "ix_shop_deliveries_conn_received", ["connection_id", "received_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_shop_deliveries_org_id"), ["org_id"], unique=False)

    op.create_table(
        "shop_orders",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("connection_id", sa.String(length=32), nullable=False),
        sa.Column("shop_order_id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("order_id", sa.String(length=32), nullable=False),
        sa.Column("shop_updated_at", UTC(timezone=True), nullable=False),
        sa.Column("fulfillment_id", sa.String(length=100), nullable=True),
        sa.Column("reported", sa.JSON(), nullable=False),
        sa.Column("report_error", sa.Text(), nullable=True),
        *_org("shop_orders"),
        _connection("shop_orders"),
        sa.ForeignKeyConstraint(
            ["order_id"], ["orders.id"],
            name=op.f("fk_shop_orders_order_id_orders"), ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_shop_orders")),
        sa.UniqueConstraint(
            "connection_id", "shop_order_id", name=op.f("uq_shop_orders_connection_id")
        ),
    )
    with op.batch_alter_table("shop_orders", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_shop_orders_order_id"), ["order_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_shop_orders_org_id"), ["org_id"], unique=False)


def downgrade() -> None:
    op.drop_table("shop_orders")
    op.drop_table("shop_deliveries")
    op.drop_table("shop_connections")
