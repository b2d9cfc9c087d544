"""KPI formulas over plain records. Pure: no database, no clock, no HTTP.

The analytics service turns stored rows (order history, route events, GPS positions, the
message log, proofs of delivery, tracking views, contacts, ratings) into the records below;
:func:`compute` derives every KPI from them. Each formula is written out in ``docs/kpis.md``.

All date-times are timezone-aware; distances are metres, durations seconds, money is in the
organisation's currency.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from itertools import pairwise

from lastmile.core.geo import haversine_m
from lastmile.core.model import Location


@dataclass(frozen=True)
class StatusEvent:
    """One row of an order's history: the order reached ``to_status`` at ``at``."""

    to_status: str
    at: datetime
    lon: float | None = None
    lat: float | None = None
    reason: str | None = None


@dataclass(frozen=True)
class OrderRecord:
    """An order in scope with its stored history and what customers did about it."""

    id: str
    created_at: datetime
    lon: float | None
    lat: float | None
    windows: tuple[tuple[datetime, datetime], ...] = ()
    """Promised windows as absolute date-times; empty = any time of the day."""
    events: tuple[StatusEvent, ...] = ()
    driver_id: str | None = None
    route_id: str | None = None
    planned_arrival: datetime | None = None
    has_pod: bool = False
    tracking_views: int = 0
    contacts: int = 0
    rating: int | None = None


@dataclass(frozen=True)
class RouteRecord:
    """A dispatched route: the plan's figures, what happened, and the vehicle's prices."""

    id: str
    driver_id: str | None
    vehicle_id: str
    planned_distance_m: float
    planned_duration_s: float
    started_at: datetime | None = None
    finished_at: datetime | None = None
    track: tuple[tuple[float, float], ...] = ()
    """GPS points ``(lon, lat)`` in time order (the actual distance is their path)."""
    shift_end: datetime | None = None
    """When the paid shift ends; time after it is overtime."""
    cost_per_hour: float = 0.0
    overtime_cost_per_hour: float = 0.0
    cost_per_km: float = 0.0
    fixed_cost: float = 0.0


@dataclass(frozen=True)
class Message:
    """One message of the notification log (``sent`` ones count as cost)."""

    order_id: str | None
    cost: float
    status: str = "sent"


@dataclass(frozen=True)
class CostBreakdown:
    driver_time: float
    overtime: float
    distance: float
    fixed: float
    messages: float
    total: float
    per_delivery: float | None
    failed_attempts: float
    """The share of ``total`` spent on failed attempts (already included in ``total``)."""


@dataclass(frozen=True)
class Scorecard:
    driver_id: str
    stops: int
    delivered: int
    failed: int
    success_rate: float | None
    on_time_rate: float | None
    pod_compliance: float | None
    avg_distance_from_stop_m: float | None


@dataclass(frozen=True)
class Kpis:
    orders: int
    delivered: int
    failed_attempts: int
    cost: CostBreakdown
    first_attempt_success_rate: float | None
    on_time_rate: float | None
    avg_delivery_time_s: float | None
    p90_delivery_time_s: float | None
    stops_per_hour: float | None
    km_per_stop: float | None
    planned_km: float
    actual_km: float
    planned_hours: float
    actual_hours: float
    avg_arrival_error_s: float | None
    failure_reasons: dict[str, int]
    avg_rating: float | None
    ratings: int
    tracking_views_per_order: float | None
    contacts_per_order: float | None
    drivers: list[Scorecard] = field(default_factory=list)


OUTCOMES = ("delivered", "failed")


def ratio(part: float, whole: float) -> float | None:
    """``part / whole``, or ``None`` when there is nothing to divide by."""
    return part / whole if whole else None


def p90(values: list[float]) -> float | None:
    """The 90th percentile, nearest rank: the smallest value with at least 90 % at or below."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.9 * len(ordered)) - 1)]


def path_m(points: tuple[tuple[float, float], ...]) -> float:
    """Length of a GPS track in metres (great-circle legs between consecutive points)."""
    return sum(haversine_m(Location(a[0], a[1]), Location(b[0], b[1])) for a, b in pairwise(points))


def _sorted(order: OrderRecord) -> list[StatusEvent]:
    return sorted(order.events, key=lambda e: e.at)


def outcomes(order: OrderRecord) -> list[StatusEvent]:
    """The order's delivery attempts (``delivered``/``failed`` rows), in time order."""
    return [e for e in _sorted(order) if e.to_status in OUTCOMES]


def delivered_event(order: OrderRecord) -> StatusEvent | None:
    return next((e for e in outcomes(order) if e.to_status == "delivered"), None)


def service_start(order: OrderRecord) -> datetime | None:
    """When the driver started serving the stop: the first ``arrived`` row, else the first
    attempt (an arrival that was not reported)."""
    events = _sorted(order)
    arrived = next((e for e in events if e.to_status == "arrived"), None)
    if arrived is not None:
        return arrived.at
    first = next((e for e in events if e.to_status in OUTCOMES), None)
    return first.at if first else None


def on_time(order: OrderRecord) -> bool | None:
    """Whether service started within a promised window; ``None`` if it never started."""
    start = service_start(order)
    if start is None:
        return None
    if not order.windows:
        return True
    return any(a <= start <= b for a, b in order.windows)


