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
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from functools import cached_property
from typing import Literal, Protocol

import numpy as np

from lastmile.core.geo import haversine_m
from lastmile.core.geo.distance import EARTH_RADIUS_M
from lastmile.core.model import Location


@dataclass(frozen=True)
class StatusEvent:
    """One row of an order's history: the order reached ``to_status`` at ``at``."""

    to_status: str
    at: datetime
    lon: float | None = None
    lat: float | None = None
    reason: str | None = None
    day: date | None = None
    """The business day the event counts on (``None``: the order's ``day``). An attempt counts
    on the day it happened, even after the order was rescheduled to another date."""


@dataclass(frozen=True)
class Carrier:
    """The route that carried an order on one day (one per day the order was on a route)."""

    day: date
    route_id: str
    driver_id: str | None
    planned_arrival: datetime | None


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
    day: date | None = None
    """The delivery date (groups orders into periods for :func:`series`)."""
    carriers: tuple[Carrier, ...] = ()
    """The routes that carried the order, one per day; :meth:`within` takes the driver, route
    and planned arrival of a period from them (empty: keep the fields above)."""
    earlier_attempts: int = 0
    """Attempts made before the period in scope: a first attempt is one with none before."""

    # Derived once per record: every KPI reads them, a month holds tens of thousands.
    @cached_property
    def timeline(self) -> list[StatusEvent]:
        """The history in time order."""
        return sorted(self.events, key=lambda e: e.at)

    @cached_property
    def attempts(self) -> list[StatusEvent]:
        return [e for e in self.timeline if e.to_status in OUTCOMES]

    def day_of(self, event: StatusEvent) -> date | None:
        """The day ``event`` counts on."""
        return event.day or self.day

    def touches(self, start: date, end: date) -> bool:
        """Whether the order belongs to the period: delivered on one of its dates, or with an
        event that happened in it (a failed attempt before a rescheduling)."""
        days = [self.day, *(self.day_of(e) for e in self.events)]
        return any(d is not None and start <= d <= end for d in days)

    def within(self, start: date, end: date) -> OrderRecord:
        """The order as the period ``start`` .. ``end`` saw it: only the events of those days,
        the number of attempts made before, the carrier of the period, and the customer's
        views, contacts and rating only in the period of the order's own date (so that a
        series counts them once)."""

        def inside(d: date | None) -> bool:
            return d is not None and start <= d <= end

        events = tuple(e for e in self.events if inside(self.day_of(e)))
        earlier = sum(1 for e in self.attempts if (d := self.day_of(e)) is not None and d < start)
        home = inside(self.day)
        carried = [c for c in self.carriers if inside(c.day)]
        changes: dict[str, object] = {}
        if self.carriers:
            last = max(carried, key=lambda c: c.day) if carried else None
            changes = {
                "driver_id": last.driver_id if last else None,
                "route_id": last.route_id if last else None,
                "planned_arrival": last.planned_arrival if last else None,
            }
        return replace(
            self,
            events=events,
            earlier_attempts=self.earlier_attempts + earlier,
            tracking_views=self.tracking_views if home else 0,
            contacts=self.contacts if home else 0,
            rating=self.rating if home else None,
            **changes,  # type: ignore[arg-type]
        )


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
    track_removed_m: float = 0.0
    shift_end: datetime | None = None
    """When the paid shift ends; time after it is overtime."""
    cost_per_hour: float = 0.0
    overtime_cost_per_hour: float = 0.0
    cost_per_km: float = 0.0
    fixed_cost: float = 0.0
    day: date | None = None
    """The route's date (groups routes into periods for :func:`series`)."""

    @cached_property
    def gps_m(self) -> float:
        """The length of the track (computed once) and of its part deleted by retention."""
        return self.track_removed_m + path_m(self.track)


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
    pod_compliance: float | None = None
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
    """Length of a GPS track in metres (great-circle legs between consecutive points; the
    same formula as :func:`lastmile.core.geo.haversine_m`, vectorised: a month of tracks is
    millions of points)."""
    if len(points) < 2:
        return 0.0
    lon, lat = np.radians(np.asarray(points, dtype=np.float64)).T
    dlat, dlon = np.diff(lat), np.diff(lon)
    h = np.sin(dlat / 2) ** 2 + np.cos(lat[:-1]) * np.cos(lat[1:]) * np.sin(dlon / 2) ** 2
    return float(np.sum(2 * EARTH_RADIUS_M * np.arcsin(np.minimum(1.0, np.sqrt(h)))))


