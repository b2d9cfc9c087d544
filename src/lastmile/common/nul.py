"""Refuse NUL characters in requests before any route sees them.

PostgreSQL cannot store a NUL (``\\x00``) in a text column and refuses it even as a query
parameter, so one NUL in a search box, a path segment or a JSON field used to end in an
HTTP 500 there (SQLite stored it). No real value of this service contains a NUL, so every
request carrying one in its path, query string, JSON body or form body is answered 422
naming the field, the same problem+json as any validation error. Files (CSV imports) are
checked by their parser, which names the row and column; images may hold any byte.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from lastmile.common.web import problem

NUL = "\x00"
MAX_SCANNED_BODY = 20_000_000
"""A larger JSON or form body is passed on unread (the route's own limits apply)."""


def nul_field(value: Any, path: tuple[str, ...] = ()) -> str | None:
    """The dotted path of the first key or string in ``value`` holding a NUL, else None."""
    if isinstance(value, str):
        return ".".join(path) if NUL in value else None
    if isinstance(value, dict):
        for key, item in value.items():
            if NUL in str(key):
                return ".".join((*path, str(key).replace(NUL, "\\0")))
            found = nul_field(item, (*path, str(key)))
            if found is not None:
                return found
    if isinstance(value, list):
        for index, item in enumerate(value):
            found = nul_field(item, (*path, str(index)))
            if found is not None:
                return found
    return None


def _in_pairs(pairs: list[tuple[str, str]], prefix: str) -> str | None:
    for key, value in pairs:
        if NUL in key or NUL in value:
            return prefix + key.replace(NUL, "\\0")
    return None


class RefuseNul:
    """Plain ASGI (streams pass through untouched); reads only JSON and form bodies."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        field = None
        if NUL in scope.get("path", ""):
            field = "path"
        else:
            query = scope.get("query_string", b"").decode("latin-1")
            field = _in_pairs(parse_qsl(query, keep_blank_values=True), "query.")
        headers = dict(scope.get("headers") or ())
        kind = headers.get(b"content-type", b"").split(b";")[0].strip().lower()
        length = int(headers.get(b"content-length", b"0") or 0)
        scan = kind in (b"application/json", b"application/x-www-form-urlencoded") or kind.endswith(
            b"+json"
        )
        if field is None and scan and length <= MAX_SCANNED_BODY:
            body, receive = await _buffered(receive)
            field = _in_body(kind, body)
        if field is None:
            await self.app(scope, receive, send)
            return
        response = problem(
            422,
            "Invalid input",
            f"{field}: contains a NUL character (\\0), which no value may hold",
            "invalid_input",
            errors=[{"field": field, "message": "contains a NUL character", "type": "nul"}],
        )
        await response(scope, receive, send)


def _in_body(kind: bytes, body: bytes) -> str | None:
    if kind == b"application/x-www-form-urlencoded":
        text = body.decode("utf-8", errors="replace")
        return _in_pairs(parse_qsl(text, keep_blank_values=True), "")
    if b"\\u0000" not in body and b"\x00" not in body:
        return None  # the common case: no need to parse
    try:
        document = json.loads(body)
    except ValueError:
        return None  # not JSON: the route answers 422 itself
    return nul_field(document)


async def _buffered(receive: Receive) -> tuple[bytes, Receive]:
    """Read the whole body, and a ``receive`` that hands it on to the route unchanged."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    body = b"".join(chunks)
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return body, replay
