"""The dashboard's plan pages: the plan form, a plan's map and timeline, drag-and-drop edits
(preview/apply), route sheets and GPX/CSV exports."""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any
from xml.sax.saxutils import escape

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from lastmile.auth.deps import Caller
from lastmile.auth.principal import STAFF
from lastmile.common.web import AppSettings, DbSession
from lastmile.core.errors import LastmileError, NotFound
from lastmile.core.formats.csv_out import write_csv
from lastmile.core.model import Location
from lastmile.core.model import Profile as RoadProfile
from lastmile.core.times import format_clock, seconds_of_iso
from lastmile.fleet import service as fleet
from lastmile.integrations.configured import provider_for
from lastmile.orders import service as orders
from lastmile.orders.lifecycle import location_words
from lastmile.pageframe.layout import (
    Viewer,
    json_script,
    org_today,
    parse_day,
    render,
    staff_page,
)
from lastmile.pageframe.planmap import PALETTE
from lastmile.plans import document
from lastmile.plans import edit as planedit
from lastmile.plans import service as plans
from lastmile.plans.models import Plan
from lastmile.routes.service import RUNNING

router = APIRouter(include_in_schema=False)


def _timeline(doc: dict[str, Any], colours: dict[str, str]) -> dict[str, Any]:
    """Positions for the SVG timeline: one row per vehicle, a bar per stop, windows shaded."""
    routes = doc.get("routes", [])
    if not routes:
        return {"rows": [], "ticks": [], "width": 0, "height": 0}
    day = dt.date.fromisoformat(doc["date"])

    def _local_seconds(iso: str) -> int:  # past midnight: 25:30 is 91 800, not 5 400
        return seconds_of_iso(iso, day)

    starts = [_local_seconds(r["start"]["departure"]) for r in routes]
    ends = [_local_seconds(r["end"]["arrival"]) for r in routes]
    t0 = (min(starts) // 3600) * 3600
    t1 = -(-max(ends) // 3600) * 3600
    label_w, width, row_h = 130, 1000, 34
    scale = (width - label_w - 10) / max(1, t1 - t0)

    def x(t: int) -> float:
        return round(label_w + (t - t0) * scale, 1)

    rows = []
    for i, r in enumerate(routes):
        y = 24 + i * row_h
        bars, windows = [], []
        seen: set[tuple[int, int]] = set()  # the same window shaded once per row
        for s in r["stops"]:
            if s["kind"] != "order":
                a, b = _local_seconds(s["start"]), _local_seconds(s["departure"])
                bars.append(
                    {"x": x(a), "w": max(2.0, x(b) - x(a)), "label": "break", "kind": "break"}
                )
                continue
            a, b = _local_seconds(s["start"]), _local_seconds(s["departure"])
            late = any(_local_seconds(w[1]) < a for w in s["windows"]) and not any(
                _local_seconds(w[0]) <= a <= _local_seconds(w[1]) for w in s["windows"]
            )
            bars.append(
                {
                    "x": x(a),
                    "w": max(3.0, x(b) - x(a)),
                    "label": f"{s['sequence']}. {s['external_id']} {s['start'][11:16]}",
                    "kind": "late" if late else "stop",
                    "order_id": s["order_id"],
                }
            )
            for w0, w1 in s["windows"]:
                a, b = max(t0, _local_seconds(w0)), min(t1, _local_seconds(w1))
                if b > a and (a, b) not in seen:
                    seen.add((a, b))
                    windows.append({"x": x(a), "w": x(b) - x(a)})
        rows.append(
            {
                "y": y,
                "name": r["vehicle_name"],
                "vehicle_id": r["vehicle_id"],
                "colour": colours[r["vehicle_id"]],
                "span": {"x": x(starts[i]), "w": x(ends[i]) - x(starts[i])},
                "bars": bars,
                "windows": windows[:400],
            }
        )
    ticks = [
        {"x": x(t), "label": format_clock(t) if x(t) < width - 40 else ""}
        for t in range(t0, t1 + 1, 3600)
    ]
    return {
        "rows": rows,
        "ticks": ticks,
        "width": width,
        "height": 24 + len(routes) * row_h + 4,
        "label_w": label_w,
    }


def _colours(doc: dict[str, Any]) -> dict[str, str]:
    return {r["vehicle_id"]: PALETTE[i % len(PALETTE)] for i, r in enumerate(doc.get("routes", []))}


UNASSIGNED_WORDS = {
    "demand_exceeds_capacity": "too big for every vehicle",
    "no_vehicle_with_skill": "no vehicle can take it",
    "window_unreachable": "its time window cannot be reached",
    "route_too_long": "does not fit in any shift",
    "fleet_full": "no room left on the vehicles",
    "not_worth_it": "costs more than it is worth",
    "pair_unassigned": "its pickup or delivery is not planned",
    "address_unresolved": "the address is not on the map",
}
"""Why an order is not planned (``core.model.UnassignedReason``), in the owner's words."""


@router.get("/app/plan", response_model=None)
def plan_form(
    request: Request, session: DbSession, settings: AppSettings, date: str = ""
) -> Response:
    """Pick a day, vehicles and a time limit; start the optimisation; recent plans."""
    viewer = staff_page(request, session, settings)
    if not isinstance(viewer, Viewer):
        return viewer
    day = parse_day(date) or org_today(viewer)
    vehicles, _ = fleet.list_vehicles(session=session, org_id=viewer.org_id, active=True)
    ready = orders.list_orders(
        session=session, org_id=viewer.org_id, date=day, statuses=["ready"], limit=1
    )[1]
    recent = plans.list_plans(session=session, org_id=viewer.org_id, date=None, limit=15)
    return render(
        request,
        "dashboard/plan_new.html",
        viewer,
        settings,
        nav="plan",
        day=day.isoformat(),
        vehicles=vehicles,
        ready=ready,
        recent=recent,
        time_limit=settings.plan_time_limit_s,
    )


def _findings(doc: dict[str, Any], vehicle_names: dict[str, str]) -> list[str]:
    """The independent checker's findings on the plan (``check`` of the document), with the
    vehicle names and order numbers the dispatcher knows instead of internal ids."""
    check = doc.get("check") or {}
    if check.get("ok", True):
        return []
    external = {
        str(s["order_id"]): str(s.get("external_id") or s["order_id"])
        for r in doc.get("routes", [])
        for s in r["stops"]
        if s.get("order_id")
    }
    external.update(
        {
            str(u["order_id"]): str(u.get("external_id") or u["order_id"])
            for u in doc.get("unassigned", [])
        }
    )
    out = []
    for v in check.get("violations", []):
        message = str(v["message"])
        for vid, name in vehicle_names.items():
            message = message.replace(vid, name)
        for oid, ext in external.items():
            message = message.replace(oid, ext)
        out.append(message)
    return out


@router.get("/app/plans/{plan_id}", response_model=None)
def plan_page(
    request: Request, plan_id: str, session: DbSession, settings: AppSettings
) -> Response:
    """A plan: live progress while solving; then map, timeline, totals, unassigned, edit,
    dispatch."""
    viewer = staff_page(request, session, settings)
    if not isinstance(viewer, Viewer):
        return viewer
    plan = plans.get(session=session, org_id=viewer.org_id, plan_id=plan_id)
    order_of: dict[str, Any] = {}  # the stops' orders, as the document read them
    doc = document.current(session=session, plan=plan, loaded=order_of) or {}
    colours = _colours(doc)
    drivers, _ = fleet.list_drivers(session=session, org_id=viewer.org_id, active=True)
    route_rows = {
        r.vehicle_id: r
        for r in plans.routes_of(session=session, org_id=viewer.org_id, plan_id=plan.id)
    }
    driver_names = {d.id: d.name for d in drivers}
    all_vehicles: list[str] = []
    if plan.status == "done" and plan.dispatched_at is None:
        try:
            core_vehicles, _ = fleet.to_core_vehicles(
                session=session, org_id=viewer.org_id, vehicle_ids=plan.params.get("vehicle_ids")
            )
            all_vehicles = [v.id for v in core_vehicles]
        except LastmileError:  # a vehicle of the plan was deactivated: no moves offered
            all_vehicles = []
    vehicle_names = {
        v.id: (v.name or v.external_id)
        for v in fleet.list_vehicles(session=session, org_id=viewer.org_id)[0]
    }
    # After dispatch a move is an edit of the running day (POST /api/v1/plans/{id}/moves,
    # live.edits): onto a running route, among the stops still to do.
    running = {v: r for v, r in route_rows.items() if plan.dispatched_at and r.status in RUNNING}
    if running:
        all_vehicles = list(running)
    movable = {
        s["order_id"]
        for r in doc.get("routes", [])
        if not plan.dispatched_at or r["vehicle_id"] in running
        for s in r["stops"]
        if s["kind"] == "order" and (not plan.dispatched_at or s.get("status") == "pending")
    }
    # Orders of the day that no plan could take: their address waits for a person.
    left_out, left_out_total = orders.list_orders(
        session=session, org_id=viewer.org_id, date=plan.date, statuses=["new"], limit=20
    )
    return render(
        request,
        "dashboard/plan.html",
        viewer,
        settings,
        nav="plan",
        plan=plan,
        doc=doc,
        colours=colours,
        timeline=_timeline(doc, colours),
        drivers=drivers,
        driver_of={v: driver_names.get(r.driver_id or "", "") for v, r in route_rows.items()},
        driver_id_of={v: r.driver_id or "" for v, r in route_rows.items()},
        editable=plan.status == "done" and bool(all_vehicles),
        movable=movable,
        move_targets=[{"id": v, "name": vehicle_names.get(v, v)} for v in all_vehicles],
        left_out=left_out,
        order_of=order_of,
        left_out_total=left_out_total,
        findings=_findings(doc, vehicle_names),
        location_words=location_words,
        reason_words=UNASSIGNED_WORDS,
        data=json_script(
            {
                "plan_id": plan.id,
                "status": plan.status,
                "route_ids": {v: r.id for v, r in running.items()},
                "progress": plan.progress,
                "colours": colours,
                "routes": [
                    {
                        "vehicle_id": r["vehicle_id"],
                        "vehicle_name": r["vehicle_name"],
                        "start": [r["start"]["lon"], r["start"]["lat"]],
                        "stops": [
                            {
                                "order_id": s["order_id"],
                                "external_id": s["external_id"],
                                "sequence": s["sequence"],
                                "lon": s["lon"],
                                "lat": s["lat"],
                                "eta": s["arrival"][11:16],
                            }
                            for s in r["stops"]
                            if s["kind"] == "order"
                        ],
                    }
                    for r in doc.get("routes", [])
                ],
            }
        ),
    )


def _route_doc(
    session: Session, org_id: str, plan_id: str, vehicle_id: str
) -> tuple[Plan, dict[str, Any]]:
    plan = plans.get(session=session, org_id=org_id, plan_id=plan_id)
    one = document.current(session=session, plan=plan, vehicle_id=vehicle_id) or {}
    for route in one.get("routes", []):
        if route["vehicle_id"] == vehicle_id:
            return plan, route
    raise NotFound("no route for that vehicle in this plan")


@router.get("/app/api/plans/{plan_id}/geometry")
def plan_geometry(
    plan_id: str, caller: Caller, session: DbSession, settings: AppSettings
) -> dict[str, Any]:
    """Each route's line: road paths from the travel provider when roads are on, else the
    straight segments between stops."""
    caller.require(*STAFF)
    plan = plans.get(session=session, org_id=caller.org_id, plan_id=plan_id)
    result: dict[str, Any] = {}
    provider = None
    if settings.use_roads:
        provider = provider_for(settings)
    for r in (document.current(session=session, plan=plan) or {}).get("routes", []):
        points = [Location(r["start"]["lon"], r["start"]["lat"])]
        points += [Location(s["lon"], s["lat"]) for s in r["stops"] if s["kind"] == "order"]
        if r["end"]["lon"] is not None:
            points.append(Location(r["end"]["lon"], r["end"]["lat"]))
        line = [points[0]]
        for a, b in itertools.pairwise(points):
            if a == b:
                continue
            segment = (
                provider.path(a, b, RoadProfile(r["profile"])) if provider is not None else [a, b]
            )
            line.extend(segment[1:] if segment and segment[0] == line[-1] else segment)
        result[r["vehicle_id"]] = [[p.lat, p.lon] for p in line]
    return {"routes": result, "roads": provider is not None}


class MoveRequest(BaseModel):
    order_id: str = Field(max_length=64)
    to_vehicle_id: str = Field(max_length=64)
    position: int = Field(ge=0, le=100_000, description="0-based place on the target route.")


@router.post("/app/api/plans/{plan_id}/edit/preview")
def edit_preview(
    plan_id: str, body: MoveRequest, caller: Caller, session: DbSession, settings: AppSettings
) -> dict[str, Any]:
    """What moving a stop would do (cost delta, broken windows/capacity). Writes nothing."""
    caller.require(*STAFF)
    outcome = planedit.preview(
        session=session,
        settings=settings,
        org_id=caller.org_id,
        plan_id=plan_id,
        order_id=body.order_id,
        to_vehicle_id=body.to_vehicle_id,
        position=body.position,
    )
    return outcome.summary()


@router.post("/app/api/plans/{plan_id}/edit/apply")
def edit_apply(
    plan_id: str, body: MoveRequest, caller: Caller, session: DbSession, settings: AppSettings
) -> dict[str, Any]:
    """Store the move (recomputed on the server, as confirmed by the dispatcher)."""
    caller.require(*STAFF)
    outcome = planedit.apply(
        session=session,
        settings=settings,
        org_id=caller.org_id,
        plan_id=plan_id,
        order_id=body.order_id,
        to_vehicle_id=body.to_vehicle_id,
        position=body.position,
        actor=caller.actor,
    )
    return outcome.summary()


@router.get("/app/plans/{plan_id}/sheet/{vehicle_id}", response_model=None)
def route_sheet(
    request: Request, plan_id: str, vehicle_id: str, session: DbSession, settings: AppSettings
) -> Response:
    """A printable route sheet for the driver."""
    viewer = staff_page(request, session, settings)
    if not isinstance(viewer, Viewer):
        return viewer
    plan, route = _route_doc(session, viewer.org_id, plan_id, vehicle_id)
    return _sheets(request, session, settings, viewer, plan, [route])


@router.get("/app/plans/{plan_id}/sheets", response_model=None)
def route_sheets(
    request: Request, plan_id: str, session: DbSession, settings: AppSettings
) -> Response:
    """Every route of a plan as printable sheets, one route per page."""
    viewer = staff_page(request, session, settings)
    if not isinstance(viewer, Viewer):
        return viewer
    plan = plans.get(session=session, org_id=viewer.org_id, plan_id=plan_id)
    return _sheets(
        request, session, settings, viewer, plan, list((plan.document or {}).get("routes", []))
    )


def _sheets(
    request: Request,
    session: Session,
    settings: Any,
    viewer: Viewer,
    plan: Plan,
    routes: list[dict[str, Any]],
) -> Response:
    """Route sheets with what the driver needs at each door: the customer and phone, what to
    deliver, the notes and the address as it is now (corrected after planning, if it was)."""
    driver_ids = {
        r.vehicle_id: r.driver_id
        for r in plans.routes_of(session=session, org_id=viewer.org_id, plan_id=plan.id)
    }
    drivers = {d.id: d.name for d in fleet.list_drivers(session=session, org_id=viewer.org_id)[0]}
    order_ids = [s["order_id"] for r in routes for s in r["stops"] if s.get("order_id")]
    return render(
        request,
        "dashboard/route_sheet.html",
        viewer,
        settings,
        plan=plan,
        sheets=[
            {"route": r, "driver": drivers.get(driver_ids.get(r["vehicle_id"]) or "", "")}
            for r in routes
        ],
        order_of=orders.get_many(session=session, org_id=viewer.org_id, order_ids=order_ids),
        amount=_amount,
    )


def _amount(demand: dict[str, float]) -> str:
    """``{"parcels": 2, "weight_kg": 3.5}`` -> ``2 parcels, 3.5 kg``."""
    units = {"weight_kg": "kg", "volume_l": "l"}
    return ", ".join(f"{v:g} {units.get(k, k.replace('_', ' '))}" for k, v in demand.items() if v)


@router.get("/app/plans/{plan_id}/export/{vehicle_id}.gpx", response_model=None)
def route_gpx(plan_id: str, vehicle_id: str, caller: Caller, session: DbSession) -> Response:
    """A route as GPX: the stops as a route (rtept) in visiting order."""
    caller.require(*STAFF)
    _, route = _route_doc(session, caller.org_id, plan_id, vehicle_id)
    points = [
        f'  <rtept lat="{route["start"]["lat"]}" lon="{route["start"]["lon"]}"><name>Start</name>'
        f"<time>{route['start']['departure']}</time></rtept>"
    ]
    for s in route["stops"]:
        if s["kind"] != "order":
            continue
        points.append(
            f'  <rtept lat="{s["lat"]}" lon="{s["lon"]}"><name>{s["sequence"]}. '
            f"{escape(s['external_id'])}</name><desc>{escape(s['address'])}</desc>"
            f"<time>{s['arrival']}</time></rtept>"
        )
    if route["end"]["lon"] is not None:
        points.append(
            f'  <rtept lat="{route["end"]["lat"]}" lon="{route["end"]["lon"]}"><name>End</name></rtept>'
        )
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<gpx version="1.1" creator="lastmile" xmlns="http://www.topografix.com/GPX/1/1">\n'
        f" <rte><name>{escape(route['vehicle_name'])}</name>\n"
        + "\n".join(points)
        + "\n </rte>\n</gpx>\n"
    )
    return Response(
        body,
        media_type="application/gpx+xml",
        headers={"Content-Disposition": f'attachment; filename="route-{vehicle_id}.gpx"'},
    )


@router.get("/app/plans/{plan_id}/export/{vehicle_id}.csv", response_model=None)
def route_csv(plan_id: str, vehicle_id: str, caller: Caller, session: DbSession) -> Response:
    """A route as CSV: one line per stop with times and address."""
    caller.require(*STAFF)
    _, route = _route_doc(session, caller.org_id, plan_id, vehicle_id)
    header = ["sequence", "external_id", "address", "lon", "lat"]
    header += ["arrival", "start", "departure", "windows"]
    rows = [
        [
            s["sequence"],
            s["external_id"],
            s["address"],
            s["lon"],
            s["lat"],
            s["arrival"],
            s["start"],
            s["departure"],
            " ".join(f"{a[11:16]}-{b[11:16]}" for a, b in s["windows"]),
        ]
        for s in route["stops"]
        if s["kind"] == "order"
    ]
    return Response(
        write_csv(header, rows),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="route-{vehicle_id}.csv"'},
    )
