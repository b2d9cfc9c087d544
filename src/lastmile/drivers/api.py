"""Driver API: the driver's route, device events, GPS positions, proof of delivery, live stream.

``/api/v1/driver/*`` is for the role ``driver`` only, acting as the driver record linked to the
login; staff read the proofs through ``/orders/{id}/pod`` and ``/pod/{id}/file``. The contract
is ``docs/api-driver.md``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, Header, Query, Request, Response, UploadFile
from fastapi.responses import StreamingResponse
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from lastmile.auth.deps import Caller
from lastmile.auth.principal import STAFF, Principal
from lastmile.common.metrics import METRICS
from lastmile.common.web import AppSettings, DbSession, problem
from lastmile.core.errors import InputError, LastmileError
from lastmile.drivers import refusals, service
from lastmile.drivers import stream as stream_filter
from lastmile.drivers.eta_owner import DriverEtas, driver_etas
from lastmile.drivers.models import ProofOfDelivery
from lastmile.drivers.pod_store import PodStore, store_for, too_large
from lastmile.drivers.schemas import (
    EventBatch,
    EventResults,
    PodKind,
    PodRead,
    PositionBatch,
    PositionResult,
    RouteResponse,
)
from lastmile.events.follow import MAX_EVENT_ID, Opened, follow, resume_cursor
from lastmile.events.models import Event
from lastmile.fleet.models import Driver
from lastmile.orgs import clock as org_clock
from lastmile.orgs import service as orgs
from lastmile.orgs.models import Role

router = APIRouter(prefix="/api/v1", tags=["drivers"])
KEEPALIVE_S = 15.0

_AUTH: dict[int | str, dict[str, Any]] = {
    401: {"description": "Not logged in"},
    403: {"description": "Not a driver's login (staff, API keys) or no driver linked to it"},
}


def _language(session: Session, org_id: str) -> str:
    return orgs.language(orgs.get(session=session, org_id=org_id))


@contextmanager
def _in_drivers_language(session: Session, org_id: str) -> Iterator[None]:
    """Refusals raised inside are reworded in the organisation's language: the driver app
    shows their ``detail`` as it is (``drivers/refusals.py``)."""
    try:
        yield
    except LastmileError as exc:
        language = _language(session, org_id)
        exc.message = refusals.translate(exc.message, language)
        exc.args = (exc.message,)
        if isinstance(exc, InputError):
            exc.issues = [
                dataclasses.replace(i, message=refusals.translate(i.message, language))
                for i in exc.issues
            ]
        raise


def current_driver(caller: Caller, session: DbSession) -> Driver:
    """The driver record of the caller; checked before the body is read (staff get 403)."""
    caller.require(Role.DRIVER)
    with _in_drivers_language(session, caller.org_id):
        return service.driver_of(session=session, org_id=caller.org_id, user_id=caller.user_id)


def staff(caller: Caller) -> Principal:
    caller.require(*STAFF)
    return caller


def pod_store(settings: AppSettings) -> PodStore:
    """The POD store (a dependency, so that another store can be swapped in)."""
    return store_for(settings)


CurrentDriver = Annotated[Driver, Depends(current_driver)]
Etas = Annotated[DriverEtas, Depends(driver_etas)]
"""The one ETA owner (``live``), handed over by the app (``drivers/eta_owner.py``)."""
Staff = Annotated[Principal, Depends(staff)]
Store = Annotated[PodStore, Depends(pod_store)]


@router.get(
    "/driver/route", response_model=RouteResponse, operation_id="get_driver_route", responses=_AUTH
)
def get_route(
    driver: CurrentDriver,
    session: DbSession,
    settings: AppSettings,
    etas: Etas,
    date: Annotated[
        dt.date | None,
        Query(description="Delivery date (default: today in the organisation's time zone)."),
    ] = None,
) -> RouteResponse:
    """The caller's dispatched route of a day with its stops, or ``route: null``."""
    org_id = driver.org_id
    day = date or service.today(session=session, org_id=org_id)
    route = service.route_for_day(session=session, org_id=org_id, driver_id=driver.id, day=day)
    language = orgs.language(orgs.get(session=session, org_id=org_id))
    if route is None:
        now = org_clock.now_of(session=session, org_id=org_id)
        return RouteResponse(server_time=now, language=language, route=None)
    now = org_clock.now_of(session=session, org_id=org_id)
    expected = etas.expected(session=session, settings=settings, org_id=org_id, route=route)
    view = service.route_view(session=session, org_id=org_id, route=route, expected=expected)
    return RouteResponse(server_time=now, language=language, route=view)


