"""The only module that queries or writes routes and stops.

Every stop rewrite goes through here, whoever asks for it: storing a solved plan, the
dashboard's edits, a same-day insert, re-optimising the rest of the day, and the driver's
events. Other slices read routes and stops through these functions (they never query the
tables), so a status, an order's stop or a route's running state means the same everywhere.
Writes are flushed, never committed: the caller owns the transaction.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Mapping, Sequence

from sqlalchemy import exists, func, select, update
from sqlalchemy.orm import Session

from lastmile.core import model as core
from lastmile.core.errors import NotFound
from lastmile.orders.models import Order
from lastmile.routes.models import Route, RouteStatus, Stop, StopKind, StopStatus

RUNNING = (RouteStatus.PLANNED, RouteStatus.DISPATCHED, RouteStatus.STARTED)
"""Route statuses that can still change (``finished`` routes are history)."""
VISIBLE = (RouteStatus.DISPATCHED, RouteStatus.STARTED, RouteStatus.FINISHED)
"""Route statuses a driver and a customer see (``planned`` routes are not sent yet); also the
routes the KPIs count."""
SENT = (RouteStatus.DISPATCHED, RouteStatus.STARTED)
"""Route statuses whose stops the driver has: every change reaches the app at once."""
CLOSED = (StopStatus.DONE, StopStatus.FAILED, StopStatus.SKIPPED)
"""Stop statuses after which the stop no longer moves."""
_RANK = {
    StopStatus.PENDING: 0,
    StopStatus.ARRIVED: 1,
    StopStatus.DONE: 2,
    StopStatus.FAILED: 2,
    StopStatus.SKIPPED: 2,
}

# --- reading ---------------------------------------------------------------------------------


def get(*, session: Session, org_id: str, route_id: str) -> Route:
    route = session.scalar(select(Route).where(Route.org_id == org_id, Route.id == route_id))
    if route is None:
        raise NotFound("route not found")
    return route


def of_plan(
    *,
    session: Session,
    org_id: str,
    plan_id: str,
    statuses: Collection[RouteStatus] | None = None,
) -> list[Route]:
    """A plan's routes in a stable order (by start, then id)."""
    query = select(Route).where(Route.org_id == org_id, Route.plan_id == plan_id)
    if statuses is not None:
        query = query.where(Route.status.in_(list(statuses)))
    return list(session.scalars(query.order_by(Route.start_s, Route.id)))


def running(*, session: Session, org_id: str, day: dt.date) -> list[Route]:
    """The day's routes that can still take a stop (same-day inserts, slots)."""
    return list(
        session.scalars(
            select(Route)
            .where(Route.org_id == org_id, Route.date == day, Route.status.in_(RUNNING))
            .order_by(Route.start_s, Route.id)
        )
    )


def of_driver(
    *,
    session: Session,
    org_id: str,
    driver_id: str,
    day: dt.date | None = None,
    since: dt.date | None = None,
    statuses: Collection[RouteStatus] = VISIBLE,
) -> list[Route]:
    """A driver's routes (of ``day``, or from ``since`` on), earliest start first."""
    query = select(Route).where(
        Route.org_id == org_id,
        Route.driver_id == driver_id,
        Route.status.in_(list(statuses)),
    )
    if day is not None:
        query = query.where(Route.date == day)
    if since is not None:
        query = query.where(Route.date >= since)
    return list(session.scalars(query.order_by(Route.start_s, Route.created_at, Route.id)))


def in_progress(*, session: Session, org_id: str, driver_id: str) -> Route | None:
    """The driver's started route (the latest, should a phone have started two)."""
    return session.scalar(
        select(Route)
        .where(
            Route.org_id == org_id,
            Route.driver_id == driver_id,
            Route.status == RouteStatus.STARTED,
        )
        .order_by(Route.date.desc(), Route.start_s.desc(), Route.created_at.desc())
        .limit(1)
    )


