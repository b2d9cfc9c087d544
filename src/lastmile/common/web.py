"""FastAPI plumbing shared by every router: sessions, settings, client address, problem+json
errors. Who is calling (bearer tokens, API keys, session cookies) is the auth slice's own
``auth/deps.py``, so that this module, which every slice imports, imports no slice."""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError
from sqlalchemy.orm import Session, sessionmaker
from starlette.exceptions import HTTPException as StarletteHTTPException

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


def public_url_of(configured: str, is_set: bool, request: Request) -> str:
    """Where people reach this server, for the links the caller is shown (invitations, login
    and tracking links): ``LASTMILE_PUBLIC_URL`` when it is set, else the address the caller
    used. A fresh install without it would otherwise hand a driver a link to
    ``http://localhost:8000``, which no phone can open (production requires the setting)."""
    if is_set:
        return configured.rstrip("/")
    return str(request.base_url).rstrip("/")


def get_public_url(request: Request) -> str:
    settings: Settings = request.app.state.settings
    return public_url_of(settings.public_url, "public_url" in settings.model_fields_set, request)


PublicUrl = Annotated[str, Depends(get_public_url)]


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
        if isinstance(exc, RateLimited) and exc.limit:
            extra.update(limit=exc.limit, allowed=exc.allowed, retry_after_s=exc.retry_after_s)
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
