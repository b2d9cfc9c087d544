"""KPIs from stored rows: order history, route events, GPS, messages, proofs, tracking.

Every figure is recomputed from what was stored (``lastmile.core.kpi`` does the arithmetic), so
the API, the CSV export and ``lastmile simulate`` agree. "Where is my order" contacts are
``order.contact`` events in the event log (no table of their own)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from lastmile.analytics.models import Comparison
from lastmile.common.clock import utcnow
from lastmile.core import kpi, kpi_typed
from lastmile.core.errors import FieldIssue, InputError, NotFound
from lastmile.core.formats.csv_out import write_csv
from lastmile.core.times import DayClock
from lastmile.core.units import plausible_date_issue
from lastmile.drivers.models import Position, ProofOfDelivery
from lastmile.events import service as events
from lastmile.events import types as event_types
from lastmile.events.models import Event
from lastmile.fleet import service as fleet
from lastmile.fleet.models import Depot, Driver, Vehicle
from lastmile.notifications.models import Notification
from lastmile.orders import service as orders
from lastmile.orders.models import Order, OrderEvent
from lastmile.orgs.models import Organisation
from lastmile.routes import service as routes_service
from lastmile.tracking import counters as tracking_counters
from lastmile.tracking.models import CustomerInput, TrackingView

EVENT_CONTACT = event_types.ORDER_CONTACT
MAX_DAYS = 366


@dataclass(frozen=True)
class Filters:
    start: date
    end: date
    driver_id: str | None = None
    vehicle_id: str | None = None
    depot_id: str | None = None

    @property
    def narrowed(self) -> bool:
        return bool(self.driver_id or self.vehicle_id or self.depot_id)


def _zone(session: Session, org_id: str) -> ZoneInfo:
    org = session.get(Organisation, org_id)
    return ZoneInfo(org.timezone if org else "UTC")


def _local(day: date, seconds: float, zone: ZoneInfo) -> datetime:
    return DayClock(day, zone).at(seconds)


def filters(
    *,
    session: Session,
    org_id: str,
    start: date | None,
    end: date | None,
    driver_id: str | None = None,
    vehicle_id: str | None = None,
    depot_id: str | None = None,
) -> Filters:
    """The filters with defaults filled in: one day, today in the organisation's zone."""
    today = orders.org_today(session=session, org_id=org_id)
    start = start or end or today
    end = end or start
    for name, value in (("from", start), ("to", end)):
        issue = plausible_date_issue(value)
        if issue:
            raise InputError([FieldIssue(None, name, str(value), issue)], "query")
    if end < start:
        raise InputError([FieldIssue(None, "to", str(end), "is before 'from'")], "query")
    if (end - start).days >= MAX_DAYS:
        raise InputError(
            [FieldIssue(None, "to", str(end), f"at most {MAX_DAYS} days after 'from'")], "query"
        )
    return Filters(start, end, driver_id, vehicle_id, depot_id)


def _chunks(ids: list[str], size: int = 500) -> Iterable[list[str]]:
    for i in range(0, len(ids), size):
        yield ids[i : i + size]


def _vehicles(session: Session, org_id: str, depot_id: str | None) -> dict[str, Vehicle]:
    """The organisation's vehicles (of one depot), by id."""
    found: dict[str, Vehicle] = {}
    while True:
        page, total = fleet.list_vehicles(
            session=session, org_id=org_id, depot_id=depot_id, offset=len(found)
        )
        found.update((v.id, v) for v in page)
        if not page or len(found) >= total:
            return found


