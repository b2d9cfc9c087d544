"""Trying the customer messages before a customer gets one: check the server's mail settings,
preview a template with sample values, send a test to an address the owner types, and say
a sending error in words. Part of the notifications slice's service layer.

A test goes through the same channel code as real messages (``service._deliver``) and is
logged like them (template ``test``, no order), so the message log shows it with its status
and error, and a paid channel's test counts against the monthly cap.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy.orm import Session

from lastmile.common.clock import utcnow
from lastmile.config import Settings
from lastmile.core.errors import FieldIssue, InputError
from lastmile.integrations.notify.base import SendError
from lastmile.integrations.notify.email import SmtpChannel
from lastmile.notifications import templates
from lastmile.notifications.models import Notification
from lastmile.notifications.schemas import TemplateParts
from lastmile.notifications.service import _claim, _deliver, cost_of
from lastmile.notifications.settings import organisation, settings_of

TEST_TEMPLATE = "test"
"""The log's template name of a test message."""
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_PHONE = re.compile(r"^\+?[0-9 ()./-]{5,30}$")


def mail_server(settings: Settings) -> dict[str, Any]:
    """What the server's mail settings say, for the owner (never the password)."""
    return {
        "configured": bool(settings.smtp_host),
        "host": settings.smtp_host or "",
        "port": settings.smtp_port,
        "sender": settings.smtp_from,
        "encryption": {
            "starttls": "STARTTLS",
            "ssl": "TLS",
            "none": "none (plain text)",
        }[settings.smtp_tls],
        "login": bool(settings.smtp_user),
    }


def check_mail_server(settings: Settings) -> None:
    """Connect, encrypt and log in to the server's SMTP server without sending (raises
    :class:`SendError` saying why not)."""
    SmtpChannel(settings).check()


def sample_context(org_name: str, language: str, public_url: str) -> dict[str, Any]:
    """Made-up values for previews and tests (a real message has the order's)."""
    today = utcnow().date()
    url = public_url.rstrip("/") + "/t/sample"
    return {
        "name": "Erika",
        "org": org_name,
        "date": today.strftime("%d.%m.%Y") if language == "de" else today.strftime("%a %d %b %Y"),
        "window_from": "14:00",
        "window_to": "16:00",
        "tracking_url": url,
        "pod_url": url,
        "reschedule_url": url,
        "driver": "Dana",
        "order_ref": "1042",
        "value": "49.00",
        "recipient_name": "Max",
    }


def preview(
    *,
    session: Session,
    org_id: str,
    kind: str,
    language: str,
    parts: TemplateParts | None,
    public_url: str,
) -> templates.Rendered:
    """``kind`` in ``language`` rendered with sample values: the texts being edited
    (``parts``; empty parts are the stored or built-in ones), else what would be sent now."""
    org = organisation(session, org_id)
    stored = settings_of(org).model_dump(mode="json")["templates"]
    if parts is not None:
        edited = {k: v for k, v in parts.model_dump().items() if v}
        stored = {**stored, language: {**stored.get(language, {}), kind: edited}}
    return templates.render(kind, language, sample_context(org.name, language, public_url), stored)


def _issue(field: str, value: str, message: str) -> InputError:
    return InputError(issues=[FieldIssue(None, field, value, message)], source="test message")


def send_test(
    *,
    session: Session,
    org_id: str,
    channel: str,
    to: str,
    kind: str,
    language: str,
    public_url: str,
) -> Notification:
    """Send ``kind`` (rendered with sample values) to ``to`` on ``channel`` now, whatever the
    settings' on/off switches and quiet hours say, and log it. The returned row says whether
    it went (``sent``) or why not (``failed`` with the error)."""
    to = to.strip()
    if channel not in ("email", "sms", "chat"):
        raise _issue("channel", channel, "is not email, sms or chat")
    if channel == "email" and not _EMAIL.match(to):
        raise _issue("to", to, "is not an e-mail address")
    if channel != "email" and not _PHONE.match(to):
        raise _issue("to", to, "is not a phone number (digits, spaces and a leading +)")
    if kind not in templates.KINDS:
        raise _issue("kind", kind, "is not a message kind")
    org = organisation(session, org_id)
    settings = settings_of(org)
    rendered = preview(
        session=session,
        org_id=org_id,
        kind=kind,
        language=templates.language_of(language, settings.language),
        parts=None,
        public_url=public_url,
    )
    row = Notification(
        org_id=org.id,
        order_id=None,
        channel=channel,
        recipient=to[:320],
        audience="test",
        template=TEST_TEMPLATE,
        language=language,
        subject=f"[Test] {rendered.subject}"[:300],
        body=rendered.body if channel == "email" else rendered.text,
        status="sending",
        cost=0.0,
    )
    _claim(session, row)
    _deliver(session, row, cost_of(settings, channel))
    session.refresh(row)
    return row


_WORDS: tuple[tuple[str, str], ...] = (
    ("no SMTP server configured", "this server has no mail server set up (LASTMILE_SMTP_HOST)"),
    ("SMTPAuthenticationError", "the mail server refused the user name or password"),
    ("SMTPRecipientsRefused", "the mail server refused this address"),
    ("SMTPSenderRefused", "the mail server refused the sender address"),
    ("SMTP refused", "the mail server refused the address"),
    ("ConnectionRefusedError", "the mail server could not be reached (connection refused)"),
    ("timed out", "the server did not answer in time"),
    ("TimeoutError", "the server did not answer in time"),
    ("gaierror", "the server's name could not be found"),
    ("SSLError", "the encrypted connection failed (check the TLS setting)"),
    ("STARTTLS extension not supported", "the mail server does not offer STARTTLS"),
    ("SMTPServerDisconnected", "the mail server hung up"),
    ("no sms URL configured", "no SMS provider is set up"),
    ("no chat URL configured", "no chat provider is set up"),
    ("monthly cap reached", "held back: this month's spending cap is reached"),
    ("quiet hours", "held back: it was quiet hours and the message would be stale later"),
    ("is not a public address", "the provider's address is not allowed from this server"),
    ("the apprise URL is not valid", "the provider URL is not valid"),
    ("points at this server", "the provider URL points at this server, which is not allowed"),
    ("not delivered (the provider", "the provider refused it or could not be reached"),
)


def error_words(error: str | None) -> str:
    """A sending error as a shop owner reads it ("" when there is none)."""
    if not error:
        return ""
    for marker, words in _WORDS:
        if marker.lower() in error.lower():
            return words
    return "the provider refused or could not deliver the message"


__all__ = ["SendError", "error_words", "mail_server", "preview", "send_test"]
