"""Notification settings of an organisation, the message log and who hears about an order."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from lastmile.common.i18n import Language
from lastmile.notifications.templates import KINDS, syntax_error

Kind = Literal[
    "confirmed",
    "out_for_delivery",
    "arriving_soon",
    "delayed",
    "eta_changed",
    "delivered",
    "failed",
    "gift_delivered",
]
SECRET_FIELDS = ("sms_url", "chat_url")
"""Fields of :class:`NotificationSettings` that hold a provider's credentials (masked when
read, see ``lastmile.common.secrets``)."""
_CLOCK = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


class QuietHours(BaseModel):
    """Local times (the organisation's zone) between which only urgent messages go out."""

    model_config = ConfigDict(extra="forbid")

    start: str = Field(examples=["21:00"])
    end: str = Field(examples=["08:00"])

    @field_validator("start", "end")
    @classmethod
    def _clock(cls, value: str) -> str:
        if not _CLOCK.match(value):
            raise ValueError("must be HH:MM (24 h)")
        return value


class TemplateParts(BaseModel):
    model_config = ConfigDict(extra="forbid")

    subject: str | None = Field(default=None, max_length=300)
    body: str | None = Field(default=None, max_length=5000)
    text: str | None = Field(default=None, max_length=1000)

    @field_validator("subject", "body", "text")
    @classmethod
    def _parses(cls, value: str | None) -> str | None:
        problem = syntax_error(value) if value else None
        if problem:
            raise ValueError(f"is not a valid template ({problem})")
        return value


class TrackingSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    map_stops: int = Field(default=3, ge=0, le=50)
    """The vehicle appears on the customer's map when at most this many stops are left
    before theirs (0: only when the driver is on the way to them)."""
    ttl_days: int = Field(default=7, ge=1, le=365)
    """Tracking links expire this many days after the delivery date."""
    reschedule: bool = False
    """After a failed delivery the customer may pick a window of the next day on the page
    (from ``lastmile.live``'s bookable slots)."""


class NotificationSettings(BaseModel):
    """``Organisation.settings["notifications"]``; every field has a default."""

    model_config = ConfigDict(extra="forbid")

    language: Language = "en"
    """Language of customers whose order names none."""
    email: bool = False
    """Send e-mail (through the server's SMTP settings) to orders with an e-mail address."""
    sms_url: str | None = Field(
        default=None,
        max_length=2000,
        description="apprise URL template for SMS with `{phone}`, e.g. "
        "`twilio://SID:TOKEN@+15551234567/{phone}`. Write-only: read back as `twilio://********`; "
        "sending that back keeps the stored URL, null removes it.",
    )
    chat_url: str | None = Field(
        default=None,
        max_length=2000,
        description="apprise URL template for a chat service (WhatsApp, Signal...) with "
        "`{phone}`; write-only like `sms_url`.",
    )
    kinds: list[Kind] = Field(default_factory=lambda: list(KINDS))  # type: ignore[arg-type]
    """Which messages are sent."""
    costs: dict[Literal["email", "sms", "chat"], float] = Field(default_factory=dict)
    """Cost of one message per channel (default: email 0, sms 0.08, chat 0.02)."""
    monthly_cap: float | None = Field(default=None, ge=0)
    """Most money per calendar month (organisation time) on paid channels; over it, paid
    messages are suppressed (and logged)."""
    quiet_hours: QuietHours | None = None
    arriving_soon_stops: int = Field(default=1, ge=0, le=20)
    """'Arriving soon' once at most this many stops are left before the customer's..."""
    arriving_soon_minutes: int = Field(default=15, ge=0, le=240)
    """...or the ETA is at most this many minutes away."""
    delay_threshold_min: int = Field(default=15, ge=1, le=600)
    """'Delayed' once the driver runs this many minutes behind the plan."""
    correction_threshold_min: int = Field(default=15, ge=1, le=240)
    """'New time' (``eta_changed``, or 'delayed' after the booked window) once the promised
    window moved by more than this many minutes from the one the customer was last told
    (a window that only narrowed inside it is not news)."""
    templates: dict[Language, dict[Kind, TemplateParts]] = Field(default_factory=dict)
    """Overrides of the built-in templates."""


class SettingsBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    notifications: NotificationSettings = Field(default_factory=NotificationSettings)
    tracking: TrackingSettings = Field(default_factory=TrackingSettings)


class NotificationRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    order_id: str | None
    channel: str
    recipient: str
    audience: str
    template: str
    language: str
    status: str
    subject: str
    body: str
    cost: float
    error: str | None
    scheduled_for: datetime | None
    sent_at: datetime | None
    created_at: datetime


class ChannelUsage(BaseModel):
    channel: str
    sent: int
    suppressed: int
    failed: int
    cost: float


class Usage(BaseModel):
    month: str
    cost: float
    monthly_cap: float | None
    channels: list[ChannelUsage]


class RecipientsBody(BaseModel):
    """Language of the order's customer; for a gift, the buyer who hears about delivery."""

    model_config = ConfigDict(extra="forbid")

    language: Language | None = None
    gift: bool = False
    buyer_name: str = Field(default="", max_length=200)
    buyer_email: str = Field(default="", max_length=320)
    buyer_phone: str = Field(default="", max_length=50)
    buyer_language: Language | None = None


class RecipientsRead(RecipientsBody):
    model_config = ConfigDict(from_attributes=True)

    order_id: str