def _sorted(order: OrderRecord) -> list[StatusEvent]:
    return order.timeline


def outcomes(order: OrderRecord) -> list[StatusEvent]:
    """The order's delivery attempts (``delivered``/``failed`` rows), in time order."""
    return order.attempts


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
    distance = sum(r.gps_m / 1000 * r.cost_per_km for r in routes)
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


def compute(
    orders: list[OrderRecord],
    routes: list[RouteRecord],
    messages: list[Message],
    *,
    start: date | None = None,
    end: date | None = None,
) -> Kpis:
    """Every KPI of a set of orders and the routes that carried them (formulas: docs/kpis.md).

    With ``start`` and ``end``, events count on the day they happened: an order counts in
    the period if it touches it (:meth:`OrderRecord.touches`) and only with its events of the
    period (:meth:`OrderRecord.within`), so a failed attempt stays the failure of its day
    when the customer reschedules to another.
    """
    if start is not None and end is not None:
        orders = [o.within(start, end) for o in orders if o.touches(start, end)]
    attempts = [e for o in orders for e in outcomes(o)]
    failed = [e for e in attempts if e.to_status == "failed"]
    delivered = [o for o in orders if delivered_event(o) is not None]
    tried = [o for o in orders if outcomes(o) and o.earlier_attempts == 0]
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
    actual_km = sum(r.gps_m for r in routes) / 1000
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
        pod_compliance=ratio(sum(1 for o in delivered if o.has_pod), len(delivered)),
        drivers=[scorecard(d, by_driver[d]) for d in sorted(by_driver)],
    )


# --- the metric catalogue: what trends, tiles and objectives can name -------------------------

Unit = Literal["rate", "money", "seconds", "km", "hours", "per_hour", "count", "stars", "ratio"]
Better = Literal["higher", "lower"]


@dataclass(frozen=True)
class Metric:
    """One scalar KPI with what a reader needs to judge it.

    ``indicator`` follows the usual split: *lagging* indicators are the outcomes a business is
    judged on (cost, success, punctuality, ratings); *leading* ones move first and predict
    them (how well the plan matches the road, how often customers have to ask).
    """

    name: str
    label: str
    unit: Unit
    better: Better | None
    indicator: Literal["leading", "lagging"]
    read: Callable[[Kpis], float | None]


