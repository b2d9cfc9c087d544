"""The address book's tables: customers, their addresses, and which order was for whom.

The link table keeps the orders slice unaware of customers: an order is still a plain order
(its contact fields copied from the customer when it is made), and the address book knows
which of its customers and addresses each order was for.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Float, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from lastmile.common.clock import utcnow
from lastmile.common.ids import new_id
from lastmile.db.base import Base, OrgScoped, UTCDateTime


class Customer(OrgScoped, Base):
    __tablename__ = "customers"
    __table_args__ = (
        UniqueConstraint("org_id", "external_ref"),
        Index("ix_customers_org_name", "org_id", "name"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=lambda: new_id("cus"))
    name: Mapped[str] = mapped_column(String(200))
    phone: Mapped[str] = mapped_column(String(50), default="")
    email: Mapped[str] = mapped_column(String(320), default="")
    notes: Mapped[str] = mapped_column(Text, default="")
    preferred_windows: Mapped[list[list[int]]] = mapped_column(default=list)
    """Windows the customer likes deliveries in, [start, end] seconds since local midnight;
    a new order for the customer gets them unless it says otherwise."""
    external_ref: Mapped[str | None] = mapped_column(String(120), default=None)
    """Who the customer is in a shop (``shopify:<shop>:<customer id>``), to find them again."""
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class CustomerAddress(OrgScoped, Base):
    """One place a customer receives deliveries, geocoded once and then confirmed."""

    __tablename__ = "customer_addresses"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=lambda: new_id("cad"))
    customer_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("customers.id", ondelete="CASCADE"), index=True
    )
    label: Mapped[str] = mapped_column(String(100), default="")
    """The owner's name for it: "home", "office"."""
    address: Mapped[str] = mapped_column(String(500))
    match_key: Mapped[str] = mapped_column(String(500), default="")
    """The address text reduced to letters and digits, to recognise it when it comes again."""
    lon: Mapped[float | None] = mapped_column(Float, default=None)
    lat: Mapped[float | None] = mapped_column(Float, default=None)
    verdict: Mapped[str | None] = mapped_column(String(20), default=None)
    """The geocoder's verdict when it was looked up, or ``given`` (coordinates sent)."""
    confirmed: Mapped[bool] = mapped_column(Boolean, default=False)
    """A person checked the pin (or placed it): the location is the customer's door."""
    geocoded_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    """When the geocoder looked this address up (once; again only if its text changes)."""
    instructions: Mapped[str] = mapped_column(Text, default="")
    """For the driver at this address: gate code, back door, ..."""


class CustomerOrder(OrgScoped, Base):
    """An order made for a customer (from the address book, or linked by a shop connector)."""

    __tablename__ = "customer_orders"
    __table_args__ = (UniqueConstraint("org_id", "order_id"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=lambda: new_id("cor"))
    customer_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("customers.id", ondelete="CASCADE"), index=True
    )
    address_id: Mapped[str | None] = mapped_column(
        String(32), ForeignKey("customer_addresses.id", ondelete="SET NULL"), default=None
    )
    order_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("orders.id", ondelete="CASCADE"), index=True
    )
