"""Plans: a solve request, its progress and the solved document (routes and stops are the
``routes`` slice's)."""

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
    week_id: Mapped[str | None] = mapped_column(
        String(32), ForeignKey("plan_weeks.id", ondelete="SET NULL"), index=True, default=None
    )
    """The multi-day plan this day's plan belongs to, if any."""


class PlanWeek(OrgScoped, Base):
    """A multi-day plan: one solve over several days; when done, one :class:`Plan` per day
    (``Plan.week_id``), so that dispatch, the driver app and tracking see ordinary days."""

    __tablename__ = "plan_weeks"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=lambda: new_id("plw"))
    start: Mapped[date] = mapped_column(Date)
    end: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16), default="queued")
    """queued, running, done, failed."""
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    error: Mapped[str | None] = mapped_column(Text, default=None)
    params: Mapped[dict[str, Any]] = mapped_column(default=dict)
    summary: Mapped[dict[str, Any] | None] = mapped_column(default=None)
    """Per day: stops, hours, vans and each van's stops/hours; the balance; the checker's
    findings over the whole week (``plans.week`` writes it)."""
    created_by: Mapped[str] = mapped_column(String(100), default="")
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
