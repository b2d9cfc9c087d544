"""Following an organisation's event log live: what every Server-Sent Events stream runs.

Event ids come from the database when a row is inserted, not when its transaction commits, so
a transaction that took id 7 can commit after one that took id 8. A stream that only asks for
"ids after my cursor" would read 8, move its cursor past 7 and never see it. The bus announces
every event id once its transaction has committed (``NOTIFY`` on PostgreSQL, the after-commit
hook in process), so a stream also reads, by id, every announced event at or below its cursor
that it has not delivered yet: late commits are delivered late, never lost. SQLite has one
writer at a time, so there ids commit in order and this never triggers.

A stream holds no database connection while it waits: each read opens a session and closes
it. One new event wakes every stream of its organisation at once, so the reads of a process
go through a small limiter (:data:`CONCURRENT_READS`): fifty open dashboards queue for a few
connections instead of emptying the pool and failing other requests.
"""

from __future__ import annotations

import asyncio
import weakref
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import anyio
from fastapi import Request
from sqlalchemy.orm import Session, sessionmaker

from lastmile.events import service
from lastmile.events.bus import LocalBus
from lastmile.events.models import Event

KEEPALIVE_S = 15.0
"""A comment line this often keeps proxies from closing an idle stream."""
REMEMBERED = 5000
"""Delivered ids a stream remembers (to recognise announcements of events it already sent)."""
CONCURRENT_READS = 4
"""Stream reads running at once in a process (each holds a database connection meanwhile)."""
_limiters: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, anyio.CapacityLimiter] = (
    weakref.WeakKeyDictionary()
)


def _reads() -> anyio.CapacityLimiter:
    """The limiter of the running event loop (a server process has one loop; tests more)."""
    loop = asyncio.get_running_loop()
    limiter = _limiters.get(loop)
    if limiter is None:
        limiter = _limiters[loop] = anyio.CapacityLimiter(CONCURRENT_READS)
    return limiter


@dataclass(frozen=True)
class Opened:
    """The first item of a stream: the cursor it starts after."""

    cursor: int


KeepAlive = None
"""Yielded when nothing happened for :data:`KEEPALIVE_S`."""


def reader(sessions: sessionmaker[Session], org_id: str) -> Callable[[int, list[int]], list[Event]]:
    """Events of ``org_id`` after a cursor, plus those with the given (late) ids."""

    def read(after: int, late: list[int]) -> list[Event]:
        with sessions() as session:
            rows = service.since(session=session, org_id=org_id, after_id=after)
            if late:
                rows = service.by_ids(session=session, org_id=org_id, ids=late) + rows
            return rows

    return read


async def follow(
    request: Request,
    *,
    bus: LocalBus,
    sessions: sessionmaker[Session],
    org_id: str,
    start: int | None,
    keepalive_s: float = KEEPALIVE_S,
) -> AsyncIterator[Opened | Event | None]:
    """:class:`Opened`, then every event of the organisation after ``start`` (default: now)
    as it becomes visible, each once; ``None`` when a keep-alive is due. Ends when the client
    disconnects."""
    read = reader(sessions, org_id)

    def newest() -> int:
        with sessions() as session:
            return service.latest_id(session=session, org_id=org_id)

    async with bus.subscribe(org_id) as queue:
        cursor = (
            start if start is not None else await anyio.to_thread.run_sync(newest, limiter=_reads())
        )
        yield Opened(cursor)
        order: deque[int] = deque()
        delivered: set[int] = set()
        late: set[int] = set()
        while True:
            rows = await anyio.to_thread.run_sync(read, cursor, sorted(late), limiter=_reads())
            late.clear()
            for event in sorted(rows, key=lambda e: e.id):
                if event.id in delivered:
                    continue
                delivered.add(event.id)
                order.append(event.id)
                if len(order) > REMEMBERED:
                    delivered.discard(order.popleft())
                cursor = max(cursor, event.id)
                yield event
            if len(rows) >= 500:
                continue
            if await request.is_disconnected():
                return
            announced: list[int] = []
            try:
                announced.append(await asyncio.wait_for(queue.get(), timeout=keepalive_s))
            except TimeoutError:
                yield KeepAlive
            while not queue.empty():
                announced.append(queue.get_nowait())
            late.update(i for i in announced if i <= cursor and i not in delivered)


MAX_EVENT_ID = 2**63 - 1
"""Event ids are 64-bit integers in the database: a cursor above this is refused (query) or
ignored (header: the stream starts from now), never sent to the database, where it would overflow."""


def resume_cursor(query: int | None, header: str | None) -> int | None:
    """Where a stream resumes: the ``last_event_id`` parameter, else the ``Last-Event-ID``
    header if it is a plain non-negative number (anything else starts from now)."""
    if query is not None:
        return query
    if header and header.isascii() and header.isdigit() and int(header) <= MAX_EVENT_ID:
        return int(header)
    return None
