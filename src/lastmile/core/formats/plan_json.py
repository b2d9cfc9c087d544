"""The plan document (``plan.json``) and its GeoJSON twin. Schema: ``docs/plan-json.md``.

The core plans in seconds since local midnight; here those become ISO 8601 date-times with
the plan's time zone, loads become ``{dimension: amount}`` objects, and every order of the
problem appears exactly once: on a route or in ``unassigned``.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable
from datetime import date
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from lastmile.core.model import Location, Plan, Problem, Route, StopKind
from lastmile.core.times import DayClock

if TYPE_CHECKING:
    from lastmile.core.planning.check import CheckReport

SCHEMA = "lastmile.plan/1"
OSM_ATTRIBUTION = "© OpenStreetMap contributors"

PathFunction = Callable[[Location, Location, str], list[Location]]
"""(from, to, profile) -> geometry; the travel provider's ``path``."""


def _load(dimensions: tuple[str, ...], values: tuple[float, ...]) -> dict[str, float]:
    return {d: round(v, 3) for d, v in zip(dimensions, values, strict=True)}


def _point(location: Location) -> dict[str, float]:
    return {"lon": location.lon, "lat": location.lat}


def route_document(problem: Problem, route: Route, clock: DayClock) -> dict[str, Any]:
    vehicle = problem.vehicle(route.vehicle_id)
    orders = {o.id: o for o in problem.orders}
    stops: list[dict[str, Any]] = []
    for sequence, stop in enumerate(route.stops, start=1):
        item: dict[str, Any] = {
            "sequence": sequence,
            "kind": stop.kind.value,
            "order_id": stop.order_id,
            "arrival": clock.iso(stop.arrival),
            "start": clock.iso(stop.start),
            "departure": clock.iso(stop.departure),
            "wait_s": stop.start - stop.arrival,
            "load": _load(problem.dimensions, stop.load),
        }
        if stop.kind is StopKind.ORDER and stop.order_id is not None:
            order = orders[stop.order_id]
            item.update(
                {
                    "external_id": order.external_id,
                    "address": order.address,
                    **_point(order.location),
                    "service_s": order.service_s,
                    "order_kind": order.kind.value,
                    "windows": [[clock.iso(w.start), clock.iso(w.end)] for w in order.windows],
                    "distance_from_previous_m": stop.distance_from_previous_m,
                }
            )
        stops.append(item)
    end = vehicle.end
    return {
        "vehicle_id": vehicle.id,
        "vehicle_name": vehicle.name or vehicle.id,
        "profile": vehicle.profile.value,
        "start": {**_point(vehicle.start), "departure": clock.iso(route.start_time)},
        "end": {
            **(_point(end) if end else {"lon": None, "lat": None}),
            "arrival": clock.iso(route.end_time),
        },
        "stops": stops,
        "load_start": _load(problem.dimensions, route.start_load),
        "distance_m": route.distance_m,
        "duration_s": route.duration_s,
        "cost": route.cost,
    }


def in_owner_words(problem: Problem, text: str) -> str:
    """``text`` (a checker's or explainer's message, which name rows by id) with vehicle ids
    replaced by the vehicles' names and order ids by the shop's order numbers: what a
    dispatcher reads. Whole ids only, longest first, so ``V1`` never touches ``V10``."""
    names = {v.id: v.name for v in problem.vehicles if v.name and v.name != v.id}
    names |= {
        o.id: o.external_id for o in problem.orders if o.external_id and o.external_id != o.id
    }
    if not names:
        return text
    pattern = re.compile(
        r"(?<![\w-])("
        + "|".join(re.escape(k) for k in sorted(names, key=len, reverse=True))
        + r")(?![\w-])"
    )
    return pattern.sub(lambda m: names[m.group(1)], text)


