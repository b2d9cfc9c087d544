"""Live operations API: ETAs and late risk, same-day inserts, re-optimising, delivery slots."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from lastmile.auth.deps import Caller
from lastmile.auth.principal import STAFF
from lastmile.common.web import AppSettings, DbSession, problem
from lastmile.core.errors import FieldIssue, InputError
from lastmile.core.model import Location, TimeWindow
from lastmile.live import edits, etas, service
from lastmile.live import reoptimise as replan
from lastmile.live.schemas import (
    Inserted,
    MoveRequest,
    MoveResult,
    MoveViolation,
    Pace,
    ReoptimiseRequest,
    ReoptimiseResult,
    RouteChangeRead,
    RouteEtasRead,
    SlotBooked,
    SlotBooking,
    SlotRead,
    SlotsRead,
    StopEtaRead,
)
from lastmile.orders import service as orders
from lastmile.orders.schemas import OrderCreate, Window

router = APIRouter(prefix="/api/v1", tags=["live"])


def _etas(result: etas.RouteEtas) -> RouteEtasRead:
    iso = result.clock.iso
    route = result.route
    return RouteEtasRead(
        route_id=route.id,
        vehicle_id=route.vehicle_id,
        driver_id=route.driver_id,
        status=route.status,
        computed_at=result.computed_at,
        now=iso(result.now_s),
        origin=result.origin,
        pace=Pace(travel=round(result.pace.travel, 3), service=round(result.pace.service, 3)),
        end=iso(result.end_s),
        overtime_s=result.overtime_s,
        stops=[
            StopEtaRead(
                stop_id=r.stop_id,
                order_id=r.order_id,
                external_id=r.external_id,
                kind=r.kind,
                status=r.status,
                eta=iso(r.arrival_s),
                service_start=iso(r.start_s),
                departure=iso(r.departure_s),
                planned_arrival=iso(r.planned_arrival_s),
                level=r.level,
                minutes_late=-(-r.late_s // 60),
                promise=[iso(r.promise[0]), iso(r.promise[1])] if r.promise else None,
                windows=[[iso(a), iso(b)] for a, b in r.windows],
            )
            for r in result.stops
        ],
    )


def _does_not_fit(exc: service.DoesNotFit) -> JSONResponse:
    why = exc.unassigned
    extra: dict[str, Any] = {
        "reason": why.reason.value if why else "no_running_route",
        "late_s_to_fit": why.late_s_to_fit if why else None,
        "overtime_s_to_fit": why.overtime_s_to_fit if why else None,
        "best_route_id": why.best_vehicle_id if why else None,
    }
    return problem(409, "Does not fit", exc.message, exc.code, **extra)


@router.get("/routes/{route_id}/etas", response_model=RouteEtasRead, operation_id="route_etas")
def route_etas(
    route_id: str, caller: Caller, session: DbSession, settings: AppSettings
) -> RouteEtasRead:
    """Predicted arrival, late risk and the ETA window to promise for each stop still to do
    (the prediction stored at the last stop event or GPS batch; reading changes nothing)."""
    caller.require(*STAFF)
    return _etas(
        etas.route_etas(session=session, settings=settings, org_id=caller.org_id, route_id=route_id)
    )


@router.post(
    "/orders/{order_id}/insert",
    response_model=Inserted,
    operation_id="insert_order",
    responses={409: {"description": "Does not fit (with the reason and what would fit it)"}},
)
def insert_order(
    order_id: str, caller: Caller, session: DbSession, settings: AppSettings
) -> Inserted | JSONResponse:
    """Insert a ready order into the cheapest feasible place of its day's running routes."""
    caller.require(*STAFF)
    try:
        done = service.insert_order(
            session=session,
            settings=settings,
            org_id=caller.org_id,
            order_id=order_id,
            actor=caller.actor,
        )
    except service.DoesNotFit as exc:
        return _does_not_fit(exc)
    eta = next((r for r in done.etas.stops if r.stop_id == done.stop.id), None)
    return Inserted(
        order_id=done.order.id,
        order_status=done.order.status,
        route_id=done.route.id,
        vehicle_id=done.route.vehicle_id,
        driver_id=done.route.driver_id,
        stop_id=done.stop.id,
        sequence=done.stop.sequence,
        eta=done.etas.clock.iso(eta.arrival_s) if eta else None,
        added_cost=done.added_cost,
        added_distance_m=done.added_distance_m,
        added_s=done.added_s,
    )