def records(
    *, session: Session, org_id: str, f: Filters
) -> tuple[list[kpi.OrderRecord], list[kpi.RouteRecord], list[kpi.Message]]:
    """The plain records of the orders (delivery dates in range) and routes in scope."""
    zone = _zone(session, org_id)
    vehicles = _vehicles(session, org_id, f.depot_id)
    of_vehicles = [f.vehicle_id] if f.vehicle_id else list(vehicles) if f.depot_id else None
    routes = {
        r.id: (r, vehicles[r.vehicle_id])
        for r in routes_service.between(
            session=session,
            org_id=org_id,
            start=f.start,
            end=f.end,
            driver_id=f.driver_id,
            vehicle_ids=of_vehicles,
        )
        if r.vehicle_id in vehicles
    }

    # Orders in scope: those of the dates, and those with an attempt in the range that were
    # rescheduled since (an attempt counts on the day it happened). The window is a day wider
    # on each side: local days are not UTC days, and a route may run past midnight.
    earliest = datetime.combine(f.start - timedelta(days=1), time(0), zone)
    latest = datetime.combine(f.end + timedelta(days=2), time(0), zone)
    dated = and_(Order.date >= f.start, Order.date <= f.end)
    moved = sorted(
        set(
            session.scalars(
                select(OrderEvent.order_id)
                .join(Order, Order.id == OrderEvent.order_id)
                .where(
                    OrderEvent.org_id == org_id,
                    OrderEvent.to_status.in_(kpi.OUTCOMES),
                    OrderEvent.at >= earliest,
                    OrderEvent.at < latest,
                    Order.org_id == org_id,
                    ~dated,
                )
            )
        )
    )
    # (A plain date range when nothing moved: the common case keeps its index.)
    in_range = (Order.org_id == org_id, or_(dated, Order.id.in_(moved)) if moved else dated)

    # The routes that carried each order, one per day (the latest live route of the day with
    # a stop for it), from a day before the range to a day after, with the same filters.
    carriers: dict[str, dict[date, kpi.Carrier]] = {}
    route_ends: dict[str, dict[date, int]] = {}
    in_scope = set(session.scalars(select(Order.id).where(*in_range)))
    for order_id, arrival_s, route_id, route_day, driver_id, end_s in routes_service.carriers(
        session=session,
        org_id=org_id,
        start=f.start - timedelta(days=1),
        end=f.end + timedelta(days=1),
        driver_id=f.driver_id,
        vehicle_ids=of_vehicles,
    ):
        if order_id not in in_scope:
            continue
        route_ends.setdefault(str(order_id), {})[route_day] = end_s
        carriers.setdefault(str(order_id), {})[route_day] = kpi.Carrier(
            day=route_day,
            route_id=route_id,
            driver_id=driver_id,
            planned_arrival=_local(route_day, arrival_s, zone),
        )

    def carried_in_range(order_id: str) -> bool:
        return any(f.start <= d <= f.end for d in carriers.get(order_id, {}))

    # Everything about the orders in scope: one query per kind of row, joined on the orders
    # (plain columns, no ORM objects: a month is tens of thousands).
    rows = [
        o
        for o in session.execute(
            select(Order.id, Order.created_at, Order.lon, Order.lat, Order.windows, Order.date)
            .where(*in_range)
            .order_by(Order.date, Order.id)
        )
        if not f.narrowed or carried_in_range(o.id)
    ]
    ids = [o.id for o in rows]
    wanted = set(ids)

    def of_orders(*columns: Any, model: Any) -> Any:
        return session.execute(
            select(*columns)
            .join(Order, Order.id == model.order_id)
            .where(model.org_id == org_id, *in_range)
        )

    history: dict[str, list[kpi.StatusEvent]] = {}
    for order_id, to_status, at, lon, lat, reason in of_orders(
        OrderEvent.order_id,
        OrderEvent.to_status,
        OrderEvent.at,
        OrderEvent.lon,
        OrderEvent.lat,
        OrderEvent.reason,
        model=OrderEvent,
    ):
        day = event_day(at, zone, route_ends.get(order_id, {}))
        history.setdefault(order_id, []).append(
            kpi.StatusEvent(to_status, at, lon, lat, reason, day=day)
        )
    with_pod = {o for (o,) in of_orders(ProofOfDelivery.order_id, model=ProofOfDelivery)}
    tracking_counters.flush_for(session)  # the views this process still holds in memory
    views = Counter(o for (o,) in of_orders(TrackingView.order_id, model=TrackingView))
    rating = {
        order_id: int(stars)
        for order_id, stars in of_orders(
            CustomerInput.order_id, CustomerInput.rating, model=CustomerInput
        )
        if stars is not None
    }
    messages = [
        kpi.Message(order_id, cost, status)
        for order_id, cost, status in of_orders(
            Notification.order_id, Notification.cost, Notification.status, model=Notification
        )
        if order_id in wanted
    ]
    contacts: dict[str, int] = {}
    route_times: dict[str, dict[str, datetime]] = {}
    # Route events are logged when synced (up to a week late) and never before the day.
    since = datetime.combine(max(f.start, date(1970, 1, 8)) - timedelta(days=7), time(0), zone)
    for event in session.scalars(
        select(Event).where(
            Event.org_id == org_id,
            Event.type.in_((EVENT_CONTACT, "route.started", "route.finished")),
            Event.created_at >= since,
        )
    ):
        payload: dict[str, Any] = event.payload
        if event.type == EVENT_CONTACT:
            if payload.get("order_id") in wanted:
                contacts[payload["order_id"]] = contacts.get(payload["order_id"], 0) + 1
        elif payload.get("route_id") in routes:
            kind = "started" if event.type == "route.started" else "finished"
            route_times.setdefault(payload["route_id"], {}).setdefault(
                kind, datetime.fromisoformat(payload["at"])
            )

    order_records = []
    for o in rows:
        events = tuple(history.get(o.id, ()))
        # The windows of the order's date, and of every other day it was attempted on (the
        # same times of day: a rescheduling keeps no copy of the old window).
        days = sorted({o.date, *(e.day for e in events if e.day is not None)})
        windows = tuple(
            (_local(d, a, zone), _local(d, b, zone)) for d in days for a, b in o.windows
        )
        carried = carriers.get(o.id, {})
        last = carried[max(d for d in carried if d <= f.end)] if carried_in_range(o.id) else None
        order_records.append(
            kpi.OrderRecord(
                id=o.id,
                created_at=o.created_at,
                lon=o.lon,
                lat=o.lat,
                windows=windows,
                events=events,
                driver_id=last.driver_id if last else None,
                route_id=last.route_id if last else None,
                planned_arrival=last.planned_arrival if last else None,
                has_pod=o.id in with_pod,
                tracking_views=views.get(o.id, 0),
                contacts=contacts.get(o.id, 0),
                rating=rating.get(o.id),
                day=o.date,
                carriers=tuple(carried[d] for d in sorted(carried)),
            )
        )

    tracks: dict[str, list[tuple[float, float]]] = {}
    for chunk in _chunks(sorted(routes)):  # a few queries for all routes, not one per route
        for track_route, lon, lat in session.execute(
            select(Position.route_id, Position.lon, Position.lat)
            .where(Position.org_id == org_id, Position.route_id.in_(chunk))
            .order_by(Position.route_id, Position.recorded_at)
        ):
            tracks.setdefault(str(track_route), []).append((lon, lat))
    route_records = []
    for route_id, (route, vehicle) in sorted(routes.items()):
        times = route_times.get(route_id, {})
        route_records.append(
            kpi.RouteRecord(
                id=route.id,
                driver_id=route.driver_id,
                vehicle_id=route.vehicle_id,
                planned_distance_m=route.distance_m,
                planned_duration_s=route.duration_s,
                started_at=times.get("started"),
                finished_at=times.get("finished"),
                track=tuple(tracks.get(route_id, ())),
                track_removed_m=route.track_removed_m,
                shift_end=_local(route.date, vehicle.shift_end_s, zone),
                cost_per_hour=vehicle.cost_per_hour,
                overtime_cost_per_hour=vehicle.overtime_cost_per_hour,
                cost_per_km=vehicle.cost_per_km,
                fixed_cost=vehicle.fixed_cost,
                day=route.date,
            )
        )
    return order_records, route_records, messages


