"""The one owner of ETAs: every expected arrival of a stop, wherever it is shown (the driver
app, the customer's tracking page and messages, the dashboard, ``GET /routes/{id}/etas``),
comes from here.

*Written* when something happens: a stop event (:func:`on_stop_done`), a GPS batch
(:func:`on_position`, throttled), a same-day insert or re-optimising (:func:`refresh`). The
prediction is stored where the routes slice keeps its rows (:mod:`lastmile.routes.etas`),
with ``eta.updated`` / ``late_risk`` events for what changed.

*Read* by :func:`current`, which never writes: the stored prediction while it is fresh
(``ETA_FRESH_S``), else the same model computed in memory from the route's state now (a van
with no GPS and no event for a while is not predicted to arrive in the past). Both keep the
promise already given (see :func:`compute`), so every reader sees the same times.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from lastmile.config import Settings
from lastmile.core import model as core
from lastmile.core.live.eta import LiveRoute, LiveStop, Pace, predict
from lastmile.core.live.risk import (
    NOT_STARTED_HALF_S,
    PROMISE_MIN_HALF_S,
    RiskLevel,
    assess,
)
from lastmile.core.roads.provider import TravelTimeProvider
from lastmile.core.times import DayClock, seconds_of_day
from lastmile.drivers.eta_owner import DriverEtas
from lastmile.drivers.models import Position
from lastmile.events import service as events
from lastmile.events import types as event_types
from lastmile.live import recent
from lastmile.live.state import (
    Origin,
    RouteState,
    break_window,
    end_leg,
    get_route,
    last_done,
    load_states,
    origin,
    pace_of,
    planned_leg,
    travel_s,
    windows_of,
    zone_of,
)
from lastmile.orders.models import Order
from lastmile.orgs import clock as org_clock
from lastmile.routes import etas as stored_etas
from lastmile.routes import service as routes_service
from lastmile.routes.models import Route, RouteStatus, Stop, StopEta, StopKind, StopStatus

RUNNING = routes_service.RUNNING
_recent: recent.RecentReads[RouteEtas]
ETA_CHANGE_S = 60
"""An ETA that moved less than this is not announced again (``eta.updated``)."""
STORE_EVERY = dt.timedelta(seconds=60)
"""An unchanged stop prediction is written again (fresh ``computed_at``) at most this often."""
ETA_FRESH_S = 180
"""A stored prediction younger than this is what readers get; an older one is recomputed on
read (in memory). GPS batches refresh a running route every 10 s, stop events always."""
EVENT_ETA_UPDATED = event_types.ETA_UPDATED
EVENT_LATE_RISK = event_types.LATE_RISK


@dataclass(frozen=True)
class EtaRow:
    """One stop's prediction: times are seconds since local midnight of the route's day."""

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

    def of_stop(self, stop_id: str) -> EtaRow | None:
        return next((r for r in self.stops if r.stop_id == stop_id), None)

    def moment(self, seconds: int) -> dt.datetime:
        """Seconds of the route's day as an aware local date-time."""
        return dt.datetime.fromisoformat(self.clock.iso(seconds))


def compute(
    state: RouteState,
    *,
    now: int,
    provider: TravelTimeProvider,
    promised: dict[str, tuple[int, int]] | None = None,
) -> tuple[list[EtaRow], Origin, Pace, int, int]:
    """Predicted times and risk of every stop not yet done (pure, given the state)."""
    pace = pace_of(state)
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
                    break_window(state, stop),
                    None,
                    core.StopKind.BREAK,
                )
            )
        else:
            live_stops.append(LiveStop(stop.id, order.id, order.service_s, windows_of(order)))
    legs = tuple(planned_leg(state, s) for s in stops)
    live = LiveRoute(tuple(live_stops), legs, end_leg(state), state.vehicle.shift.end)
    first_order = next((s for s in stops if s.kind == StopKind.ORDER and state.location(s)), None)
    raw_leg = 0
    if first_order is not None:
        loc = state.location(first_order)
        assert loc is not None
        if where.source in ("position", "last_stop"):
            raw_leg = travel_s(provider, state.vehicle, where.location, loc)
        else:
            raw_leg = planned_leg(state, first_order)
    if where.source == "arrived":
        prediction = predict(live, now=where.t0, first_leg_s=raw_leg, pace=pace)
    else:
        # Driving since ``base``: arrival at the first stop = base + leg, but never before now.
        base = where.t0
        if where.source == "position" and state.position is not None:
            base = state.seconds(state.position.recorded_at)
        elif where.source == "last_stop":
            base = min(where.t0, last_done(state) or where.t0)
        first = max(now, base + round(raw_leg * pace.travel))
        prediction = predict(live, now=first, first_leg_s=0, pace=pace)
    if state.arrived is not None:
        stop = state.arrived
        order = state.orders.get(stop.order_id or "")
        arrived = state.arrived_at(stop) or now
        windows = windows_of(order)
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
    windows = windows_of(order)
    old = promised.get(stop.id)
    old_window = core.TimeWindow(*old) if old else None
    on_the_road = state.route.status in (RouteStatus.STARTED, RouteStatus.FINISHED)
    risk = assess(
        arrival=arrival,
        start=start,
        now=now,
        windows=windows,
        promised=old_window,
        min_half_s=PROMISE_MIN_HALF_S if on_the_road else NOT_STARTED_HALF_S,
    )
    promise = risk.promise
    if old_window is not None:
        inside = old_window.start <= start <= old_window.end
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