@router.post("/plans/{plan_id}/moves", response_model=MoveResult, operation_id="move_running_stop")
def move_running_stop(
    plan_id: str, body: MoveRequest, caller: Caller, session: DbSession, settings: AppSettings
) -> MoveResult:
    """Move a stop of a dispatched plan (or take it off its route), checked like an edit
    before dispatch; the drivers' apps are told at once (``preview``: only check)."""
    caller.require(*STAFF)
    done = edits.move_stop(
        session=session, settings=settings, org_id=caller.org_id, plan_id=plan_id,
        order_id=body.order_id, to_route_id=body.to_route_id, position=body.position,
        actor=caller.actor, preview=body.preview,
    )  # fmt: skip
    return MoveResult(
        applied=done.applied,
        ok=done.ok,
        cost_before=done.cost_before,
        cost_after=done.cost_after,
        violations=[MoveViolation(**v) for v in done.violations],
        changed_routes=done.changed_routes,
    )


@router.post(
    "/plans/{plan_id}/reoptimise", response_model=ReoptimiseResult, operation_id="reoptimise_plan"
)
def reoptimise_plan(
    plan_id: str,
    body: ReoptimiseRequest,
    caller: Caller,
    session: DbSession,
    settings: AppSettings,
) -> ReoptimiseResult:
    """Re-plan the remaining stops of the plan's running routes from where the vehicles are
    (``preview``: only say what would change)."""
    caller.require(*STAFF)
    result = replan.reoptimise(
        session=session,
        settings=settings,
        org_id=caller.org_id,
        plan_id=plan_id,
        route_ids=body.route_ids,
        time_limit_s=body.time_limit_s,
        actor=caller.actor,
        preview=body.preview,
    )
    clock = result.clock
    return ReoptimiseResult(
        plan_id=plan_id,
        changed=result.changed,
        message=result.message,
        cost_before=result.cost_before,
        cost_after=result.cost_after,
        routes_changed=result.routes,
        orders_moved=result.moved_orders,
        applied=result.applied,
        changes=[
            RouteChangeRead(
                route_id=c.route_id,
                vehicle_id=c.vehicle_id,
                before=list(c.before),
                after=list(c.after),
                cost_before=c.cost_before,
                cost_after=c.cost_after,
                distance_before_m=c.distance_before_m,
                distance_after_m=c.distance_after_m,
                end_before=clock.iso(c.end_before_s),
                end_after=clock.iso(c.end_after_s),
                moved_in=list(c.moved_in),
            )
            for c in result.changes
        ],
    )


def _parse_demand(text: str | None) -> dict[str, float]:
    out: dict[str, float] = {}
    if not text:
        return out
    for part in text.split(","):
        name, _, amount = part.partition(":")
        try:
            value = float(amount)
        except ValueError:
            value = -1.0
        if not name.strip() or not value >= 0:
            raise InputError(
                issues=[FieldIssue(None, "demand", part, "write dimension:amount, e.g. parcels:2")],
                source="slots",
            )
        out[name.strip()] = value
    return out


def _locate(
    settings: AppSettings, address: str | None, lon: float | None, lat: float | None
) -> tuple[Location, str | None, str | None] | JSONResponse:
    if lon is not None and lat is not None:
        return Location(lon, lat), address, None
    if not address or not address.strip():
        raise InputError(
            issues=[FieldIssue(None, "address", address, "give an address, or lon and lat")],
            source="slots",
        )
    from lastmile.integrations.configured import geocoder_for

    found = geocoder_for(settings).geocode(address)
    if not found.verdict.resolved or found.location is None:
        return problem(
            422,
            "Address not resolved",
            found.reason or f"the address could not be resolved ({found.verdict.value})",
            "address_unresolved",
            verdict=found.verdict.value,
            candidates=[
                {"address": c.address.format(), "location": [c.location.lon, c.location.lat]}
                for c in found.candidates[:5]
            ],
        )
    resolved = found.address.format() if found.address else address
    return found.location, resolved, found.verdict.value


