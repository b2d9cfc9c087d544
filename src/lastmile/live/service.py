"""Live operations on the day's running routes: same-day inserts, re-optimising the rest of
the day, bookable delivery windows.

The live state of a route is :mod:`lastmile.live.state`; its ETAs are
:mod:`lastmile.live.etas` (the one owner of ETAs). The vehicle is modelled as starting where
it is now at the time it can leave (``t0``), with the rest of its shift; the core
(:mod:`lastmile.core.live`, :mod:`lastmile.core.planning`) plans that remaining part like any
other route.
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from lastmile.config import Settings
from lastmile.core import model as core
from lastmile.core.errors import Conflict, FieldIssue, InputError, NotFound
from lastmile.core.formats.plan_json import in_owner_words
from lastmile.core.live.insert import InsertResult, best_insertion
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
from lastmile.events import service as events
from lastmile.events import types as event_types
from lastmile.fleet import service as fleet
from lastmile.live.etas import RouteEtas, refresh
from lastmile.live.state import (
    Origin,
    RouteState,
    load_states,
    origin,
    pace_of,
    planned_leg,
    zone_of,
)
from lastmile.orders import service as orders
from lastmile.orders.core_view import core_orders
from lastmile.orders.lifecycle import OrderStatus
from lastmile.orders.models import Order
from lastmile.orgs import clock as org_clock
from lastmile.orgs.models import Organisation
from lastmile.routes import service as routes_service
from lastmile.routes.models import Route, RouteStatus, Stop, StopKind

RUNNING = routes_service.RUNNING
DONE = routes_service.CLOSED
INSERT_ROUTES = 8
"""Same-day inserts and slots try the routes nearest to the new address (by their remaining
stops and position), at most this many: travel times are then needed for a few hundred
locations, not the whole day's."""
EVENT_ROUTE_CHANGED = event_types.ROUTE_CHANGED


class DoesNotFit(Conflict):
    """The order cannot be inserted; ``unassigned`` says why and what would make it fit."""

    code = "does_not_fit"

    def __init__(self, message: str, unassigned: core.Unassigned | None = None) -> None:
        super().__init__(message)
        self.unassigned = unassigned


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
        where = origin(state, now_s, pace_of(state))
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
    return planned_leg(state, target)


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
    return org_clock.day_seconds(session=session, org_id=org_id, day=day, at=now)


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
    _rewrite_remaining(
        session, state, insertion.timing.stops, departs_s=insertion.timing.start_time
    )
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
    departs_s: int | None = None,
) -> None:
    """Replace the route's remaining stops by ``timed``, leaving its origin at ``departs_s``
    (see :func:`routes.rewrite_remaining <lastmile.routes.service.rewrite_remaining>`)."""
    routes_service.rewrite_remaining(
        session=session, route=state.route, stops=state.stops, remaining=state.remaining,
        timed=timed, moved_in=moved_in, departs_s=departs_s,
    )  # fmt: skip


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
    zone = zone_of(session, org_id)
    now_dt = now or org_clock.now_of(session=session, org_id=org_id)
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