LATE_GRACE_S = 6 * 3600
"""How long after its planned end a route past midnight still claims its order's events."""


def event_day(at: datetime, zone: ZoneInfo, route_ends: dict[date, int]) -> date:
    """The business day an order's event counts on: its local date, or the day before when
    the order was on a route of the day before that runs past midnight (planned end after
    24:00, with :data:`LATE_GRACE_S`) and on no route of the event's date."""
    local = at.astimezone(zone)
    before = local.date() - timedelta(days=1)
    end_s = route_ends.get(before)
    if local.date() not in route_ends and end_s is not None and end_s > 86_400:
        since_midnight = (local - datetime.combine(before, time(0), zone)).total_seconds()
        if since_midnight <= end_s + LATE_GRACE_S:
            return before
    return local.date()


def compute(*, session: Session, org_id: str, f: Filters) -> kpi.Kpis:
    """Every KPI of the organisation's orders and routes in scope (events on their day)."""
    order_records, route_records, messages = records(session=session, org_id=org_id, f=f)
    return kpi.compute(order_records, route_records, messages, start=f.start, end=f.end)


def series(*, session: Session, org_id: str, f: Filters, bucket: kpi.Bucket) -> list[kpi.Period]:
    """The KPIs per day or ISO week of the range (each period computed like :func:`compute`)."""
    return overview(session=session, org_id=org_id, f=f, bucket=bucket)[1]


