"""The driver app's server side: a driver's route, device events, positions, proof of delivery.

The only module that queries or commits for the driver API. Every query is scoped by
``org_id`` *and* by the calling driver: a driver sees and changes only stops of routes
dispatched to them.

Device events (``docs/api-driver.md``) come from phones that were offline for a while:

* each event carries a client key and is applied **once**; the answer given the first time is
  stored with it (``DeviceEvent.response``) and a replay gets that answer again, with the status
  ``duplicate``. Rejected events are not stored: their key stays free;
* a batch is applied in the order the events **happened** (``occurred_at``), each in its own
  savepoint, so a bad event is rejected alone and never blocks the others;
* an event that arrives after a later one was applied goes into the order's history at its own
  time, and the status does not go backwards (a late ``arrived`` after ``delivered``).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from lastmile.auth import service as auth
from lastmile.core.errors import (
    Conflict,
    FieldIssue,
    Forbidden,
    InputError,
    LastmileError,
    NotFound,
)
from lastmile.core.times import DayClock, format_clock_exact
from lastmile.drivers.models import DeviceEvent, Position, ProofOfDelivery
from lastmile.drivers.pod_store import PodStore, extension, image_type
from lastmile.drivers.schemas import (
    EVENT_TYPES,
    FAIL_REASONS,
    HANDOVERS,
    POD_KINDS,
    DriverEventIn,
    DriverRoute,
    DriverStop,
    EventError,
    EventResult,
    Navigation,
    PositionIn,
    PositionIssue,
    PositionResult,
    RouteEnd,
    RouteStart,
    VehicleRef,
)
from lastmile.events import service as events
from lastmile.events import types as event_types
from lastmile.fleet import service as fleet
from lastmile.fleet.models import Driver, Vehicle
from lastmile.orders import lifecycle
from lastmile.orders import service as orders
from lastmile.orders.lifecycle import OrderStatus
from lastmile.orders.models import Order, OrderEvent
from lastmile.orgs import clock as org_clock
from lastmile.orgs import service as orgs
from lastmile.orgs.models import Organisation
from lastmile.routes import service as routes
from lastmile.routes.models import Route, RouteStatus, Stop, StopKind, StopStatus

CLOCK_SKEW = timedelta(minutes=5)
"""How far in the future a device's timestamp may be (phones' clocks drift)."""
MAX_EVENT_AGE = timedelta(days=7)
"""Older events and positions are refused (a phone that kept them that long is broken)."""
VISIBLE_ROUTES = routes.VISIBLE
"""Route statuses a driver sees (``planned`` routes are not sent to anyone yet)."""
PROOFS_OF: dict[str, tuple[str, ...]] = {
    "signature": ("signature",),
    "signature_photo": ("photo", "signature"),
    "photo": ("photo",),
    "safe_place": ("photo",),
    "neighbour": (),
}
"""The proof files each way of handing over needs (the app asks for them before it lets the
driver confirm; they upload separately, so the event itself cannot carry them)."""
STOP_EVENTS = ("arrived", "delivered", "failed")
ROUTE_EVENTS = ("route_started", "route_finished")
MAX_NOTE = 2000
MAX_RECIPIENT = 200
MAX_BARCODES = 100
MAX_BARCODE = 200

EVENT_ROUTE_STARTED = event_types.ROUTE_STARTED
EVENT_ROUTE_FINISHED = event_types.ROUTE_FINISHED
EVENT_ROUTE_CHANGED = event_types.ROUTE_CHANGED
EVENT_POSITION = event_types.DRIVER_POSITION
EVENT_POD_ADDED = event_types.ORDER_POD_ADDED
EVENT_HISTORY_ADDED = event_types.ORDER_HISTORY_ADDED
EVENT_STOP_CONFLICT = event_types.STOP_CONFLICT
"""A driver reported on a stop moved to another route while the phone was offline."""

_STOP_STATUS = {
    StopStatus.PENDING: "pending",
    StopStatus.ARRIVED: "arrived",
    StopStatus.DONE: "delivered",
    StopStatus.FAILED: "failed",
}
_STOP_OF_EVENT = {
    "arrived": StopStatus.ARRIVED,
    "delivered": StopStatus.DONE,
    "failed": StopStatus.FAILED,
}
_ON_THE_ROAD = (OrderStatus.DISPATCHED, OrderStatus.OUT_FOR_DELIVERY)


class NoRouteInProgress(Conflict):
    code = "no_route_in_progress"


class EventNotSynced(Conflict):
    code = "event_not_synced"


def actor_of(driver: Driver) -> str:
    return f"driver:{driver.id}"


def driver_of(*, session: Session, org_id: str, user_id: str | None) -> Driver:
    """The driver record of the calling login; :class:`Forbidden` if there is none."""
    if user_id is None:
        raise Forbidden("the driver API needs a driver's own login, not an API key")
    try:
        return fleet.driver_for_user(session=session, org_id=org_id, user_id=user_id)
    except NotFound:
        pass
    accepted = auth.accepted_invitation_ids(session=session, org_id=org_id, user_id=user_id)
    linked = fleet.link_invited(
        session=session, org_id=org_id, user_id=user_id, invitation_ids=accepted
    )
    if linked is not None:
        return linked
    try:  # the app's first calls come together (route, stream): another one may have linked it
        return fleet.driver_for_user(session=session, org_id=org_id, user_id=user_id)
    except NotFound:
        pass
    raise Forbidden(
        "no driver is linked to this login; ask your dispatcher to give you the login from "
        "Settings -> Drivers"
    )


def _org(session: Session, org_id: str) -> Organisation:
    org = session.get(Organisation, org_id)
    if org is None:
        raise NotFound("organisation not found")
    return org


def today(*, session: Session, org_id: str) -> date:
    return orders.org_today(session=session, org_id=org_id)


# --- the route -------------------------------------------------------------------------------


def route_for_day(*, session: Session, org_id: str, driver_id: str, day: date) -> Route | None:
    """The route the app shows for ``day``: the one in progress, else the next dispatched one
    (earliest start), else the last finished one; ``None`` when nothing was dispatched."""
    rows = routes.of_driver(session=session, org_id=org_id, driver_id=driver_id, day=day)
    for status in (RouteStatus.STARTED, RouteStatus.DISPATCHED):
        found = [r for r in rows if r.status == status]
        if found:
            return found[0]
    return rows[-1] if rows else None


def pod_policy(org: Organisation, order: Order | None = None) -> list[str]:
    """The ways a delivery may be handed over: the order's own ``pod_policy``, else the
    organisation's ``settings.pod_policy``, else ``["signature"]``."""
    own = orgs.valid_pod_policy(order.pod_policy) if order is not None else None
    return own or orgs.pod_policy(org)


