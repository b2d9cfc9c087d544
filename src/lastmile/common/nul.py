"""Refuse NUL characters in requests before any route sees them: the one check there is
(and, in JSON bodies, numbers that are not finite).

PostgreSQL cannot store a NUL (``\\x00``) in a text column and refuses it even as a query
parameter, so one NUL in a search box, a path segment or a JSON field used to end in an
HTTP 500 there (SQLite stored it). No real value of this service contains a NUL, so every
request carrying one in its path, query string, JSON body, url-encoded form or the text
fields of a multipart form is answered 422 naming the field, the same problem+json as any
validation error. Routes, schemas and services therefore never check for NUL themselves.
NaN, Infinity and numbers beyond a float's range (``1e999``), which Python's JSON reader
accepts and turns into values no field may hold, are refused the same way in JSON bodies.
Files in a multipart form are not looked into here: CSV files are checked by their parser,
which names the row and column; images may hold any byte.
"""

from __future__ import annotations

import json
import math
import re
import tempfile
from typing import IO, Any
from urllib.parse import parse_qsl

from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from lastmile.common.web import problem

NUL = "\x00"
MAX_SCANNED_BODY = 20_000_000
"""A larger JSON or url-encoded body is refused (413): no route takes one, and a body passed
on unread would carry its NUL to the database."""
SPOOL_IN_MEMORY = 1_000_000
"""A multipart body (uploads) is kept in memory up to this size while its text fields are
checked, then on disk, as Starlette does with the files themselves."""
MAX_FIELD = 1_000_000
"""Text of one multipart field that is looked at (Starlette refuses longer fields)."""


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
        if field is None and scan:
            if length > MAX_SCANNED_BODY:
                await _too_large(scope, receive, send)
                return
            body, receive = await _buffered(receive)
            if len(body) > MAX_SCANNED_BODY:
                await _too_large(scope, receive, send)
                return
            field = _in_body(kind, body)
            infinite = (
                None
                if field is not None or kind == b"application/x-www-form-urlencoded"
                else _non_finite(body)
            )
            if infinite is not None:
                response = problem(
                    422,
                    "Invalid input",
                    f"{infinite or 'body'}: is not a finite number (NaN, Infinity or beyond "
                    "1.8e308), which no value may be",
                    "invalid_input",
                    errors=[
                        {"field": infinite, "message": "not a finite number", "type": "finite"}
                    ],
                )
                await response(scope, receive, send)
                return
        elif field is None and kind == b"multipart/form-data":
            with tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY) as spool:
                field, replay = await _multipart(headers.get(b"content-type", b""), receive, spool)
                if field is None:
                    await self.app(scope, replay, send)
                    return
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


async def _too_large(scope: Scope, receive: Receive, send: Send) -> None:
    response = problem(
        413,
        "Payload too large",
        f"the body is larger than {MAX_SCANNED_BODY} bytes, more than any request takes",
        "payload_too_large",
    )
    await response(scope, receive, send)


class _FieldScan:
    """python-multipart callbacks: the name and text of each part that is not a file."""

    def __init__(self) -> None:
        self.found: str | None = None
        self._header = b""
        self._name = ""
        self._is_file = False
        self._text = bytearray()

    def callbacks(self) -> dict[str, Any]:
        return {
            "on_part_begin": self._begin,
            "on_header_field": self._header_field,
            "on_header_value": self._header_value,
            "on_headers_finished": self._headers_done,
            "on_part_data": self._data,
            "on_part_end": self._end,
        }

    def _begin(self) -> None:
        self._header, self._name, self._is_file = b"", "", False
        self._text.clear()

    def _header_field(self, data: bytes, start: int, end: int) -> None:
        self._header = data[start:end].lower()

    def _header_value(self, data: bytes, start: int, end: int) -> None:
        if self._header != b"content-disposition":
            return
        _, options = parse_options_header(data[start:end])
        self._name = options.get(b"name", b"").decode("utf-8", errors="replace")
        self._is_file = b"filename" in options

    def _headers_done(self) -> None:
        if self.found is None and NUL in self._name:
            self.found = self._name.replace(NUL, "\\0")

    def _data(self, data: bytes, start: int, end: int) -> None:
        if not self._is_file and len(self._text) < MAX_FIELD:
            self._text += data[start:end]

    def _end(self) -> None:
        if self.found is None and not self._is_file and b"\x00" in self._text:
            self.found = self._name


async def _multipart(
    content_type: bytes, receive: Receive, spool: IO[bytes]
) -> tuple[str | None, Receive]:
    """Read a multipart body into ``spool``, checking its text fields as it arrives; the
    field holding a NUL (or None), and a ``receive`` that hands the body on unchanged."""
    _, options = parse_options_header(content_type)
    boundary = options.get(b"boundary")
    scan = _FieldScan()
    parser = MultipartParser(boundary, scan.callbacks()) if boundary else None  # type: ignore[arg-type]
    disconnected = False
    while True:
        message = await receive()
        if message["type"] != "http.request":
            disconnected = True
            break
        chunk = message.get("body", b"")
        spool.write(chunk)
        if parser is not None:
            try:
                parser.write(chunk)
            except MultipartParseError:
                parser = None  # malformed: the route's own parser answers it
        if not message.get("more_body", False):
            break
    total = spool.tell()
    spool.seek(0)
    done = False

    async def replay() -> Message:
        nonlocal done
        if disconnected:
            return {"type": "http.disconnect"}
        if done:
            return await receive()
        chunk = spool.read(65536)
        more = spool.tell() < total
        done = not more
        return {"type": "http.request", "body": chunk, "more_body": more}

    return scan.found, replay


_MAYBE_INFINITE = re.compile(rb"NaN|Infinity|\d[eE]\+?\d{3}")


class _Infinite:
    """Stands for a non-finite number while a JSON body is searched for one."""


def _non_finite(body: bytes) -> str | None:
    """The dotted path of the first NaN, Infinity or overflowing number (``1e999``) in a JSON
    body, '' for the body itself, else None. Python's JSON reader takes them all (as float
    infinities or NaN); JSON itself has no such numbers, and none can be meant."""
    if not _MAYBE_INFINITE.search(body):
        return None  # the common case: no need to parse

    def number(text: str) -> Any:
        value = float(text)
        return value if math.isfinite(value) else _Infinite()

    try:
        document = json.loads(body, parse_constant=lambda _: _Infinite(), parse_float=number)
    except ValueError:
        return None  # not JSON: the route answers 422 itself
    return _path_of(document, ())


def _path_of(value: Any, path: tuple[str, ...]) -> str | None:
    if isinstance(value, _Infinite):
        return ".".join(path)
    items = (
        value.items()
        if isinstance(value, dict)
        else enumerate(value)
        if isinstance(value, list)
        else ()
    )
    for key, item in items:
        found = _path_of(item, (*path, str(key)))
        if found is not None:
            return found
    return None