def plan_document(
    problem: Problem,
    plan: Plan,
    *,
    day: date,
    zone: ZoneInfo,
    travel_times: str,
    time_limit_s: float | None = None,
    check: CheckReport | None = None,
) -> dict[str, Any]:
    """The whole plan as a JSON-ready dict; with ``check``, the independent checker's
    findings go into it (``check.ok`` false and the violations: the plan is marked, never
    silently kept)."""
    clock = DayClock(day, zone)
    routes = [route_document(problem, r, clock) for r in plan.routes]
    service = sum(
        problem.order(s.order_id).service_s for r in plan.routes for s in r.stops if s.order_id
    )
    waiting = sum(s.start - s.arrival for r in plan.routes for s in r.stops)
    totals = {
        "orders": len(problem.orders),
        "routed": sum(len(r.order_ids) for r in plan.routes),
        "unassigned": len(plan.unassigned),
        "vehicles_used": len(plan.routes),
        "vehicles_available": len(problem.vehicles),
        "distance_m": plan.distance_m,
        "duration_s": sum(r.duration_s for r in plan.routes),
        "service_s": service,
        "wait_s": waiting,
        "cost": plan.cost,
    }
    document: dict[str, Any] = {
        "schema": SCHEMA,
        "date": day.isoformat(),
        "timezone": zone.key,
        "travel_times": travel_times,
        "dimensions": list(problem.dimensions),
        "routes": routes,
        "unassigned": [
            {
                "order_id": u.order_id,
                "external_id": problem.order(u.order_id).external_id,
                "reason": u.reason.value,
                "message": in_owner_words(problem, u.message),
                "late_s_to_fit": u.late_s_to_fit,
                "overtime_s_to_fit": u.overtime_s_to_fit,
                "best_vehicle_id": u.best_vehicle_id,
            }
            for u in plan.unassigned
        ],
        "totals": totals,
    }
    if plan.stats is not None:
        document["solver"] = {
            "runtime_s": plan.stats.runtime_s,
            "iterations": plan.stats.iterations,
            "seed": plan.stats.seed,
            "time_limit_s": time_limit_s,
        }
    if check is not None:
        document["check"] = check_document(check)
    if travel_times != "straight-line":
        document["attribution"] = OSM_ATTRIBUTION
    return document


def check_document(report: CheckReport) -> dict[str, Any]:
    """The checker's verdict as the plan document's ``check`` member."""
    return {
        "ok": report.ok,
        "violations": [
            {
                "code": v.code.value,
                "message": v.message,
                "vehicle_id": v.vehicle_id,
                "order_id": v.order_id,
                "amount": v.amount,
            }
            for v in report.violations
        ],
    }


def route_geometry(problem: Problem, route: Route, path: PathFunction) -> list[Location]:
    """The line a vehicle drives: start, every stop, end, following the provider's paths."""
    vehicle = problem.vehicle(route.vehicle_id)
    orders = {o.id: o for o in problem.orders}
    points = [vehicle.start] + [orders[oid].location for oid in route.order_ids]
    if vehicle.end is not None:
        points.append(vehicle.end)
    line: list[Location] = [points[0]]
    for a, b in itertools.pairwise(points):
        if a == b:
            continue
        segment = path(a, b, vehicle.profile.value)
        line.extend(segment[1:] if segment and segment[0] == line[-1] else segment)
    return line


def plan_geojson(
    problem: Problem, plan: Plan, document: dict[str, Any], path: PathFunction
) -> dict[str, Any]:
    """Routes as LineStrings and stops as numbered Points, properties from the plan document."""
    features: list[dict[str, Any]] = []
    orders = {o.id: o for o in problem.orders}
    for route, doc in zip(plan.routes, document["routes"], strict=True):
        line = route_geometry(problem, route, path)
        features.append(
            {
                "type": "Feature",
                "geometry": {"type": "LineString", "coordinates": [[p.lon, p.lat] for p in line]},
                "properties": {
                    "kind": "route",
                    "vehicle_id": route.vehicle_id,
                    "distance_m": route.distance_m,
                    "duration_s": route.duration_s,
                    "cost": route.cost,
                    "stops": len(route.order_ids),
                },
            }
        )
        for stop in doc["stops"]:
            if stop["kind"] != "order":
                continue
            order = orders[stop["order_id"]]
            features.append(
                {
                    "type": "Feature",
                    "geometry": {
                        "type": "Point",
                        "coordinates": [order.location.lon, order.location.lat],
                    },
                    "properties": {
                        "kind": "stop",
                        "vehicle_id": route.vehicle_id,
                        **{k: v for k, v in stop.items() if k not in ("lon", "lat", "kind")},
                    },
                }
            )
    unassigned = {u["order_id"]: u for u in document["unassigned"]}
    for order in problem.orders:
        if order.id in unassigned and order.location != Location(0.0, 0.0):
            features.append(
                {
                    "type": "Feature",
                    "geometry": {
                        "type": "Point",
                        "coordinates": [order.location.lon, order.location.lat],
                    },
                    "properties": {
                        "kind": "unassigned",
                        "address": order.address,
                        **unassigned[order.id],
                    },
                }
            )
    collection: dict[str, Any] = {"type": "FeatureCollection", "features": features}
    if "attribution" in document:
        collection["attribution"] = document["attribution"]
    return collection
