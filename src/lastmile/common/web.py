"""FastAPI plumbing shared by every router: sessions, who is calling, problem+json errors."""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import AfterValidator
from sqlalchemy.exc import DataError
from sqlalchemy.orm import Session, sessionmaker
from starlette.exceptions import HTTPException as StarletteHTTPException

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
from lastmile.config import Settings
from lastmile.core.errors import (
    Conflict,
    Forbidden,
    IllegalTransition,
    InputError,
    LastmileError,
    ModelError,
    NotFound,
    RateLimited,
    Unauthorized,
)


def _no_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("contains a NUL character")
    return value


FormText = Annotated[str, AfterValidator(_no_nul)]
"""A text field of a multipart form (JSON, query and url-encoded forms are checked for NUL by
``common/nul.py`` before any route; multipart bodies are not read there)."""

log = logging.getLogger(__name__)

SESSION_COOKIE = "lastmile_session"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_session(request: Request) -> Iterator[Session]:
    """One database session per request, closed afterwards (services commit)."""
    factory: sessionmaker[Session] = request.app.state.sessions
    with factory() as session:
        yield session


DbSession = Annotated[Session, Depends(get_session)]
AppSettings = Annotated[Settings, Depends(get_settings)]


def _within(address: str, networks: list[str]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in ipaddress.ip_network(n, strict=False) for n in networks)


def client_address(request: Request, settings: Settings) -> str:
    """The client's address: the connection's peer, or, when that peer is one of the
    ``trusted_proxies``, the nearest address in ``X-Forwarded-For`` that is not a trusted
    proxy (a client can put anything at the front of that header; only what our own proxies
    appended counts)."""
    peer = request.client.host if request.client else "unknown"
    if not settings.trusted_proxies or not _within(peer, settings.trusted_proxies):
        return peer
    hops = [
        hop.strip()
        for header in request.headers.getlist("x-forwarded-for")
        for hop in header.split(",")
        if hop.strip()
    ]
    for hop in reversed(hops):
        if not _within(hop, settings.trusted_proxies):
            return hop[:64]
    return hops[0][:64] if hops else peer


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
    """Authenticate: ``Authorization: Bearer`` (token or API key), ``X-API-Key``, or the
    session cookie (which needs the CSRF header on anything but GET)."""
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


def problem(status: int, title: str, detail: str, code: str, **extra: Any) -> JSONResponse:
    """An RFC 9457 problem+json response."""
    body = {
        "type": f"https://lastmile.dev/problems/{code}",
        "title": title,
        "status": status,
        "detail": detail,
        "code": code,
        **extra,
    }
    return JSONResponse(body, status_code=status, media_type="application/problem+json")


STATUS = {
    NotFound: (404, "Not found"),
    Unauthorized: (401, "Unauthorized"),
    Forbidden: (403, "Forbidden"),
    Conflict: (409, "Conflict"),
    IllegalTransition: (409, "Illegal status transition"),
    RateLimited: (429, "Too many requests"),
    InputError: (422, "Invalid input"),
    ModelError: (422, "Invalid problem"),
}


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(LastmileError)
    async def _domain(_: Request, exc: LastmileError) -> JSONResponse:
        status, title = next(
            (v for k, v in STATUS.items() if isinstance(exc, k)), (400, "Bad request")
        )
        extra: dict[str, Any] = {}
        if isinstance(exc, InputError):
            extra["errors"] = [
                {"row": i.row, "field": i.field, "value": i.value, "message": i.message}
                for i in exc.issues
            ]
        response = problem(status, title, exc.message, exc.code, **extra)
        if isinstance(exc, Unauthorized):
            response.headers["WWW-Authenticate"] = "Bearer"
        if isinstance(exc, RateLimited):
            response.headers["Retry-After"] = str(exc.retry_after_s)
        return response

    @app.exception_handler(DataError)
    async def _data(_: Request, exc: DataError) -> JSONResponse:
        # The last net for a value the database refuses (a number out of its range): a 422
        # that never shows the SQL. Routes validate first; the fuzz test looks for these.
        log.warning("database refused a value: %s", exc.orig)
        return problem(
            422,
            "Invalid input",
            "a value is out of the range the database can store",
            "invalid_input",
        )

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {
                "field": ".".join(str(p) for p in e.get("loc", ()) if p != "body"),
                "message": e.get("msg", ""),
                "type": e.get("type", ""),
            }
            for e in exc.errors()
        ]
        detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
        return problem(422, "Invalid input", detail, "invalid_input", errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        return problem(exc.status_code, str(exc.detail), str(exc.detail), "http_error")
