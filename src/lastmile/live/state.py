"""The live state of a running route: what has been done, where the vehicle is, the driver's
pace today. Loaded in a few queries (one per kind of row, whatever the number of routes) and
shared by the ETAs (:mod:`lastmile.live.etas`), same-day inserts and re-optimising
(:mod:`lastmile.live.service`).

The live model of a route (see ``docs/live-operations.md``): stops already ``done``,
``failed`` or ``skipped`` are history and never move; a stop the driver has ``arrived`` at is
locked (the vehicle leaves it after its service); everything else is *remaining*. The vehicle
is modelled as starting where it is now (the arrived stop, its latest GPS position, the last
stop it finished, or its start depot before the route starts) at the time it can leave.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lastmile.core import model as core
from lastmile.core.errors import NotFound
from lastmile.core.live.eta import Pace, learn_factor
from lastmile.core.roads.provider import TravelTimeProvider
from lastmile.core.times import seconds_of_day
from lastmile.drivers.models import Position
from lastmile.fleet import service as fleet
from lastmile.orders.models import Order, OrderEvent
from lastmile.orgs.models import Organisation
from lastmile.routes import service as routes_service
from lastmile.routes.models import Route, Stop, StopKind, StopStatus

DONE = routes_service.CLOSED


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


def zone_of(session: Session, org_id: str) -> ZoneInfo:
    org = session.get(Organisation, org_id)
    if org is None:
        raise NotFound("organisation not found")
    return ZoneInfo(org.timezone)


def get_route(session: Session, org_id: str, route_id: str) -> Route:
    return routes_service.get(session=session, org_id=org_id, route_id=route_id)


def load_states(*, session: Session, org_id: str, routes: Sequence[Route]) -> list[RouteState]:
    """The live state of ``routes`` (one query per kind of row, whatever their number)."""
    if not routes:
        return []
    zone = zone_of(session, org_id)
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


def planned_leg(state: RouteState, stop: Stop) -> int:
    """Planned travel into ``stop`` from the element before it (stored times)."""
    index = state.stops.index(stop)
    before = state.stops[index - 1].departure_s if index > 0 else state.route.start_s
    return max(0, stop.arrival_s - before)


def pace_of(state: RouteState) -> Pace:
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


def travel_s(
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


def last_done(state: RouteState) -> int | None:
    return max((d for s in state.done if (d := state.done_at(s)) is not None), default=None)


def origin(state: RouteState, now: int, pace: Pace) -> Origin:
    finished_at = last_done(state)
    if state.arrived is not None:
        loc = state.location(state.arrived)
        arrived = state.arrived_at(state.arrived) or now
        service = state.arrived.departure_s - state.arrived.start_s
        if loc is not None:
            return Origin(loc, max(now, arrived + round(service * pace.service)), "arrived")
    position = state.position
    if position is not None:
        at = state.seconds(position.recorded_at)
        if finished_at is None or at >= finished_at:
            return Origin(core.Location(position.lon, position.lat), max(now, at), "position")
    done = [s for s in state.done if s.kind == StopKind.ORDER and state.location(s) is not None]
    if done:
        last = max(done, key=lambda s: (state.done_at(s) or 0, s.sequence))
        loc = state.location(last)
        assert loc is not None
        return Origin(loc, max(now, state.done_at(last) or now), "last_stop")
    return Origin(state.vehicle.start, max(now, state.route.start_s), "start")


def windows_of(order: Order | None) -> tuple[core.TimeWindow, ...]:
    if order is None:
        return ()
    return tuple(sorted(core.TimeWindow(int(a), int(b)) for a, b in order.windows))


def break_window(state: RouteState, stop: Stop) -> tuple[core.TimeWindow, ...]:
    for brk in state.vehicle.breaks:
        if brk.window.contains(stop.start_s):
            return (brk.window,)
    return ()


def end_leg(state: RouteState) -> int:
    last = state.stops[-1] if state.stops else None
    if last is None:
        return 0
    return max(0, state.route.end_s - last.departure_s)