def navigation(lon: float, lat: float) -> Navigation:
    """Links that open the stop in a map or navigation app."""
    at = f"{lat:.6f},{lon:.6f}"
    return Navigation(
        osm=f"https://www.openstreetmap.org/?mlat={lat:.6f}&mlon={lon:.6f}#map=18/{lat:.6f}/{lon:.6f}",
        google=f"https://www.google.com/maps/dir/?api=1&destination={quote(at)}&travelmode=driving",
        apple=f"https://maps.apple.com/?daddr={quote(at)}&dirflg=d",
        geo=f"geo:{at}?q={at}",
    )


def _stop_status(stop: Stop, order: Order | None) -> str | None:
    """What the app shows; ``None`` = the order was taken off the route (cancelled, back to
    ``ready``), so the stop is not shown."""
    if stop.status in (StopStatus.DONE, StopStatus.FAILED):
        return _STOP_STATUS[stop.status]
    if order is None:
        return _STOP_STATUS.get(stop.status, "pending")
    if order.status == OrderStatus.DELIVERED:
        return "delivered"
    if order.status in (OrderStatus.FAILED, OrderStatus.RETURNED):
        return "failed"
    if order.status == OrderStatus.ARRIVED or stop.status == StopStatus.ARRIVED:
        return "arrived"
    if order.status in _ON_THE_ROAD:
        return "pending"
    return None


def route_view(
    *, session: Session, org_id: str, route: Route, expected: Mapping[str, str]
) -> DriverRoute:
    """The route as the driver app gets it (``docs/api-driver.md``); ``expected`` is stop id ->
    the expected arrival from ``lastmile.live`` (the one ETA), for the stops still to do."""
    org = _org(session, org_id)
    clock = DayClock(route.date, ZoneInfo(org.timezone))
    vehicle = session.scalar(
        select(Vehicle).where(Vehicle.org_id == org_id, Vehicle.id == route.vehicle_id)
    )
    if vehicle is None:
        raise NotFound("the route's vehicle no longer exists")
    rows = routes.stops_with_orders(session=session, org_id=org_id, route_id=route.id)
    stops: list[DriverStop] = []
    for stop, order in rows:
        if stop.kind != StopKind.ORDER:
            stops.append(
                DriverStop(
                    id=stop.id,
                    kind="break",
                    sequence=stop.sequence,
                    status="delivered" if stop.status == StopStatus.DONE else "pending",
                    eta=expected.get(stop.id, clock.iso(stop.arrival_s)),
                    planned_arrival=clock.iso(stop.arrival_s),
                    service_s=stop.departure_s - stop.start_s,
                )
            )
            continue
        status = _stop_status(stop, order)
        if status is None or order is None:
            continue
        stops.append(
            DriverStop.model_validate(
                {
                    "id": stop.id,
                    "kind": "order",
                    "sequence": stop.sequence,
                    "status": status,
                    "eta": expected.get(stop.id, clock.iso(stop.arrival_s)),
                    "planned_arrival": clock.iso(stop.arrival_s),
                    "service_s": order.service_s,
                    "order_id": order.id,
                    "external_id": order.external_id,
                    "order_kind": order.kind,
                    "order_status": order.status,
                    "address": order.address,
                    "lon": order.lon,
                    "lat": order.lat,
                    "windows": [
                        (format_clock_exact(a), format_clock_exact(b)) for a, b in order.windows
                    ],
                    "notes": order.notes,
                    "description": order.description,
                    "customer": order.customer,
                    "phone": order.phone,
                    "items": dict(order.demand),
                    "pod_required": list(PROOFS_OF[pod_policy(org, order)[0]]),
                    "handover": pod_policy(org, order),
                    "navigation": navigation(order.lon, order.lat)
                    if order.lon is not None and order.lat is not None
                    else None,
                }
            )
        )
    if vehicle.open_end:
        end_lon, end_lat = None, None
    else:
        end_lon = vehicle.end_lon if vehicle.end_lon is not None else vehicle.start_lon
        end_lat = vehicle.end_lat if vehicle.end_lat is not None else vehicle.start_lat
    return DriverRoute(
        id=route.id,
        plan_id=route.plan_id,
        date=route.date,
        status=route.status,  # type: ignore[arg-type]
        vehicle=VehicleRef(id=vehicle.id, name=vehicle.name or vehicle.external_id),
        start=RouteStart(
            lon=vehicle.start_lon, lat=vehicle.start_lat, departure=clock.iso(route.start_s)
        ),
        end=RouteEnd(lon=end_lon, lat=end_lat, arrival=clock.iso(route.end_s)),
        stops=stops,
    )


