"""Standing orders, the orders made from them (one row per rule and date), and closed days.

The occurrence row is the idempotency key: one per (standing order, date), written when the
date's order is made and kept after it is cancelled or deleted, so generating again never
makes that date twice. ``applied`` is what the rule last gave the order: an order whose
fields still equal it is untouched and follows later changes of the rule; one that differs
was edited (anywhere: dashboard, API) and keeps its own values.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import Date, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from lastmile.common.clock import utcnow
from lastmile.common.ids import new_id
from lastmile.db.base import Base, OrgScoped, UTCDateTime


class StandingOrder(OrgScoped, Base):
    """A customer's repeating delivery: when (the rule) and what (the order's template)."""

    __tablename__ = "standing_orders"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=lambda: new_id("sto"))
    customer_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("customers.id", ondelete="CASCADE"), index=True
    )
    address_id: Mapped[str | None] = mapped_column(
        String(32), ForeignKey("customer_addresses.id", ondelete="SET NULL"), default=None
    )
    """Where to deliver; ``None`` once the address was removed (nothing is made until another
    is chosen)."""
    name: Mapped[str] = mapped_column(String(200), default="")
    frequency: Mapped[str] = mapped_column(String(10), default="weekly")
    weekdays: Mapped[list[str]] = mapped_column(default=list)
    every_weeks: Mapped[int] = mapped_column(Integer, default=1)
    month_day: Mapped[int | None] = mapped_column(Integer, default=None)
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date | None] = mapped_column(Date, default=None)
    paused_from: Mapped[date | None] = mapped_column(Date, default=None)
    paused_until: Mapped[date | None] = mapped_column(Date, default=None)
    windows: Mapped[list[list[int]]] = mapped_column(default=list)
    """[start, end] seconds since local midnight of each date."""
    service_s: Mapped[int | None] = mapped_column(Integer, default=None)
    """``None``: the organisation's default service time."""
    demand: Mapped[dict[str, float]] = mapped_column(default=dict)
    description: Mapped[str] = mapped_column(Text, default="")
    notes: Mapped[str] = mapped_column(Text, default="")
    required: Mapped[bool] = mapped_column(default=True)
    value: Mapped[float] = mapped_column(Float, default=0.0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class StandingOccurrence(OrgScoped, Base):
    """The order a standing order made for one date (or that date skipped)."""

    __tablename__ = "standing_occurrences"
    __table_args__ = (
        UniqueConstraint("standing_order_id", "date"),
        Index("ix_standing_occurrences_org_date", "org_id", "date"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=lambda: new_id("soc"))
    standing_order_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("standing_orders.id", ondelete="CASCADE")
    )
    date: Mapped[date] = mapped_column(Date)
    """The rule's date (an order moved to another day keeps its rule date here)."""
    order_id: Mapped[str | None] = mapped_column(
        String(32), ForeignKey("orders.id", ondelete="SET NULL"), default=None, index=True
    )
    """``None``: skipped before it was made, or its order was deleted."""
    applied: Mapped[dict[str, Any]] = mapped_column(default=dict)
    """The order's fields as the rule last set them."""


class ClosedDay(OrgScoped, Base):
    """A day the organisation does not deliver: no standing order makes an order for it."""

    __tablename__ = "closed_days"
    __table_args__ = (UniqueConstraint("org_id", "date"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=lambda: new_id("cld"))
    date: Mapped[date] = mapped_column(Date)
    note: Mapped[str] = mapped_column(String(200), default="")
