"""The dashboard's multi-day plan pages: start a plan over several days, and see the week (the
days side by side: stops and hours per day and per van, the balance, the checker's findings),
each day opening as an ordinary plan page (where it is published to the drivers)."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from lastmile.common.web import AppSettings, DbSession
from lastmile.fleet import service as fleet
from lastmile.pageframe.layout import Viewer, org_today, parse_day, render, staff_page
from lastmile.plans import week as weeks
from lastmile.plans.week import MAX_DAYS

router = APIRouter(include_in_schema=False)

WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


@router.get("/app/plan-week", response_model=None)
def week_form(
    request: Request, session: DbSession, settings: AppSettings, start: str = ""
) -> Response:
    """Pick the days, the vehicles, the balance and a time limit; start; recent week plans."""
    viewer = staff_page(request, session, settings)
    if not isinstance(viewer, Viewer):
        return viewer
    today = org_today(viewer)
    first = parse_day(start) or today + dt.timedelta(days=(7 - today.weekday()) % 7 or 7)
    vehicles, _ = fleet.list_vehicles(session=session, org_id=viewer.org_id, active=True)
    return render(
        request,
        "dashboard/plan_week_new.html",
        viewer,
        settings,
        nav="plan",
        start=first.isoformat(),
        end=(first + dt.timedelta(days=4)).isoformat(),
        vehicles=vehicles,
        vehicles_json=json.dumps([{"id": v.id, "name": v.name or v.external_id} for v in vehicles]),
        recent=weeks.list_weeks(session=session, org_id=viewer.org_id, limit=15),
        time_limit=settings.plan_time_limit_s,
        max_days=MAX_DAYS,
    )


def _days(summary: dict[str, Any], names: dict[str, str]) -> list[dict[str, Any]]:
    """Each day with bar widths (percent of the busiest day / van) for the picture."""
    days = summary.get("days", [])
    top_stops = max((d["stops"] for d in days), default=0) or 1
    top_hours = max((r["hours"] for d in days for r in d["routes"]), default=0) or 1
    out = []
    for d in days:
        date = dt.date.fromisoformat(d["date"])
        out.append(
            {
                **d,
                "weekday": WEEKDAYS[date.weekday()],
                "bar": round(100 * d["stops"] / top_stops),
                "vans_rows": [
                    {
                        **r,
                        "name": names.get(r["vehicle_id"], r["vehicle_id"]),
                        "bar": round(100 * r["hours"] / top_hours),
                    }
                    for r in d["routes"]
                ],
            }
        )
    return out


@router.get("/app/plan-weeks/{week_id}", response_model=None)
def week_page(
    week_id: str, request: Request, session: DbSession, settings: AppSettings
) -> Response:
    """The week: progress while solving; then the days side by side and the balance."""
    viewer = staff_page(request, session, settings)
    if not isinstance(viewer, Viewer):
        return viewer
    week = weeks.get(session=session, org_id=viewer.org_id, week_id=week_id)  # 404 if not ours
    vehicles, _ = fleet.list_vehicles(session=session, org_id=viewer.org_id, active=None)
    names = {v.id: v.name or v.external_id for v in vehicles}
    summary = week.summary or {}
    days = _days(summary, names)
    mean = summary.get("stops", 0) / len(days) if days else 0.0
    return render(
        request,
        "dashboard/plan_week.html",
        viewer,
        settings,
        nav="plan",
        week=week,
        days=days,
        summary=summary,
        mean=round(mean, 1),
    )
