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

from lastmile.common.netguard import BLOCKED, Policy, UrlRefused, check_url, guarded
from lastmile.integrations.notify.base import OutgoingMessage, SendError

PROVIDER_SCHEMES = frozenset(
    {
        "bulksms",
        "burstsms",
        "clickatell",
        "clicksend",
        "d7sms",
        "discord",
        "kudosity",
        "msgbird",
        "nexmo",
        "plivo",
        "pover",
        "seven",
        "sinch",
        "slack",
        "tgram",
        "twilio",
        "vonage",
        "whatsapp",
    }
)
"""apprise services that talk only to their provider's own fixed host (checked in apprise
2.3.0's plugins): the URL holds credentials and numbers, never a host to connect to."""
SELF_HOSTED_SCHEMES = frozenset({"json", "jsons", "form", "forms", "xml", "xmls"})
"""apprise's generic HTTP posts, for a gateway of your own: the host must pass the outbound
policy (a public address unless the server allows a private network), checked again on
every send and redirect."""
SAMPLE_PHONE = "+10000000000"


def check_template(url_template: str, policy: Policy) -> None:
    """Refuse an apprise URL template that may reach something other than a provider's fixed
    host or a permitted gateway (raises :class:`UrlRefused` saying why)."""
    url = expand(url_template, SAMPLE_PHONE)
    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    if scheme in PROVIDER_SCHEMES:
        return
    check_url(url, policy, schemes=SELF_HOSTED_SCHEMES | PROVIDER_SCHEMES)


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
    """Sends through apprise inside the outbound policy: the URL is checked again before each
    send, and every connection apprise opens (redirects included) goes only to addresses the
    policy checked. Errors are generic, so a failed send cannot be used to map ports."""

    def __init__(self, name: str, url_template: str, policy: Policy) -> None:
        self.name = name
        self._template = url_template
        self._policy = policy

    def send(self, message: OutgoingMessage) -> None:
        try:
            check_template(self._template, self._policy)
        except UrlRefused as exc:
            raise SendError(f"{self.name}: the URL {exc}") from exc
        _load_plugins()
        notifier = apprise.Apprise()
        if not notifier.add(expand(self._template, message.to)):
            raise SendError(f"{self.name}: the apprise URL is not valid")
        with (
            guarded(self._policy) as policy,
            apprise.LogCapture(level=logging.WARNING),  # type: ignore[no-untyped-call]
        ):
            ok = notifier.notify(body=message.body, title=message.subject)
        if not ok:
            if policy.blocked:
                raise SendError(f"{self.name}: refused: {policy.blocked[-1][:200]} {BLOCKED}")
            raise SendError(
                f"{self.name}: not delivered (the provider refused it or could not be reached; "
                "check the URL and its credentials)"
            )