def _promised(rows: dict[str, StopEta]) -> dict[str, tuple[int, int]]:
    return {
        k: (e.promise_start_s, e.promise_end_s)
        for k, e in rows.items()
        if e.promise_start_s is not None and e.promise_end_s is not None
    }


def refresh(
    *,
    session: Session,
    provider: TravelTimeProvider,
    state: RouteState,
    now: dt.datetime | None = None,
) -> RouteEtas:
    """Recompute a route's ETAs, store them (``routes.etas``) and record ``eta.updated`` /
    ``late_risk`` events for what changed. Only writers call this (something happened);
    does not commit."""
    when = now or org_clock.now_of(session=session, org_id=state.route.org_id)
    now_s = state.seconds(when)
    route = state.route
    stored = stored_etas.stored(session=session, org_id=route.org_id, route_ids=[route.id])
    rows, where, pace, end_s, overtime = compute(
        state, now=now_s, provider=provider, promised=_promised(stored)
    )
    clock = DayClock(route.date, state.zone)
    changed: list[dict[str, Any]] = []
    keep = set()
    for row in rows:
        keep.add(row.stop_id)
        old = stored.get(row.stop_id)
        promise = row.promise
        if old is None:
            old = stored_etas.new_row(session=session, route=route, stop_id=row.stop_id)
            moved, level_changed, old_level = True, row.level != "on_time", "on_time"
            promise_changed = promise is not None
        else:
            promise_changed = (old.promise_start_s, old.promise_end_s) != (promise or (None, None))
            moved = abs(old.arrival_s - row.arrival_s) >= ETA_CHANGE_S or promise_changed
            old_level = old.level
            level_changed = old.level != row.level
            if not (moved or level_changed) and old.computed_at > when - STORE_EVERY:
                continue  # nothing worth a write (GPS every few seconds does not rewrite rows)
        old.order_id = row.order_id
        old.arrival_s, old.start_s, old.departure_s = row.arrival_s, row.start_s, row.departure_s
        old.level, old.late_s = row.level, row.late_s
        old.promise_start_s, old.promise_end_s = promise if promise else (None, None)
        old.pace_travel, old.pace_service = pace.travel, pace.service
        old.computed_at = when
        if row.kind != "order":
            continue
        if moved or level_changed:
            changed.append({**_event_stop(row, clock), "promise_changed": promise_changed})
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
            stored_etas.drop(session=session, row=old)
    stored_etas.note(
        route=route,
        summary=stored_etas.RouteSummary(
            when, where.source, end_s, overtime, pace.travel, pace.service
        ),
    )
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


# --- reading (never writes) ------------------------------------------------------------------


def _from_store(
    route: Route,
    pairs: Sequence[tuple[Stop, Order | None]],
    rows: dict[str, StopEta],
    clock: DayClock,
    when: dt.datetime,
) -> RouteEtas | None:
    """The stored prediction of ``route`` if it is fresh and covers every stop still to do."""
    summary = stored_etas.summary(route)
    if summary is None or summary.computed_at < when - dt.timedelta(seconds=ETA_FRESH_S):
        return None
    open_pairs = [(s, o) for s, o in pairs if s.status not in routes_service.CLOSED]
    if {s.id for s, _ in open_pairs} != {k for k, e in rows.items() if e.route_id == route.id}:
        return None  # a stop joined or left since (an edit): not the same route any more
    out: list[EtaRow] = []
    for stop, order in open_pairs:
        e = rows[stop.id]
        promise = (
            (e.promise_start_s, e.promise_end_s)
            if e.promise_start_s is not None and e.promise_end_s is not None
            else None
        )
        is_order = stop.kind == StopKind.ORDER and order is not None
        out.append(
            EtaRow(
                stop_id=stop.id,
                order_id=order.id if is_order and order else None,
                external_id=order.external_id if is_order and order else None,
                kind="order" if is_order else "break",
                status=stop.status,
                arrival_s=e.arrival_s,
                start_s=e.start_s,
                departure_s=e.departure_s,
                planned_arrival_s=stop.arrival_s,
                level=e.level,
                late_s=e.late_s,
                promise=promise if is_order else None,
                windows=[list(w) for w in order.windows] if is_order and order else [],
            )
        )
    pace = Pace(summary.pace_travel, summary.pace_service)
    now_s = seconds_of_day(summary.computed_at, clock.day, clock.zone)
    return RouteEtas(
        route, summary.computed_at, now_s, summary.origin, pace, summary.end_s,
        summary.overtime_s, out, clock,
    )  # fmt: skip