METRICS: tuple[Metric, ...] = (
    Metric("cost_per_delivery", "Cost per delivery", "money", "lower", "lagging",
           lambda k: k.cost.per_delivery),
    Metric("first_attempt_success_rate", "First-attempt success", "rate", "higher", "lagging",
           lambda k: k.first_attempt_success_rate),
    Metric("on_time_rate", "On time", "rate", "higher", "lagging", lambda k: k.on_time_rate),
    Metric("avg_delivery_time_s", "Average delivery time", "seconds", "lower", "lagging",
           lambda k: k.avg_delivery_time_s),
    Metric("p90_delivery_time_s", "p90 delivery time", "seconds", "lower", "lagging",
           lambda k: k.p90_delivery_time_s),
    Metric("avg_rating", "Customer rating", "stars", "higher", "lagging", lambda k: k.avg_rating),
    Metric("cost_total", "Total cost", "money", "lower", "lagging", lambda k: k.cost.total),
    Metric("delivered", "Delivered", "count", "higher", "lagging", lambda k: float(k.delivered)),
    Metric("failed_attempts", "Failed attempts", "count", "lower", "lagging",
           lambda k: float(k.failed_attempts)),
    Metric("stops_per_hour", "Stops per hour", "per_hour", "higher", "leading",
           lambda k: k.stops_per_hour),
    Metric("km_per_stop", "km per stop", "km", "lower", "leading", lambda k: k.km_per_stop),
    Metric("avg_arrival_error_s", "Arrival vs plan (mean error)", "seconds", "lower", "leading",
           lambda k: k.avg_arrival_error_s),
    Metric("pod_compliance", "Proof-of-delivery compliance", "rate", "higher", "leading",
           lambda k: k.pod_compliance),
    Metric("tracking_views_per_order", "Tracking views per order", "ratio", None, "leading",
           lambda k: k.tracking_views_per_order),
    Metric("contacts_per_order", "\"Where is my order\" contacts per order", "ratio", "lower",
           "leading", lambda k: k.contacts_per_order),
    Metric("actual_km", "Distance driven", "km", "lower", "lagging", lambda k: k.actual_km),
    Metric("actual_hours", "Hours on the road", "hours", "lower", "lagging",
           lambda k: k.actual_hours),
)  # fmt: skip
BY_NAME: dict[str, Metric] = {m.name: m for m in METRICS}


class MetricSource(Protocol):
    """Anything a comparison can take as its baseline besides computed KPIs: figures the
    owner typed in (``core.kpi_typed.TypedBaseline``)."""

    @property
    def orders(self) -> int: ...

    def metric_values(self) -> dict[str, float | None]: ...


def values(result: Kpis | MetricSource) -> dict[str, float | None]:
    """Every catalogue metric of a KPI result (or of typed-in figures), by name."""
    if not isinstance(result, Kpis):
        return result.metric_values()
    return {m.name: m.read(result) for m in METRICS}


# --- trends: the same KPIs per day or week ---------------------------------------------------

Bucket = Literal["day", "week"]


@dataclass(frozen=True)
class Period:
    """One point of a trend: the KPIs of the delivery dates ``start`` .. ``end`` (inclusive)."""

    start: date
    end: date
    kpis: Kpis


def periods(start: date, end: date, bucket: Bucket) -> list[tuple[date, date]]:
    """The periods covering ``start`` .. ``end``: days, or ISO weeks (Monday to Sunday) clipped
    to the range, so that the first and last week may be short."""
    if end < start:
        return []
    if bucket == "day":
        return [
            (start + timedelta(days=i), start + timedelta(days=i))
            for i in range((end - start).days + 1)
        ]
    out: list[tuple[date, date]] = []
    monday = start - timedelta(days=start.weekday())
    while monday <= end:
        out.append((max(monday, start), min(monday + timedelta(days=6), end)))
        monday += timedelta(days=7)
    return out


def series(
    orders: list[OrderRecord],
    routes: list[RouteRecord],
    messages: list[Message],
    *,
    start: date,
    end: date,
    bucket: Bucket,
) -> list[Period]:
    """The KPIs of every period of the range (empty periods included, so gaps show as gaps).

    Routes are placed by their ``day``; an order goes to every period it touches (its date,
    and the days of its events: a rescheduled order's failed attempt stays in its period);
    a message belongs to the period of its order's date. Each period is computed by
    :func:`compute` on its own records, so a one-day period equals the KPIs of that day asked
    for directly.
    """
    spans = periods(start, end, bucket)
    starts = [a for a, _ in spans]

    def index(day: date | None) -> int | None:
        if day is None or day < start or day > end:
            return None
        lo, hi = 0, len(starts) - 1
        while lo < hi:  # the last period starting on or before ``day``
            mid = (lo + hi + 1) // 2
            if starts[mid] <= day:
                lo = mid
            else:
                hi = mid - 1
        return lo

    order_groups: list[list[OrderRecord]] = [[] for _ in spans]
    route_groups: list[list[RouteRecord]] = [[] for _ in spans]
    message_groups: list[list[Message]] = [[] for _ in spans]
    where: dict[str, int] = {}
    for o in orders:
        i = index(o.day)
        if i is not None:
            where[o.id] = i
        touched = {index(d) for d in (o.day, *(o.day_of(e) for e in o.events))}
        for j in sorted(j for j in touched if j is not None):
            order_groups[j].append(o)
    for r in routes:
        i = index(r.day)
        if i is not None:
            route_groups[i].append(r)
    for m in messages:
        i = where.get(m.order_id or "")
        if i is not None:
            message_groups[i].append(m)
    return [
        Period(a, b, compute(order_groups[i], route_groups[i], message_groups[i], start=a, end=b))
        for i, (a, b) in enumerate(spans)
    ]


