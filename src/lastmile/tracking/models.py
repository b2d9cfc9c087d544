"""Tracking links (only their hash is stored), page views, customer input, request counts."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from lastmile.common.ids import new_id
from lastmile.db.base import Base, OrgScoped, UTCDateTime


class TrackingLink(OrgScoped, Base):
    """One customer link ``/t/<token>``; the token itself is never stored."""

    __tablename__ = "tracking_links"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=lambda: new_id("trk"))
    order_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("orders.id", ondelete="CASCADE"), index=True
    )
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    """SHA-256 (hex) of the token."""
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    purpose: Mapped[str] = mapped_column(String(20), default="staff")
    """staff (on demand) or the notification kind it was made for."""


class TrackingView(OrgScoped, Base):
    """One view of a tracking page (the tracking views KPI)."""

    __tablename__ = "tracking_views"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    order_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("orders.id", ondelete="CASCADE"), index=True
    )
    link_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("tracking_links.id", ondelete="CASCADE")
    )


class CustomerInput(OrgScoped, Base):
    """What the customer told us on the page: delivery instructions and a rating."""

    __tablename__ = "tracking_feedback"

    order_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("orders.id", ondelete="CASCADE"), primary_key=True
    )
    instruction_kind: Mapped[str | None] = mapped_column(String(20), default=None)
    """safe_place, gate_code, neighbour or other."""
    instruction_text: Mapped[str] = mapped_column(Text, default="")
    instructions_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    rating: Mapped[int | None] = mapped_column(default=None)
    """1 to 5."""
    comment: Mapped[str] = mapped_column(Text, default="")
    rated_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)


class TrackingHit(Base):
    """One request to a public tracking URL, by client (hashed): the rate limit counts these,
    in the database, so that every server process sees the same count."""

    __tablename__ = "tracking_hits"
    __table_args__ = (Index("ix_tracking_hits_client_at", "client", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    client: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
