"""The one thing a channel does: send a rendered message to one address, or raise.

Also the server-wide settings of sending (SMTP server, the public URL links point to).
They are read from ``LASTMILE_*`` variables like :class:`lastmile.config.Settings`;
documented in ``docs/tracking-and-notifications.md``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


@dataclass(frozen=True)
class OutgoingMessage:
    """A rendered message for one recipient address (an e-mail address or a phone number)."""

    to: str
    subject: str
    body: str
    language: str = "en"


class SendError(Exception):
    """The channel refused or could not deliver the message (the text says why)."""


class Channel(Protocol):
    name: str

    def send(self, message: OutgoingMessage) -> None:
        """Send ``message`` or raise :class:`SendError`."""


class NotifySettings(BaseSettings):
    """Server-wide settings of customer messages (environment: ``LASTMILE_`` + name)."""

    model_config = SettingsConfigDict(env_prefix="LASTMILE_", env_file=".env", extra="ignore")

    public_url: str = "http://localhost:8000"
    """Where customers reach this server: tracking links in messages start with it."""
    smtp_host: str | None = None
    """SMTP server for e-mail; unset = e-mail is not sent (logged as failed)."""
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_user: str | None = None
    smtp_password: str | None = None
    smtp_from: str = "lastmile <noreply@localhost>"
    """The From address of customer e-mails."""
    smtp_tls: Literal["starttls", "ssl", "none"] = "starttls"
    """``starttls`` (port 587), ``ssl`` (implicit TLS, port 465) or ``none`` (loopback relays)."""
    smtp_timeout_s: float = Field(default=10.0, gt=0)
    tracking_rate_per_minute: int = Field(default=60, ge=1)
    """Requests per minute one client address may make to public tracking pages."""