# --- baseline vs pilot -----------------------------------------------------------------------


@dataclass(frozen=True)
class Objective:
    """A target for the pilot, e.g. cost per delivery -15 % (``relative``: the change against
    the baseline, as a fraction) or on time ≥ 0.95 (an absolute value in the metric's unit)."""

    metric: str
    op: Literal["at_least", "at_most"]
    target: float
    relative: bool = False


@dataclass(frozen=True)
class MetricChange:
    metric: Metric
    baseline: float | None
    pilot: float | None
    change: float | None
    """``pilot - baseline``."""
    change_rate: float | None
    """``(pilot - baseline) / |baseline|``; ``None`` when the baseline is 0 or missing."""
    improved: bool | None
    """Whether the change goes the metric's better way; ``None`` if it has none or no change."""


@dataclass(frozen=True)
class ObjectiveResult:
    objective: Objective
    metric: Metric
    actual: float | None
    """What the target is compared with: the pilot's value, or its change rate if relative."""
    met: bool | None
    """``None`` when there is no data to judge (a rate with nothing to divide by)."""


@dataclass(frozen=True)
class Comparison:
    baseline: Kpis | MetricSource
    pilot: Kpis
    changes: list[MetricChange]
    objectives: list[ObjectiveResult]

    @property
    def all_met(self) -> bool | None:
        """Every objective met (``None`` if some cannot be judged and none failed)."""
        verdicts = [r.met for r in self.objectives]
        if any(v is False for v in verdicts):
            return False
        if any(v is None for v in verdicts):
            return None
        return True


def change_of(metric: Metric, baseline: float | None, pilot: float | None) -> MetricChange:
    if baseline is None or pilot is None:
        return MetricChange(metric, baseline, pilot, None, None, None)
    delta = pilot - baseline
    rate = delta / abs(baseline) if baseline else None
    improved = None
    if metric.better is not None and delta != 0:
        improved = (delta > 0) == (metric.better == "higher")
    return MetricChange(metric, baseline, pilot, delta, rate, improved)


def judge(objective: Objective, change: MetricChange) -> ObjectiveResult:
    actual = change.change_rate if objective.relative else change.pilot
    met = None
    if actual is not None:
        # A tiny tolerance, so that "-15 %" is met by a change that prints as -15.0 %.
        eps = 1e-9 * max(1.0, abs(objective.target))
        met = (
            actual >= objective.target - eps
            if objective.op == "at_least"
            else actual <= objective.target + eps
        )
    return ObjectiveResult(objective, change.metric, actual, met)


def compare(baseline: Kpis | MetricSource, pilot: Kpis, objectives: list[Objective]) -> Comparison:
    """Every catalogue metric of the two periods side by side, and each objective judged.

    Raises ``KeyError`` for an objective naming no catalogue metric (callers validate first).
    """
    before, after = values(baseline), values(pilot)
    changes = [change_of(m, before[m.name], after[m.name]) for m in METRICS]
    by_name = {c.metric.name: c for c in changes}
    return Comparison(baseline, pilot, changes, [judge(o, by_name[o.metric]) for o in objectives])
