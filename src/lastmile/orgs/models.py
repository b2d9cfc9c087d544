"""Organisations and memberships (a user may belong to several organisations)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from lastmile.common.ids import new_id
from lastmile.db.base import Base, Timestamped, UTCDateTime


class Role(StrEnum):
    ADMIN = "admin"
    DISPATCHER = "dispatcher"
    DRIVER = "driver"


class Organisation(Timestamped, Base):
    __tablename__ = "organisations"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=lambda: new_id("org"))
    name: Mapped[str] = mapped_column(String(200), unique=True)
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    """IANA zone of the organisation's delivery windows and 'today'."""
    settings: Mapped[dict[str, object]] = mapped_column(default=dict)
    """Policies (proof-of-delivery, reattempts, notifications) as a JSON object."""
    simulation: Mapped[bool] = mapped_column(default=False, server_default="0")
    """A simulation organisation: its business time is its own clock (``orgs.clock``), never
    the real one; a real organisation (False) can never move its clock."""
    simulation_of: Mapped[str | None] = mapped_column(
        String(32), ForeignKey("organisations.id", ondelete="CASCADE"), default=None, index=True
    )
    """The real organisation whose simulated days this one runs (``lastmile simulate``)."""
    clock_start: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    """A simulation's business time at the real moment ``clock_anchor`` (UTC)."""
    clock_anchor: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    clock_speed: Mapped[float] = mapped_column(default=1.0, server_default="1")
    """Business seconds per real second from ``clock_anchor`` on."""


class Membership(Timestamped, Base):
    __tablename__ = "memberships"
    __table_args__ = (UniqueConstraint("user_id", "org_id"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=lambda: new_id("mem"))
    user_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    org_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("organisations.id", ondelete="CASCADE"), index=True
    )
    role: Mapped[str] = mapped_column(String(16))
    """A :class:`Role` value."""
