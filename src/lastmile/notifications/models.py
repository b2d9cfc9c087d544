"""The log of every message sent (or refused) to a customer."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from lastmile.common.ids import new_id
from lastmile.db.base import Base, OrgScoped, UTCDateTime


class Notification(OrgScoped, Base):
    __tablename__ = "notifications"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=lambda: new_id("ntf"))
    order_id: Mapped[str | None] = mapped_column(String(32), ForeignKey("orders.id", ondelete="SET NULL"), default=None, index=True)
    channel: Mapped[str] = mapped_column(String(16))
    """email, sms, chat."""
    recipient: Mapped[str] = mapped_column(String(320))
    template: Mapped[str] = mapped_column(String(50))
    status: Mapped[str] = mapped_column(String(16), default="queued")
    """queued, sent, failed, suppressed (cap or quiet hours)."""
    cost: Mapped[float] = mapped_column(Float, default=0.0)
    error: Mapped[str | None] = mapped_column(Text, default=None)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
