"""Secrets typed into the service are write-only: no role reads them back.

An SMS provider's apprise URL (``twilio://SID:TOKEN@+1555.../{phone}``), a webhook URL with a
password in it: whoever can read settings (dispatchers, an admin's stolen session, a support
screenshot) must not learn the credentials. Every reader therefore gets a *masked* value,
and an edit form that sends the masked value back unchanged keeps what is stored, so the
owner never has to re-type a token just to change an unrelated setting.
"""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

MASK = "********"
"""Stands for a stored secret in what readers see (and in what an edit form sends back)."""


def mask_url(url: str) -> str:
    """Only the scheme of an apprise URL template: credentials may sit in any part of it
    (user, password, host, path segments, query), depending on the provider."""
    scheme = url.split("://", 1)[0] if "://" in url else ""
    return f"{scheme}://{MASK}" if scheme else MASK


def mask_password(url: str) -> str:
    """``url`` with the password of its user part replaced by :data:`MASK` (a webhook URL:
    the host and path say where events go and stay readable)."""
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:
        return MASK
    if not password:
        return url
    user = parts.username or ""
    host = parts.netloc.rsplit("@", 1)[1]
    return urlunsplit(parts._replace(netloc=f"{user}:{MASK}@{host}"))


def is_masked(value: str) -> bool:
    """True when ``value`` is (or contains) the mask, i.e. an edit form sent back what it was
    shown instead of a new secret."""
    return MASK in value


def kept(new: str | None, stored: str | None) -> str | None:
    """The value to store for a masked secret field: the stored secret when ``new`` is the
    mask of it; else ``new`` (None clears). Raises ValueError when ``new`` is a mask but
    there is nothing stored it could stand for."""
    if new is None or not is_masked(new):
        return new
    if stored and new == mask_url(stored):
        return stored
    raise ValueError("is hidden (it shows a stored secret); type the whole value to change it")
