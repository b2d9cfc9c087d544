"""Predictions computed on read, remembered for a few seconds (see :class:`RecentReads`)."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Sequence
from typing import Any, Generic, TypeVar

from lastmile.orders.models import Order
from lastmile.routes.models import Route, Stop, StopEta

T = TypeVar("T")


def state_key(
    route: Route, pairs: Sequence[tuple[Stop, Order | None]], rows: dict[str, StopEta]
) -> tuple[Any, ...]:
    """What a prediction computed on read depends on, besides the time and the newest GPS
    point: the route, its stops and their orders as they are now, and the stored promises."""
    return (
        route.status,
        route.eta_computed_at,
        route.driver_id,
        route.vehicle_id,
        tuple(
            (
                s.id, s.status, s.sequence, s.kind, s.arrival_s, s.dispatched_arrival_s,
                o.id if o else None, o.status if o else None, str(o.windows) if o else None,
                o.service_s if o else None,
            )
            for s, o in pairs
        ),
        tuple(
            sorted(
                (k, e.promise_start_s, e.promise_end_s)
                for k, e in rows.items()
                if e.route_id == route.id
            )
        ),
    )  # fmt: skip


class RecentReads(Generic[T]):
    """Predictions computed on read (a stale route: no GPS, no event for a while), kept for
    :data:`READ_CACHE_S` seconds of the organisation's time per route and process.

    A stale route is read by every customer who opens its tracking pages and by every
    dashboard; computing it means loading the route's whole state and a road query. Within a
    few seconds the answer is the same (the tracking page rounds to 5 minutes), as long as
    nothing about the route changed: the key (:func:`state_key`) includes the route's and
    stops' state and the stored prediction's time, so an event or a stored refresh is seen
    at once. Still no writes: this is memory of one process."""

    def __init__(self, size: int = 2000) -> None:
        self.size = size
        self.lock = threading.Lock()
        self.items: dict[str, tuple[tuple[Any, ...], dt.datetime, T]] = {}

    def get(self, route_id: str, key: tuple[Any, ...], when: dt.datetime) -> T | None:
        with self.lock:
            found = self.items.get(route_id)
        if found is None or found[0] != key:
            return None
        if abs((when - found[1]).total_seconds()) > READ_CACHE_S:
            return None
        return found[2]

    def put(self, route_id: str, key: tuple[Any, ...], when: dt.datetime, etas: T) -> None:
        with self.lock:
            if len(self.items) >= self.size:
                for old in list(self.items)[: self.size // 2]:
                    del self.items[old]
            self.items[route_id] = (key, when, etas)


READ_CACHE_S = 10
"""How long (business-time seconds) one process reuses a prediction it computed on read."""
