"""What every dashboard page shares: who is looking (:class:`Viewer`), the login redirect, the
layout's rendering, CSRF for forms, and small formatting helpers.

Slices' ``pages.py`` modules import this; it imports only services, never a page module, so
the pages of one slice never depend on another slice's pages.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from sqlalchemy.orm import Session

from lastmile.auth import service as auth
from lastmile.auth.deps import csrf_token
from lastmile.auth.models import User
from lastmile.auth.principal import STAFF, Principal
from lastmile.auth.security import same
from lastmile.common.web import SESSION_COOKIE
from lastmile.config import Settings
from lastmile.core.errors import LastmileError
from lastmile.core.formats.plan_json import OSM_ATTRIBUTION
from lastmile.core.times import local_date, local_hhmm
from lastmile.fleet import service as fleet
from lastmile.orgs import clock as org_clock
from lastmile.orgs import service as orgs
from lastmile.orgs.models import Role
from lastmile.pageframe.planmap import PALETTE

templates = Jinja2Templates(directory=str(Path(str(resources.files("lastmile.web") / "templates"))))

STATUS_WORDS = {
    "new": "received",
    "ready": "ready to plan",
    "planned": "planned",
    "dispatched": "sent to the driver",
    "out_for_delivery": "on the way",
    "arrived": "driver at the door",
    "delivered": "delivered",
    "failed": "not delivered",
    "cancelled": "cancelled",
    "rescheduled": "moved to another day",
}
"""How a shop owner reads an order's status (every page: ``status_words`` in templates)."""
FAIL_WORDS = {
    "not_home": "nobody at home",
    "wrong_address": "wrong address",
    "refused": "refused by the recipient",
    "access_problem": "could not get to the door",
    "damaged": "parcel damaged",
    "other": "other reason",
}
"""Why a delivery failed (``drivers.schemas.FAIL_REASONS``), in the shop owner's words."""


def fail_words(reason: str | None) -> str:
    """A failure reason as the owner reads it (an unknown code without its underscores)."""
    return FAIL_WORDS.get(reason or "", (reason or "").replace("_", " "))


def local_stamp(moment: dt.datetime | None, zone: str, *, day: bool = True) -> str:
    """A stored moment (UTC) as the organisation's wall clock, 24-hour:
    ``"2026-11-25 09:05"`` (``day=False``: ``"09:05"``); ``""`` for none."""
    if moment is None:
        return ""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    where = ZoneInfo(zone)
    hhmm = local_hhmm(moment, where)
    return f"{local_date(moment, where).isoformat()} {hhmm}" if day else hhmm


PLAN_WORDS = {"queued": "waiting", "running": "planning", "done": "ready", "failed": "failed"}
"""A plan's state in the owner's words."""

templates.env.globals["status_words"] = STATUS_WORDS
templates.env.globals["plan_words"] = PLAN_WORDS
templates.env.globals["local_stamp"] = local_stamp
templates.env.globals["fail_words"] = fail_words


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
    today: dt.date
    """The organisation's business date (its own clock: a simulation's day, else today)."""
    home: str = ""
    """"lat,lon" to centre an empty map on: the first depot, else the first vehicle's start."""
    simulation: str = ""
    """A line above every page when a simulated day is involved (empty otherwise): in a
    simulation organisation, its business time and speed, so nobody takes its times for real
    ones; in a real organisation that has one the viewer belongs to, where the demo's day runs
    (a newcomer after ``make demo`` would otherwise look at an empty live map)."""
    simulation_org: str = ""
    """The id of that simulation organisation, for a one-click switch (empty: none to offer)."""

    @property
    def org_id(self) -> str:
        return self.principal.org_id

    @property
    def is_admin(self) -> bool:
        return self.principal.role == Role.ADMIN


def viewer_of(request: Request, session: Session, settings: Settings) -> Viewer | None:
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
    simulation, simulation_org = _simulation_notice(session, current, memberships)
    return Viewer(
        simulation=simulation,
        simulation_org=simulation_org,
        home=home,
        principal=principal,
        cookie=cookie,
        csrf=csrf_token(settings, cookie),
        email=user.email if user else "",
        org_name=current.name,
        timezone=current.timezone,
        organisations=[{"id": o.id, "name": o.name, "role": m.role} for m, o in memberships],
        today=org_clock.today(current),
    )


def _simulation_notice(
    session: Session, current: Any, memberships: list[tuple[Any, Any]]
) -> tuple[str, str]:
    """The simulation line of :class:`Viewer` and the organisation it offers to switch to."""
    if current.simulation:
        moment = org_clock.now(current)
        return (
            f"Simulation: business time {local_stamp(moment, current.timezone)}, running at "
            f"{current.clock_speed:g}x. Times on these pages are the simulated day's.",
            "",
        )
    twin = org_clock.simulation_of(session=session, org_id=current.id)
    if twin is None or not any(o.id == twin.id for _, o in memberships):
        return "", ""
    return f"Simulated days run in “{twin.name}”.", twin.id


def to_login(request: Request) -> RedirectResponse:
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
    viewer = viewer_of(request, session, settings)
    if viewer is None:
        return to_login(request)
    if viewer.principal.role not in STAFF:
        return render(
            request,
            "dashboard/forbidden.html",
            viewer,
            settings,
            status_code=403,
        )
    return viewer


def safe_next(target: str | None) -> str:
    if target and target.startswith("/app") and not target.startswith("//"):
        return target
    return "/app/orders"


def set_session(response: Response, request: Request, token: str, settings: Settings) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=settings.access_token_ttl_s,
        httponly=True,
        samesite="lax",
        secure=settings.https or request.url.scheme == "https",
        path="/",
    )


def org_today(viewer: Viewer) -> dt.date:
    return viewer.today


def form_csrf_ok(viewer: Viewer, sent: str) -> bool:
    return bool(sent) and same(sent, viewer.csrf)


def json_script(data: Any) -> str:
    """JSON for a ``<script type="application/json">`` block: ``<``, ``>`` and ``&`` escaped,
    so that text from orders (an address with ``</script>``) cannot end the block."""
    text = json.dumps(data, ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def amounts_text(demand: dict[str, float]) -> str:
    """``{"parcels": 2, "weight_kg": 3.5}`` -> ``2 parcels, 3.5 kg`` (zeros left out)."""
    units = {"weight_kg": "kg", "volume_l": "l"}
    return ", ".join(f"{v:g} {units.get(k, k.replace('_', ' '))}" for k, v in demand.items() if v)


def parse_day(text: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(text) if text else None
    except ValueError:
        return None