def between(
    *,
    session: Session,
    org_id: str,
    start: dt.date,
    end: dt.date,
    driver_id: str | None = None,
    vehicle_ids: Collection[str] | None = None,
) -> list[Route]:
    """Dispatched routes of a date range (KPIs), optionally of one driver or of some
    vehicles (one, or a depot's)."""
    query = select(Route).where(
        Route.org_id == org_id,
        Route.date >= start,
        Route.date <= end,
        Route.status.in_(VISIBLE),
    )
    if driver_id:
        query = query.where(Route.driver_id == driver_id)
    if vehicle_ids is not None:
        query = query.where(Route.vehicle_id.in_(list(vehicle_ids)))
    return list(session.scalars(query.order_by(Route.date, Route.id)))


def carriers(
    *,
    session: Session,
    org_id: str,
    start: dt.date,
    end: dt.date,
    driver_id: str | None = None,
    vehicle_ids: Collection[str] | None = None,
) -> list[tuple[str, int, str, dt.date, str | None, int]]:
    """``(order id, planned arrival, route id, route date, driver id, route end_s)`` of every
    order stop on the dispatched routes of a date range, oldest route first (plain columns:
    the KPIs read a month of them). The planned arrival is the one dispatched."""
    query = (
        select(
            Stop.order_id,
            func.coalesce(Stop.dispatched_arrival_s, Stop.arrival_s),
            Route.id,
            Route.date,
            Route.driver_id,
            Route.end_s,
        )
        .join(Route, Route.id == Stop.route_id)
        .where(
            Stop.org_id == org_id,
            Stop.order_id.is_not(None),
            Route.org_id == org_id,
            Route.date >= start,
            Route.date <= end,
            Route.status.in_(list(VISIBLE)),
        )
        .order_by(Route.created_at, Route.id)
    )
    if driver_id:
        query = query.where(Route.driver_id == driver_id)
    if vehicle_ids is not None:
        query = query.where(Route.vehicle_id.in_(list(vehicle_ids)))
    return [
        (str(order_id), int(arrival_s), route_id, day, route_driver, end_s)
        for order_id, arrival_s, route_id, day, route_driver, end_s in session.execute(query)
    ]


def stops_of(*, session: Session, org_id: str, route_ids: Sequence[str]) -> dict[str, list[Stop]]:
    """Each route's stops in visiting order (one query whatever the number of routes): the
    route state every live computation starts from."""
    stops: dict[str, list[Stop]] = {i: [] for i in route_ids}
    if not route_ids:
        return stops
    for stop in session.scalars(
        select(Stop)
        .where(Stop.org_id == org_id, Stop.route_id.in_(list(route_ids)))
        .order_by(Stop.sequence)
    ):
        stops[stop.route_id].append(stop)
    return stops


def stops_with_orders(
    *, session: Session, org_id: str, route_id: str, pending_only: bool = False
) -> list[tuple[Stop, Order | None]]:
    """A route's stops in visiting order with their orders (``None`` for breaks)."""
    query = (
        select(Stop, Order)
        .outerjoin(Order, (Order.id == Stop.order_id) & (Order.org_id == org_id))
        .where(Stop.org_id == org_id, Stop.route_id == route_id)
        .order_by(Stop.sequence)
    )
    if pending_only:
        query = query.where(Stop.status == StopStatus.PENDING)
    return [(s, o) for s, o in session.execute(query)]


def stop_of(
    *,
    session: Session,
    org_id: str,
    order: Order,
    statuses: Collection[RouteStatus] = VISIBLE,
) -> tuple[Route, Stop] | None:
    """The order's stop: on the newest route of its delivery date in ``statuses`` (by
    default the dispatched ones a customer and a driver see). ``None`` when it has none."""
    row = session.execute(
        select(Route, Stop)
        .join(Stop, Stop.route_id == Route.id)
        .where(
            Stop.org_id == org_id,
            Stop.order_id == order.id,
            Route.org_id == org_id,
            Route.date == order.date,
            Route.status.in_(list(statuses)),
        )
        .order_by(Route.created_at.desc())
        .limit(1)
    ).first()
    return (row[0], row[1]) if row else None