def route_changed(
    *, session: Session, org_id: str, route_id: str, change: str, **details: Any
) -> None:
    """Tell the route's driver app that the route changed (a dispatcher's edit: a stop added,
    removed or moved). Recorded in the caller's transaction; the caller commits."""
    route = routes.get(session=session, org_id=org_id, route_id=route_id)
    events.record(
        session=session,
        org_id=org_id,
        type=EVENT_ROUTE_CHANGED,
        payload={"route_id": route.id, "driver_id": route.driver_id, "change": change, **details},
    )


# --- device events ---------------------------------------------------------------------------


class _Rejected(Exception):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def parse_time(value: str, *, now: datetime, field: str) -> datetime:
    """A device timestamp: ISO 8601 with an offset, not in the future beyond the clock skew,
    not older than :data:`MAX_EVENT_AGE`. Raises :class:`_Rejected`."""
    try:
        at = datetime.fromisoformat(value.strip())
    except ValueError:
        raise _Rejected(
            field, f"{value[:40]!r} is not an ISO 8601 date-time (e.g. 2026-11-24T10:15:00+01:00)"
        ) from None
    if at.tzinfo is None or at.utcoffset() is None:
        raise _Rejected(field, "needs a UTC offset (e.g. +01:00 or Z)")
    at = at.astimezone(UTC)
    if at > now + CLOCK_SKEW:
        raise _Rejected(
            field,
            f"is {_minutes(at - now)} in the future (more than {_minutes(CLOCK_SKEW)} ahead of "
            "the server); check the phone's clock",
        )
    if at < now - MAX_EVENT_AGE:
        raise _Rejected(field, f"is more than {MAX_EVENT_AGE.days} days old")
    return at


def _minutes(delta: timedelta) -> str:
    minutes = delta.total_seconds() / 60
    return f"{minutes:.0f} minutes" if minutes < 120 else f"{minutes / 60:.1f} hours"


def _check_point(lon: float | None, lat: float | None, *, required: bool = False) -> None:
    if lon is None and lat is None:
        if required:
            raise _Rejected("lon", "is required")
        return
    if lon is None or lat is None:
        raise _Rejected("lon" if lon is None else "lat", "lon and lat go together: send both")
    if not math.isfinite(lon) or not -180 <= lon <= 180:
        raise _Rejected("lon", f"{lon} is not a longitude (-180 to 180)")
    if not math.isfinite(lat) or not -90 <= lat <= 90:
        raise _Rejected("lat", f"{lat} is not a latitude (-90 to 90)")


def _check_text(event: DriverEventIn) -> None:
    key = event.key
    if not 8 <= len(key) <= 100:
        raise _Rejected("key", "must be 8 to 100 characters")
    if len(event.note) > MAX_NOTE:
        raise _Rejected("note", f"is longer than {MAX_NOTE} characters")
    if len(event.recipient) > MAX_RECIPIENT:
        raise _Rejected("recipient", f"is longer than {MAX_RECIPIENT} characters")
    if len(event.barcodes) > MAX_BARCODES or any(len(b) > MAX_BARCODE for b in event.barcodes):
        raise _Rejected(
            "barcodes", f"at most {MAX_BARCODES} barcodes of up to {MAX_BARCODE} characters"
        )


@dataclass
class _Target:
    route: Route
    stop: Stop | None = None
    order: Order | None = None
    moved: bool = False
    """The stop is no longer on this driver's routes: a dispatcher moved it while the phone
    was offline. What the driver did there wins; the dispatcher is warned."""


def apply_events(
    *,
    session: Session,
    org_id: str,
    driver: Driver,
    events_in: Sequence[DriverEventIn],
    now: datetime | None = None,
    touched_routes: set[str] | None = None,
) -> list[EventResult]:
    """Apply a batch of device events in the order they happened; results in the order given.

    Each event runs in a savepoint: a rejected or failing event leaves no trace and the others
    go on. Commits once at the end.
    """
    now = now or org_clock.now_of(session=session, org_id=org_id)
    _serialise(session, org_id, driver.id)
    times: list[datetime | None] = []
    for event in events_in:
        try:
            times.append(parse_time(event.occurred_at, now=now, field="occurred_at"))
        except _Rejected:
            times.append(None)
    epoch = datetime.min.replace(tzinfo=UTC)
    order = sorted(range(len(events_in)), key=lambda i: (times[i] or epoch, i))
    results: dict[int, EventResult] = {}
    for i in order:
        results[i] = _apply_one(session, org_id, driver, events_in[i], now, touched_routes)
    session.commit()
    return [results[i] for i in range(len(events_in))]


