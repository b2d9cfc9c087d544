"""Live operations on the day's running routes: ETAs and late risk, same-day inserts,
re-optimising the rest of the day, bookable delivery windows.

The live model of a route (see ``docs/live-operations.md``): stops already ``done``,
``failed`` or ``skipped`` are history and never move; a stop the driver has ``arrived`` at is
locked (the vehicle leaves it after its service); everything else is *remaining*. The vehicle
is modelled as starting where it is now (the arrived stop, its latest GPS position, the last
stop it finished, or its start depot before the route starts) at the time it can leave
(``t0``), with the rest of its shift. The core (:mod:`lastmile.core.live`,
:mod:`lastmile.core.planning`) plans that remaining part like any other route.

Hooks for the driver API (they add to the caller's transaction; the caller commits):
:func:`on_position` after storing GPS points, :func:`on_stop_done` after a stop's status
changed. Without them, :func:`route_etas` computes on read.
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lastmile.common.clock import utcnow
from lastmile.config import Settings
from lastmile.core import model as core
from lastmile.core.errors import Conflict, FieldIssue, InputError, NotFound
from lastmile.core.formats.plan_json import in_owner_words
from lastmile.core.live.eta import LiveRoute, LiveStop, Pace, learn_factor, predict
from lastmile.core.live.insert import InsertResult, best_insertion
from lastmile.core.live.risk import RiskLevel, assess
from lastmile.core.live.slots import (
    DEFAULT_CUTOFF_S,
    DEFAULT_SLOT_S,
    SlotOffer,
    day_slots,
    empty_route,
    fleet_has_room,
    offers,
)
from lastmile.core.planning import build_problem, route_cost, simulate
from lastmile.core.planning.build import collect_locations, validate_problem
from lastmile.core.roads.provider import TravelTimeProvider
from lastmile.core.times import DayClock, seconds_of_day
from lastmile.drivers.models import Position
from lastmile.events import service as events
from lastmile.fleet import service as fleet
from lastmile.live.models import StopEta
from lastmile.orders import service as orders
from lastmile.orders.core_view import core_orders
from lastmile.orders.lifecycle import OrderStatus
from lastmile.orders.models import Order, OrderEvent
from lastmile.orgs.models import Organisation
from lastmile.routes import service as routes_service
from lastmile.routes.models import Route, RouteStatus, Stop, StopKind, StopStatus

RUNNING = routes_service.RUNNING
DONE = routes_service.CLOSED
INSERT_ROUTES = 8
"""Same-day inserts and slots try the routes nearest to the new address (by their remaining
stops and position), at most this many: travel times are then needed for a few hundred
locations, not the whole day's."""
ETA_CHANGE_S = 60
"""An ETA that moved less than this is not announced again (``eta.updated``)."""
STORE_EVERY = dt.timedelta(seconds=60)
"""An unchanged prediction is written again (fresh ``computed_at``) at most this often."""
EVENT_ETA_UPDATED = "eta.updated"
EVENT_LATE_RISK = "late_risk"
EVENT_ROUTE_CHANGED = "route.changed"


class DoesNotFit(Conflict):
    """The order cannot be inserted; ``unassigned`` says why and what would make it fit."""

    code = "does_not_fit"

    def __init__(self, message: str, unassigned: core.Unassigned | None = None) -> None:
        super().__init__(message)
        self.unassigned = unassigned


# --- the live state of a route ---------------------------------------------------------------


@dataclass
class RouteState:
    """Everything the live computations need about one route, loaded in a few queries."""

    route: Route
    vehicle: core.Vehicle
    dimensions: tuple[str, ...]
    zone: ZoneInfo
    stops: list[Stop]
    orders: dict[str, Order]
    times: dict[tuple[str, str], dt.datetime]
    """(order id, status) -> when it happened (first time)."""
    position: Position | None
    done: list[Stop] = field(default_factory=list)
    arrived: Stop | None = None
    remaining: list[Stop] = field(default_factory=list)
    """Pending stops (orders and breaks) after the arrived one, in sequence."""

    def __post_init__(self) -> None:
        self.done = [s for s in self.stops if s.status in DONE]
        pending = [s for s in self.stops if s.status not in DONE]
        arrived = [s for s in pending if s.status == StopStatus.ARRIVED]
        # Normally at most one; if the app reported two, the driver is at the later one.
        self.arrived = arrived[-1] if arrived else None
        self.remaining = [s for s in pending if s.status != StopStatus.ARRIVED]

    def seconds(self, at: dt.datetime) -> int:
        return seconds_of_day(at, self.route.date, self.zone)

    def location(self, stop: Stop) -> core.Location | None:
        order = self.orders.get(stop.order_id or "")
        if order is None or order.lon is None or order.lat is None:
            return None
        return core.Location(order.lon, order.lat)

    def done_at(self, stop: Stop) -> int | None:
        for status in ("delivered", "failed"):
            at = self.times.get((stop.order_id or "", status))
            if at is not None:
                return self.seconds(at)
        return None

    def arrived_at(self, stop: Stop) -> int | None:
        at = self.times.get((stop.order_id or "", "arrived"))
        return self.seconds(at) if at is not None else None


def _zone(session: Session, org_id: str) -> ZoneInfo:
    org = session.get(Organisation, org_id)
    if org is None:
        raise NotFound("organisation not found")
    return ZoneInfo(org.timezone)


def _get_route(session: Session, org_id: str, route_id: str) -> Route:
    return routes_service.get(session=session, org_id=org_id, route_id=route_id)