def current(
    *,
    session: Session,
    settings: Settings,
    org_id: str,
    routes: Sequence[Route],
    now: dt.datetime | None = None,
    stops: dict[str, list[tuple[Stop, Order | None]]] | None = None,
) -> dict[str, RouteEtas]:
    """route id -> its prediction now (a finished route's has no stops): what every reader
    shows. ``stops``: the routes' ``stops_with_orders`` if the caller has just read them.
    Never writes."""
    from lastmile.integrations.configured import provider_for

    when = now or org_clock.now_of(session=session, org_id=org_id)
    running = list(routes)
    if not running:
        return {}
    zone = zone_of(session, org_id)
    rows = stored_etas.stored(session=session, org_id=org_id, route_ids=[r.id for r in running])
    out: dict[str, RouteEtas] = {}
    stale: list[Route] = []
    keys: dict[str, tuple[Any, ...]] = {}
    for route in running:
        pairs = (stops or {}).get(route.id)
        if pairs is None:
            pairs = routes_service.stops_with_orders(
                session=session, org_id=org_id, route_id=route.id
            )
        found = _from_store(route, pairs, rows, DayClock(route.date, zone), when)
        if found is None:
            keys[route.id] = recent.state_key(route, pairs, rows)
            found = _recent.get(route.id, keys[route.id], when)
        if found is None:
            stale.append(route)
        else:
            out[route.id] = found
    if stale:
        provider = provider_for(settings)
        for state in load_states(session=session, org_id=org_id, routes=stale):
            now_s = state.seconds(when)
            mine = {k: e for k, e in rows.items() if e.route_id == state.route.id}
            computed, where, pace, end_s, overtime = compute(
                state, now=now_s, provider=provider, promised=_promised(mine)
            )
            out[state.route.id] = RouteEtas(
                state.route, when, now_s, where.source, pace, end_s, overtime, computed,
                DayClock(state.route.date, zone),
            )  # fmt: skip
            _recent.put(state.route.id, keys[state.route.id], when, out[state.route.id])
    return out


_recent = recent.RecentReads()


def route_etas(
    *,
    session: Session,
    settings: Settings,
    org_id: str,
    route_id: str,
    now: dt.datetime | None = None,
) -> RouteEtas:
    """The current ETAs and risks of one route. Never writes."""
    route = get_route(session, org_id, route_id)
    found = current(session=session, settings=settings, org_id=org_id, routes=[route], now=now)
    return found[route.id]


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
    route = get_route(session, org_id, route_id)
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
        session=session,
        provider=provider_for(settings),
        state=state,
        now=max(at, org_clock.now_of(session=session, org_id=org_id)),
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

    route = get_route(session, org_id, route_id)
    if route.status not in RUNNING:
        return None
    session.flush()
    state = load_states(session=session, org_id=org_id, routes=[route])[0]
    return refresh(session=session, provider=provider_for(settings), state=state, now=at)


def expected_arrivals(
    *, session: Session, settings: Settings, org_id: str, route: Route
) -> dict[str, str]:
    """Stop id -> its expected arrival now (ISO 8601, local time): the driver's route. Never
    writes."""
    known = current(session=session, settings=settings, org_id=org_id, routes=[route])[route.id]
    return {row.stop_id: known.clock.iso(row.arrival_s) for row in known.stops}


def for_driver_api() -> DriverEtas:
    """What the driver API asks of the ETA owner (it sits below live; the app hands it
    over, ``drivers/eta_owner.py``)."""
    return DriverEtas(
        expected=expected_arrivals, on_stop_done=on_stop_done, on_position=on_position
    )