def stop_ids_of_orders(*, session: Session, org_id: str, order_ids: Sequence[str]) -> set[str]:
    """The ids of every stop, on any route, of ``order_ids`` (erasing an order's personal
    data finds the drivers' notes by stop)."""
    if not order_ids:
        return set()
    return set(
        session.scalars(
            select(Stop.id).where(Stop.org_id == org_id, Stop.order_id.in_(list(order_ids)))
        )
    )


def stop_on_driver_route(
    *, session: Session, org_id: str, driver_id: str, stop_id: str
) -> tuple[Stop, Route] | None:
    """A stop of one of the driver's visible routes, with its route (``None`` otherwise)."""
    row = session.execute(
        select(Stop, Route)
        .join(Route, Route.id == Stop.route_id)
        .where(
            Stop.org_id == org_id,
            Stop.id == stop_id,
            Route.org_id == org_id,
            Route.driver_id == driver_id,
            Route.status.in_(list(VISIBLE)),
        )
    ).first()
    return (row[0], row[1]) if row else None


def stop_moved_away(
    *, session: Session, org_id: str, driver_id: str, stop_id: str
) -> tuple[Stop, Route] | None:
    """A stop a dispatcher moved from one of the driver's routes to another dispatched route,
    with the route it is on now (``None`` for any other stop): the driver's phone may have
    been offline and still report on it."""
    row = session.execute(
        select(Stop, Route)
        .join(Route, Route.id == Stop.route_id)
        .where(
            Stop.org_id == org_id,
            Stop.id == stop_id,
            Stop.moved_from_route_id.is_not(None),
            Route.org_id == org_id,
            Route.status.in_(list(VISIBLE)),
        )
    ).first()
    if row is None:
        return None
    before = session.get(Route, row[0].moved_from_route_id)
    if before is None or before.org_id != org_id or before.driver_id != driver_id:
        return None
    return (row[0], row[1])


def order_ids(
    *, session: Session, org_id: str, route_id: str, order_status: str | None = None
) -> list[str]:
    """The orders on a route in visiting order (optionally only those in ``order_status``)."""
    query = (
        select(Order.id)
        .join(Stop, Stop.order_id == Order.id)
        .where(Stop.org_id == org_id, Stop.route_id == route_id, Order.org_id == org_id)
        .order_by(Stop.sequence)
    )
    if order_status is not None:
        query = query.where(Order.status == order_status)
    return list(session.scalars(query))


def order_routes(*, session: Session, org_id: str, route_ids: Sequence[str]) -> dict[str, str]:
    """order id -> route id for the order stops of ``route_ids``."""
    if not route_ids:
        return {}
    return {
        order_id: route_id
        for order_id, route_id in session.execute(
            select(Stop.order_id, Stop.route_id).where(
                Stop.org_id == org_id,
                Stop.route_id.in_(list(route_ids)),
                Stop.order_id.is_not(None),
            )
        )
        if order_id is not None
    }


def remaining_points(
    *, session: Session, org_id: str, route_ids: Sequence[str]
) -> list[tuple[str, float, float]]:
    """``(route id, lon, lat)`` of the open order stops of ``route_ids`` (plain columns: the
    same-day insert ranks a day of 1000 stops by them in milliseconds)."""
    if not route_ids:
        return []
    return [
        (route_id, lon, lat)
        for route_id, lon, lat in session.execute(
            select(Stop.route_id, Order.lon, Order.lat)
            .join(Order, Order.id == Stop.order_id)
            .where(
                Stop.org_id == org_id,
                Stop.route_id.in_(list(route_ids)),
                Stop.status.not_in(list(CLOSED)),
                Order.lon.is_not(None),
                Order.lat.is_not(None),
            )
        )
        if lon is not None and lat is not None
    ]


