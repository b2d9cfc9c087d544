"""The one thing a channel does: send a rendered message to one address, or raise.

The server-wide settings of sending (SMTP server, the public URL links point to) are part of
:class:`lastmile.config.Settings`, documented in ``docs/settings.md``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from lastmile.config import Settings


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


NotifySettings = Settings
"""The sending settings live in the one :class:`lastmile.config.Settings` (SMTP server, the
public URL links point to, the tracking page's rate limit); this name is kept for callers."""
