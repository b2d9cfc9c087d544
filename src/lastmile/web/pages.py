"""The dispatcher dashboard (issue 4): server-rendered pages under ``/app`` plus the few JSON
helpers the pages need that the public API does not offer (import preview with pins, bulk
status changes, plan edit preview/apply, road basemap, route geometry, GPX/CSV exports).

Every write goes through the same service functions as the JSON API; the browser calls the
public ``/api/v1`` routes itself where they exist (with the session cookie and the
``X-CSRF-Token`` header from the page's meta tag). Documented in ``docs/dashboard.md``.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import itertools
import json
import math
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote
from xml.sax.saxutils import escape
from zoneinfo import ZoneInfo

import numpy as np
from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from lastmile.auth import service as auth
from lastmile.auth.api import client_address
from lastmile.auth.models import User
from lastmile.auth.principal import STAFF, Principal
from lastmile.auth.security import same
from lastmile.common.clock import utcnow
from lastmile.common.travel import provider_for
from lastmile.common.web import (
    SESSION_COOKIE,
    AppSettings,
    Caller,
    DbSession,
    csrf_token,
)
from lastmile.config import Settings
from lastmile.core.errors import FieldIssue, InputError, LastmileError, NotFound, RateLimited
from lastmile.core.formats.orders_csv import ORDER_ALIASES
from lastmile.core.formats.plan_json import OSM_ATTRIBUTION
from lastmile.core.formats.table import match_columns, read_rows
from lastmile.core.model import Location
from lastmile.core.model import Profile as RoadProfile
from lastmile.core.roads import RoadNetwork, default_extract
from lastmile.core.roads.profiles import PROFILES
from lastmile.events import service as events
from lastmile.fleet import service as fleet
from lastmile.orders import service as orders
from lastmile.orders.lifecycle import OrderStatus
from lastmile.orgs import service as orgs
from lastmile.orgs.models import Role
from lastmile.plans import service as plans
from lastmile.plans.models import Plan
from lastmile.web import planedit
from lastmile.web.planmap import PALETTE

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=str(Path(str(resources.files("lastmile.web") / "templates"))))
PAGE_SIZE = 50
LIVE_REPLAY = 5000
"""How many event ids back the live page's stream starts (last positions, recent feed)."""
BULK_ACTIONS = {
    "cancel": OrderStatus.CANCELLED,
    "ready": OrderStatus.READY,
    "new": OrderStatus.NEW,
    "reschedule": OrderStatus.RESCHEDULED,
}


# --------------------------------------------------------------------------- who is looking


@dataclass
class Viewer:
    """The logged-in user of a page, with what the layout shows."""

    principal: Principal
    cookie: str
    csrf: str
    email: str
    org_name: str
    timezone: str
    organisations: list[dict[str, str]]
    home: str = ""
    """"lat,lon" to centre an empty map on: the first depot, else the first vehicle's start."""

    @property
    def org_id(self) -> str:
        return self.principal.org_id

    @property
    def is_admin(self) -> bool:
        return self.principal.role == Role.ADMIN


def _viewer(request: Request, session: Session, settings: Settings) -> Viewer | None:
    cookie = request.cookies.get(SESSION_COOKIE)
    if not cookie:
        return None
    try:
        principal = auth.principal_for_token(session=session, token=cookie, via_cookie=True)
    except LastmileError:
        return None
    assert principal.user_id is not None
    user = session.get(User, principal.user_id)
    memberships = orgs.memberships_of(session=session, user_id=principal.user_id)
    current = next(o for _, o in memberships if o.id == principal.org_id)
    depots, _ = fleet.list_depots(session=session, org_id=principal.org_id, limit=1)
    vehicles: list[Any] = (
        [] if depots else fleet.list_vehicles(session=session, org_id=principal.org_id, limit=1)[0]
    )
    home = (
        f"{depots[0].lat},{depots[0].lon}"
        if depots
        else (f"{vehicles[0].start_lat},{vehicles[0].start_lon}" if vehicles else "")
    )
    return Viewer(
        home=home,
        principal=principal,
        cookie=cookie,
        csrf=csrf_token(settings, cookie),
        email=user.email if user else "",
        org_name=current.name,
        timezone=current.timezone,
        organisations=[{"id": o.id, "name": o.name, "role": m.role} for m, o in memberships],
    )