def vehicle_routes(*, session: Session, org_id: str, vehicle_id: str) -> int:
    """How many routes use a vehicle (a vehicle with routes is not deleted)."""
    return int(
        session.scalar(
            select(func.count())
            .select_from(Route)
            .where(Route.org_id == org_id, Route.vehicle_id == vehicle_id)
        )
        or 0
    )


def driver_has_routes(*, session: Session, org_id: str, driver_id: str) -> bool:
    """Whether a driver ever had a route (a driver with history is not deleted)."""
    return bool(
        session.scalar(select(exists().where(Route.org_id == org_id, Route.driver_id == driver_id)))
    )


# --- writing (flushed; the caller commits) ---------------------------------------------------


def serialise(*, session: Session, org_id: str) -> None:
    """One change of an organisation's running routes at a time, taken before anything is
    read: a no-op write on its running routes. PostgreSQL: their row locks; SQLite: the write
    transaction opens here, so nothing read afterwards can be made stale by another writer
    (two inserts into one route land one after the other, not one over the other)."""
    session.execute(
        update(Route)
        .where(Route.org_id == org_id, Route.status.in_(list(RUNNING)))
        .values(status=Route.status)
    )


def lock(*, session: Session, routes: Sequence[Route]) -> list[Route]:
    """Lock the routes about to change (PostgreSQL ``FOR UPDATE``; SQLite has one writer), so
    two changes of one route are applied one after the other, each on the other's result.
    Returns them in the given order, refreshed."""
    ids = [r.id for r in routes]
    query = select(Route).where(Route.id.in_(ids)).order_by(Route.id).with_for_update()
    rows = {r.id: r for r in session.scalars(query.execution_options(populate_existing=True))}
    return [rows[i] for i in ids if i in rows]


def store(
    *,
    session: Session,
    org_id: str,
    plan_id: str,
    day: dt.date,
    routes: Sequence[core.Route],
    drivers: Mapping[str, str],
) -> list[Route]:
    """Replace a plan's routes and stops by a solved (or edited) plan's ``routes``; each
    vehicle's usual driver (``drivers``: vehicle id -> driver id) is proposed for its route."""
    for old in session.scalars(
        select(Route).where(Route.org_id == org_id, Route.plan_id == plan_id)
    ):
        session.delete(old)
    session.flush()
    stored: list[Route] = []
    for r in routes:
        route = Route(
            org_id=org_id,
            plan_id=plan_id,
            vehicle_id=r.vehicle_id,
            driver_id=drivers.get(r.vehicle_id),
            date=day,
            status=RouteStatus.PLANNED,
            distance_m=r.distance_m,
            duration_s=r.duration_s,
            cost=r.cost,
            start_s=r.start_time,
            end_s=r.end_time,
        )
        session.add(route)
        session.flush()
        for sequence, stop in enumerate(r.stops, start=1):
            session.add(
                Stop(
                    org_id=org_id,
                    route_id=route.id,
                    order_id=stop.order_id,
                    sequence=sequence,
                    kind=StopKind(stop.kind.value),
                    arrival_s=stop.arrival,
                    start_s=stop.start,
                    departure_s=stop.departure,
                    status=StopStatus.PENDING,
                )
            )
        stored.append(route)
    session.flush()
    return stored


def dispatch(*, session: Session, route: Route, driver_id: str | None) -> None:
    """Send a route to its driver; each stop keeps its arrival as dispatched."""
    route.driver_id = driver_id
    route.status = RouteStatus.DISPATCHED
    for stop in stops_of(session=session, org_id=route.org_id, route_ids=[route.id])[route.id]:
        if stop.dispatched_arrival_s is None:
            stop.dispatched_arrival_s = stop.arrival_s


