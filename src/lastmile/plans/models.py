"""Plans, routes and stops."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import Date, Float, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from lastmile.common.ids import new_id
from lastmile.db.base import Base, OrgScoped, UTCDateTime


class Plan(OrgScoped, Base):
    __tablename__ = "plans"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=lambda: new_id("pln"))
    date: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16), default="queued")
    """queued, running, done, failed."""
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    error: Mapped[str | None] = mapped_column(Text, default=None)
    params: Mapped[dict[str, Any]] = mapped_column(default=dict)
    document: Mapped[dict[str, Any] | None] = mapped_column(default=None)
    """The plan document, same shape as the CLI's plan.json."""
    created_by: Mapped[str] = mapped_column(String(100), default="")
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    dispatched_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)


class Route(OrgScoped, Base):
    __tablename__ = "routes"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=lambda: new_id("rte"))
    plan_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("plans.id", ondelete="CASCADE"), index=True
    )
    vehicle_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("vehicles.id", ondelete="CASCADE")
    )
    driver_id: Mapped[str | None] = mapped_column(
        String(32), ForeignKey("drivers.id", ondelete="SET NULL"), default=None, index=True
    )
    date: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16), default="planned")
    """planned, dispatched, started, finished."""
    distance_m: Mapped[int] = mapped_column(default=0)
    duration_s: Mapped[int] = mapped_column(default=0)
    cost: Mapped[float] = mapped_column(Float, default=0.0)
    start_s: Mapped[int] = mapped_column(default=0)
    end_s: Mapped[int] = mapped_column(default=0)


class Stop(OrgScoped, Base):
    __tablename__ = "stops"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=lambda: new_id("stp"))
    route_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("routes.id", ondelete="CASCADE"), index=True
    )
    order_id: Mapped[str | None] = mapped_column(
        String(32), ForeignKey("orders.id", ondelete="CASCADE"), default=None, index=True
    )
    sequence: Mapped[int] = mapped_column()
    kind: Mapped[str] = mapped_column(String(16), default="order")
    arrival_s: Mapped[int] = mapped_column()
    start_s: Mapped[int] = mapped_column()
    departure_s: Mapped[int] = mapped_column()
    status: Mapped[str] = mapped_column(String(16), default="pending")
    """pending, arrived, done, failed, skipped."""