def _to_login(request: Request) -> RedirectResponse:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/app/login?next={quote(target)}", status_code=303)


def render(
    request: Request,
    name: str,
    viewer: Viewer | None,
    settings: Settings,
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    base = {
        "home": viewer.home if viewer else "",
        "viewer": viewer,
        "tile_url": settings.tile_url or "",
        "attribution": OSM_ATTRIBUTION,
        "palette": PALETTE,
    }
    return templates.TemplateResponse(request, name, {**base, **context}, status_code=status_code)


def staff_page(
    request: Request, session: Session, settings: Settings
) -> Viewer | HTMLResponse | RedirectResponse:
    viewer = _viewer(request, session, settings)
    if viewer is None:
        return _to_login(request)
    if viewer.principal.role not in STAFF:
        return render(
            request,
            "dashboard/forbidden.html",
            viewer,
            settings,
            status_code=403,
        )
    return viewer


def _safe_next(target: str | None) -> str:
    if target and target.startswith("/app") and not target.startswith("//"):
        return target
    return "/app/orders"


def _set_session(response: Response, request: Request, token: str, settings: Settings) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=settings.access_token_ttl_s,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
        path="/",
    )


def org_today(viewer: Viewer) -> dt.date:
    return utcnow().astimezone(ZoneInfo(viewer.timezone)).date()


# --------------------------------------------------------------------------- login, orgs


@router.get("/")
def root() -> RedirectResponse:
    """The dashboard is the home page."""
    return RedirectResponse("/app/orders", status_code=307)


@router.get("/app", response_model=None)
def app_home() -> RedirectResponse:
    return RedirectResponse("/app/orders", status_code=307)


@router.get("/app/login", response_model=None)
def login_page(
    request: Request, session: DbSession, settings: AppSettings, next: str | None = None
) -> HTMLResponse | RedirectResponse:
    """The login form (already logged in: straight on)."""
    if _viewer(request, session, settings) is not None:
        return RedirectResponse(_safe_next(next), status_code=303)
    return render(request, "dashboard/login.html", None, settings, next=_safe_next(next))


@router.post("/app/login", response_model=None)
def login_submit(
    request: Request,
    session: DbSession,
    settings: AppSettings,
    email: Annotated[str, Form(max_length=320)],
    password: Annotated[str, Form(max_length=1000)],
    organisation: Annotated[str, Form(max_length=200)] = "",
    next: Annotated[str, Form(max_length=2000)] = "",
) -> HTMLResponse | RedirectResponse:
    """Check the password (rate limited by the auth service) and set the session cookie."""
    try:
        user, org_id, _ = auth.login(
            session=session,
            email=email,
            password=password,
            client=client_address(request),
            org_id=organisation.strip() or None,
            max_failures=settings.login_max_failures,
            window_s=settings.login_window_s,
        )
    except LastmileError as exc:
        status = 429 if isinstance(exc, RateLimited) else 401
        return render(
            request,
            "dashboard/login.html",
            None,
            settings,
            status_code=status,
            error=exc.message,
            email=email,
            next=_safe_next(next),
        )
    token = auth.issue_token(
        session=session,
        user_id=user.id,
        org_id=org_id,
        ttl_s=settings.access_token_ttl_s,
        kind="session",
    )
    response = RedirectResponse(_safe_next(next), status_code=303)
    _set_session(response, request, token, settings)
    return response


def _form_csrf_ok(viewer: Viewer, sent: str) -> bool:
    return bool(sent) and same(sent, viewer.csrf)