def _serialise(session: Session, org_id: str, driver_id: str) -> None:
    """Take the driver's row lock first: one batch of a driver at a time.

    A phone that retries while its first request still runs sends the same batch twice at
    once; the second waits here and then finds every key stored (``duplicate``). On SQLite this
    write also opens the write transaction *before* anything is read, so the savepoints never
    read a snapshot that another writer makes stale ("database is locked").
    """
    session.execute(
        update(Driver)
        .where(Driver.org_id == org_id, Driver.id == driver_id)
        .values(active=Driver.active)
    )


def _replay(stored: DeviceEvent, driver: Driver) -> EventResult:
    if stored.driver_id != driver.id:
        return EventResult(
            key=stored.idempotency_key,
            status="rejected",
            error=EventError(field="key", message="this key was already used by another driver"),
        )
    first = EventResult.model_validate(stored.response)
    return first.model_copy(update={"status": "duplicate"})


def _differs(stored: DeviceEvent, event: DriverEventIn) -> bool:
    """A reused key whose event says something else than the stored one (not a retry)."""
    sent = event.model_dump()
    resolved = ("occurred_at", "key", "route_id", "stop_id", "order_id")  # stored resolved
    return any(
        sent[name] != stored.payload.get(name)
        for name in sent
        if name not in resolved or (name != "occurred_at" and sent[name] is not None)
        if name != "key"
    )


def _stored(session: Session, org_id: str, key: str) -> DeviceEvent | None:
    return session.scalar(
        select(DeviceEvent).where(DeviceEvent.org_id == org_id, DeviceEvent.idempotency_key == key)
    )


def _apply_one(
    session: Session,
    org_id: str,
    driver: Driver,
    event: DriverEventIn,
    now: datetime,
    touched_routes: set[str] | None,
) -> EventResult:
    driver_id = driver.id
    try:
        _check_text(event)
        with session.begin_nested():
            stored = _stored(session, org_id, event.key)
            if stored is not None:
                if _differs(stored, event):
                    raise _Rejected(
                        "key",
                        f"key {event.key!r} was already used for a different event "
                        "(a conflict: send this event with a new key)",
                    )
                return _replay(stored, driver)
            at = parse_time(event.occurred_at, now=now, field="occurred_at")
            if event.type not in EVENT_TYPES:
                raise _Rejected(
                    "type", f"unknown event type {event.type!r}; known: {', '.join(EVENT_TYPES)}"
                )
            _check_point(event.lon, event.lat)
            reason = None
            if event.type == "failed":
                if event.reason is None:
                    raise _Rejected("reason", "a failed delivery needs a reason")
                if event.reason not in FAIL_REASONS:
                    raise _Rejected(
                        "reason",
                        f"unknown reason {event.reason!r}; known: {', '.join(FAIL_REASONS)}",
                    )
                reason = event.reason
            target = _target(session, org_id, driver_id, event, at)
            if event.type == "delivered":
                assert target.order is not None
                _check_handover(event, pod_policy(_org(session, org_id), target.order))
            elif event.handover is not None:
                raise _Rejected("handover", "only a delivered event says how it was handed over")
            if event.type in ROUTE_EVENTS:
                # Two syncs of the same batch at once (a retry while the first request still
                # runs) wait for each other here; the second then sees the first's key.
                session.refresh(target.route, with_for_update=True)
            if event.type in STOP_EVENTS:
                order_status = _apply_stop_event(
                    session, org_id, driver_id, event, at, reason, target
                )
                if target.moved:
                    _warn_moved(session, org_id, driver, event, at, target)
                if touched_routes is not None:
                    touched_routes.add(target.route.id)
            else:
                order_status = None
                _apply_route_event(session, org_id, driver_id, event, at, target)
                if event.type == "route_started" and touched_routes is not None:
                    touched_routes.add(target.route.id)  # ETAs from the real start time
            response = EventResult(
                key=event.key, status="applied", error=None, order_status=order_status
            )
            payload = event.model_dump()
            payload.update(
                {
                    "occurred_at": at.isoformat(),
                    "route_id": target.route.id,
                    "stop_id": target.stop.id if target.stop else None,
                    "order_id": target.order.id if target.order else None,
                }
            )
            session.add(
                DeviceEvent(
                    org_id=org_id,
                    idempotency_key=event.key,
                    driver_id=driver_id,
                    type=event.type,
                    occurred_at=at,
                    payload=payload,
                    response=response.model_dump(mode="json"),
                )
            )
            session.flush()
            return response
    except _Rejected as exc:
        return _rejected(event.key, exc.field, exc.message)
    except IntegrityError:
        # Another request stored the same key at the same moment: answer as a replay.
        stored = _stored(session, org_id, event.key)
        if stored is None:
            raise
        return _replay(stored, driver)
    except LastmileError as exc:
        # e.g. an order changed by a dispatcher between our check and the transition, or the
        # same event applied by a concurrent request.
        stored = _stored(session, org_id, event.key)
        if stored is not None:
            return _replay(stored, driver)
        return _rejected(event.key, "type", exc.message)