def load_states(*, session: Session, org_id: str, routes: Sequence[Route]) -> list[RouteState]:
    """The live state of ``routes`` (one query per kind of row, whatever their number)."""
    if not routes:
        return []
    zone = _zone(session, org_id)
    ids = [r.id for r in routes]
    vehicles, dimensions = fleet.to_core_vehicles(
        session=session,
        org_id=org_id,
        vehicle_ids=list(dict.fromkeys(r.vehicle_id for r in routes)),
    )
    by_vehicle = {v.id: v for v in vehicles}
    stops = routes_service.stops_of(session=session, org_id=org_id, route_ids=ids)
    order_ids = [s.order_id for rows in stops.values() for s in rows if s.order_id]
    order_rows = (
        {
            o.id: o
            for o in session.scalars(
                select(Order).where(Order.org_id == org_id, Order.id.in_(order_ids))
            )
        }
        if order_ids
        else {}
    )
    times: dict[tuple[str, str], dt.datetime] = {}
    touched = [
        s.order_id
        for rows in stops.values()
        for s in rows
        if s.order_id and s.status != StopStatus.PENDING
    ]
    if touched:
        for oid, status, at in session.execute(
            select(OrderEvent.order_id, OrderEvent.to_status, OrderEvent.at)
            .where(
                OrderEvent.org_id == org_id,
                OrderEvent.order_id.in_(touched),
                OrderEvent.to_status.in_(("arrived", "delivered", "failed")),
            )
            .order_by(OrderEvent.at)
        ).all():
            times.setdefault((oid, status), at)
    latest = (
        select(Position.route_id, func.max(Position.recorded_at).label("at"))
        .where(Position.org_id == org_id, Position.route_id.in_(ids))
        .group_by(Position.route_id)
        .subquery()
    )
    positions = {
        p.route_id: p
        for p in session.scalars(
            select(Position).join(
                latest,
                (Position.route_id == latest.c.route_id) & (Position.recorded_at == latest.c.at),
            )
        )
    }
    out = []
    for route in routes:
        vehicle = by_vehicle[route.vehicle_id]
        out.append(
            RouteState(
                route=route,
                vehicle=vehicle,
                dimensions=dimensions,
                zone=zone,
                stops=stops[route.id],
                orders=order_rows,
                times=times,
                position=positions.get(route.id),
            )
        )
    return out


def _leg(state: RouteState, stop: Stop) -> int:
    """Planned travel into ``stop`` from the element before it (stored times)."""
    index = state.stops.index(stop)
    before = state.stops[index - 1].departure_s if index > 0 else state.route.start_s
    return max(0, stop.arrival_s - before)


def _pace(state: RouteState) -> Pace:
    """The driver's pace today, from the stops done so far (see ``core.live.eta``)."""
    travel: list[tuple[int, int]] = []
    service: list[tuple[int, int]] = []
    finished = [*state.done, *([state.arrived] if state.arrived else [])]
    finished = [s for s in finished if s.kind == StopKind.ORDER]
    finished.sort(key=lambda s: state.done_at(s) or state.arrived_at(s) or 0)
    previous: Stop | None = None
    for stop in finished:
        arrived, done = state.arrived_at(stop), state.done_at(stop)
        if arrived is not None and done is not None:
            service.append((stop.departure_s - stop.start_s, done - arrived))
        if previous is not None:
            left = state.done_at(previous)
            consecutive = state.stops.index(stop) == state.stops.index(previous) + 1
            if left is not None and consecutive:
                if arrived is not None:
                    travel.append((stop.arrival_s - previous.departure_s, arrived - left))
                elif done is not None:
                    travel.append((stop.departure_s - previous.departure_s, done - left))
        previous = stop
    return Pace(learn_factor(travel), learn_factor(service))


def _travel_s(
    provider: TravelTimeProvider, vehicle: core.Vehicle, a: core.Location, b: core.Location
) -> int:
    if a == b:
        return 0
    seconds = int(provider.matrix([a, b], vehicle.profile).durations_s[0, 1])
    return round(seconds / vehicle.speed_factor) if vehicle.speed_factor != 1.0 else seconds


@dataclass(frozen=True)
class Origin:
    """Where the vehicle is, and from when it can drive on (seconds of the day)."""

    location: core.Location
    t0: int
    source: str
    """``arrived`` (at a stop), ``position`` (GPS), ``last_stop`` or ``start``."""


def _last_done(state: RouteState) -> int | None:
    return max((d for s in state.done if (d := state.done_at(s)) is not None), default=None)


def origin(state: RouteState, now: int, pace: Pace) -> Origin:
    last_done = _last_done(state)
    if state.arrived is not None:
        loc = state.location(state.arrived)
        arrived = state.arrived_at(state.arrived) or now
        service = state.arrived.departure_s - state.arrived.start_s
        if loc is not None:
            return Origin(loc, max(now, arrived + round(service * pace.service)), "arrived")
    position = state.position
    if position is not None:
        at = state.seconds(position.recorded_at)
        if last_done is None or at >= last_done:
            return Origin(core.Location(position.lon, position.lat), max(now, at), "position")
    done = [s for s in state.done if s.kind == StopKind.ORDER and state.location(s) is not None]
    if done:
        last = max(done, key=lambda s: (state.done_at(s) or 0, s.sequence))
        loc = state.location(last)
        assert loc is not None
        return Origin(loc, max(now, state.done_at(last) or now), "last_stop")
    return Origin(state.vehicle.start, max(now, state.route.start_s), "start")


# --- ETAs and late risk ----------------------------------------------------------------------