def distance_from_stop_m(order: OrderRecord) -> float | None:
    """How far from the order's address the driver was when marking it delivered."""
    event = delivered_event(order)
    if event is None or event.lon is None or event.lat is None:
        return None
    if order.lon is None or order.lat is None:
        return None
    return haversine_m(Location(event.lon, event.lat), Location(order.lon, order.lat))


def route_hours(route: RouteRecord) -> float:
    if route.started_at is None or route.finished_at is None:
        return 0.0
    return max(0.0, (route.finished_at - route.started_at).total_seconds()) / 3600


def overtime_hours(route: RouteRecord) -> float:
    if route.finished_at is None or route.shift_end is None:
        return 0.0
    return max(0.0, (route.finished_at - route.shift_end).total_seconds()) / 3600


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def cost(
    routes: list[RouteRecord],
    messages: list[Message],
    *,
    delivered: int,
    attempts: int,
    failed: int,
) -> CostBreakdown:
    """What the day cost: vehicles (time, overtime, distance, fixed) plus messages sent."""
    driver_time = sum(route_hours(r) * r.cost_per_hour for r in routes)
    overtime = sum(overtime_hours(r) * r.overtime_cost_per_hour for r in routes)
    distance = sum(path_m(r.track) / 1000 * r.cost_per_km for r in routes)
    fixed = sum(r.fixed_cost for r in routes if r.started_at is not None)
    sent = sum(m.cost for m in messages if m.status == "sent")
    total = driver_time + overtime + distance + fixed + sent
    vehicles = total - sent
    per_attempt = vehicles / attempts if attempts else 0.0
    return CostBreakdown(
        driver_time=driver_time,
        overtime=overtime,
        distance=distance,
        fixed=fixed,
        messages=sent,
        total=total,
        per_delivery=ratio(total, delivered),
        failed_attempts=per_attempt * failed,
    )


def scorecard(driver_id: str, orders: list[OrderRecord]) -> Scorecard:
    attempts = [e for o in orders for e in outcomes(o)]
    delivered = [o for o in orders if delivered_event(o) is not None]
    punctual = [t for t in (on_time(o) for o in orders) if t is not None]
    distances = [d for d in (distance_from_stop_m(o) for o in delivered) if d is not None]
    served = [o for o in orders if outcomes(o)]
    return Scorecard(
        driver_id=driver_id,
        stops=len(served),
        delivered=len(delivered),
        failed=sum(1 for e in attempts if e.to_status == "failed"),
        success_rate=ratio(len(delivered), len(served)),
        on_time_rate=ratio(sum(punctual), len(punctual)),
        pod_compliance=ratio(sum(1 for o in delivered if o.has_pod), len(delivered)),
        avg_distance_from_stop_m=_mean(distances),
    )


def compute(orders: list[OrderRecord], routes: list[RouteRecord], messages: list[Message]) -> Kpis:
    """Every KPI of a set of orders and the routes that carried them (formulas: docs/kpis.md)."""
    attempts = [e for o in orders for e in outcomes(o)]
    failed = [e for e in attempts if e.to_status == "failed"]
    delivered = [o for o in orders if delivered_event(o) is not None]
    tried = [o for o in orders if outcomes(o)]
    first_ok = sum(1 for o in tried if outcomes(o)[0].to_status == "delivered")
    punctual = [t for t in (on_time(o) for o in orders) if t is not None]
    delivery_times: list[float] = []
    for o in delivered:
        event = delivered_event(o)
        assert event is not None
        delivery_times.append((event.at - o.created_at).total_seconds())
    errors: list[float] = []
    for o in orders:
        start = service_start(o)
        if start is not None and o.planned_arrival is not None:
            errors.append(abs((start - o.planned_arrival).total_seconds()))
    actual_km = sum(path_m(r.track) for r in routes) / 1000
    actual_hours = sum(route_hours(r) for r in routes)
    ratings = [o.rating for o in orders if o.rating is not None]
    by_driver: dict[str, list[OrderRecord]] = {}
    for o in orders:
        if o.driver_id is not None:
            by_driver.setdefault(o.driver_id, []).append(o)
    return Kpis(
        orders=len(orders),
        delivered=len(delivered),
        failed_attempts=len(failed),
        cost=cost(
            routes, messages, delivered=len(delivered), attempts=len(attempts), failed=len(failed)
        ),
        first_attempt_success_rate=ratio(first_ok, len(tried)),
        on_time_rate=ratio(sum(punctual), len(punctual)),
        avg_delivery_time_s=_mean(delivery_times),
        p90_delivery_time_s=p90(delivery_times),
        stops_per_hour=ratio(len(attempts), actual_hours),
        km_per_stop=ratio(actual_km, len(attempts)),
        planned_km=sum(r.planned_distance_m for r in routes) / 1000,
        actual_km=actual_km,
        planned_hours=sum(r.planned_duration_s for r in routes) / 3600,
        actual_hours=actual_hours,
        avg_arrival_error_s=_mean(errors),
        failure_reasons=dict(Counter(e.reason or "unknown" for e in failed).most_common()),
        avg_rating=_mean([float(r) for r in ratings]),
        ratings=len(ratings),
        tracking_views_per_order=ratio(sum(o.tracking_views for o in orders), len(orders)),
        contacts_per_order=ratio(sum(o.contacts for o in orders), len(orders)),
        drivers=[scorecard(d, by_driver[d]) for d in sorted(by_driver)],
    )