def _check_handover(event: DriverEventIn, allowed: list[str]) -> None:
    """The way of handing over must be one the order's policy allows, with what it needs that
    the event carries: where for a safe place, the neighbour's name. An omitted ``handover``
    is the usual (first) way, so apps that predate the policy keep working."""
    way = event.handover if event.handover is not None else allowed[0]
    if way not in HANDOVERS:
        raise _Rejected("handover", f"unknown {way!r}; known: {', '.join(HANDOVERS)}")
    if way not in allowed:
        raise _Rejected(
            "handover", f"{way} is not allowed for this order; allowed: {', '.join(allowed)}"
        )
    if way == "neighbour" and not event.recipient.strip():
        raise _Rejected("recipient", "a delivery left with a neighbour needs the neighbour's name")
    if way == "safe_place" and not event.note.strip():
        raise _Rejected("note", "a delivery left at a safe place needs where it was left")


def _rejected(key: str, field: str, message: str) -> EventResult:
    return EventResult(
        key=key,
        status="rejected",
        error=EventError(field=field, message=message),
        order_status=None,
    )


def _my_route(session: Session, org_id: str, driver_id: str, route_id: str) -> Route:
    try:
        route: Route | None = routes.get(session=session, org_id=org_id, route_id=route_id)
    except NotFound:
        route = None
    if route is None or route.driver_id != driver_id or route.status not in VISIBLE_ROUTES:
        raise _Rejected("route_id", f"{route_id!r} is not one of your routes")
    return route


def _target(
    session: Session, org_id: str, driver_id: str, event: DriverEventIn, at: datetime
) -> _Target:
    if event.stop_id is not None:
        row = routes.stop_on_driver_route(
            session=session, org_id=org_id, driver_id=driver_id, stop_id=event.stop_id
        )
        moved = False
        if row is None and event.type in STOP_EVENTS:
            row = routes.stop_moved_away(
                session=session, org_id=org_id, driver_id=driver_id, stop_id=event.stop_id
            )
            moved = row is not None
        if row is None:
            raise _Rejected("stop_id", f"{event.stop_id!r} is not a stop of your routes")
        stop, route = row[0], row[1]
        if event.route_id is not None and event.route_id != route.id and not moved:
            raise _Rejected("route_id", "is not the route of this stop")
        if event.type not in STOP_EVENTS:
            return _Target(route=route, stop=stop)
        if stop.kind != StopKind.ORDER or stop.order_id is None:
            raise _Rejected("stop_id", "is a break, not a delivery stop")
        order = session.scalar(
            select(Order).where(Order.org_id == org_id, Order.id == stop.order_id).with_for_update()
        )
        if order is None:
            raise _Rejected("stop_id", "the order of this stop no longer exists")
        return _Target(route=route, stop=stop, order=order, moved=moved)
    if event.type in STOP_EVENTS:
        raise _Rejected("stop_id", f"a {event.type} event needs the stop_id")
    if event.route_id is not None:
        return _Target(route=_my_route(session, org_id, driver_id, event.route_id))
    if event.type == "route_finished":
        started = routes.in_progress(session=session, org_id=org_id, driver_id=driver_id)
        if started is not None:
            return _Target(route=started)
    zone = ZoneInfo(_org(session, org_id).timezone)
    day = at.astimezone(zone).date()
    of_day = None
    if event.type == "route_started":  # the next route to start, even if another is running
        dispatched = routes.of_driver(
            session=session,
            org_id=org_id,
            driver_id=driver_id,
            day=day,
            statuses=(RouteStatus.DISPATCHED,),
        )
        of_day = dispatched[0] if dispatched else None
    of_day = of_day or route_for_day(session=session, org_id=org_id, driver_id=driver_id, day=day)
    if of_day is None:
        raise _Rejected("route_id", f"you have no dispatched route on {day.isoformat()}")
    return _Target(route=of_day)


def _path(current: OrderStatus, wanted: OrderStatus) -> list[OrderStatus] | None:
    """The moves from ``current`` to ``wanted``, implied steps included; ``None`` if none."""
    steps: list[OrderStatus] = []
    if current == OrderStatus.DISPATCHED:
        steps.append(OrderStatus.OUT_FOR_DELIVERY)
        if wanted != OrderStatus.ARRIVED:
            steps.append(OrderStatus.ARRIVED)
    steps.append(wanted)
    previous = current
    for step in steps:
        if not lifecycle.is_legal(previous, step):
            return None
        previous = step
    return steps


def _note(event: DriverEventIn) -> str:
    parts = [event.note.strip()] if event.note.strip() else []
    if event.handover == "safe_place":
        parts.insert(0, "left at a safe place")
    if event.recipient.strip():
        who = "left with neighbour" if event.handover == "neighbour" else "received by"
        parts.append(f"{who} {event.recipient.strip()}")
    if event.barcodes:
        parts.append("barcodes: " + ", ".join(event.barcodes))
    return "; ".join(parts)


