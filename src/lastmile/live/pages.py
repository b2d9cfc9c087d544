"""The dashboard's live page: dispatched routes of a day, vehicle positions, events feed."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from lastmile.common.web import AppSettings, DbSession
from lastmile.events import service as events
from lastmile.fleet import service as fleet
from lastmile.live import etas
from lastmile.orgs import service as orgs
from lastmile.orgs.models import Organisation
from lastmile.pageframe.layout import (
    FAIL_WORDS,
    STATUS_WORDS,
    Viewer,
    json_script,
    org_today,
    parse_day,
    render,
    staff_page,
)
from lastmile.pageframe.planmap import PALETTE
from lastmile.plans import document
from lastmile.plans import service as plans

router = APIRouter(include_in_schema=False)


LIVE_REPLAY = 5000
"""How many event ids back the live page's stream starts (last positions, recent feed)."""


def _simulation_clock(org: Organisation) -> dict[str, Any] | None:
    """A simulation organisation's clock (``orgs.clock.now``: start + (real - anchor) x speed),
    so the feed shows an event stamped only with its (real) recording time at the business
    time it happened; ``None`` for a real organisation, whose business time is the real one."""
    if not org.simulation or org.clock_start is None or org.clock_anchor is None:
        return None
    return {
        "start": org.clock_start.isoformat(),
        "anchor": org.clock_anchor.isoformat(),
        "speed": org.clock_speed,
    }


def _etas_of(known: etas.RouteEtas | None) -> dict[str, dict[str, Any]]:
    """order id -> the one ETA (``HH:MM``), the customer's promise, late risk and minutes late
    of each stop still to do (what the driver app and the tracking page show too)."""
    if known is None:
        return {}

    def hhmm(seconds: int) -> str:
        return known.clock.iso(seconds)[11:16]

    return {
        r.order_id: {
            "eta": hhmm(r.arrival_s),
            "promise": [hhmm(r.promise[0]), hhmm(r.promise[1])] if r.promise else None,
            "level": r.level,
            "minutes_late": -(-r.late_s // 60),
        }
        for r in known.stops
        if r.order_id
    }


@router.get("/app/live", response_model=None)
def live_page(
    request: Request, session: DbSession, settings: AppSettings, date: str = ""
) -> Response:
    """Dispatched routes of a day: vehicle positions, per-route progress, events feed."""
    viewer = staff_page(request, session, settings)
    if not isinstance(viewer, Viewer):
        return viewer
    day = parse_day(date) or org_today(viewer)
    dispatched = [
        p
        for p in plans.list_plans(session=session, org_id=viewer.org_id, date=day, limit=20)
        if p.dispatched_at is not None
    ]
    routes = []
    for p in dispatched:
        rows_by_vehicle = {
            r.vehicle_id: r
            for r in plans.routes_of(session=session, org_id=viewer.org_id, plan_id=p.id)
        }
        expected = etas.current(
            session=session,
            settings=settings,
            org_id=viewer.org_id,
            routes=list(rows_by_vehicle.values()),
        )
        loaded: dict[str, Any] = {}  # the stops' orders: their status, read with the routes
        current = document.current(session=session, plan=p, loaded=loaded) or {}
        status_of = {order_id: str(o.status) for order_id, o in loaded.items()}
        for r in current.get("routes", []):
            ids = [s["order_id"] for s in r["stops"] if s["kind"] == "order"]
            row = rows_by_vehicle.get(r["vehicle_id"])
            routes.append(
                {
                    "plan_id": p.id,
                    "route_id": row.id if row else "",
                    "driver_id": row.driver_id if row else "",
                    "vehicle_id": r["vehicle_id"],
                    "vehicle_name": r["vehicle_name"],
                    "orders": ids,
                    "state": {i: status_of.get(i, "") for i in ids},
                    "delivered": sum(1 for i in ids if status_of.get(i) == "delivered"),
                    "failed": sum(
                        1 for i in ids if status_of.get(i) in ("failed", "returned", "rescheduled")
                    ),
                    "etas": _etas_of(expected.get(row.id) if row else None),
                    "line": [[r["start"]["lat"], r["start"]["lon"]]]
                    + [[s["lat"], s["lon"]] for s in r["stops"] if s["kind"] == "order"],
                    "stops": [
                        {
                            "order_id": s["order_id"],
                            "external_id": s.get("external_id") or "",
                            "address": s.get("address") or "",
                            "lat": s["lat"],
                            "lon": s["lon"],
                            "planned": s["arrival"][11:16],
                        }
                        for s in r["stops"]
                        if s["kind"] == "order"
                    ],
                }
            )
    for i, r in enumerate(routes):
        r["colour"] = PALETTE[i % len(PALETTE)]
    drivers, _ = fleet.list_drivers(session=session, org_id=viewer.org_id)
    return render(
        request,
        "dashboard/live.html",
        viewer,
        settings,
        nav="live",
        day=day.isoformat(),
        routes=routes,
        data=json_script(
            {
                "routes": routes,
                "drivers": {d.id: d.name for d in drivers},
                "timezone": viewer.timezone,
                "clock": _simulation_clock(orgs.get(session=session, org_id=viewer.org_id)),
                "status_words": STATUS_WORDS,
                "fail_words": FAIL_WORDS,
                # The stream replays from here, so vehicles show their last known position and
                # the feed its recent history (event ids are server-wide, hence a window).
                "replay_from": max(
                    0, events.latest_id(session=session, org_id=viewer.org_id) - LIVE_REPLAY
                ),
            }
        ),
    )
