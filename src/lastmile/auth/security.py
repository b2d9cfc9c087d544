"""Password hashing (argon2) and random secrets (tokens, API keys) stored as SHA-256."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()

TOKEN_PREFIX = "lmt_"
API_KEY_PREFIX = "lmk_"


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def dummy_verify() -> None:
    """Spend the time a real verification takes, so unknown e-mails can't be told apart."""
    verify_password(_DUMMY, "not the password")


_DUMMY = _hasher.hash("dummy-password-for-timing")


def new_secret(prefix: str) -> str:
    return prefix + secrets.token_urlsafe(32)


def digest(secret: str) -> str:
    """SHA-256 of a high-entropy secret: enough to store it safely, fast to look up."""
    return hashlib.sha256(secret.encode()).hexdigest()


def sign(key: str, message: str) -> str:
    return hmac.new(key.encode(), message.encode(), hashlib.sha256).hexdigest()


def same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


DEVICE_COOKIE = "lastmile_device"
"""A signed, long-lived cookie naming this browser or phone and the accounts that logged in
on it: such a device is not held back by another account's failures from the same address."""
DEVICE_COOKIE_MAX_AGE_S = 400 * 24 * 3600
_DEVICE_ACCOUNTS = 8


def account_tag(email: str) -> str:
    """A short, non-reversible name of an account for the device cookie."""
    return hashlib.sha256(email.strip().lower().encode()).hexdigest()[:16]


def read_device_cookie(key: str, value: str | None) -> tuple[str, list[str]] | None:
    """(device id, account tags) of a cookie this server signed, or None."""
    if not value or value.count(".") != 2:
        return None
    device, tags, mac = value.split(".")
    if not same(mac, sign(key, f"device:{device}.{tags}")):
        return None
    return device, [t for t in tags.split("_") if t]


def trusted_device(key: str, value: str | None, email: str) -> str | None:
    """The device id if the cookie shows a login to ``email`` on this device before."""
    read = read_device_cookie(key, value)
    if read is None or account_tag(email) not in read[1]:
        return None
    return read[0]


def device_cookie(key: str, value: str | None, email: str) -> str:
    """The cookie after a successful login to ``email`` (a new device id if there was none)."""
    read = read_device_cookie(key, value)
    device, tags = read if read else (secrets.token_hex(12), [])
    tag = account_tag(email)
    others = [t for t in tags if t != tag][-(_DEVICE_ACCOUNTS - 1) :]
    tags = [*others, tag]
    payload = f"{device}.{'_'.join(tags)}"
    return f"{payload}.{sign(key, 'device:' + payload)}"
