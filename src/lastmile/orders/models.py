"""Orders and their status history."""

from __future__ import annotations

import datetime as dt
from datetime import date, datetime

from sqlalchemy import Date, Float, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from lastmile.common.clock import utcnow
from lastmile.common.ids import new_id
from lastmile.db.base import Base, OrgScoped, UTCDateTime


class Order(OrgScoped, Base):
    __tablename__ = "orders"
    __table_args__ = (
        UniqueConstraint("org_id", "external_id"),
        Index("ix_orders_org_date_status", "org_id", "date", "status"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=lambda: new_id("ord"))
    external_id: Mapped[str] = mapped_column(String(100))
    """The shop's order id; imports and API creates are idempotent on it."""
    date: Mapped[date] = mapped_column(Date)
    """The day the order is on: its delivery date, or for a flexible order the day a
    multi-day plan chose (at first its earliest date)."""
    earliest_date: Mapped[dt.date | None] = mapped_column(Date, default=None)
    latest_date: Mapped[dt.date | None] = mapped_column(Date, default=None)
    """A flexible order may be delivered on any day from ``earliest_date`` to ``latest_date``
    (both set, or neither: the order is for ``date`` only)."""
    status: Mapped[str] = mapped_column(String(20), default="new")
    address: Mapped[str] = mapped_column(String(500), default="")
    lon: Mapped[float | None] = mapped_column(Float, default=None)
    lat: Mapped[float | None] = mapped_column(Float, default=None)
    address_verdict: Mapped[str | None] = mapped_column(String(20), default=None)
    """Geocoder verdict (exact, corrected, ambiguous, not_found, outside_area, or 'given')."""
    windows: Mapped[list[list[int]]] = mapped_column(default=list)
    """Delivery windows as [start, end] seconds since local midnight."""
    service_s: Mapped[int] = mapped_column(default=0)
    demand: Mapped[dict[str, float]] = mapped_column(default=dict)
    required: Mapped[bool] = mapped_column(default=True)
    value: Mapped[float] = mapped_column(Float, default=0.0)
    skills: Mapped[list[str]] = mapped_column(default=list)
    kind: Mapped[str] = mapped_column(String(16), default="delivery")
    deliver_to: Mapped[str | None] = mapped_column(String(100), default=None)
    """For a pickup: external id of the delivery its goods go to."""
    notes: Mapped[str] = mapped_column(Text, default="")
    description: Mapped[str] = mapped_column(Text, default="")
    """What to deliver, in the shop's words ("bread basket"), shown to the driver."""
    customer: Mapped[str] = mapped_column(String(200), default="")
    phone: Mapped[str] = mapped_column(String(50), default="")
    email: Mapped[str] = mapped_column(String(320), default="")
    pod_policy: Mapped[list[str] | None] = mapped_column(default=None)
    """This order's ways of handing over (``core.model.Handover``); ``None``: the
    organisation's proof-of-delivery policy."""
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class OrderEvent(OrgScoped, Base):
    """One status transition: who, when, where."""

    __tablename__ = "order_events"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=lambda: new_id("oev"))
    order_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("orders.id", ondelete="CASCADE"), index=True
    )
    from_status: Mapped[str | None] = mapped_column(String(20))
    to_status: Mapped[str] = mapped_column(String(20))
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    """When it happened (a driver's device time for driver events), not when it was stored."""
    actor: Mapped[str] = mapped_column(String(100), default="")
    """``user:<id>``, ``api_key:<id>``, ``system``."""
    lon: Mapped[float | None] = mapped_column(Float, default=None)
    lat: Mapped[float | None] = mapped_column(Float, default=None)
    note: Mapped[str] = mapped_column(Text, default="")
    reason: Mapped[str | None] = mapped_column(String(50), default=None)
