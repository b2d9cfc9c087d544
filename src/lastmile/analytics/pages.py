"""The dashboard's KPI page (``/app/kpis``): tiles, trend charts, scorecards, comparisons.

The figures are the same service calls as ``GET /api/v1/kpis`` and ``/kpis/series``, rendered
on the server (tiles, tables) and handed to Chart.js as JSON for the trend charts. Creating a
comparison goes through the public ``POST /api/v1/comparisons`` from the page's script.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from lastmile.analytics import report as documents
from lastmile.analytics import service
from lastmile.common.web import AppSettings, DbSession
from lastmile.core import kpi
from lastmile.core.errors import InputError
from lastmile.fleet import service as fleet
from lastmile.pageframe.layout import Viewer, fail_words, json_script, org_today, render, staff_page

router = APIRouter(include_in_schema=False)
DEFAULT_DAYS = 28
"""The page opens on the last four weeks, today included."""
WEEKLY_AFTER_DAYS = 62
"""Longer ranges are charted per week unless the viewer asks for days."""

TILES = (
    ("lagging", ("cost_per_delivery", "first_attempt_success_rate", "on_time_rate",
                 "avg_delivery_time_s", "avg_rating", "delivered")),
    ("leading", ("stops_per_hour", "km_per_stop", "avg_arrival_error_s", "pod_compliance",
                 "tracking_views_per_order", "contacts_per_order")),
)  # fmt: skip


def _day(text: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(text) if text else None
    except ValueError:
        return None


@router.get("/app/kpis", response_model=None)
def kpis_page(
    request: Request,
    session: DbSession,
    settings: AppSettings,
    from_: Annotated[str, Query(alias="from", max_length=10)] = "",
    to: Annotated[str, Query(max_length=10)] = "",
    bucket: Annotated[str, Query(max_length=4)] = "",
    depot_id: Annotated[str, Query(max_length=64)] = "",
    driver_id: Annotated[str, Query(max_length=64)] = "",
    vehicle_id: Annotated[str, Query(max_length=64)] = "",
) -> Response:
    """KPIs of a range: tiles, trends per day or week, failures, scorecards, comparisons."""
    viewer = staff_page(request, session, settings)
    if not isinstance(viewer, Viewer):
        return viewer
    today = org_today(viewer)
    end = _day(to) or today
    start = _day(from_) or end - dt.timedelta(days=DEFAULT_DAYS - 1)
    error = ""
    try:
        f = service.filters(
            session=session,
            org_id=viewer.org_id,
            start=start,
            end=end,
            driver_id=driver_id or None,
            vehicle_id=vehicle_id or None,
            depot_id=depot_id or None,
        )
    except InputError as exc:
        error = exc.message
        f = service.filters(
            session=session,
            org_id=viewer.org_id,
            start=today - dt.timedelta(days=DEFAULT_DAYS - 1),
            end=today,
        )
    chosen: kpi.Bucket
    if bucket in ("day", "week"):
        chosen = "day" if bucket == "day" else "week"
    else:
        chosen = "week" if (f.end - f.start).days >= WEEKLY_AFTER_DAYS else "day"
    result, points = service.overview(session=session, org_id=viewer.org_id, f=f, bucket=chosen)
    values = kpi.values(result)
    depots, _ = fleet.list_depots(session=session, org_id=viewer.org_id)
    drivers, _ = fleet.list_drivers(session=session, org_id=viewer.org_id)
    vehicles, _ = fleet.list_vehicles(session=session, org_id=viewer.org_id)
    driver_names = {d.id: d.name for d in drivers}
    query = {
        "from": f.start.isoformat(),
        "to": f.end.isoformat(),
        **{
            k: v
            for k, v in (
                ("depot_id", f.depot_id),
                ("driver_id", f.driver_id),
                ("vehicle_id", f.vehicle_id),
            )
            if v
        },
    }
    comparisons = service.list_comparisons(session=session, org_id=viewer.org_id)
    names = {**{d.id: d.name for d in depots}, **driver_names, **{v.id: v.name for v in vehicles}}
    chart_data = {
        "bucket": chosen,
        "labels": [
            p.start.isoformat()
            if p.start == p.end
            else f"{p.start.isoformat()} to {p.end.isoformat()}"
            for p in points
        ],
        "orders": [p.kpis.orders for p in points],
        "metrics": [
            {
                "name": m.name,
                "label": m.label,
                "unit": m.unit,
                "better": m.better,
                "indicator": m.indicator,
                "values": [m.read(p.kpis) for p in points],
            }
            for m in kpi.METRICS
        ],
        "failures": {fail_words(k): v for k, v in result.failure_reasons.items()},
        "catalogue": [{"name": m.name, "label": m.label, "unit": m.unit} for m in kpi.METRICS],
    }
    return render(
        request,
        "dashboard/kpis.html",
        viewer,
        settings,
        nav="kpis",
        f=f,
        bucket=chosen,
        error=error,
        result=result,
        tiles=[
            (
                indicator,
                [
                    (kpi.BY_NAME[name], documents.fmt(values[name], kpi.BY_NAME[name].unit))
                    for name in names_
                ],
            )
            for indicator, names_ in TILES
        ],
        fmt=documents.fmt,
        depots=depots,
        drivers=drivers,
        vehicles=vehicles,
        driver_names=driver_names,
        csv_url="/api/v1/kpis.csv?" + urlencode(query),
        # The mornings' question is "how did yesterday go": one click, not two date pickers.
        quick=[
            (label, "/app/kpis?" + urlencode({"from": start_.isoformat(), "to": end_.isoformat()}))
            for label, start_, end_ in (
                ("Yesterday", today - dt.timedelta(days=1), today - dt.timedelta(days=1)),
                ("Today", today, today),
                ("Last 7 days", today - dt.timedelta(days=6), today),
                ("Last 4 weeks", today - dt.timedelta(days=DEFAULT_DAYS - 1), today),
            )
        ],
        comparisons=[
            {
                "row": c,
                "baseline": ("typed in, " if "typed" in c.baseline else "")
                + documents.scope_label(_scope(c.baseline), names),
                "pilot": documents.scope_label(_scope(c.pilot), names),
                "objectives": [documents.objective_label(o) for o in service.objectives_of(c)],
            }
            for c in comparisons
        ],
        data=json_script(chart_data),
        # The form proposes the range on screen as the pilot and as long a range before it
        # as the baseline.
        proposal={
            "pilot": (f.start, f.end),
            "baseline": (
                f.start - (f.end - f.start) - dt.timedelta(days=1),
                f.start - dt.timedelta(days=1),
            ),
        },
    )


def _scope(stored: dict[str, Any]) -> service.Filters:
    """A stored scope as filters, for its label only (no checks: the report checks)."""
    start = dt.date.fromisoformat(str(stored["from"]))
    return service.Filters(
        start=start,
        end=dt.date.fromisoformat(str(stored.get("to", stored["from"]))),
        driver_id=stored.get("driver_id"),
        vehicle_id=stored.get("vehicle_id"),
        depot_id=stored.get("depot_id"),
    )
