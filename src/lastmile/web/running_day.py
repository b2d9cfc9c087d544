"""The running day from the dashboard (issue 14, item 3): add one order by hand, insert a
same-day order into the running routes, re-optimise the rest of the day with a preview.

These pages combine slices (orders, orgs, fleet, routes, live), so they live in ``web/`` and
call services only. The forms post with htmx and the answers are HTML fragments in the
owner's words: where an inserted order went and what it costs the route (minutes, late risk),
or why it does not fit; what re-optimising would change before it is applied.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from lastmile.auth.deps import Caller
from lastmile.auth.principal import STAFF
from lastmile.common.ids import new_id
from lastmile.common.web import AppSettings, DbSession
from lastmile.core.errors import Conflict, InputError, LastmileError
from lastmile.core.formats.table import parse_windows
from lastmile.core.model import UnassignedReason
from lastmile.core.times import format_clock
from lastmile.fleet import service as fleet
from lastmile.integrations.configured import geocoder_for
from lastmile.live import reoptimise as replan
from lastmile.live import service as live
from lastmile.orders import service as orders
from lastmile.orders.lifecycle import ACCEPTED_VERDICTS, OrderStatus
from lastmile.orders.schemas import OrderCreate, Window
from lastmile.orgs import clock as org_clock
from lastmile.orgs import service as orgs
from lastmile.pageframe.layout import STATUS_WORDS, Viewer, parse_day, render, staff_page
from lastmile.routes import service as routes_service
from lastmile.web.order_page import can_insert
from lastmile.web.settings import HANDOVERS

router = APIRouter(include_in_schema=False)


def _today(session: Any, org_id: str) -> dt.date:
    return org_clock.today(orgs.get(session=session, org_id=org_id))


@router.get("/app/orders/new", response_model=None)
def new_order_page(
    request: Request, session: DbSession, settings: AppSettings, date: str = ""
) -> Response:
    """A form to add one order by hand: address search with the geocoder's verdict and
    suggestions, a pin to drag, window, items, contact, proof of delivery, service time."""
    viewer = staff_page(request, session, settings)
    if not isinstance(viewer, Viewer):
        return viewer
    org = orgs.get(session=session, org_id=viewer.org_id)
    day = parse_day(date) or _today(session, viewer.org_id)
    policy = orgs.pod_policy(org)
    return render(
        request,
        "dashboard/order_new.html",
        viewer,
        settings,
        nav="orders",
        day=day.isoformat(),
        number=f"H-{day:%m%d}-{new_id('x')[-4:].upper()}",
        service_min=round(orgs.default_service_s(org) / 60, 1),
        handovers=HANDOVERS,
        usual=next((h for h in HANDOVERS if h[0] == policy[0]), HANDOVERS[0]),
    )


@router.get("/app/orders/new/window", response_class=HTMLResponse)
def window_reading(
    caller: Caller, windows: Annotated[str, Query(max_length=200)] = ""
) -> HTMLResponse:
    """How a typed window is read ("19-21" -> 19:00-21:00), shown under the field as typed."""
    caller.require(*STAFF)
    if not windows.strip():
        return HTMLResponse('<span class="muted">any time of the day</span>')
    try:
        pairs = list(parse_windows(windows))
    except ValueError as exc:
        return HTMLResponse(f'<span class="error">{_esc(str(exc))}</span>')
    text = ", ".join(f"{format_clock(a)}–{format_clock(b)}" for a, b in pairs)  # noqa: RUF001
    return HTMLResponse(f'<span class="ok">read as {text}</span>')


def _esc(text: str) -> str:
    from markupsafe import escape

    return str(escape(text))


@router.post("/app/orders/new", response_class=HTMLResponse)
def add_order(
    request: Request,
    caller: Caller,
    session: DbSession,
    settings: AppSettings,
    external_id: Annotated[str, Form(max_length=100)],
    date: Annotated[str, Form(max_length=10)],
    address: Annotated[str, Form(max_length=500)],
    latest_date: Annotated[str, Form(max_length=10)] = "",
    lon: Annotated[str, Form(max_length=40)] = "",
    lat: Annotated[str, Form(max_length=40)] = "",
    windows: Annotated[str, Form(max_length=200)] = "",
    description: Annotated[str, Form(max_length=2000)] = "",
    parcels: Annotated[str, Form(max_length=20)] = "1",
    service_min: Annotated[str, Form(max_length=20)] = "",
    customer: Annotated[str, Form(max_length=200)] = "",
    phone: Annotated[str, Form(max_length=50)] = "",
    email: Annotated[str, Form(max_length=320)] = "",
    notes: Annotated[str, Form(max_length=2000)] = "",
    handover: Annotated[str, Form(max_length=40)] = "",
) -> HTMLResponse:
    """Save the hand-typed order (refused with the field and the reason, nothing saved)."""
    caller.require(*STAFF)

    def refuse(*problems: str) -> HTMLResponse:
        return render(
            request, "dashboard/_order_added.html", None, settings, problems=list(problems)
        )

    if orders.get_by_external_id(
        session=session, org_id=caller.org_id, external_id=external_id.strip()
    ):
        return refuse(f"Order number {external_id.strip()!r} exists already: choose another.")
    try:
        pairs = list(parse_windows(windows))
    except ValueError as exc:
        return refuse(f"Delivery window: {exc}.")
    place = _place(settings, address, lon, lat)
    if isinstance(place, str):
        return refuse(place)
    try:
        order_in = OrderCreate(
            external_id=external_id.strip(),
            date=date or None,  # type: ignore[arg-type]  # validated by the model
            latest_date=latest_date or None,  # type: ignore[arg-type]
            address=place[2],
            lon=place[0],
            lat=place[1],
            windows=[Window.from_seconds([a, b]) for a, b in pairs],
            service_s=round(float(service_min) * 60) if service_min.strip() else None,
            demand={"parcels": float(parcels)} if parcels.strip() else {},
            description=description,
            customer=customer,
            phone=phone,
            email=email,
            notes=notes,
            pod_policy=[handover] if handover else None,  # type: ignore[list-item]
        )
    except ValidationError as exc:
        return refuse(*(_field_words(e) for e in exc.errors()))
    except ValueError:
        return refuse("Parcels and minutes at the stop must be numbers.")
    try:
        order = orders.create(
            session=session, org_id=caller.org_id, order_in=order_in, actor=caller.actor
        ).order
    except InputError as exc:
        return refuse(*(i.describe() for i in exc.issues))
    return render(
        request,
        "dashboard/_order_added.html",
        None,
        settings,
        problems=[],
        order=order,
        status_words=STATUS_WORDS,
        insertable=can_insert(session, caller.org_id, order),
        today=order.date == _today(session, caller.org_id),
    )


FIELD_WORDS = {
    "external_id": "Order number",
    "date": "Delivery date",
    "latest_date": "Or any day until",
    "address": "Address",
    "windows": "Delivery window",
    "service_s": "Minutes at the stop",
    "demand": "Parcels",
    "email": "E-mail",
    "phone": "Phone",
    "pod_policy": "Handover",
}


def _field_words(error: Any) -> str:
    field = str(error["loc"][0]) if error["loc"] else ""
    message = str(error["msg"]).removeprefix("Value error, ")
    return f"{FIELD_WORDS.get(field, field.replace('_', ' ').capitalize())}: {message}."


def _place(
    settings: AppSettings, address: str, lon: str, lat: str
) -> tuple[float, float, str] | str:
    """The order's place: the pin the owner confirmed, else the address checked now by the
    same geocoder as the suggestions (an address it cannot place is refused in words)."""
    if lon.strip() and lat.strip():
        try:
            return float(lon), float(lat), address.strip()
        except ValueError:
            return "The pin's position is not a number: search the address again."
    if len(address.strip()) < 3:
        return "Address: type the street, number and town, then pick a suggestion."
    found = geocoder_for(settings).geocode(address)
    if found.verdict.value in ACCEPTED_VERDICTS and found.location is not None:
        text = found.address.format() if found.address else address.strip()
        return found.location.lon, found.location.lat, text
    return (
        f"Address: {found.reason or 'not found on the map'}. "
        "Pick one of the suggestions, or place the pin on the map."
    )


WAITING_SHOWN = 50
"""Most ready orders listed as waiting for a running route (the rest are counted)."""


@router.get("/app/orders/waiting", response_class=HTMLResponse)
def waiting_orders(
    request: Request,
    caller: Caller,
    session: DbSession,
    settings: AppSettings,
    date: Annotated[str, Query(max_length=10)] = "",
) -> HTMLResponse:
    """Orders of a running day that are ready but on no route (added or imported after the
    plan), each with its insert button; nothing when the day has no running route."""
    caller.require(*STAFF)
    day = parse_day(date) or _today(session, caller.org_id)
    if not live.running_routes(session=session, org_id=caller.org_id, day=day):
        return HTMLResponse("")
    rows, total = orders.list_orders(
        session=session,
        org_id=caller.org_id,
        date=day,
        statuses=[OrderStatus.READY.value],
        limit=WAITING_SHOWN,
    )
    rows = [o for o in rows if o.lon is not None and not o.deliver_to]
    if not rows:
        return HTMLResponse("")
    return render(
        request, "dashboard/_waiting.html", None, settings, rows=rows, total=total, day=day
    )


@router.post("/app/orders/{order_id}/insert", response_class=HTMLResponse)
def insert_order(
    request: Request, order_id: str, caller: Caller, session: DbSession, settings: AppSettings
) -> HTMLResponse:
    """Put a same-day order into the cheapest place of the running routes; the answer says
    where it went and what it costs that route, or why it does not fit."""
    caller.require(*STAFF)
    order = orders.get(session=session, org_id=caller.org_id, order_id=order_id)
    try:
        done = live.insert_order(
            session=session,
            settings=settings,
            org_id=caller.org_id,
            order_id=order.id,
            actor=caller.actor,
        )
    except live.DoesNotFit as exc:
        session.rollback()
        return render(
            request,
            "dashboard/_inserted.html",
            None,
            settings,
            order=order,
            refused=_refusal_words(session, caller.org_id, exc),
        )
    except Conflict as exc:
        session.rollback()
        status = STATUS_WORDS.get(order.status, order.status)
        words = (
            f"Only an order that is ready to plan can be inserted; this one is {status}."
            if order.status != OrderStatus.READY.value
            else exc.message
        )
        return render(
            request, "dashboard/_inserted.html", None, settings, order=order, refused=words,
        )  # fmt: skip
    rows = [r for r in done.etas.stops if r.kind == "order"]
    mine = next((r for r in rows if r.stop_id == done.stop.id), None)
    vehicle = fleet.get_vehicle(
        session=session, org_id=caller.org_id, vehicle_id=done.route.vehicle_id
    )
    driver = (
        fleet.get_driver(session=session, org_id=caller.org_id, driver_id=done.route.driver_id)
        if done.route.driver_id
        else None
    )
    return render(
        request,
        "dashboard/_inserted.html",
        None,
        settings,
        order=done.order,
        refused="",
        vehicle=vehicle.name or vehicle.external_id,
        driver=driver.name if driver else "",
        position=1 + next((i for i, r in enumerate(rows) if r.stop_id == done.stop.id), 0),
        remaining=len(rows),
        eta=format_clock(mine.arrival_s) if mine else "",
        waits_until=format_clock(mine.start_s)
        if mine and mine.start_s - mine.arrival_s >= 60
        else "",
        level=mine.level if mine else "on_time",
        minutes_late=-(-mine.late_s // 60) if mine else 0,
        windows=[f"{format_clock(a)}–{format_clock(b)}" for a, b in (mine.windows if mine else [])],  # noqa: RUF001
        added_min=round(done.added_s / 60),
        added_km=done.added_distance_m / 1000,
        added_cost=done.added_cost,
        ends=format_clock(done.etas.end_s),
        overtime_min=-(-done.etas.overtime_s // 60),
        at_risk=[
            {"external_id": r.external_id, "level": r.level, "late": -(-r.late_s // 60)}
            for r in rows
            if r.stop_id != done.stop.id and r.level != "on_time"
        ],
    )


def _route_name(session: Any, org_id: str, route_id: str | None) -> str:
    if not route_id:
        return "a van"
    try:
        route = routes_service.get(session=session, org_id=org_id, route_id=route_id)
        vehicle = fleet.get_vehicle(session=session, org_id=org_id, vehicle_id=route.vehicle_id)
    except LastmileError:
        return "a van"
    return vehicle.name or vehicle.external_id


def _refusal_words(session: Any, org_id: str, exc: live.DoesNotFit) -> str:
    """Why an order does not fit, as a shop owner says it."""
    why = exc.unassigned
    if why is None:
        return (
            "No van is on the road that day yet: plan the day (the order is in it) "
            "or wait for the plan."
            if "no running route" in exc.message
            else exc.message
        )
    van = _route_name(session, org_id, why.best_vehicle_id)
    if why.reason == UnassignedReason.DEMAND_EXCEEDS_CAPACITY:
        return "It does not fit in any van on the road: they cannot carry that much more."
    if why.reason == UnassignedReason.NO_VEHICLE_WITH_SKILL:
        return "No van on the road has what this order needs (its skills)."
    if why.late_s_to_fit:
        return (
            f"No van can reach it inside its delivery window. The closest fit is {van}, "
            f"which would arrive {-(-why.late_s_to_fit // 60)} min late."
        )
    if why.overtime_s_to_fit:
        return (
            f"The vans have no time left today. {van} could take it with "
            f"{-(-why.overtime_s_to_fit // 60)} min of overtime."
        )
    return "It does not fit into any running route without making other deliveries late."


@router.post("/app/plans/{plan_id}/reoptimise", response_class=HTMLResponse)
def reoptimise(
    request: Request,
    plan_id: str,
    caller: Caller,
    session: DbSession,
    settings: AppSettings,
    seconds: Annotated[int, Form(ge=1, le=60)] = 2,
    apply: Annotated[str, Form(max_length=5)] = "",
) -> HTMLResponse:
    """Re-optimise the rest of the day: first what would change (nothing written), then,
    with ``apply``, the same search stored."""
    caller.require(*STAFF)
    try:
        result = replan.reoptimise(
            session=session,
            settings=settings,
            org_id=caller.org_id,
            plan_id=plan_id,
            route_ids=None,
            time_limit_s=float(seconds),
            actor=caller.actor,
            preview=not apply,
        )
    except (Conflict, InputError) as exc:
        session.rollback()
        return render(
            request, "dashboard/_reoptimise.html", None, settings, error=exc.message,
            plan_id=plan_id, seconds=seconds,
        )  # fmt: skip
    names: dict[str, str] = {}
    who: dict[str, str] = {}
    for change in result.changes:
        for oid in {*change.before, *change.after}:
            o = orders.get(session=session, org_id=caller.org_id, order_id=oid)
            names[oid], who[oid] = o.external_id, f"{o.customer} {o.address}".strip()
    vehicles = {
        v.id: v.name or v.external_id
        for v in fleet.list_vehicles(session=session, org_id=caller.org_id, limit=1000)[0]
    }
    return render(
        request,
        "dashboard/_reoptimise.html",
        None,
        settings,
        error="",
        plan_id=plan_id,
        seconds=seconds,
        result=result,
        names=names,
        who=who,
        vehicles=vehicles,
        clock=format_clock,
    )