@router.post(
    "/driver/events",
    response_model=EventResults,
    operation_id="post_driver_events",
    responses={**_AUTH, 422: {"description": "Not a batch (or more than 500 events)"}},
)
def post_events(
    body: EventBatch, driver: CurrentDriver, session: DbSession, settings: AppSettings, etas: Etas
) -> EventResults:
    """Apply device events (idempotent by key, in the order they happened); a result each.

    The ETAs of each route with a stop event or a start are recomputed
    (``live.etas.on_stop_done``): the pace learns from it, and the next stops' times follow
    the day as it goes (from the real start, not the planned one)."""
    touched: set[str] = set()
    results = service.apply_events(
        session=session,
        org_id=driver.org_id,
        driver=driver,
        events_in=body.events,
        touched_routes=touched,
    )
    if any(r.error is not None for r in results):
        language = _language(session, driver.org_id)
        results = [
            r
            if r.error is None
            else r.model_copy(
                update={
                    "error": r.error.model_copy(
                        update={"message": refusals.translate(r.error.message, language)}
                    )
                }
            )
            for r in results
        ]
    if touched:
        for route_id in sorted(touched):
            etas.on_stop_done(
                session=session, settings=settings, org_id=driver.org_id, route_id=route_id
            )
        session.commit()
    return EventResults(results=results)


@router.post(
    "/driver/positions",
    response_model=PositionResult,
    operation_id="post_driver_positions",
    responses={**_AUTH, 409: {"description": "No route in progress (no tracking off duty)"}},
)
def post_positions(
    body: PositionBatch,
    driver: CurrentDriver,
    session: DbSession,
    settings: AppSettings,
    etas: Etas,
) -> PositionResult:
    """GPS points of the route in progress; invalid points are rejected one by one.

    The route's ETAs are recomputed from the newest point (``live.etas.on_position``).
    """
    with _in_drivers_language(session, driver.org_id):
        result = service.record_positions(
            session=session, org_id=driver.org_id, driver=driver, positions=body.positions
        )
    if result.accepted:
        METRICS.positions.inc(result.accepted)
        newest = result.newest()
        if newest is not None:
            route_id, lon, lat, at = newest
            etas.on_position(
                session=session,
                settings=settings,
                org_id=driver.org_id,
                route_id=route_id,
                lon=lon,
                lat=lat,
                at=at,
            )
            session.commit()
    return result


@router.post(
    "/driver/pod",
    response_model=PodRead,
    status_code=201,
    operation_id="upload_driver_pod",
    responses={
        **_AUTH,
        200: {"description": "This file was already stored for this event and kind"},
        409: {"description": "The event is not synced yet: send it first, then retry"},
        413: {"description": "The file is larger than LASTMILE_POD_MAX_BYTES"},
        422: {"description": "Not a JPEG, PNG or WebP image, or a bad field"},
    },
)
def upload_pod(
    driver: CurrentDriver,
    session: DbSession,
    settings: AppSettings,
    store: Store,
    response: Response,
    file: Annotated[UploadFile, File(description="The photo or signature (JPEG, PNG, WebP).")],
    kind: Annotated[PodKind, Form()],
    event_key: Annotated[
        str, Form(max_length=100, description="Key of the delivered/failed event.")
    ],
    recipient: Annotated[str, Form(max_length=200)] = "",
) -> Any:
    """Upload a proof of delivery for a synced delivered/failed event (idempotent)."""
    limit = settings.pod_max_bytes
    data = file.file.read(limit + 1)
    if len(data) > limit:
        return problem(
            413,
            "Payload too large",
            refusals.translate(too_large(limit), _language(session, driver.org_id)),
            "pod_too_large",
        )
    with _in_drivers_language(session, driver.org_id):
        row, created = service.add_pod(
            session=session,
            store=store,
            org_id=driver.org_id,
            driver=driver,
            event_key=event_key,
            kind=kind,
            data=data,
            recipient=recipient,
        )
    if not created:
        response.status_code = 200
    return PodRead.of(row)


