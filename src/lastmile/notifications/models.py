"""The log of every message sent (or refused) to a customer, and who gets them per order."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from lastmile.common.ids import new_id
from lastmile.db.base import Base, OrgScoped, UTCDateTime


class Notification(OrgScoped, Base):
    __tablename__ = "notifications"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=lambda: new_id("ntf"))
    order_id: Mapped[str | None] = mapped_column(
        String(32), ForeignKey("orders.id", ondelete="SET NULL"), default=None, index=True
    )
    channel: Mapped[str] = mapped_column(String(16))
    """email, sms, chat."""
    recipient: Mapped[str] = mapped_column(String(320))
    template: Mapped[str] = mapped_column(String(50))
    """The message kind: confirmed, out_for_delivery, arriving_soon, delayed, eta_changed,
    delivered, failed, gift_delivered."""
    status: Mapped[str] = mapped_column(String(16), default="queued")
    """queued, sending, sent, failed, suppressed (cap or quiet hours)."""
    cost: Mapped[float] = mapped_column(Float, default=0.0)
    error: Mapped[str | None] = mapped_column(Text, default=None)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    dedupe_key: Mapped[str | None] = mapped_column(String(200), default=None, unique=True)
    """order id, delivery date, kind, channel, audience: one message per key, ever."""
    audience: Mapped[str] = mapped_column(String(16), default="recipient")
    """recipient, or buyer (of a gift)."""
    language: Mapped[str] = mapped_column(String(8), default="en")
    subject: Mapped[str] = mapped_column(String(300), default="")
    body: Mapped[str] = mapped_column(Text, default="")
    scheduled_for: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    """A message held back by quiet hours is sent at this time."""
    promise_from: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    promise_to: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    """The delivery window the message told the customer (a correction follows when
    ``lastmile.live``'s promise moves away from it, see ``notifications/corrections.py``)."""


class OrderRecipients(OrgScoped, Base):
    """Who hears about an order beyond its own contact fields: the language, and for a gift
    the buyer (the order's customer/e-mail/phone are then the recipient's)."""

    __tablename__ = "order_recipients"

    order_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("orders.id", ondelete="CASCADE"), primary_key=True
    )
    language: Mapped[str | None] = mapped_column(String(8), default=None)
    gift: Mapped[bool] = mapped_column(default=False)
    buyer_name: Mapped[str] = mapped_column(String(200), default="")
    buyer_email: Mapped[str] = mapped_column(String(320), default="")
    buyer_phone: Mapped[str] = mapped_column(String(50), default="")
    buyer_language: Mapped[str | None] = mapped_column(String(8), default=None)
