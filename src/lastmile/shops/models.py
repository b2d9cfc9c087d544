"""The shop connectors' tables: connections, the log of what arrived, and which of our orders
each shop order became (with what was reported back)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from lastmile.common.clock import utcnow
from lastmile.common.ids import new_id
from lastmile.db.base import Base, OrgScoped, UTCDateTime


class ShopConnection(OrgScoped, Base):
    """One shop an organisation takes orders from. The secrets are write-only: the API and
    the pages show their last four characters."""

    __tablename__ = "shop_connections"
    __table_args__ = (UniqueConstraint("org_id", "shop_host"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=lambda: new_id("shp"))
    platform: Mapped[str] = mapped_column(String(20), default="shopify")
    shop_host: Mapped[str] = mapped_column(String(255))
    """``my-shop.myshopify.com``."""
    access_token: Mapped[str] = mapped_column(String(500))
    """Admin API access token (``shpat_…``): to report fulfilments."""
    webhook_secret: Mapped[str] = mapped_column(String(500))
    """The key Shopify signs webhooks with."""
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    notify_customer: Mapped[bool] = mapped_column(Boolean, default=True)
    """Whether Shopify e-mails the customer when we report the order out for delivery."""
    last_error: Mapped[str | None] = mapped_column(String(1000), default=None)
    """The last failed call to the shop (cleared by a successful one)."""
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class ShopDelivery(OrgScoped, Base):
    """One webhook as it arrived: accepted (queued, then applied), duplicate, stale or refused,
    with the reason. Accepted ones keep their raw body until the job applies it."""

    __tablename__ = "shop_deliveries"
    __table_args__ = (
        UniqueConstraint("connection_id", "dedup_key"),
        Index("ix_shop_deliveries_conn_received", "connection_id", "received_at"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=lambda: new_id("shd"))
    connection_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("shop_connections.id", ondelete="CASCADE")
    )
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    topic: Mapped[str] = mapped_column(String(100), default="")
    webhook_id: Mapped[str] = mapped_column(String(200), default="")
    dedup_key: Mapped[str | None] = mapped_column(String(200), default=None)
    """The webhook id of an accepted delivery (unique per connection); None for the others, so
    a refused forgery cannot take the id of the real webhook."""
    shop_order_id: Mapped[str] = mapped_column(String(40), default="")
    shop_order_name: Mapped[str] = mapped_column(String(100), default="")
    shop_updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    outcome: Mapped[str] = mapped_column(String(20))
    """``accepted``, ``duplicate``, ``stale``, ``refused``; after the job: ``applied`` or
    ``failed`` (or ``stale`` when a newer version got there first)."""
    reason: Mapped[str] = mapped_column(String(1000), default="")
    order_id: Mapped[str | None] = mapped_column(String(32), default=None)
    """Our order it created or changed."""
    body: Mapped[dict[str, Any] | None] = mapped_column(default=None)
    """The order JSON, kept until applied."""
    applied_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)


class ShopOrder(OrgScoped, Base):
    """A shop order and the order it became: idempotent by the shop's order id, the version
    applied last (to drop stale updates), and what was reported back."""

    __tablename__ = "shop_orders"
    __table_args__ = (UniqueConstraint("connection_id", "shop_order_id"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=lambda: new_id("sho"))
    connection_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("shop_connections.id", ondelete="CASCADE")
    )
    shop_order_id: Mapped[str] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(100), default="")
    """The shop's order name, ``#1001``."""
    order_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("orders.id", ondelete="CASCADE"), index=True
    )
    shop_updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    fulfillment_id: Mapped[str | None] = mapped_column(String(100), default=None)
    reported: Mapped[list[str]] = mapped_column(default=list)
    """Fulfillment event statuses sent (``OUT_FOR_DELIVERY``, ``DELIVERED``, ...)."""
    report_error: Mapped[str | None] = mapped_column(Text, default=None)