@dataclass(frozen=True)
class EtaRow:
    stop_id: str
    order_id: str | None
    external_id: str | None
    kind: str
    status: str
    arrival_s: int
    start_s: int
    departure_s: int
    planned_arrival_s: int
    level: str
    late_s: int
    promise: tuple[int, int] | None
    windows: list[list[int]]


@dataclass(frozen=True)
class RouteEtas:
    route: Route
    computed_at: dt.datetime
    now_s: int
    origin: str
    pace: Pace
    end_s: int
    overtime_s: int
    stops: list[EtaRow]
    clock: DayClock


def _windows(order: Order | None) -> tuple[core.TimeWindow, ...]:
    if order is None:
        return ()
    return tuple(sorted(core.TimeWindow(int(a), int(b)) for a, b in order.windows))


def _break_window(state: RouteState, stop: Stop) -> tuple[core.TimeWindow, ...]:
    for brk in state.vehicle.breaks:
        if brk.window.contains(stop.start_s):
            return (brk.window,)
    return ()


def _end_leg(state: RouteState) -> int:
    last = state.stops[-1] if state.stops else None
    if last is None:
        return 0
    return max(0, state.route.end_s - last.departure_s)


def compute(
    state: RouteState,
    *,
    now: int,
    provider: TravelTimeProvider,
    promised: dict[str, tuple[int, int]] | None = None,
) -> tuple[list[EtaRow], Origin, Pace, int, int]:
    """Predicted times and risk of every stop not yet done (pure, given the state)."""
    pace = _pace(state)
    where = origin(state, now, pace)
    promised = promised or {}
    rows: list[EtaRow] = []
    stops = state.remaining
    live_stops = []
    for stop in stops:
        order = state.orders.get(stop.order_id or "")
        if stop.kind == StopKind.BREAK or order is None:
            live_stops.append(
                LiveStop(
                    stop.id,
                    None,
                    stop.departure_s - stop.start_s,
                    _break_window(state, stop),
                    None,
                    core.StopKind.BREAK,
                )
            )
        else:
            live_stops.append(LiveStop(stop.id, order.id, order.service_s, _windows(order)))
    legs = tuple(_leg(state, s) for s in stops)
    live = LiveRoute(tuple(live_stops), legs, _end_leg(state), state.vehicle.shift.end)
    first_order = next((s for s in stops if s.kind == StopKind.ORDER and state.location(s)), None)
    raw_leg = 0
    if first_order is not None:
        loc = state.location(first_order)
        assert loc is not None
        if where.source in ("position", "last_stop"):
            raw_leg = _travel_s(provider, state.vehicle, where.location, loc)
        else:
            raw_leg = _leg(state, first_order)
    if where.source == "arrived":
        prediction = predict(live, now=where.t0, first_leg_s=raw_leg, pace=pace)
    else:
        # Driving since ``base``: arrival at the first stop = base + leg, but never before now.
        base = where.t0
        if where.source == "position" and state.position is not None:
            base = state.seconds(state.position.recorded_at)
        elif where.source == "last_stop":
            base = min(where.t0, _last_done(state) or where.t0)
        first = max(now, base + round(raw_leg * pace.travel))
        prediction = predict(live, now=first, first_leg_s=0, pace=pace)
    if state.arrived is not None:
        stop = state.arrived
        order = state.orders.get(stop.order_id or "")
        arrived = state.arrived_at(stop) or now
        windows = _windows(order)
        start = (
            max(arrived, windows[0].start) if windows and arrived < windows[0].start else arrived
        )
        rows.append(_row(state, stop, order, arrived, start, where.t0, now, promised))
    for stop, eta in zip(stops, prediction.etas, strict=True):
        order = state.orders.get(stop.order_id or "")
        rows.append(_row(state, stop, order, eta.arrival, eta.start, eta.departure, now, promised))
    return rows, where, pace, prediction.end_time, prediction.overtime_s


def _row(
    state: RouteState,
    stop: Stop,
    order: Order | None,
    arrival: int,
    start: int,
    departure: int,
    now: int,
    promised: dict[str, tuple[int, int]],
) -> EtaRow:
    if stop.kind == StopKind.BREAK or order is None:
        return EtaRow(
            stop.id, None, None, "break", stop.status, arrival, start, departure,
            stop.arrival_s, RiskLevel.ON_TIME.value, 0, None, [],
        )  # fmt: skip
    windows = _windows(order)
    old = promised.get(stop.id)
    old_window = core.TimeWindow(*old) if old else None
    risk = assess(arrival=arrival, start=start, now=now, windows=windows, promised=old_window)
    promise = risk.promise
    if old_window is not None:
        inside = old_window.start <= arrival <= old_window.end
        narrower = old_window.start <= promise.start and promise.end <= old_window.end
        if inside and not narrower:
            promise = old_window
    if stop.status == StopStatus.ARRIVED:
        promise = core.TimeWindow(arrival, arrival)
    return EtaRow(
        stop_id=stop.id,
        order_id=order.id,
        external_id=order.external_id,
        kind="order",
        status=stop.status,
        arrival_s=arrival,
        start_s=start,
        departure_s=departure,
        planned_arrival_s=stop.arrival_s,
        level=risk.level.value,
        late_s=risk.late_s,
        promise=(promise.start, promise.end),
        windows=[list(w) for w in order.windows],
    )


