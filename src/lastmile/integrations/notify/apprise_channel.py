"""SMS and chat through apprise (https://github.com/caronc/apprise): one URL per channel.

The organisation configures a URL *template* with ``{phone}`` where the customer's number
goes, e.g. ``twilio://SID:TOKEN@+15551234567/{phone}``. The number is URL-encoded before it
is put in, so ``+41...`` survives query strings.
"""

from __future__ import annotations

import logging
import threading
import warnings
from urllib.parse import quote

import apprise

from lastmile.integrations.notify.base import OutgoingMessage, SendError


def expand(url_template: str, phone: str) -> str:
    """The apprise URL for one recipient."""
    return url_template.replace("{phone}", quote(phone.strip(), safe=""))


_loaded = threading.Event()
_lock = threading.Lock()


def _load_plugins() -> None:
    """Load apprise's plugins once, quietly: some import ``imghdr``, which warns about its
    removal in Python 3.13 (apprise ships a shim for that)."""
    if _loaded.is_set():
        return
    with _lock, warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", message="'imghdr' is deprecated", category=DeprecationWarning
        )
        apprise.Apprise().add("json://localhost")
        _loaded.set()


class AppriseChannel:
    def __init__(self, name: str, url_template: str) -> None:
        self.name = name
        self._template = url_template

    def send(self, message: OutgoingMessage) -> None:
        _load_plugins()
        notifier = apprise.Apprise()
        if not notifier.add(expand(self._template, message.to)):
            raise SendError(f"{self.name}: the apprise URL is not valid")
        with apprise.LogCapture(level=logging.WARNING) as captured:  # type: ignore[no-untyped-call]
            ok = notifier.notify(body=message.body, title=message.subject)
            log = str(captured.getvalue()).strip()
        if not ok:
            detail = log.splitlines()[-1] if log else "not delivered"
            raise SendError(f"{self.name}: {detail}"[:1000])
