"""The plan document as the day is now: its routes rendered from the route and stop rows.

The solve stores a document (``Plan.document``, the CLI's ``plan.json``), but the day goes on
after it: same-day inserts, re-optimising, the dashboard's edits and the drivers' events all
change the rows of the ``routes`` slice. So every reader of a plan (``GET /plans/{id}``, the
plan and live pages, route sheets, GPX/CSV exports) takes :func:`current`, which keeps the
stored document's solve facts (vehicles, unassigned orders with reasons, solver statistics)
and renders routes, stops, times, loads and totals from the rows. What was solved and what
is running are the same rows.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from lastmile.core.formats.plan_json import SCHEMA
from lastmile.core.times import DayClock
from lastmile.fleet import service as fleet
from lastmile.orders import service as order_service
from lastmile.orders.models import Order
from lastmile.orgs import service as orgs
from lastmile.plans.models import Plan
from lastmile.routes import service as routes
from lastmile.routes.models import Route, Stop, StopKind


def current(
    *,
    session: Session,
    plan: Plan,
    vehicle_id: str | None = None,
    loaded: dict[str, Order] | None = None,
) -> dict[str, Any] | None:
    """The plan's document with its routes as the rows say now (``None`` before the solve).

    ``vehicle_id``: only that vehicle's route (a route sheet reads one of many); ``loaded``
    receives the orders of the stops, for a page that shows more of them (read once)."""
    rows = routes.of_plan(session=session, org_id=plan.org_id, plan_id=plan.id)
    if vehicle_id is not None:
        rows = [r for r in rows if r.vehicle_id == vehicle_id]
    if not rows:
        return plan.document
    stored = plan.document or _bare(session, plan)
    clock = DayClock(plan.date, ZoneInfo(str(stored["timezone"])))
    by_vehicle = {str(r["vehicle_id"]): r for r in stored.get("routes", [])}
    for r in rows:
        if r.vehicle_id not in by_vehicle:
            by_vehicle[r.vehicle_id] = _vehicle(session, plan.org_id, r.vehicle_id)
    stops = routes.stops_of(session=session, org_id=plan.org_id, route_ids=[r.id for r in rows])
    orders = order_service.get_many(
        session=session,
        org_id=plan.org_id,
        order_ids=[s.order_id for rs in stops.values() for s in rs if s.order_id],
    )
    if loaded is not None:
        loaded.update(orders)
    paired = {o.deliver_to for o in orders.values() if o.deliver_to}
    dimensions = [str(d) for d in stored.get("dimensions", [])] or sorted(
        {d for o in orders.values() for d in o.demand}
    )
    documents = [
        _route(r, stops[r.id], orders, paired, by_vehicle.get(r.vehicle_id), clock, dimensions)
        for r in rows
    ]
    routed = {s["order_id"] for r in documents for s in r["stops"] if s["order_id"]}
    unassigned = [u for u in stored.get("unassigned", []) if u["order_id"] not in routed]
    document = dict(stored)
    document["routes"] = documents
    document["unassigned"] = unassigned
    document["totals"] = {
        **stored.get("totals", {}),
        "orders": len(routed) + len(unassigned),
        "routed": len(routed),
        "unassigned": len(unassigned),
        "vehicles_used": len(documents),
        "distance_m": sum(r["distance_m"] for r in documents),
        "duration_s": sum(r["duration_s"] for r in documents),
        "service_s": sum(s.get("service_s", 0) for r in documents for s in r["stops"]),
        "wait_s": sum(s["wait_s"] for r in documents for s in r["stops"]),
        "cost": round(sum(r["cost"] for r in documents), 2),
    }
    return document


def _bare(session: Session, plan: Plan) -> dict[str, Any]:
    """The solve facts of a plan whose routes were written without a document (the
    simulator's and tests' seeded days): the organisation's zone, nothing unassigned."""
    zone = orgs.get(session=session, org_id=plan.org_id).timezone
    return {
        "schema": SCHEMA,
        "date": plan.date.isoformat(),
        "timezone": zone,
        "dimensions": [],
        "routes": [],
        "unassigned": [],
        "totals": {},
    }