def start(*, route: Route) -> bool:
    """The driver set off; ``False`` when the route was started already (or is not
    dispatched), so a second device's start changes nothing."""
    if route.status != RouteStatus.DISPATCHED:
        return False
    route.status = RouteStatus.STARTED
    return True


def finish(*, route: Route) -> bool:
    """The driver is back; ``False`` when it was finished already."""
    if route.status == RouteStatus.FINISHED:
        return False
    route.status = RouteStatus.FINISHED
    return True


def remove_stop(*, session: Session, stop: Stop) -> None:
    """Take a stop off its route (a dispatcher took the order off before it was visited)."""
    session.delete(stop)
    session.flush()


def mark_stop(*, stop: Stop, status: StopStatus) -> None:
    """A driver's outcome at a stop. A stop never goes back (an ``arrived`` that syncs after
    the ``done`` changes nothing)."""
    if _RANK[status] >= _RANK[StopStatus(stop.status)]:
        stop.status = status


def rewrite_remaining(
    *,
    session: Session,
    route: Route,
    stops: Sequence[Stop],
    remaining: Sequence[Stop],
    timed: Sequence[core.Stop],
    moved_in: Mapping[str, Stop] | None = None,
    departs_s: int | None = None,
) -> None:
    """Replace the route's ``remaining`` stops (of its ``stops``) by ``timed`` (same orders,
    maybe one new, maybe some moved in from another route): done and arrived stops are not
    touched; remaining order stops keep their rows (the driver app knows their ids), breaks
    are re-placed.

    ``departs_s`` is when ``timed`` leaves its origin. A route that has not set off yet
    leaves then, not at its planned start: the ETAs read the first leg as its first stop's
    arrival minus the route's start (``live.state.planned_leg``), so a van still at the depot
    at 14:00 with a start of 09:00 would otherwise be predicted five hours late everywhere.
    """
    not_set_off = route.status in (RouteStatus.PLANNED, RouteStatus.DISPATCHED)
    if departs_s is not None and not_set_off and departs_s > route.start_s:
        route.start_s = departs_s
    by_order = {
        s.order_id: s for s in remaining if s.kind == StopKind.ORDER and s.order_id is not None
    }
    by_order.update(moved_in or {})
    for stop in remaining:
        if stop.kind != StopKind.ORDER:
            session.delete(stop)
    kept = [s for s in stops if s not in remaining]
    sequence = max((s.sequence for s in kept), default=0)
    for item in timed:
        sequence += 1
        if item.kind is core.StopKind.BREAK or item.order_id is None:
            session.add(
                Stop(
                    org_id=route.org_id, route_id=route.id, order_id=None, sequence=sequence,
                    kind=StopKind.BREAK, arrival_s=item.arrival, start_s=item.start,
                    departure_s=item.departure, status=StopStatus.PENDING,
                )
            )  # fmt: skip
            continue
        row = by_order.get(item.order_id)
        if row is None:
            row = Stop(
                org_id=route.org_id,
                route_id=route.id,
                order_id=item.order_id,
                kind=StopKind.ORDER,
                status=StopStatus.PENDING,
            )
            session.add(row)
        if row.route_id is not None and row.route_id != route.id:
            row.moved_from_route_id = row.route_id
        row.route_id = route.id
        row.sequence = sequence
        row.arrival_s, row.start_s, row.departure_s = item.arrival, item.start, item.departure
        if row.dispatched_arrival_s is None and route.status in SENT:
            # Joined a route on the road: the first arrival its customer was given.
            row.dispatched_arrival_s = item.arrival
    session.flush()


def add_removed_track(*, session: Session, metres: Mapping[str, float]) -> None:
    """Add to each route's ``track_removed_m`` the length of GPS track about to be deleted
    (route id -> metres; any organisation: the retention job's caller). Does not commit: the
    positions go in the same transaction."""
    for route_id, length in metres.items():
        session.execute(
            update(Route)
            .where(Route.id == route_id)
            .values(track_removed_m=Route.track_removed_m + length)
        )