def refresh(
    *,
    session: Session,
    provider: TravelTimeProvider,
    state: RouteState,
    now: dt.datetime | None = None,
) -> RouteEtas:
    """Recompute a route's ETAs, store them in ``stop_etas`` and record ``eta.updated`` /
    ``late_risk`` events for what changed. Does not commit."""
    when = now or utcnow()
    now_s = state.seconds(when)
    route = state.route
    stored = {
        e.stop_id: e
        for e in session.scalars(
            select(StopEta).where(StopEta.org_id == route.org_id, StopEta.route_id == route.id)
        )
    }
    promised = {
        k: (e.promise_start_s, e.promise_end_s)
        for k, e in stored.items()
        if e.promise_start_s is not None and e.promise_end_s is not None
    }
    rows, where, pace, end_s, overtime = compute(
        state, now=now_s, provider=provider, promised=promised
    )
    clock = DayClock(route.date, state.zone)
    changed: list[dict[str, Any]] = []
    keep = set()
    for row in rows:
        keep.add(row.stop_id)
        old = stored.get(row.stop_id)
        promise = row.promise
        if old is None:
            old = StopEta(org_id=route.org_id, stop_id=row.stop_id, route_id=route.id)
            session.add(old)
            moved, level_changed, old_level = True, row.level != "on_time", "on_time"
        else:
            moved = abs(old.arrival_s - row.arrival_s) >= ETA_CHANGE_S or (
                (old.promise_start_s, old.promise_end_s) != (promise or (None, None))
            )
            old_level = old.level
            level_changed = old.level != row.level
            if not (moved or level_changed) and old.computed_at > when - STORE_EVERY:
                continue  # nothing worth a write (a dashboard polling does not rewrite rows)
        old.order_id = row.order_id
        old.arrival_s, old.start_s, old.departure_s = row.arrival_s, row.start_s, row.departure_s
        old.level, old.late_s = row.level, row.late_s
        old.promise_start_s, old.promise_end_s = promise if promise else (None, None)
        old.pace_travel, old.pace_service = pace.travel, pace.service
        old.computed_at = when
        if row.kind != "order":
            continue
        if moved or level_changed:
            changed.append(_event_stop(row, clock))
        if level_changed:
            events.record(
                session=session,
                org_id=route.org_id,
                type=EVENT_LATE_RISK,
                payload={
                    "route_id": route.id,
                    "driver_id": route.driver_id,
                    "stop_id": row.stop_id,
                    "order_id": row.order_id,
                    "external_id": row.external_id,
                    "level": row.level,
                    "previous_level": old_level,
                    "minutes_late": -(-row.late_s // 60),
                    "eta": clock.iso(row.arrival_s),
                    "windows": [[clock.iso(a), clock.iso(b)] for a, b in row.windows],
                },
            )
    for stop_id, old in stored.items():
        if stop_id not in keep:
            session.delete(old)
    if changed:
        events.record(
            session=session,
            org_id=route.org_id,
            type=EVENT_ETA_UPDATED,
            payload={
                "route_id": route.id,
                "driver_id": route.driver_id,
                "vehicle_id": route.vehicle_id,
                "origin": where.source,
                "pace": {"travel": round(pace.travel, 3), "service": round(pace.service, 3)},
                "stops": changed,
            },
        )
    session.flush()
    return RouteEtas(route, when, now_s, where.source, pace, end_s, overtime, rows, clock)


def _event_stop(row: EtaRow, clock: DayClock) -> dict[str, Any]:
    return {
        "stop_id": row.stop_id,
        "order_id": row.order_id,
        "external_id": row.external_id,
        "eta": clock.iso(row.arrival_s),
        "promise": [clock.iso(row.promise[0]), clock.iso(row.promise[1])] if row.promise else None,
        "level": row.level,
        "minutes_late": -(-row.late_s // 60),
    }


def route_etas(
    *,
    session: Session,
    settings: Settings,
    org_id: str,
    route_id: str,
    now: dt.datetime | None = None,
) -> RouteEtas:
    """The current ETAs and risks of a route, computed now (and stored, with events)."""
    from lastmile.integrations.configured import provider_for

    route = _get_route(session, org_id, route_id)
    state = load_states(session=session, org_id=org_id, routes=[route])[0]
    result = refresh(session=session, provider=provider_for(settings), state=state, now=now)
    session.commit()
    return result


_gps_refreshed: dict[str, dt.datetime] = {}
"""Per route, the time of the GPS point its ETAs were last recomputed from (this process)."""
_gps_lock = threading.Lock()
_GPS_MEMORY = 10_000
"""Routes remembered; the oldest half is forgotten beyond this (a day has far fewer)."""


def _gps_refresh_due(route_id: str, at: dt.datetime, every_s: float) -> bool:
    """Whether a point recorded at ``at`` should recompute the route's ETAs (and note it)."""
    with _gps_lock:
        last = _gps_refreshed.get(route_id)
        if last is not None and abs((at - last).total_seconds()) < every_s:
            return False
        if len(_gps_refreshed) >= _GPS_MEMORY:
            for key in sorted(_gps_refreshed, key=_gps_refreshed.__getitem__)[: _GPS_MEMORY // 2]:
                del _gps_refreshed[key]
        _gps_refreshed[route_id] = at
        return True


def on_position(
    *,
    session: Session,
    settings: Settings,
    org_id: str,
    route_id: str,
    lon: float,
    lat: float,
    at: dt.datetime,
) -> RouteEtas | None:
    """Hook for the driver API after storing GPS points (the newest one): recompute the
    route's ETAs from that position. Adds to the caller's transaction (it commits).

    Phones send a batch every few seconds; an ETA does not change meaningfully in that time,
    and the recompute is most of a batch's cost. So a route is recomputed from GPS at most
    every ``settings.eta_gps_refresh_s`` of the points' own time (per process); returns
    ``None`` when skipped. Stop events (:func:`on_stop_done`) always recompute.
    """
    from lastmile.integrations.configured import provider_for

    if not _gps_refresh_due(route_id, at, settings.eta_gps_refresh_s):
        return None
    route = _get_route(session, org_id, route_id)
    if route.status not in RUNNING:
        return None
    state = load_states(session=session, org_id=org_id, routes=[route])[0]
    if state.position is None or state.position.recorded_at < at:
        state.position = Position(
            org_id=org_id,
            driver_id=route.driver_id or "",
            route_id=route.id,
            lon=lon,
            lat=lat,
            recorded_at=at,
        )
    return refresh(
        session=session, provider=provider_for(settings), state=state, now=max(at, utcnow())
    )


def on_stop_done(
    *,
    session: Session,
    settings: Settings,
    org_id: str,
    route_id: str,
    at: dt.datetime | None = None,
) -> RouteEtas | None:
    """Hook for the driver API after a stop's status changed (arrived, delivered, failed):
    recompute the route's ETAs (the pace learns from it). The caller commits."""
    from lastmile.integrations.configured import provider_for

    route = _get_route(session, org_id, route_id)
    if route.status not in RUNNING:
        return None
    session.flush()
    state = load_states(session=session, org_id=org_id, routes=[route])[0]
    return refresh(session=session, provider=provider_for(settings), state=state, now=at)


# --- the live problem: remaining stops of running routes as a planning problem ---------------


@dataclass
class LiveDay:
    """The remaining part of some running routes as one planning problem.

    Core vehicle ids are route ids (a vehicle could have two routes on one day)."""

    problem: core.Problem
    routes: list[core.Route]
    states: dict[str, RouteState]
    origins: dict[str, Origin]
    now_s: int


def live_vehicle(
    state: RouteState, where: Origin, tags: frozenset[str] = frozenset()
) -> core.Vehicle:
    """The route's vehicle as if it started now where it is, with the rest of its shift."""
    v = state.vehicle
    taken = {
        s.start_s for s in state.stops if s.kind == StopKind.BREAK and s not in state.remaining
    }
    breaks = tuple(
        b
        for b in v.breaks
        if b.window.end > where.t0 and not any(b.window.contains(t) for t in taken)
    )
    elapsed = max(0, where.t0 - state.route.start_s)
    return replace(
        v,
        id=state.route.id,
        start=where.location,
        shift=core.TimeWindow(where.t0, max(where.t0, v.shift.end)),
        max_duration_s=None if v.max_duration_s is None else max(0, v.max_duration_s - elapsed),
        breaks=breaks,
        skills=v.skills | tags,
    )


def _remaining_orders(
    state: RouteState, dimensions: tuple[str, ...], tags: frozenset[str] = frozenset()
) -> list[core.Order]:
    rows = []
    for stop in state.remaining:
        row = state.orders.get(stop.order_id or "")
        if stop.kind == StopKind.ORDER and row is not None and row.lon is not None:
            rows.append(row)
    return core_orders(rows, dimensions, tags=tags)


def build_live_day(
    *,
    states: Sequence[RouteState],
    provider: TravelTimeProvider,
    now_s: int,
    extra: Sequence[core.Order] = (),
    tags: dict[str, frozenset[str]] | None = None,
    focus: core.Location | None = None,
) -> LiveDay:
    """One problem for the remaining stops of ``states`` (+ ``extra`` orders to place).

    ``focus`` (inserting one order there): travel times are not queried for every pair of the
    routes' locations but only around ``focus`` (see :func:`_focused_matrices`); without it
    the problem has full matrices (re-optimising needs every pair).
    """
    tags = tags or {}
    dims: tuple[str, ...] = tuple(sorted({d for s in states for d in s.dimensions}))
    vehicles: list[core.Vehicle] = []
    orders_: list[core.Order] = []
    origins: dict[str, Origin] = {}
    for state in states:
        where = origin(state, now_s, _pace(state))
        origins[state.route.id] = where
        tag = tags.get(state.route.id, frozenset())
        vehicle = live_vehicle(state, where, tag)
        vehicles.append(
            replace(
                vehicle,
                capacity=tuple(
                    float(state.vehicle.capacity[state.dimensions.index(d)])
                    if d in state.dimensions
                    else 0.0
                    for d in dims
                ),
            )
        )
        orders_.extend(_remaining_orders(state, dims, tag))
    by_state = {s.route.id: s for s in states}
    if focus is None:
        problem = build_problem([*orders_, *extra], vehicles, dims, provider)
    else:
        all_orders = [*orders_, *extra]
        validate_problem(all_orders, vehicles, dims)
        locations = collect_locations(all_orders, vehicles)
        problem = core.Problem(
            orders=tuple(all_orders),
            vehicles=tuple(vehicles),
            dimensions=dims,
            locations=tuple(locations),
            matrices=_focused_matrices(locations, vehicles, by_state, origins, provider, focus),
        )
    routes = []
    for vehicle in problem.vehicles:
        seq = [
            o
            for o in _remaining_orders(
                by_state[vehicle.id], dims, tags.get(vehicle.id, frozenset())
            )
        ]
        seq = [problem.order(o.id) for o in seq]
        timing = simulate(problem, vehicle, seq, vehicle.shift.start)
        routes.append(
            core.Route(
                vehicle.id,
                timing.stops,
                timing.start_time,
                timing.end_time,
                timing.distance_m,
                route_cost(vehicle, timing.distance_m, timing.start_time, timing.end_time),
                timing.start_load,
            )
        )
    return LiveDay(problem, routes, by_state, origins, now_s)


NEAR_STOPS = 24
"""Inserting one order: its travel times are queried to and from the remaining stops nearest
to it (and their neighbours, each vehicle's position and end); positions elsewhere are not
candidates."""
_FAR = 10**7
"""Duration (s) and distance (m) of a pair nobody asked about: never part of a feasible answer."""


def _focused_matrices(
    locations: Sequence[core.Location],
    vehicles: Sequence[core.Vehicle],
    states: dict[str, RouteState],
    origins: dict[str, Origin],
    provider: TravelTimeProvider,
    focus: core.Location,
) -> dict[str, core.TravelMatrix]:
    """Travel matrices that are exact where an insertion at ``focus`` can look, cheaply.

    The legs between consecutive remaining stops are the plan's own (stored stop times:
    arrival - departure of the element before; distances unknown, 0, which cancels out of an
    insertion's added distance since the leg it replaces is always queried). One provider
    query covers ``focus``, the ``NEAR_STOPS`` stops nearest to it with their neighbours, and
    every vehicle's origin, first stop and end: a few dozen locations instead of every stop
    of the routes (the road engine's time grows with the number of locations).
    """
    index = {loc: i for i, loc in enumerate(locations)}
    n = len(locations)
    chains: list[tuple[core.Vehicle, RouteState, list[tuple[core.Location, Stop | None]]]] = []
    for vehicle in vehicles:
        state = states[vehicle.id]
        chain: list[tuple[core.Location, Stop | None]] = [(origins[vehicle.id].location, None)]
        for stop in state.remaining:
            loc = state.location(stop)
            if stop.kind == StopKind.ORDER and loc is not None:
                chain.append((loc, stop))
        if vehicle.end is not None:
            chain.append((vehicle.end, None))
        chains.append((vehicle, state, chain))
    near = sorted(
        ((_distance(loc, focus), c, i) for c, (_, _, ch) in enumerate(chains)
         for i, (loc, stop) in enumerate(ch) if stop is not None),
        key=lambda item: item[0],
    )[:NEAR_STOPS]  # fmt: skip
    wanted: dict[core.Location, None] = {focus: None}
    for _, _, chain in chains:
        wanted[chain[0][0]] = None
        if len(chain) > 1:
            wanted[chain[1][0]] = None
        wanted[chain[-1][0]] = None
    for _, c, i in near:
        chain = chains[c][2]
        for j in (i - 1, i, i + 1):
            if 0 <= j < len(chain):
                wanted[chain[j][0]] = None
    stored: list[tuple[core.Vehicle, int, int, int]] = []
    for vehicle, state, chain in chains:
        for (a, before), (b, target) in itertools.pairwise(chain):
            leg = _stored_leg(state, before, target)
            if leg is None:
                wanted[a] = None
                wanted[b] = None
            else:
                stored.append((vehicle, index[a], index[b], leg))
    query = list(wanted)
    q_index = [index[loc] for loc in query]
    out: dict[str, core.TravelMatrix] = {}
    for profile in sorted({v.profile for v in vehicles}):
        durations = np.full((n, n), _FAR, dtype=np.int64)
        distances = np.full((n, n), _FAR, dtype=np.int64)
        np.fill_diagonal(durations, 0)
        np.fill_diagonal(distances, 0)
        for vehicle, i, j, leg in stored:
            if vehicle.profile is profile:
                durations[i, j] = round(leg * vehicle.speed_factor)
                distances[i, j] = 0
        fresh = provider.matrix(query, profile)
        grid = np.ix_(q_index, q_index)
        durations[grid] = fresh.durations_s
        distances[grid] = fresh.distances_m
        out[profile.value] = core.TravelMatrix(durations, distances)
    return out


def _stored_leg(state: RouteState, before: Stop | None, target: Stop | None) -> int | None:
    """The plan's travel time from ``before`` to ``target`` (``None``: the route's origin or
    end) when the stored times hold it: the two are consecutive in the stored sequence, with
    at most breaks between them."""
    if before is None:
        return None  # from the origin: always queried
    stops = state.stops
    k = stops.index(before) + 1
    while k < len(stops) and stops[k].kind == StopKind.BREAK:
        k += 1
    if target is None:
        if k < len(stops):
            return None
        return max(0, state.route.end_s - stops[-1].departure_s)
    if k >= len(stops) or stops[k] is not target:
        return None
    return _leg(state, target)


def _distance(a: core.Location, b: core.Location) -> float:
    x = math.radians(b.lon - a.lon) * math.cos(math.radians((a.lat + b.lat) / 2))
    y = math.radians(b.lat - a.lat)
    return math.hypot(x, y)


def nearest_states(
    states: Sequence[RouteState], where: core.Location, limit: int = INSERT_ROUTES
) -> list[RouteState]:
    """The routes passing nearest to ``where`` (remaining stops, position, start)."""

    def closeness(state: RouteState) -> float:
        points = [
            state.location(s)
            for s in [*state.remaining, *([state.arrived] if state.arrived else [])]
        ]
        points.append(
            core.Location(state.position.lon, state.position.lat)
            if state.position
            else state.vehicle.start
        )
        return min(_distance(p, where) for p in points if p is not None)

    return sorted(states, key=closeness)[:limit]


def nearest_routes(
    *,
    session: Session,
    org_id: str,
    routes: Sequence[Route],
    where: core.Location,
    limit: int = INSERT_ROUTES,
) -> list[Route]:
    """The ``limit`` routes whose remaining stops pass nearest to ``where`` (one light query
    over plain columns: a day of 1000 stops is ranked in milliseconds, and only the chosen
    routes are loaded in full)."""
    if len(routes) <= limit:
        return list(routes)
    best: dict[str, float] = {}
    for route_id, lon, lat in routes_service.remaining_points(
        session=session, org_id=org_id, route_ids=[r.id for r in routes]
    ):
        d = _distance(core.Location(lon, lat), where)
        if d < best.get(route_id, math.inf):
            best[route_id] = d
    return sorted(routes, key=lambda r: (best.get(r.id, math.inf), r.id))[:limit]


def _serialise(session: Session, org_id: str) -> None:
    routes_service.serialise(session=session, org_id=org_id)


def _locked(session: Session, routes: Sequence[Route]) -> list[Route]:
    return routes_service.lock(session=session, routes=routes)


def running_routes(*, session: Session, org_id: str, day: dt.date) -> list[Route]:
    return routes_service.running(session=session, org_id=org_id, day=day)


# --- same-day insert -------------------------------------------------------------------------


@dataclass(frozen=True)
class Inserted:
    order: Order
    route: Route
    stop: Stop
    added_cost: float
    added_distance_m: int
    etas: RouteEtas
    added_s: int = 0
    """How much later the route's remaining work ends with the order than without it."""


def _now(session: Session, org_id: str, day: dt.date, now: dt.datetime | None) -> int:
    return seconds_of_day(now or utcnow(), day, _zone(session, org_id))


def insert_order(
    *,
    session: Session,
    settings: Settings,
    org_id: str,
    order_id: str,
    actor: str,
    now: dt.datetime | None = None,
) -> Inserted:
    """Insert a ``ready`` order into the cheapest feasible place of its day's running routes.

    Raises :class:`DoesNotFit` (409) with the reason and what would make it fit.
    """
    from lastmile.integrations.configured import provider_for

    _serialise(session, org_id)
    row = orders.get(session=session, org_id=org_id, order_id=order_id)
    if row.status != OrderStatus.READY.value:
        raise Conflict(
            f"only a ready order can be inserted (order {row.external_id!r} is {row.status})"
        )
    if row.lon is None or row.lat is None:
        raise Conflict(f"order {row.external_id!r} has no coordinates")
    if row.deliver_to:
        raise Conflict("a paired pickup and delivery is planned with the day's plan, not inserted")
    provider = provider_for(settings)
    routes = running_routes(session=session, org_id=org_id, day=row.date)
    if not routes:
        raise DoesNotFit(f"no running route on {row.date.isoformat()} to insert into")
    near = nearest_routes(
        session=session, org_id=org_id, routes=routes, where=core.Location(row.lon, row.lat)
    )
    chosen = load_states(session=session, org_id=org_id, routes=_locked(session, near))
    dims = tuple(sorted({d for s in chosen for d in s.dimensions}))
    unknown = [d for d in row.demand if d not in dims and row.demand[d]]
    if unknown:
        raise DoesNotFit(f"no vehicle has a capacity for {', '.join(sorted(unknown))}")
    new = core_orders([row], dims)[0]
    now_s = _now(session, org_id, row.date, now)
    day = build_live_day(
        states=chosen, provider=provider, now_s=now_s, extra=[new], focus=new.location
    )
    result = best_insertion(day.problem, day.routes, day.problem.order(new.id))
    if result.insertion is None:
        why = result.unassigned
        raise DoesNotFit(in_owner_words(day.problem, why.message) if why else "does not fit", why)
    return _apply_insertion(
        session=session,
        settings=settings,
        org_id=org_id,
        row=row,
        day=day,
        result=result,
        actor=actor,
        now=now,
        provider=provider,
    )


def _apply_insertion(
    *,
    session: Session,
    settings: Settings,
    org_id: str,
    row: Order,
    day: LiveDay,
    result: InsertResult,
    actor: str,
    now: dt.datetime | None,
    provider: TravelTimeProvider,
) -> Inserted:
    insertion = result.insertion
    assert insertion is not None
    state = day.states[insertion.vehicle_id]
    route = state.route
    base = next(r for r in day.routes if r.vehicle_id == route.id)
    _rewrite_remaining(session, state, insertion.timing.stops)
    added_m = insertion.timing.distance_m - base.distance_m
    route.distance_m = max(0, route.distance_m + added_m)
    route.end_s = insertion.timing.end_time
    route.duration_s = route.end_s - route.start_s
    route.cost = round(route.cost + insertion.added_cost, 2)
    orders.transition(
        session=session, org_id=org_id, order_id=row.id, to_status=OrderStatus.PLANNED,
        actor=actor, note=f"inserted into route {route.id}", commit=False,
    )  # fmt: skip
    if route.status in (RouteStatus.DISPATCHED, RouteStatus.STARTED):
        orders.transition(
            session=session, org_id=org_id, order_id=row.id, to_status=OrderStatus.DISPATCHED,
            actor=actor, note=f"inserted into route {route.id}", commit=False,
        )  # fmt: skip
    session.flush()
    stop = next(
        s
        for s in routes_service.stops_of(session=session, org_id=org_id, route_ids=[route.id])[
            route.id
        ]
        if s.order_id == row.id
    )
    events.record(
        session=session,
        org_id=org_id,
        type=EVENT_ROUTE_CHANGED,
        payload={
            "route_id": route.id,
            "driver_id": route.driver_id,
            "change": "stop_added",
            "order_id": row.id,
            "stop_id": stop.id,
            "sequence": stop.sequence,
            "added_cost": insertion.added_cost,
        },
    )
    fresh = load_states(session=session, org_id=org_id, routes=[route])[0]
    etas = refresh(session=session, provider=provider, state=fresh, now=now)
    session.commit()
    added_s = insertion.timing.end_time - base.end_time
    return Inserted(row, route, stop, insertion.added_cost, added_m, etas, added_s)


def _rewrite_remaining(
    session: Session,
    state: RouteState,
    timed: Sequence[core.Stop],
    moved_in: dict[str, Stop] | None = None,
) -> None:
    """Replace the route's remaining stops by ``timed`` (see :func:`routes.rewrite_remaining
    <lastmile.routes.service.rewrite_remaining>`)."""
    routes_service.rewrite_remaining(
        session=session,
        route=state.route,
        stops=state.stops,
        remaining=state.remaining,
        timed=timed,
        moved_in=moved_in,
    )


# --- bookable delivery windows ---------------------------------------------------------------


@dataclass(frozen=True)
class SlotAnswer:
    day: dt.date
    location: core.Location
    offers: list[SlotOffer]
    based_on: str
    """``routes`` (the day's running routes) or ``fleet`` (no plan yet)."""
    clock: DayClock


def _org_settings(session: Session, org_id: str) -> dict[str, Any]:
    org = session.get(Organisation, org_id)
    if org is None:
        raise NotFound("organisation not found")
    return dict(org.settings or {})


def slot_offers(
    *,
    session: Session,
    settings: Settings,
    org_id: str,
    day: dt.date,
    location: core.Location,
    demand: dict[str, float],
    service_s: int,
    length_s: int | None = None,
    cutoff_s: int | None = None,
    slots: Sequence[core.TimeWindow] | None = None,
    now: dt.datetime | None = None,
) -> SlotAnswer:
    """The slots of ``day`` that can still be honoured at ``location``, with their marginal cost.

    Slot length and cut-off: the arguments, else the organisation's settings
    (``slot_length_min``, ``slot_cutoff_min``), else 2 hours and 60 minutes.
    """
    from lastmile.integrations.configured import provider_for

    org_settings = _org_settings(session, org_id)
    length = length_s or int(org_settings.get("slot_length_min", DEFAULT_SLOT_S // 60)) * 60
    cutoff = (
        cutoff_s
        if cutoff_s is not None
        else int(org_settings.get("slot_cutoff_min", DEFAULT_CUTOFF_S // 60)) * 60
    )
    zone = _zone(session, org_id)
    now_dt = now or utcnow()
    today = now_dt.astimezone(zone).date()
    clock = DayClock(day, zone)
    now_s: int | None = seconds_of_day(now_dt, day, zone) if day <= today else None
    provider = provider_for(settings)
    routes = running_routes(session=session, org_id=org_id, day=day)
    vehicles, dims = fleet.to_core_vehicles(session=session, org_id=org_id, vehicle_ids=None)
    unknown = sorted(d for d, v in demand.items() if v and d not in dims)
    if unknown:
        raise InputError(
            issues=[
                FieldIssue(None, "demand", d, "no vehicle has a capacity for this dimension")
                for d in unknown
            ],
            source="slots",
        )
    probe = core.Order(
        id="slot-probe", location=location,
        demand=tuple(float(demand.get(d, 0.0)) for d in dims), service_s=service_s,
    )  # fmt: skip
    if routes:
        near = nearest_routes(session=session, org_id=org_id, routes=routes, where=location)
        states = load_states(session=session, org_id=org_id, routes=near)
        live = build_live_day(
            states=states, provider=provider, now_s=now_s or 0, extra=[probe], focus=location
        )
        wanted = (
            list(slots) if slots is not None else day_slots([s.vehicle for s in states], length)
        )
        probe = live.problem.order(probe.id)
        return SlotAnswer(
            day,
            location,
            offers(live.problem, live.routes, probe, wanted, now=now_s, cutoff_s=cutoff),
            "routes",
            clock,
        )
    wanted = list(slots) if slots is not None else day_slots(vehicles, length)
    open_rows = list(
        session.scalars(
            select(Order).where(
                Order.org_id == org_id, Order.date == day,
                Order.status.in_((OrderStatus.NEW.value, OrderStatus.READY.value, OrderStatus.PLANNED.value)),
            )
        )
    )  # fmt: skip
    used = [sum(float(o.demand.get(d, 0.0)) for o in open_rows) for d in dims]
    if not vehicles or not fleet_has_room(vehicles, used, probe.demand):
        reason = "the fleet is full for this day" if vehicles else "no active vehicles"
        return SlotAnswer(
            day, location, [SlotOffer(s, False, None, None, reason) for s in wanted], "fleet", clock
        )
    problem = build_problem([probe], vehicles, dims, provider)
    empties = [empty_route(v, len(dims)) for v in problem.vehicles]
    return SlotAnswer(
        day,
        location,
        offers(problem, empties, probe, wanted, now=now_s, cutoff_s=cutoff),
        "fleet",
        clock,
    )


def placement(*, session: Session, org_id: str, order: Order) -> Stop | None:
    """The stop of ``order`` on a route of its day (planned or later), if it has one."""
    found = routes_service.stop_of(
        session=session, org_id=org_id, order=order, statuses=tuple(RouteStatus)
    )
    return found[1] if found else None
