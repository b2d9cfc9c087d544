"""The live event bus: wakes up SSE streams when their organisation has new events.

``LocalBus`` works inside one process (embedded SQLite mode). ``PostgresBus`` also listens
to PostgreSQL ``NOTIFY`` on a dedicated connection, so a browser connected to one server
process sees events committed by another process (another server or a worker).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections import defaultdict
from collections.abc import AsyncIterator

import psycopg

from lastmile.events.service import CHANNEL


class LocalBus:
    """Fan-out of "organisation X has event N" to the asyncio subscribers of this process."""

    def __init__(self) -> None:
        self._subscribers: dict[str, set[tuple[asyncio.AbstractEventLoop, asyncio.Queue[int]]]] = (
            defaultdict(set)
        )
        self._lock = threading.Lock()

    def publish(self, org_id: str, event_id: int) -> None:
        """Thread-safe: may be called from request threads, job threads or the listener."""
        with self._lock:
            targets = list(self._subscribers.get(org_id, ()))
        for loop, queue in targets:
            if not loop.is_closed():
                loop.call_soon_threadsafe(queue.put_nowait, event_id)

    @contextlib.asynccontextmanager
    async def subscribe(self, org_id: str) -> AsyncIterator[asyncio.Queue[int]]:
        """A queue that receives the ids of new events of ``org_id`` (on the caller's loop)."""
        entry = (asyncio.get_running_loop(), asyncio.Queue[int]())
        with self._lock:
            self._subscribers[org_id].add(entry)
        try:
            yield entry[1]
        finally:
            with self._lock:
                self._subscribers[org_id].discard(entry)

    def start(self) -> None:
        """Nothing to start for the in-process bus."""

    def stop(self) -> None:
        """Nothing to stop for the in-process bus."""


class PostgresBus(LocalBus):
    """:class:`LocalBus` fed by PostgreSQL ``LISTEN`` (events from every process)."""

    def __init__(self, conninfo: str) -> None:
        super().__init__()
        self._conninfo = conninfo
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.ready = threading.Event()

    def publish(self, org_id: str, event_id: int) -> None:
        """Local commits are announced by PostgreSQL itself (NOTIFY), not here."""

    def _deliver(self, org_id: str, event_id: int) -> None:
        super().publish(org_id, event_id)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._listen, name="lastmile-pg-listen", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _listen(self) -> None:
        while not self._stop.is_set():
            try:
                with psycopg.connect(self._conninfo, autocommit=True) as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    self.ready.set()
                    while not self._stop.is_set():
                        for note in conn.notifies(timeout=1.0):
                            org_id, _, event_id = note.payload.partition(":")
                            if event_id.isdigit():
                                self._deliver(org_id, int(event_id))
            except psycopg.Error:
                self.ready.clear()
                self._stop.wait(
                    1.0
                )  # database restarting: retry; SSE clients catch up from the table


def psycopg_conninfo(sqlalchemy_url: str) -> str:
    """``postgresql+psycopg://u@h/db`` -> ``postgresql://u@h/db`` for a raw psycopg connection."""
    return sqlalchemy_url.replace("postgresql+psycopg://", "postgresql://", 1)
