"""One ASGI middleware around every request: request id, metrics, access log, HSTS.

It is plain ASGI (not ``BaseHTTPMiddleware``) so that Server-Sent Event streams pass through
untouched; an SSE response is counted as an open client from its first byte to its end.
"""

from __future__ import annotations

import logging
import time

from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from lastmile.common.logs import REQUEST_ID, request_id_from
from lastmile.common.metrics import METRICS
from lastmile.common.web import client_address
from lastmile.config import Settings

access_log = logging.getLogger("lastmile.access")

QUIET_ROUTES = frozenset({"/healthz", "/readyz", "/metrics"})
"""Probed every few seconds by systemd, proxies and Prometheus: logged at DEBUG only."""

HSTS = "max-age=31536000"  # one year; no includeSubDomains: the owner's other hosts are theirs


class RequestMiddleware:
    """Request id in and out, request metrics by route template, one access line per
    request, and ``Strict-Transport-Security`` when the public address is HTTPS."""

    def __init__(self, app: ASGIApp, *, settings: Settings) -> None:
        self.app = app
        self.settings = settings
        self.hsts = settings.https

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = dict(scope.get("headers") or ()).get(b"x-request-id")
        request_id = request_id_from(incoming.decode("latin-1") if incoming else None)
        token = REQUEST_ID.set(request_id)
        started = time.perf_counter()
        state = {"status": 500, "stream": False}

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                state["status"] = message["status"]
                headers = MutableHeaders(scope=message)
                headers["X-Request-ID"] = request_id
                if self.hsts:
                    headers["Strict-Transport-Security"] = HSTS
                METRICS.request_seconds.labels(scope["method"], route_template(scope)).observe(
                    time.perf_counter() - started
                )
                if headers.get("content-type", "").startswith("text/event-stream"):
                    state["stream"] = True
                    METRICS.sse_clients.inc()
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        finally:
            if state["stream"]:
                METRICS.sse_clients.dec()
            route = route_template(scope)
            status = int(state["status"])
            METRICS.requests.labels(scope["method"], route, str(status)).inc()
            access_log.log(
                logging.DEBUG if route in QUIET_ROUTES else logging.INFO,
                "%s %s %s %.1f ms",
                scope["method"],
                scope["path"],
                status,
                (time.perf_counter() - started) * 1000,
                extra={
                    "method": scope["method"],
                    "path": scope["path"],
                    "route": route,
                    "status": status,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 1),
                    # Behind the proxy: the address X-Forwarded-For names, if the proxy is
                    # one of LASTMILE_TRUSTED_PROXIES (the same rule as the rate limits).
                    "client": client_address(Request(scope), self.settings),
                },
            )
            REQUEST_ID.reset(token)


def route_template(scope: Scope) -> str:
    """The matched route's path template, ``/static`` for files, ``unmatched`` otherwise
    (bounded label values whatever paths clients send)."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    if isinstance(path, str):
        return path
    if scope.get("root_path", "").endswith("/static") or scope["path"].startswith("/static/"):
        return "/static"
    return "unmatched"