@router.get(
    "/orders/{order_id}/pod",
    response_model=list[PodRead],
    operation_id="list_order_pods",
    responses={**_AUTH, 404: {"description": "No such order in the caller's organisation"}},
)
def list_order_pods(order_id: str, caller: Staff, session: DbSession) -> list[PodRead]:
    """Proofs of delivery of an order (staff)."""
    rows = service.list_pods(session=session, org_id=caller.org_id, order_id=order_id)
    return [PodRead.of(r) for r in rows]


@router.get(
    "/pod/{pod_id}/file",
    operation_id="get_pod_file",
    response_class=Response,
    responses={
        **_AUTH,
        200: {"content": {"image/jpeg": {}, "image/png": {}, "image/webp": {}}},
        404: {"description": "No such proof in the caller's organisation"},
    },
)
def get_pod_file(pod_id: str, caller: Staff, session: DbSession, store: Store) -> Response:
    """The bytes of a proof of delivery (staff of the same organisation)."""
    row, data = service.pod_file(session=session, store=store, org_id=caller.org_id, pod_id=pod_id)
    return Response(
        content=data,
        media_type=row.content_type,
        headers={
            "Cache-Control": "private, max-age=3600",
            "X-Content-Type-Options": "nosniff",
            "Content-Disposition": f'inline; filename="{_filename(row)}"',
        },
    )


def _filename(row: ProofOfDelivery) -> str:
    ext = row.storage_key.rsplit(".", 1)[-1]
    return f"{row.kind}-{row.id}.{ext}"


def _format(event: Event, data: dict[str, Any]) -> str:
    body = json.dumps(
        {
            "id": event.id,
            "type": service.EVENT_ROUTE_CHANGED,
            "created_at": event.created_at.isoformat(),
            "data": data,
        },
        separators=(",", ":"),
    )
    return f"id: {event.id}\nevent: {service.EVENT_ROUTE_CHANGED}\ndata: {body}\n\n"


@router.get(
    "/driver/stream",
    operation_id="stream_driver_events",
    response_class=StreamingResponse,
    responses={
        **_AUTH,
        200: {"content": {"text/event-stream": {}}, "description": "Server-Sent Events"},
    },
)
async def stream_driver_events(
    request: Request,
    caller: Caller,
    session: DbSession,
    last_event_id: Annotated[
        int | None,
        Query(
            ge=0,
            le=MAX_EVENT_ID,
            description="Replay events after this id (or send the Last-Event-ID header).",
        ),
    ] = None,
    last_event_header: Annotated[str | None, Header(alias="Last-Event-ID")] = None,
) -> StreamingResponse:
    """``route.changed`` whenever one of the caller's routes changes (reload the route)."""
    caller.require(Role.DRIVER)
    session.close()  # the login check's connection goes back to the pool: a stream holds none
    sessions: sessionmaker[Session] = request.app.state.sessions
    org_id, user_id = caller.org_id, caller.user_id

    def who() -> stream_filter.Interest:
        with sessions() as session:
            driver = service.driver_of(session=session, org_id=org_id, user_id=user_id)
            return stream_filter.interest(session=session, org_id=org_id, driver_id=driver.id)

    interest = await run_in_threadpool(who)  # raises 403 before the stream starts
    start = resume_cursor(last_event_id, last_event_header)

    def refreshed() -> stream_filter.Interest:
        with sessions() as session:
            return stream_filter.interest(
                session=session, org_id=org_id, driver_id=interest.driver_id
            )

    events = follow(
        request,
        bus=request.app.state.bus,
        sessions=sessions,
        org_id=org_id,
        start=start,
        keepalive_s=KEEPALIVE_S,
    )

    async def stream() -> AsyncIterator[str]:
        nonlocal interest
        async for item in events:
            if isinstance(item, Opened):
                yield f"retry: 2000\n: connected, events after {item.cursor}\n\n"
            elif item is None:
                yield ": keep-alive\n\n"
            else:
                if (
                    item.type in stream_filter.MEMBERSHIP_TYPES
                ):  # the driver's routes or stops may have changed
                    interest = await run_in_threadpool(refreshed)
                data = stream_filter.driver_view(item.type, item.payload, interest)
                if data is not None:
                    yield _format(item, data)

    return StreamingResponse(
        stream(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
