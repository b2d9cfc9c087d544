"""E-mail over SMTP with the standard library (``smtplib``): STARTTLS, implicit TLS or plain."""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from email.utils import make_msgid

from lastmile.integrations.notify.base import NotifySettings, OutgoingMessage, SendError


class SmtpChannel:
    name = "email"

    def __init__(self, settings: NotifySettings) -> None:
        self._settings = settings

    def build(self, message: OutgoingMessage) -> EmailMessage:
        """The MIME message (plain text, UTF-8, with the language in ``Content-Language``)."""
        mail = EmailMessage()
        mail["From"] = self._settings.smtp_from
        mail["To"] = message.to
        mail["Subject"] = message.subject
        mail["Message-ID"] = make_msgid(domain="lastmile")
        mail.set_content(message.body)
        mail["Content-Language"] = message.language  # after set_content, which resets Content-*
        return mail

    def _connect(self) -> smtplib.SMTP:
        """Connected, encrypted as configured and logged in (raises ``OSError`` or
        ``smtplib.SMTPException``)."""
        s = self._settings
        if not s.smtp_host:
            raise SendError("no SMTP server configured (LASTMILE_SMTP_HOST)")
        smtp: smtplib.SMTP
        if s.smtp_tls == "ssl":
            smtp = smtplib.SMTP_SSL(
                s.smtp_host,
                s.smtp_port,
                timeout=s.smtp_timeout_s,
                context=ssl.create_default_context(),
            )
        else:
            smtp = smtplib.SMTP(s.smtp_host, s.smtp_port, timeout=s.smtp_timeout_s)
        try:
            if s.smtp_tls == "starttls":
                smtp.starttls(context=ssl.create_default_context())
            if s.smtp_user:
                smtp.login(s.smtp_user, s.smtp_password or "")
        except BaseException:
            smtp.close()
            raise
        return smtp

    def send(self, message: OutgoingMessage) -> None:
        mail = self.build(message)
        try:
            with self._connect() as smtp:
                refused = smtp.send_message(mail)
        except (OSError, smtplib.SMTPException) as exc:
            raise SendError(f"SMTP: {type(exc).__name__}: {exc}"[:1000]) from exc
        if refused:
            raise SendError(f"SMTP refused: {refused}"[:1000])

    def check(self) -> None:
        """Connect, encrypt and log in as for sending, without sending anything (the
        settings page's "check the mail server"); raises :class:`SendError` saying why not."""
        try:
            with self._connect() as smtp:
                code, answer = smtp.noop()
        except (OSError, smtplib.SMTPException) as exc:
            raise SendError(f"SMTP: {type(exc).__name__}: {exc}"[:1000]) from exc
        if code != 250:
            raise SendError(f"SMTP: the server answered {code} {answer!r}"[:1000])