def overview(
    *, session: Session, org_id: str, f: Filters, bucket: kpi.Bucket
) -> tuple[kpi.Kpis, list[kpi.Period]]:
    """The range's KPIs and their trend from one read of the stored rows (the KPI page)."""
    order_records, route_records, messages = records(session=session, org_id=org_id, f=f)
    whole = kpi.compute(order_records, route_records, messages, start=f.start, end=f.end)
    return whole, kpi.series(
        order_records, route_records, messages, start=f.start, end=f.end, bucket=bucket
    )


def to_csv(result: kpi.Kpis) -> str:
    """The KPIs as CSV: ``scope,metric,value`` (scope ``all`` or a driver id)."""
    rows: list[list[str]] = []

    def value(v: object) -> str:
        if v is None:
            return ""
        if isinstance(v, float):
            return f"{v:.6g}"
        return str(v)

    for name, v in vars(result).items():
        if name == "drivers":
            continue
        if name == "cost":
            for part, amount in vars(v).items():
                rows.append(["all", f"cost_{part}", value(amount)])
        elif name == "failure_reasons":
            for reason, count in v.items():
                rows.append(["all", f"failed_{reason}", value(count)])
        else:
            rows.append(["all", name, value(v)])
    for card in result.drivers:
        for name, v in vars(card).items():
            if name != "driver_id":
                rows.append([f"driver:{card.driver_id}", name, value(v)])
    return write_csv(["scope", "metric", "value"], rows)


def log_contact(
    *, session: Session, org_id: str, order_id: str, channel: str, note: str, actor: str
) -> dict[str, Any]:
    """Log a "where is my order" contact with a customer as an ``order.contact`` event."""
    order = orders.get(session=session, org_id=org_id, order_id=order_id)
    payload: dict[str, Any] = {
        "order_id": order.id,
        "external_id": order.external_id,
        "channel": channel,
        "note": note,
        "at": utcnow().isoformat(),
        "actor": actor,
    }
    events.record(session=session, org_id=org_id, type=EVENT_CONTACT, payload=payload)
    session.commit()
    return payload


# --- baseline vs pilot -----------------------------------------------------------------------

SCOPE_REFS: dict[str, type[Depot] | type[Driver] | type[Vehicle]] = {
    "depot_id": Depot,
    "driver_id": Driver,
    "vehicle_id": Vehicle,
}


def scope_filters(*, session: Session, org_id: str, scope: dict[str, Any], name: str) -> Filters:
    """A stored scope (``from``, ``to``, optional depot/driver/vehicle) as KPI filters, checked:
    the range as for ``GET /kpis``, and every id must be one of the organisation's rows (an
    unknown id would silently select nothing). Issues name ``<name>.<field>``."""
    try:
        start = date.fromisoformat(str(scope.get("from")))
        end = date.fromisoformat(str(scope.get("to", scope.get("from"))))
    except ValueError as exc:
        raise InputError([FieldIssue(None, f"{name}.from", None, str(exc))], "comparison") from exc
    try:
        f = filters(
            session=session,
            org_id=org_id,
            start=start,
            end=end,
            **{k: scope.get(k) or None for k in SCOPE_REFS},
        )
    except InputError as exc:
        raise InputError(
            [FieldIssue(i.row, f"{name}.{i.field}", i.value, i.message) for i in exc.issues],
            "comparison",
        ) from exc
    issues = []
    for field_name, table in SCOPE_REFS.items():
        wanted = getattr(f, field_name)
        if wanted is None:
            continue
        found = session.scalar(select(table.id).where(table.id == wanted, table.org_id == org_id))
        if found is None:
            issues.append(
                FieldIssue(None, f"{name}.{field_name}", wanted, "no such row in this organisation")
            )
    if issues:
        raise InputError(issues, "comparison")
    return f


def scope_of(f: Filters) -> dict[str, Any]:
    """Filters as the JSON a comparison stores (``None`` ids left out)."""
    out: dict[str, Any] = {"from": f.start.isoformat(), "to": f.end.isoformat()}
    for key in SCOPE_REFS:
        if getattr(f, key):
            out[key] = getattr(f, key)
    return out