def _apply_stop_event(
    session: Session,
    org_id: str,
    driver_id: str,
    event: DriverEventIn,
    at: datetime,
    reason: str | None,
    target: _Target,
) -> str:
    order, stop = target.order, target.stop
    assert order is not None and stop is not None
    actor = f"driver:{driver_id}"
    wanted = OrderStatus(event.type)
    current = lifecycle.parse_status(order.status)
    if current == wanted:
        # Pressed twice (two keys): nothing more happens.
        return order.status
    if current in (*_ON_THE_ROAD, OrderStatus.ARRIVED):
        steps = _path(current, wanted)
        assert steps is not None  # from the road every driver outcome is reachable
        for step in steps:
            last = step == wanted
            orders.transition(
                session=session,
                org_id=org_id,
                order_id=order.id,
                to_status=step,
                actor=actor,
                at=at,
                lon=event.lon,
                lat=event.lat,
                note=_note(event) if last else f"implied by {event.type}",
                reason=reason if last else None,
                commit=False,
            )
        _set_stop(stop, event.type)
        return order.status
    # The order has moved on. An event that happened before its outcome (delivered / failed,
    # even if it was rescheduled since) is history; anything else contradicts what happened.
    history = list(
        session.scalars(
            select(OrderEvent)
            .where(OrderEvent.org_id == org_id, OrderEvent.order_id == order.id)
            .order_by(OrderEvent.at, OrderEvent.created_at)
        )
    )
    outcomes = [h for h in history if h.to_status in (OrderStatus.DELIVERED, OrderStatus.FAILED)]
    if not outcomes or at > outcomes[-1].at:
        if current in (OrderStatus.DELIVERED, OrderStatus.FAILED, OrderStatus.RETURNED):
            raise _Rejected(
                "type",
                f"order {order.external_id!r} is already {current.value}; "
                f"it cannot become {wanted.value}",
            )
        raise _Rejected(
            "stop_id",
            f"order {order.external_id!r} is no longer on your route (it is {current.value}); "
            "ask your dispatcher",
        )
    before = [h for h in history if h.at <= at]
    note = _note(event)
    session.add(
        OrderEvent(
            org_id=org_id,
            order_id=order.id,
            from_status=before[-1].to_status if before else None,
            to_status=wanted.value,
            at=at,
            actor=actor,
            lon=event.lon,
            lat=event.lat,
            note=("reported late; " + note) if note else "reported late",
            reason=reason,
        )
    )
    events.record(
        session=session,
        org_id=org_id,
        type=EVENT_HISTORY_ADDED,
        payload={
            "order_id": order.id,
            "external_id": order.external_id,
            "status": wanted.value,
            "current_status": order.status,
            "at": at.isoformat(),
            "actor": actor,
            "late": True,
        },
    )
    if stop.status == StopStatus.PENDING:
        _set_stop(stop, event.type)
    return order.status


def _warn_moved(
    session: Session,
    org_id: str,
    driver: Driver,
    event: DriverEventIn,
    at: datetime,
    target: _Target,
) -> None:
    """Tell the dispatcher that a driver reported on a stop that had been moved to another
    route (the report was applied: the parcel went where the driver says)."""
    assert target.stop is not None and target.order is not None
    events.record(
        session=session,
        org_id=org_id,
        type=EVENT_STOP_CONFLICT,
        payload={
            "stop_id": target.stop.id,
            "order_id": target.order.id,
            "external_id": target.order.external_id,
            "route_id": target.route.id,
            "route_driver_id": target.route.driver_id,
            "reported_by": driver.id,
            "event": event.type,
            "at": at.isoformat(),
            "message": (
                f"{driver.name} reported order {target.order.external_id} {event.type} at "
                f"{at.isoformat(timespec='minutes')}, but it had been moved to another route; "
                "the report was applied. Check the route it was moved to."
            ),
        },
    )


def _set_stop(stop: Stop, event_type: str) -> None:
    routes.mark_stop(stop=stop, status=_STOP_OF_EVENT[event_type])


def _route_payload(route: Route, driver_id: str, at: datetime) -> dict[str, Any]:
    return {
        "route_id": route.id,
        "plan_id": route.plan_id,
        "driver_id": driver_id,
        "vehicle_id": route.vehicle_id,
        "at": at.isoformat(),
        "actor": f"driver:{driver_id}",
    }


def _apply_route_event(
    session: Session,
    org_id: str,
    driver_id: str,
    event: DriverEventIn,
    at: datetime,
    target: _Target,
) -> None:
    route = target.route
    if event.type == "route_started":
        if not routes.start(route=route):
            return  # started already (another key, another device): nothing more to do
        waiting = routes.order_ids(
            session=session,
            org_id=org_id,
            route_id=route.id,
            order_status=OrderStatus.DISPATCHED.value,
        )
        if waiting:
            orders.transition_many(
                session=session,
                org_id=org_id,
                order_ids=waiting,
                to_status=OrderStatus.OUT_FOR_DELIVERY,
                actor=f"driver:{driver_id}",
                at=at,
                lon=event.lon,
                lat=event.lat,
                note="route started",
                commit=False,
            )
        events.record(
            session=session,
            org_id=org_id,
            type=EVENT_ROUTE_STARTED,
            payload={**_route_payload(route, driver_id, at), "orders": len(waiting)},
        )
        return
    if route.status == RouteStatus.DISPATCHED:
        raise _Rejected("type", "the route has not been started; send route_started first")
    if not routes.finish(route=route):
        return
    events.record(
        session=session,
        org_id=org_id,
        type=EVENT_ROUTE_FINISHED,
        payload=_route_payload(route, driver_id, at),
    )


# --- positions -------------------------------------------------------------------------------