@router.get("/slots", response_model=SlotsRead, operation_id="list_slots")
def list_slots(
    caller: Caller,
    session: DbSession,
    settings: AppSettings,
    date: dt.date,
    address: Annotated[str | None, Query(max_length=500)] = None,
    lon: Annotated[float | None, Query(ge=-180, le=180)] = None,
    lat: Annotated[float | None, Query(ge=-90, le=90)] = None,
    demand: Annotated[str | None, Query(max_length=500, examples=["parcels:1"])] = None,
    service_s: Annotated[int, Query(ge=0, le=8 * 3600)] = 300,
    length_min: Annotated[int | None, Query(ge=15, le=12 * 60)] = None,
    cutoff_min: Annotated[int | None, Query(ge=0, le=48 * 60)] = None,
) -> SlotsRead | JSONResponse:
    """Delivery windows of ``date`` that can still be honoured at an address, with their cost."""
    caller.require(*STAFF)
    located = _locate(settings, address, lon, lat)
    if isinstance(located, JSONResponse):
        return located
    location, resolved, verdict = located
    answer = service.slot_offers(
        session=session,
        settings=settings,
        org_id=caller.org_id,
        day=date,
        location=location,
        demand=_parse_demand(demand),
        service_s=service_s,
        length_s=length_min * 60 if length_min else None,
        cutoff_s=cutoff_min * 60 if cutoff_min is not None else None,
    )
    iso = answer.clock.iso
    return SlotsRead(
        date=date,
        location=[location.lon, location.lat],
        address=resolved,
        verdict=verdict,
        based_on=answer.based_on,
        slots=[
            SlotRead(
                start=iso(o.window.start),
                end=iso(o.window.end),
                available=o.available,
                cost=o.added_cost,
                reason=o.reason,
            )
            for o in answer.offers
        ],
    )


@router.post("/slots/book", response_model=SlotBooked, status_code=201, operation_id="book_slot")
def book_slot(
    body: SlotBooking, caller: Caller, session: DbSession, settings: AppSettings
) -> SlotBooked | JSONResponse:
    """Create an order in a bookable window and insert it (idempotent by ``external_id``)."""
    caller.require(*STAFF)
    existing = orders.get_by_external_id(
        session=session, org_id=caller.org_id, external_id=body.external_id
    )
    if existing is not None:
        placed = service.placement(session=session, org_id=caller.org_id, order=existing)
        return SlotBooked(
            result="existing",
            order_id=existing.id,
            external_id=existing.external_id,
            status=existing.status,
            window=[Window.from_seconds(w).start for w in existing.windows[:1]]
            + [Window.from_seconds(w).end for w in existing.windows[:1]],
            inserted=placed is not None,
            route_id=placed.route_id if placed else None,
            stop_id=placed.id if placed else None,
        )
    located = _locate(settings, body.address, body.lon, body.lat)
    if isinstance(located, JSONResponse):
        return located
    location, resolved, _ = located
    seconds = body.window.seconds()
    window = TimeWindow(seconds[0], seconds[1])
    answer = service.slot_offers(
        session=session,
        settings=settings,
        org_id=caller.org_id,
        day=body.date,
        location=location,
        demand=body.demand,
        service_s=body.service_s,
        slots=[window],
        cutoff_s=0,
    )
    offer = answer.offers[0]
    if not offer.available:
        return problem(409, "Does not fit", offer.reason, "slot_unavailable")
    try:
        order_in = OrderCreate(
            external_id=body.external_id,
            date=body.date,
            address=body.address or resolved or "",
            lon=location.lon,
            lat=location.lat,
            windows=[body.window],
            service_s=body.service_s,
            demand=body.demand,
            customer=body.customer,
            phone=body.phone,
            email=body.email,
            notes=body.notes,
        )
    except ValidationError as exc:
        raise InputError(
            issues=[
                FieldIssue(None, ".".join(str(p) for p in e["loc"]), None, e["msg"])
                for e in exc.errors()
            ],
            source="booking",
        ) from None
    created = orders.create(
        session=session, org_id=caller.org_id, order_in=order_in, actor=caller.actor
    ).order
    booked = SlotBooked(
        result="created",
        order_id=created.id,
        external_id=created.external_id,
        status=created.status,
        window=[body.window.start, body.window.end],
        inserted=False,
    )
    if answer.based_on != "routes":
        booked.message = "no running route yet: the order waits for the day's plan"
        return booked
    try:
        done = service.insert_order(
            session=session,
            settings=settings,
            org_id=caller.org_id,
            order_id=created.id,
            actor=caller.actor,
        )
    except service.DoesNotFit as exc:
        booked.message = f"booked, but not inserted: {exc.message}"
        return booked
    eta = next((r for r in done.etas.stops if r.stop_id == done.stop.id), None)
    booked.status = done.order.status
    booked.inserted = True
    booked.route_id = done.route.id
    booked.stop_id = done.stop.id
    booked.eta = done.etas.clock.iso(eta.arrival_s) if eta else None
    booked.added_cost = done.added_cost
    return booked