def create_comparison(
    *,
    session: Session,
    org_id: str,
    name: str,
    baseline: dict[str, Any],
    pilot: dict[str, Any],
    objectives: list[kpi.Objective],
    actor: str,
) -> Comparison:
    """Store a baseline-vs-pilot comparison after checking both scopes and every objective."""
    if "typed" in pilot:
        raise InputError(
            [FieldIssue(None, "pilot.typed", None, "only a baseline can be typed in")],
            "comparison",
        )
    if "typed" in baseline:
        baseline = kpi_typed.checked_typed_scope(baseline, SCOPE_REFS)
    before = scope_filters(session=session, org_id=org_id, scope=baseline, name="baseline")
    after = scope_filters(session=session, org_id=org_id, scope=pilot, name="pilot")
    issues = [
        FieldIssue(None, f"objectives[{i}].metric", o.metric, "not a KPI of the catalogue")
        for i, o in enumerate(objectives)
        if o.metric not in kpi.BY_NAME
    ]
    if issues:
        raise InputError(issues, "comparison")
    row = Comparison(
        org_id=org_id,
        name=name,
        baseline=scope_of(before) | ({"typed": baseline["typed"]} if "typed" in baseline else {}),
        pilot=scope_of(after),
        objectives=[
            {"metric": o.metric, "op": o.op, "target": o.target, "relative": o.relative}
            for o in objectives
        ],
        created_by=actor,
    )
    session.add(row)
    session.commit()
    return row


def list_comparisons(*, session: Session, org_id: str) -> list[Comparison]:
    return list(
        session.scalars(
            select(Comparison)
            .where(Comparison.org_id == org_id)
            .order_by(Comparison.created_at.desc(), Comparison.id)
        )
    )


def get_comparison(*, session: Session, org_id: str, comparison_id: str) -> Comparison:
    row = session.get(Comparison, comparison_id)
    if row is None or row.org_id != org_id:
        raise NotFound("no such comparison")
    return row


def delete_comparison(*, session: Session, org_id: str, comparison_id: str) -> None:
    session.delete(get_comparison(session=session, org_id=org_id, comparison_id=comparison_id))
    session.commit()


def objectives_of(row: Comparison) -> list[kpi.Objective]:
    return [
        kpi.Objective(
            metric=str(o["metric"]),
            op="at_least" if o["op"] == "at_least" else "at_most",
            target=float(o["target"]),
            relative=bool(o.get("relative", False)),
        )
        for o in row.objectives
    ]


@dataclass(frozen=True)
class Report:
    """A comparison with both scopes' KPIs recomputed now, and every objective judged."""

    comparison: Comparison
    baseline: Filters
    pilot: Filters
    result: kpi.Comparison
    warnings: list[str]


def report(*, session: Session, org_id: str, comparison_id: str) -> Report:
    """Recompute the baseline's and the pilot's KPIs and judge the objectives.

    A scope whose depot, driver or vehicle was deleted since is reported as 404 of that row
    rather than silently widened.
    """
    row = get_comparison(session=session, org_id=org_id, comparison_id=comparison_id)
    try:
        before = scope_filters(session=session, org_id=org_id, scope=row.baseline, name="baseline")
        after = scope_filters(session=session, org_id=org_id, scope=row.pilot, name="pilot")
    except InputError as exc:
        raise NotFound(f"the comparison's scope no longer exists: {exc.message}") from exc
    typed = row.baseline.get("typed")
    baseline: kpi.Kpis | kpi_typed.TypedBaseline = (
        kpi_typed.TypedBaseline.from_json(typed)
        if typed is not None
        else compute(session=session, org_id=org_id, f=before)
    )
    result = kpi.compare(
        baseline, compute(session=session, org_id=org_id, f=after), objectives_of(row)
    )
    return Report(row, before, after, result, _warnings(result, typed is not None))


def _warnings(result: kpi.Comparison, typed: bool) -> list[str]:
    """What an owner must know before trusting the verdict."""
    out = []
    if not typed and result.baseline.orders == 0:
        out.append(
            "The baseline has no orders in lastmile for its days: every change is unknown. "
            "Choose other days, or type in the figures of the time before lastmile."
        )
    if typed and all(c.baseline is None for c in result.changes):
        out.append("The typed-in baseline has no figures.")
    if result.pilot.orders == 0:
        out.append("The pilot has no orders for its days yet.")
    return out


def scope_names(*, session: Session, org_id: str, scopes: list[Filters]) -> dict[str, str]:
    """Names of the depots, drivers and vehicles the scopes name, by id (for reports)."""
    names: dict[str, str] = {}
    for f in scopes:
        for key, table in SCOPE_REFS.items():
            wanted = getattr(f, key)
            if wanted and wanted not in names:
                found = session.scalar(
                    select(table.name).where(table.id == wanted, table.org_id == org_id)
                )
                if found:
                    names[wanted] = str(found)
    return names