def route_in_progress(*, session: Session, org_id: str, driver_id: str) -> Route | None:
    return routes.in_progress(session=session, org_id=org_id, driver_id=driver_id)


def _started_at(session: Session, org_id: str, driver_id: str, route_id: str) -> datetime | None:
    for row in session.scalars(
        select(DeviceEvent)
        .where(
            DeviceEvent.org_id == org_id,
            DeviceEvent.driver_id == driver_id,
            DeviceEvent.type == "route_started",
        )
        .order_by(DeviceEvent.occurred_at.desc())
        .limit(50)
    ):
        if row.payload.get("route_id") == route_id:
            return row.occurred_at
    return None


def _check_position(p: PositionIn, now: datetime, started_at: datetime | None) -> datetime:
    _check_point(p.lon, p.lat, required=True)
    at = parse_time(p.recorded_at, now=now, field="recorded_at")
    if started_at is not None and at < started_at:
        raise _Rejected("recorded_at", "is before your route was started (no tracking off duty)")
    for name, value, low, high in (
        ("accuracy_m", p.accuracy_m, 0.0, 100_000.0),
        ("speed_ms", p.speed_ms, 0.0, 150.0),
        ("heading", p.heading, 0.0, 360.0),
    ):
        if value is not None and (not math.isfinite(value) or not low <= value <= high):
            raise _Rejected(name, f"{value} is outside {low:g} to {high:g}")
    return at


def record_positions(
    *,
    session: Session,
    org_id: str,
    driver: Driver,
    positions: Sequence[PositionIn],
    now: datetime | None = None,
) -> PositionResult:
    """Store GPS points while the driver has a route in progress; one live event per batch.

    A point already stored (same driver, same ``recorded_at``) counts as accepted and is not
    stored twice, so a re-sent batch is harmless.
    """
    now = now or org_clock.now_of(session=session, org_id=org_id)
    _serialise(session, org_id, driver.id)  # a re-sent batch racing the first: stored once
    route = route_in_progress(session=session, org_id=org_id, driver_id=driver.id)
    if route is None:
        raise NoRouteInProgress(
            "no route in progress: positions are recorded only between starting and finishing "
            "a route (no tracking off duty)"
        )
    started_at = _started_at(session, org_id, driver.id, route.id)
    rejected: list[PositionIssue] = []
    valid: list[tuple[datetime, PositionIn]] = []
    newest: tuple[str, float, float, datetime] | None = None
    for index, point in enumerate(positions):
        try:
            valid.append((_check_position(point, now, started_at), point))
        except _Rejected as exc:
            rejected.append(PositionIssue(index=index, field=exc.field, message=exc.message))
    if valid:
        low, high = min(at for at, _ in valid), max(at for at, _ in valid)
        seen = set(
            session.scalars(
                select(Position.recorded_at).where(
                    Position.org_id == org_id,
                    Position.driver_id == driver.id,
                    Position.recorded_at >= low,
                    Position.recorded_at <= high,
                )
            )
        )
        rows = []
        for at, point in valid:
            if at not in seen:
                seen.add(at)
                rows.append({"lon": point.lon, "lat": point.lat, "accuracy_m": point.accuracy_m,
                             "speed_ms": point.speed_ms, "heading": point.heading,
                             "recorded_at": at, "route_id": route.id})  # fmt: skip
        if rows:  # one multi-row INSERT, no ORM objects (a batch is 10-50 points)
            mine = {"org_id": org_id, "driver_id": driver.id}
            session.execute(insert(Position), [{**mine, **row} for row in rows])
        latest_at, latest = max(valid, key=lambda item: item[0])
        newest = (route.id, latest.lon, latest.lat, latest_at)
        events.record(
            session=session,
            org_id=org_id,
            type=EVENT_POSITION,
            payload={
                "driver_id": driver.id,
                "route_id": route.id,
                "vehicle_id": route.vehicle_id,
                "lon": latest.lon,
                "lat": latest.lat,
                "recorded_at": latest_at.isoformat(),
                "accuracy_m": latest.accuracy_m,
                "speed_ms": latest.speed_ms,
                "heading": latest.heading,
                "points": len(valid),
            },
        )
    session.commit()
    result = PositionResult(accepted=len(valid), rejected=rejected)
    result.note_newest(newest)
    return result


def latest_position(*, session: Session, org_id: str, driver_id: str) -> Position | None:
    """The driver's newest stored GPS point."""
    return session.scalar(
        select(Position)
        .where(Position.org_id == org_id, Position.driver_id == driver_id)
        .order_by(Position.recorded_at.desc())
        .limit(1)
    )


# --- proof of delivery -----------------------------------------------------------------------


