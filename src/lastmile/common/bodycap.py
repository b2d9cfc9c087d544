"""Refuse an upload that is too large before reading it, not after.

A route that takes a file (``UploadFile``) runs only once the whole multipart body has been
parsed and spooled to disk, so a size check inside the route comes after a stranger's 2 GB
"photo" has filled the disk. This middleware sits in front: a declared ``Content-Length``
over the cap is answered 413 at once, without reading a byte of the body; a body sent
without one (chunked) is counted as it arrives and cut off with the same 413 the moment it
passes the cap. The route still checks the exact size of the file itself (the cap allows for
the form's other fields and boundaries).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from lastmile.common.web import problem


@dataclass(frozen=True)
class Cap:
    """The most bytes a request body may have, and what to tell a client over it."""

    max_bytes: int
    detail: str
    code: str


class CapBody:
    """Plain ASGI; ``cap_of(scope)`` says which requests are capped (None: not capped)."""

    def __init__(self, app: ASGIApp, cap_of: Callable[[Scope], Cap | None]) -> None:
        self.app = app
        self.cap_of = cap_of

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        cap = self.cap_of(scope) if scope["type"] == "http" else None
        if cap is None:
            await self.app(scope, receive, send)
            return
        too_large = problem(413, "Payload too large", cap.detail, cap.code)
        declared = dict(scope.get("headers") or ()).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > cap.max_bytes:
            await too_large(scope, receive, send)  # the body is never read
            return
        received = 0
        cut = False

        async def counted() -> Message:
            nonlocal received, cut
            if cut:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > cap.max_bytes:
                    cut = True
                    await too_large(scope, receive, send)
                    return {"type": "http.disconnect"}  # the route stops reading here
            return message

        async def unless_cut(message: Message) -> None:
            if not cut:  # once the 413 went out, the route's own answer is dropped
                await send(message)

        try:
            await self.app(scope, counted, unless_cut)
        except Exception:
            if not cut:
                raise
            # the route saw the body end early (a client disconnect); the 413 is the answer
