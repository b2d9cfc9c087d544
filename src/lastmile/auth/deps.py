"""Who is calling: FastAPI dependencies over the auth service (bearer tokens, API keys, the
session cookie with its CSRF check, known devices). They live in the auth slice, not in
``common/web.py``, because every slice imports ``common`` and ``common`` must import none."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request, Response
from sqlalchemy.orm import Session

from lastmile.auth import org_limits
from lastmile.auth import service as auth
from lastmile.auth.principal import Principal
from lastmile.auth.security import (
    DEVICE_COOKIE,
    DEVICE_COOKIE_MAX_AGE_S,
    device_cookie,
    same,
    sign,
    trusted_device,
)
from lastmile.common.web import CSRF_HEADER, SAFE_METHODS, SESSION_COOKIE, AppSettings, DbSession
from lastmile.config import Settings
from lastmile.core.errors import Forbidden, Unauthorized


def login_limits(settings: Settings) -> auth.LoginLimits:
    return auth.LoginLimits(
        per_account=settings.login_max_failures,
        per_address=settings.login_address_max_failures,
        window_s=settings.login_window_s,
    )


def known_device(request: Request, settings: Settings, email: str) -> str | None:
    """The device id if this browser or phone logged in to ``email`` before."""
    return trusted_device(settings.resolved_secret_key(), request.cookies.get(DEVICE_COOKIE), email)


def remember_device(response: Response, request: Request, settings: Settings, email: str) -> None:
    """After a successful login: mark this device as one that logged in to ``email``."""
    value = device_cookie(settings.resolved_secret_key(), request.cookies.get(DEVICE_COOKIE), email)
    response.set_cookie(
        DEVICE_COOKIE,
        value,
        max_age=DEVICE_COOKIE_MAX_AGE_S,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
        path="/",
    )


def csrf_token(settings: Settings, session_token: str) -> str:
    """The CSRF token of a browser session: an HMAC of its cookie (double submit)."""
    return sign(settings.resolved_secret_key(), "csrf:" + session_token)


def get_principal(request: Request, session: DbSession, settings: AppSettings) -> Principal:
    """Authenticate, and count the request against its organisation's request rate
    (``auth.org_limits``: 429 beyond it)."""
    principal = _authenticate(request, session, settings)
    org_limits.spend_request(session, principal.org_id)
    return principal


def _authenticate(request: Request, session: Session, settings: Settings) -> Principal:
    """``Authorization: Bearer`` (token or API key), ``X-API-Key``, or the session cookie
    (which needs the CSRF header on anything but GET)."""
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return auth.principal_for_token(session=session, token=header[7:].strip())
    api_key = request.headers.get("x-api-key")
    if api_key:
        return auth.principal_for_token(session=session, token=api_key.strip())
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        if request.method not in SAFE_METHODS:
            sent = request.headers.get(CSRF_HEADER, "")
            if not sent or not same(sent, csrf_token(settings, cookie)):
                raise Forbidden("missing or wrong CSRF token")
        return auth.principal_for_token(session=session, token=cookie, via_cookie=True)
    raise Unauthorized("log in first: send 'Authorization: Bearer <token>' or an API key")


Caller = Annotated[Principal, Depends(get_principal)]


def caller_token(request: Request) -> str | None:
    """The bearer token or session cookie of this request (to keep it when revoking the
    user's others)."""
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip()
    return request.cookies.get(SESSION_COOKIE)


def optional_principal(request: Request, session: Session, settings: Settings) -> Principal | None:
    """The caller if the request carries valid credentials, else None (pages and routes
    that anyone with a link may use, e.g. accepting an invitation)."""
    try:
        return get_principal(request, session, settings)
    except (Unauthorized, Forbidden):
        return None