def add_pod(
    *,
    session: Session,
    store: PodStore,
    org_id: str,
    driver: Driver,
    event_key: str,
    kind: str,
    data: bytes,
    recipient: str = "",
) -> tuple[ProofOfDelivery, bool]:
    """Store a photo or signature for the order of a synced delivered/failed event.

    Returns the row and whether it is new: the same (event, kind, file) again returns the row
    stored the first time. The event must be synced first (:class:`EventNotSynced`, 409).
    """
    issues: list[FieldIssue] = []
    if kind not in POD_KINDS:
        issues.append(FieldIssue(None, "kind", kind, f"must be one of {', '.join(POD_KINDS)}"))
    if not 8 <= len(event_key) <= 100:
        issues.append(FieldIssue(None, "event_key", None, "must be 8 to 100 characters"))
    if len(recipient) > MAX_RECIPIENT:
        issues.append(FieldIssue(None, "recipient", None, f"at most {MAX_RECIPIENT} characters"))
    content_type = image_type(data)
    if not data:
        issues.append(FieldIssue(None, "file", None, "is empty"))
    elif content_type is None:
        issues.append(
            FieldIssue(None, "file", None, "is not a whole JPEG, PNG or WebP image (decoded)")
        )
    if issues:
        raise InputError(issues=issues, source="proof of delivery")
    assert content_type is not None
    _serialise(session, org_id, driver.id)  # the same upload retried at once: one row
    event = session.scalar(
        select(DeviceEvent).where(
            DeviceEvent.org_id == org_id,
            DeviceEvent.idempotency_key == event_key,
            DeviceEvent.driver_id == driver.id,
        )
    )
    if event is None:
        raise EventNotSynced(
            f"event {event_key!r} is not synced yet: send it to /api/v1/driver/events first, "
            "then upload its proof"
        )
    order_id = event.payload.get("order_id")
    if event.type not in ("delivered", "failed") or not isinstance(order_id, str):
        raise InputError(
            issues=[
                FieldIssue(
                    None,
                    "event_key",
                    None,
                    f"belongs to a {event.type} event; proof goes with a delivered or failed event",
                )
            ],
            source="proof of delivery",
        )
    digest = hashlib.sha256(data).hexdigest()
    existing = session.scalar(
        select(ProofOfDelivery).where(
            ProofOfDelivery.org_id == org_id,
            ProofOfDelivery.event_key == event_key,
            ProofOfDelivery.kind == kind,
            ProofOfDelivery.sha256 == digest,
        )
    )
    if existing is not None:
        return existing, False
    storage_key = f"{org_id}/{order_id}/{digest}.{extension(content_type)}"
    store.put(storage_key, data, content_type)
    row = ProofOfDelivery(
        org_id=org_id,
        order_id=order_id,
        event_key=event_key,
        kind=kind,
        storage_key=storage_key,
        content_type=content_type,
        size_bytes=len(data),
        sha256=digest,
        recipient=recipient.strip(),
    )
    session.add(row)
    session.flush()
    events.record(
        session=session,
        org_id=org_id,
        type=EVENT_POD_ADDED,
        payload={
            "order_id": order_id,
            "pod_id": row.id,
            "kind": kind,
            "event_key": event_key,
            "driver_id": driver.id,
        },
    )
    session.commit()
    return row, True


def list_pods(*, session: Session, org_id: str, order_id: str) -> list[ProofOfDelivery]:
    """Proofs of an order of the organisation, oldest first (:class:`NotFound` otherwise)."""
    orders.get(session=session, org_id=org_id, order_id=order_id)
    return list(
        session.scalars(
            select(ProofOfDelivery)
            .where(ProofOfDelivery.org_id == org_id, ProofOfDelivery.order_id == order_id)
            .order_by(ProofOfDelivery.created_at, ProofOfDelivery.id)
        )
    )


def pod_file(
    *, session: Session, store: PodStore, org_id: str, pod_id: str
) -> tuple[ProofOfDelivery, bytes]:
    row = session.scalar(
        select(ProofOfDelivery).where(
            ProofOfDelivery.org_id == org_id, ProofOfDelivery.id == pod_id
        )
    )
    if row is None:
        raise NotFound("proof of delivery not found")
    if row.storage_key == ERASED_POD:
        raise NotFound("this proof's file was erased on the customer's request")
    if row.storage_key == EXPIRED_POD:
        raise NotFound("this proof's file was deleted after the retention period")
    return row, store.get(row.storage_key)


# --- erasure of a customer's personal data ----------------------------------------------------

ERASED_POD = ""
"""The storage key of a proof whose file was erased (the row stays: "delivered with a photo")."""
EXPIRED_POD = "-"
"""The storage key of a proof whose file retention deleted (``drivers.retention``)."""


def erase_personal_data(*, session: Session, org_id: str, order_ids: Sequence[str]) -> list[str]:
    """Forget the proofs' files and recipient names and the drivers' notes about these
    orders; the proof rows (kind, time, size) stay so KPIs still count deliveries with a
    proof. Returns the storage keys whose files the caller deletes once this is committed
    (a failed commit then loses no photo of an order that was not erased). Does not commit."""
    keys: list[str] = []
    for pod in session.scalars(
        select(ProofOfDelivery).where(
            ProofOfDelivery.org_id == org_id, ProofOfDelivery.order_id.in_(order_ids)
        )
    ):
        if pod.storage_key != ERASED_POD:
            keys.append(pod.storage_key)
        pod.storage_key = ERASED_POD
        pod.recipient = ""
    stop_ids = routes.stop_ids_of_orders(session=session, org_id=org_id, order_ids=order_ids)
    if stop_ids:
        for event in session.scalars(select(DeviceEvent).where(DeviceEvent.org_id == org_id)):
            payload = event.payload or {}
            if payload.get("stop_id") in stop_ids:
                event.payload = {
                    k: v
                    for k, v in payload.items()
                    if k not in ("recipient", "note", "lon", "lat", "barcodes")
                }
    return keys