@router.post("/app/logout", response_model=None)
def logout(
    request: Request,
    session: DbSession,
    settings: AppSettings,
    csrf: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """End the session (the token is revoked, not just forgotten)."""
    viewer = _viewer(request, session, settings)
    if viewer is not None:
        if not _form_csrf_ok(viewer, csrf):
            return HTMLResponse("missing or wrong CSRF token", status_code=403)
        auth.revoke_token(session=session, token=viewer.cookie)
    response = RedirectResponse("/app/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.post("/app/switch-org", response_model=None)
def switch_org(
    request: Request,
    session: DbSession,
    settings: AppSettings,
    org_id: Annotated[str, Form(max_length=64)],
    csrf: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """Act in another organisation the user belongs to: a new session for that one."""
    viewer = _viewer(request, session, settings)
    if viewer is None:
        return _to_login(request)
    if not _form_csrf_ok(viewer, csrf):
        return HTMLResponse("missing or wrong CSRF token", status_code=403)
    if org_id not in {o["id"] for o in viewer.organisations}:
        return HTMLResponse("you are not a member of that organisation", status_code=403)
    assert viewer.principal.user_id is not None
    token = auth.issue_token(
        session=session,
        user_id=viewer.principal.user_id,
        org_id=org_id,
        ttl_s=settings.access_token_ttl_s,
        kind="session",
    )
    auth.revoke_token(session=session, token=viewer.cookie)
    back = request.headers.get("referer", "")
    path = "/app" + back.split("/app", 1)[1] if "/app" in back else "/app/orders"
    response = RedirectResponse(_safe_next(path.split("?")[0]), status_code=303)
    _set_session(response, request, token, settings)
    return response


# --------------------------------------------------------------------------- orders


def _order_json(o: Any) -> dict[str, Any]:
    return {
        "id": o.id,
        "external_id": o.external_id,
        "status": o.status,
        "address": o.address,
        "lon": o.lon,
        "lat": o.lat,
        "verdict": o.address_verdict,
    }


def json_script(data: Any) -> str:
    """JSON for a ``<script type="application/json">`` block: ``<``, ``>`` and ``&`` escaped,
    so that text from orders (an address with ``</script>``) cannot end the block."""
    text = json.dumps(data, ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _clock(seconds: int) -> str:
    return f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}"


@router.get("/app/orders", response_model=None)
def orders_page(
    request: Request,
    session: DbSession,
    settings: AppSettings,
    date: str = "",
    status: str = "",
    q: Annotated[str, Query(max_length=200)] = "",
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> Response:
    """Orders of a day: filters, pagination, bulk actions, map with draggable pins, import."""
    viewer = staff_page(request, session, settings)
    if not isinstance(viewer, Viewer):
        return viewer
    day = _parse_day(date) if date != "all" else None
    if date == "":
        day = org_today(viewer)
    statuses = [status] if status in {s.value for s in OrderStatus} else []
    rows, total = orders.list_orders(
        session=session,
        org_id=viewer.org_id,
        date=day,
        statuses=statuses,
        q=q or None,
        limit=PAGE_SIZE,
        offset=(page - 1) * PAGE_SIZE,
    )
    pages = max(1, math.ceil(total / PAGE_SIZE))
    context: dict[str, Any] = {
        "nav": "orders",
        "rows": rows,
        "total": total,
        "page": page,
        "pages": pages,
        "day": day.isoformat() if day else "",
        "status": status,
        "q": q,
        "statuses": [s.value for s in OrderStatus],
        "clock": _clock,
        "pins": json_script([_order_json(o) for o in rows if o.lon is not None]),
    }
    name = (
        "dashboard/_orders_table.html"
        if request.headers.get("hx-request") and request.headers.get("hx-target") == "orders-list"
        else "dashboard/orders.html"
    )
    return render(request, name, viewer, settings, **context)


def _parse_day(text: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(text) if text else None
    except ValueError:
        return None


@router.post("/app/api/orders/preview")
def import_preview(
    caller: Caller,
    session: DbSession,
    file: Annotated[UploadFile, File()],
    date: Annotated[str, Form()] = "",
) -> dict[str, Any]:
    """Dry run of an orders CSV: every row's verdict and, where known, its pin. Saves nothing."""
    caller.require(*STAFF)
    data = file.file.read(10_000_001)
    if len(data) > 10_000_000:
        raise InputError(
            issues=[FieldIssue(None, "file", None, "is larger than 10000000 bytes")],
            source="orders CSV",
        )
    text = orders.decode_csv(data)
    report = orders.import_csv(
        session=session,
        org_id=caller.org_id,
        text=text,
        actor=caller.actor,
        date=_parse_day(date),
        dry_run=True,
    )
    header, raw_rows = read_rows(text, source="orders CSV")
    columns = match_columns(header, ORDER_ALIASES, source="orders CSV")
    col = columns.field_to_column
    cells = dict(raw_rows)
    out = []
    for row in report.rows:
        cell = cells.get(row.row, {})
        lon = _float(cell.get(col.get("lon", ""), ""))
        lat = _float(cell.get(col.get("lat", ""), ""))
        has_point = lon is not None and lat is not None and row.status != "invalid"
        out.append(
            {
                **row.model_dump(mode="json"),
                "address": cell.get(col.get("address", ""), ""),
                "lon": lon if has_point else None,
                "lat": lat if has_point else None,
                "verdict": "given"
                if has_point
                else ("invalid" if row.status == "invalid" else "needs geocoding"),
            }
        )
    return {
        "rows": out,
        "created": report.created,
        "updated": report.updated,
        "unchanged": report.unchanged,
        "invalid": report.invalid,
        "warnings": report.warnings,
        "date": report.date.isoformat() if report.date else None,
    }


def _float(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


class BulkRequest(BaseModel):
    action: str = Field(description="cancel, ready, new or reschedule")
    order_ids: list[str] = Field(default_factory=list, max_length=10_000)
    all_matching: bool = False
    filter_date: str = ""
    filter_status: str = ""
    filter_q: str = Field(default="", max_length=200)
    new_date: dt.date | None = None
    reason: str = Field(default="", max_length=200)


@router.post("/app/api/orders/bulk")
def bulk_orders(body: BulkRequest, caller: Caller, session: DbSession) -> dict[str, Any]:
    """One status change for every selected order (or every order matching the filter):
    all or nothing, through ``orders.service.transition_many``."""
    caller.require(*STAFF)
    target = BULK_ACTIONS.get(body.action)
    if target is None:
        raise InputError(
            issues=[FieldIssue(None, "action", body.action, "is not a bulk action")],
            source="bulk",
        )
    ids = list(body.order_ids)
    if body.all_matching:
        ids = _matching_ids(session, caller.org_id, body)
    if not ids:
        raise InputError(
            issues=[FieldIssue(None, "order_ids", None, "select at least one order")],
            source="bulk",
        )
    changed = orders.transition_many(
        session=session,
        org_id=caller.org_id,
        order_ids=ids,
        to_status=target,
        actor=caller.actor,
        reason=body.reason or None,
        new_date=body.new_date if target == OrderStatus.RESCHEDULED else None,
    )
    return {"changed": len(changed), "status": target.value}


def _matching_ids(session: Session, org_id: str, body: BulkRequest) -> list[str]:
    day = _parse_day(body.filter_date)
    statuses = [body.filter_status] if body.filter_status else []
    ids: list[str] = []
    while True:
        rows, total = orders.list_orders(
            session=session,
            org_id=org_id,
            date=day,
            statuses=statuses,
            q=body.filter_q or None,
            limit=orders.MAX_LIMIT,
            offset=len(ids),
        )
        ids.extend(o.id for o in rows)
        if not rows or len(ids) >= total:
            return ids


# --------------------------------------------------------------------------- basemap


@lru_cache(maxsize=2)
def _network(extract: Path) -> RoadNetwork:
    return RoadNetwork.load(extract)


@lru_cache(maxsize=256)
def _basemap_cells(extract: Path, key: tuple[int, int, int, int], level: int) -> str:
    """Road lines inside a bbox (snapped outwards to 0.05°, so neighbouring views share the
    cache), as GeoJSON with a ``class`` per line: main, secondary, minor.

    The road graph keeps segments and per-profile speeds, not OSM road classes, so the van's
    speed stands in for the class: >= 40 km/h main roads (always drawn), >= 30 km/h
    secondary (``level`` >= 1), the rest a van may use only when zoomed in (``level`` 2).
    """
    graph = _network(extract).graph
    w, s, e, n = (k / 20 for k in key)
    lon_u, lat_u = graph.node_lon[graph.seg_u], graph.node_lat[graph.seg_u]
    lon_v, lat_v = graph.node_lon[graph.seg_v], graph.node_lat[graph.seg_v]
    inside = (
        (np.maximum(lon_u, lon_v) >= w)
        & (np.minimum(lon_u, lon_v) <= e)
        & (np.maximum(lat_u, lat_v) >= s)
        & (np.minimum(lat_u, lat_v) <= n)
    )
    p = PROFILES.index(RoadProfile.VAN)
    speed = np.maximum(graph.speed_fwd[p], graph.speed_bwd[p]) * 3.6
    classes = [("main", speed >= 40), ("secondary", (speed >= 30) & (speed < 40))]
    classes.append(("minor", (speed > 0) & (speed < 30)))
    features = []
    for cls, mask in classes[: level + 1]:
        idx = np.flatnonzero(inside & mask)
        coords = np.stack([lon_u[idx], lat_u[idx], lon_v[idx], lat_v[idx]], axis=1).round(5)
        features.append(
            {
                "type": "Feature",
                "properties": {"class": cls},
                "geometry": {
                    "type": "MultiLineString",
                    "coordinates": [[[a, b], [c, d]] for a, b, c, d in coords.tolist()],
                },
            }
        )
    return json.dumps(
        {"type": "FeatureCollection", "attribution": OSM_ATTRIBUTION, "features": features},
        separators=(",", ":"),
    )


@router.get("/app/api/basemap")
def basemap(
    caller: Caller,
    settings: AppSettings,
    bbox: Annotated[str, Query(max_length=100)],
    zoom: Annotated[float, Query(ge=0, le=22)] = 12,
) -> Response:
    """GeoJSON lines of the road network in ``bbox`` (w,s,e,n), for the offline basemap."""
    caller.require(*STAFF)
    try:
        w, s, e, n = (float(x) for x in bbox.split(","))
    except ValueError:
        raise InputError(
            issues=[FieldIssue(None, "bbox", bbox, "must be four numbers: w,s,e,n")],
            source="basemap",
        ) from None
    key = (
        math.floor(w * 20),
        math.floor(s * 20),
        math.ceil(e * 20),
        math.ceil(n * 20),
    )
    if (key[2] - key[0]) * (key[3] - key[1]) > 400:  # wider than ~1°x1°: too many lines
        empty = {"type": "FeatureCollection", "features": [], "attribution": OSM_ATTRIBUTION}
        return JSONResponse(empty)
    extract = settings.roads_extract or default_extract()
    body = _basemap_cells(extract, key, 2 if zoom >= 14 else (1 if zoom >= 11 else 0))
    return Response(
        body, media_type="application/json", headers={"Cache-Control": "private, max-age=3600"}
    )


# --------------------------------------------------------------------------- plans


def _local_seconds(iso: str) -> int:
    moment = dt.datetime.fromisoformat(iso)
    return moment.hour * 3600 + moment.minute * 60 + moment.second


def _timeline(doc: dict[str, Any], colours: dict[str, str]) -> dict[str, Any]:
    """Positions for the SVG timeline: one row per vehicle, a bar per stop, windows shaded."""
    routes = doc.get("routes", [])
    if not routes:
        return {"rows": [], "ticks": [], "width": 0, "height": 0}
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
        {"x": x(t), "label": _clock(t) if x(t) < width - 40 else ""}
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


@router.get("/app/plan", response_model=None)
def plan_form(
    request: Request, session: DbSession, settings: AppSettings, date: str = ""
) -> Response:
    """Pick a day, vehicles and a time limit; start the optimisation; recent plans."""
    viewer = staff_page(request, session, settings)
    if not isinstance(viewer, Viewer):
        return viewer
    day = _parse_day(date) or org_today(viewer)
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
    doc = plan.document or {}
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
        editable=plan.status == "done" and plan.dispatched_at is None,
        move_targets=[{"id": v, "name": vehicle_names.get(v, v)} for v in all_vehicles],
        data=json_script(
            {
                "plan_id": plan.id,
                "status": plan.status,
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
    for route in (plan.document or {}).get("routes", []):
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
    for r in (plan.document or {}).get("routes", []):
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
    drivers = {
        r.vehicle_id: r.driver_id
        for r in plans.routes_of(session=session, org_id=viewer.org_id, plan_id=plan_id)
    }
    driver = ""
    if drivers.get(vehicle_id):
        driver = fleet.get_driver(
            session=session, org_id=viewer.org_id, driver_id=drivers[vehicle_id] or ""
        ).name
    return render(
        request,
        "dashboard/route_sheet.html",
        viewer,
        settings,
        plan=plan,
        route=route,
        driver=driver,
    )


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
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        [
            "sequence",
            "external_id",
            "address",
            "lon",
            "lat",
            "arrival",
            "start",
            "departure",
            "windows",
        ]
    )
    for s in route["stops"]:
        if s["kind"] != "order":
            continue
        windows = " ".join(f"{a[11:16]}-{b[11:16]}" for a, b in s["windows"])
        writer.writerow(
            [
                s["sequence"],
                s["external_id"],
                s["address"],
                s["lon"],
                s["lat"],
                s["arrival"],
                s["start"],
                s["departure"],
                windows,
            ]
        )
    return Response(
        out.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="route-{vehicle_id}.csv"'},
    )


# --------------------------------------------------------------------------- live


@router.get("/app/live", response_model=None)
def live_page(
    request: Request, session: DbSession, settings: AppSettings, date: str = ""
) -> Response:
    """Dispatched routes of a day: vehicle positions, per-route progress, events feed."""
    viewer = staff_page(request, session, settings)
    if not isinstance(viewer, Viewer):
        return viewer
    day = _parse_day(date) or org_today(viewer)
    dispatched = [
        p
        for p in plans.list_plans(session=session, org_id=viewer.org_id, date=day, limit=20)
        if p.dispatched_at is not None
    ]
    status_of: dict[str, str] = {}
    offset = 0
    while True:
        rows, total = orders.list_orders(
            session=session, org_id=viewer.org_id, date=day, limit=orders.MAX_LIMIT, offset=offset
        )
        status_of.update({o.id: o.status for o in rows})
        offset += len(rows)
        if not rows or offset >= total:
            break
    routes = []
    for p in dispatched:
        rows_by_vehicle = {
            r.vehicle_id: r
            for r in plans.routes_of(session=session, org_id=viewer.org_id, plan_id=p.id)
        }
        for r in (p.document or {}).get("routes", []):
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
                    "line": [[r["start"]["lat"], r["start"]["lon"]]]
                    + [[s["lat"], s["lon"]] for s in r["stops"] if s["kind"] == "order"],
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
                # The stream replays from here, so vehicles show their last known position and
                # the feed its recent history (event ids are server-wide, hence a window).
                "replay_from": max(
                    0, events.latest_id(session=session, org_id=viewer.org_id) - LIVE_REPLAY
                ),
            }
        ),
    )


# --------------------------------------------------------------------------- settings


@router.get("/app/settings", response_model=None)
def settings_page(request: Request, session: DbSession, settings: AppSettings) -> Response:
    """Depots, vehicles, drivers, members, API keys and webhooks: forms over the JSON API."""
    viewer = staff_page(request, session, settings)
    if not isinstance(viewer, Viewer):
        return viewer
    depots, _ = fleet.list_depots(session=session, org_id=viewer.org_id)
    vehicles, _ = fleet.list_vehicles(session=session, org_id=viewer.org_id)
    drivers, _ = fleet.list_drivers(session=session, org_id=viewer.org_id)
    keys = auth.list_api_keys(session=session, org_id=viewer.org_id) if viewer.is_admin else []
    hooks = events.list_webhooks(session=session, org_id=viewer.org_id) if viewer.is_admin else []
    members = (
        [
            {"id": m.id, "user_id": m.user_id, "email": email, "name": name, "role": m.role}
            for m, email, name in orgs.list_members(session=session, org_id=viewer.org_id)
        ]
        if viewer.is_admin
        else []
    )
    return render(
        request,
        "dashboard/settings.html",
        viewer,
        settings,
        nav="settings",
        depots=depots,
        vehicles=vehicles,
        drivers=drivers,
        keys=keys,
        hooks=hooks,
        members=members,
        vehicle_names={v.id: v.name or v.external_id for v in vehicles},
        clock=_clock,
        roles=[r.value for r in Role],
    )
