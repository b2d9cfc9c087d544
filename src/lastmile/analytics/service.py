"""KPIs from stored rows: order history, route events, GPS, messages, proofs, tracking.

Every figure is recomputed from what was stored (``lastmile.core.kpi`` does the arithmetic),
so the API, the CSV export and ``lastmile simulate`` always agree. "Where is my order"
contacts are logged as ``order.contact`` events in the event log (no table of their own).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from lastmile.analytics.models import Comparison
from lastmile.common.clock import utcnow
from lastmile.core import kpi
from lastmile.core.errors import FieldIssue, InputError, NotFound
from lastmile.drivers.models import Position, ProofOfDelivery
from lastmile.events import service as events
from lastmile.events.models import Event
from lastmile.fleet.models import Depot, Driver, Vehicle
from lastmile.notifications.models import Notification
from lastmile.orders import service as orders
from lastmile.orders.models import Order, OrderEvent
from lastmile.orgs.models import Organisation
from lastmile.plans.models import Route, Stop
from lastmile.tracking.models import CustomerInput, TrackingView

EVENT_CONTACT = "order.contact"
LIVE_ROUTES = ("dispatched", "started", "finished")
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
    return datetime.combine(day, time(0), zone) + timedelta(seconds=seconds)


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


def records(
    *, session: Session, org_id: str, f: Filters
) -> tuple[list[kpi.OrderRecord], list[kpi.RouteRecord], list[kpi.Message]]:
    """The plain records of the orders (delivery dates in range) and routes in scope."""
    zone = _zone(session, org_id)
    route_query = (
        select(Route, Vehicle)
        .join(Vehicle, Vehicle.id == Route.vehicle_id)
        .where(
            Route.org_id == org_id,
            Route.date >= f.start,
            Route.date <= f.end,
            Route.status.in_(LIVE_ROUTES),
        )
    )
    if f.driver_id:
        route_query = route_query.where(Route.driver_id == f.driver_id)
    if f.vehicle_id:
        route_query = route_query.where(Route.vehicle_id == f.vehicle_id)
    if f.depot_id:
        route_query = route_query.where(Vehicle.depot_id == f.depot_id)
    routes = {r.id: (r, v) for r, v in session.execute(route_query)}

    # Which route carried each order: its latest live route in range (and its planned arrival).
    stop_of: dict[str, tuple[int, Route]] = {}
    for ids in _chunks(sorted(routes)):
        for order_id, route_id, arrival_s in session.execute(
            select(Stop.order_id, Stop.route_id, Stop.arrival_s).where(
                Stop.org_id == org_id, Stop.route_id.in_(ids), Stop.order_id.isnot(None)
            )
        ):
            route = routes[route_id][0]
            known = stop_of.get(str(order_id))
            if known is None or known[1].created_at <= route.created_at:
                stop_of[str(order_id)] = (arrival_s, route)

    # Everything about the orders of the range: one query per kind of row, joined on the
    # orders of the dates (plain columns, no ORM objects: a month is tens of thousands).
    in_range = (Order.org_id == org_id, Order.date >= f.start, Order.date <= f.end)
    rows = [
        o
        for o in session.execute(
            select(Order.id, Order.created_at, Order.lon, Order.lat, Order.windows, Order.date)
            .where(*in_range)
            .order_by(Order.date, Order.id)
        )
        if not f.narrowed or o.id in stop_of
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
    for order_id, *fields in of_orders(
        OrderEvent.order_id,
        OrderEvent.to_status,
        OrderEvent.at,
        OrderEvent.lon,
        OrderEvent.lat,
        OrderEvent.reason,
        model=OrderEvent,
    ):
        history.setdefault(order_id, []).append(kpi.StatusEvent(*fields))
    with_pod = {
        order_id for (order_id,) in of_orders(ProofOfDelivery.order_id, model=ProofOfDelivery)
    }
    views: dict[str, int] = {}
    for (order_id,) in of_orders(TrackingView.order_id, model=TrackingView):
        views[order_id] = views.get(order_id, 0) + 1
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
        found = stop_of.get(o.id)
        on_route: Route | None = found[1] if found else None
        order_records.append(
            kpi.OrderRecord(
                id=o.id,
                created_at=o.created_at,
                lon=o.lon,
                lat=o.lat,
                windows=tuple(
                    (_local(o.date, a, zone), _local(o.date, b, zone)) for a, b in o.windows
                ),
                events=tuple(history.get(o.id, ())),
                driver_id=on_route.driver_id if on_route else None,
                route_id=on_route.id if on_route else None,
                planned_arrival=(
                    _local(on_route.date, found[0], zone) if found and on_route else None
                ),
                has_pod=o.id in with_pod,
                tracking_views=views.get(o.id, 0),
                contacts=contacts.get(o.id, 0),
                rating=rating.get(o.id),
                day=o.date,
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
        track = tuple(tracks.get(route_id, ()))
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
                track=track,
                shift_end=_local(route.date, vehicle.shift_end_s, zone),
                cost_per_hour=vehicle.cost_per_hour,
                overtime_cost_per_hour=vehicle.overtime_cost_per_hour,
                cost_per_km=vehicle.cost_per_km,
                fixed_cost=vehicle.fixed_cost,
                day=route.date,
            )
        )
    return order_records, route_records, messages


def compute(*, session: Session, org_id: str, f: Filters) -> kpi.Kpis:
    """Every KPI of the organisation's orders and routes in scope."""
    order_records, route_records, messages = records(session=session, org_id=org_id, f=f)
    return kpi.compute(order_records, route_records, messages)


def series(*, session: Session, org_id: str, f: Filters, bucket: kpi.Bucket) -> list[kpi.Period]:
    """The KPIs per day or ISO week of the range (each period computed like :func:`compute`)."""
    return overview(session=session, org_id=org_id, f=f, bucket=bucket)[1]


def overview(
    *, session: Session, org_id: str, f: Filters, bucket: kpi.Bucket
) -> tuple[kpi.Kpis, list[kpi.Period]]:
    """The range's KPIs and their trend from one read of the stored rows (the KPI page)."""
    order_records, route_records, messages = records(session=session, org_id=org_id, f=f)
    return kpi.compute(order_records, route_records, messages), kpi.series(
        order_records, route_records, messages, start=f.start, end=f.end, bucket=bucket
    )


def to_csv(result: kpi.Kpis) -> str:
    """The KPIs as CSV: ``scope,metric,value`` (scope ``all`` or a driver id)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["scope", "metric", "value"])

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
                writer.writerow(["all", f"cost_{part}", value(amount)])
        elif name == "failure_reasons":
            for reason, count in v.items():
                writer.writerow(["all", f"failed_{reason}", value(count)])
        else:
            writer.writerow(["all", name, value(v)])
    for card in result.drivers:
        for name, v in vars(card).items():
            if name != "driver_id":
                writer.writerow([f"driver:{card.driver_id}", name, value(v)])
    return out.getvalue()


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
        baseline=scope_of(before),
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
    result = kpi.compare(
        compute(session=session, org_id=org_id, f=before),
        compute(session=session, org_id=org_id, f=after),
        objectives_of(row),
    )
    return Report(row, before, after, result)


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