def _vehicle(session: Session, org_id: str, vehicle_id: str) -> dict[str, Any]:
    """A route's vehicle facts, as the plan document has them."""
    v = fleet.get_vehicle(session=session, org_id=org_id, vehicle_id=vehicle_id)
    end = (
        (None, None)
        if v.open_end
        else (
            v.end_lon if v.end_lon is not None else v.start_lon,
            v.end_lat if v.end_lat is not None else v.start_lat,
        )
    )
    return {
        "vehicle_id": v.id,
        "vehicle_name": v.name or v.external_id,
        "profile": v.profile,
        "start": {"lon": v.start_lon, "lat": v.start_lat},
        "end": {"lon": end[0], "lat": end[1]},
    }


def _route(
    route: Route,
    stops: Sequence[Stop],
    orders: dict[str, Order],
    paired: set[str],
    stored: dict[str, Any] | None,
    clock: DayClock,
    dimensions: list[str],
) -> dict[str, Any]:
    """One route's document from its rows; vehicle facts (name, profile, depot) from the
    stored document, a stop's road distance from it while its predecessor is unchanged."""
    stored = stored or {}
    known = _stored_distances(stored)
    load = _start_load(stops, orders, paired, dimensions)
    start_load = dict(load)
    items: list[dict[str, Any]] = []
    previous: str | None = None
    for sequence, stop in enumerate(stops, start=1):
        order = orders.get(stop.order_id or "")
        item: dict[str, Any] = {
            "sequence": sequence,
            "kind": stop.kind.value,
            "order_id": stop.order_id,
            "status": stop.status.value,
            "arrival": clock.iso(stop.arrival_s),
            "start": clock.iso(stop.start_s),
            "departure": clock.iso(stop.departure_s),
            "wait_s": stop.start_s - stop.arrival_s,
        }
        if stop.dispatched_arrival_s is not None:
            item["dispatched_arrival"] = clock.iso(stop.dispatched_arrival_s)
        if stop.kind == StopKind.ORDER and order is not None:
            sign = 1 if order.kind == "pickup" or order.deliver_to else -1
            for d in dimensions:
                load[d] = round(load[d] + sign * float(order.demand.get(d, 0.0)), 3)
            item.update(
                {
                    "load": dict(load),
                    "external_id": order.external_id,
                    "address": order.address,
                    "lon": order.lon,
                    "lat": order.lat,
                    "service_s": order.service_s,
                    "order_kind": order.kind,
                    "windows": [[clock.iso(int(a)), clock.iso(int(b))] for a, b in order.windows],
                    "distance_from_previous_m": known.get((previous, order.id)),
                }
            )
            previous = order.id
        else:
            item["load"] = dict(load)
        items.append(item)
    return {
        "vehicle_id": route.vehicle_id,
        "route_id": route.id,
        "status": route.status.value,
        "vehicle_name": stored.get("vehicle_name", route.vehicle_id),
        "profile": stored.get("profile", "van"),
        "start": {**stored.get("start", {}), "departure": clock.iso(route.start_s)},
        "end": {**stored.get("end", {"lon": None, "lat": None}), "arrival": clock.iso(route.end_s)},
        "stops": items,
        "load_start": start_load,
        "distance_m": route.distance_m,
        "duration_s": route.duration_s,
        "cost": route.cost,
    }


def _stored_distances(stored: dict[str, Any]) -> dict[tuple[str | None, str], int]:
    """(previous order id, order id) -> road metres, as solved."""
    out: dict[tuple[str | None, str], int] = {}
    previous: str | None = None
    for s in stored.get("stops", []):
        if s.get("kind") != "order" or not s.get("order_id"):
            continue
        if s.get("distance_from_previous_m") is not None:
            out[(previous, s["order_id"])] = int(s["distance_from_previous_m"])
        previous = s["order_id"]
    return out


def _start_load(
    stops: Sequence[Stop], orders: dict[str, Order], paired: set[str], dimensions: list[str]
) -> dict[str, float]:
    """Goods on board at the start: every plain delivery of the route (as the planner loads)."""
    total = dict.fromkeys(dimensions, 0.0)
    for stop, d in itertools.product(stops, dimensions):
        order = orders.get(stop.order_id or "")
        if order is None or order.kind != "delivery" or order.external_id in paired:
            continue
        total[d] = round(total[d] + float(order.demand.get(d, 0.0)), 3)
    return total
