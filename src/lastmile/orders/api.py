"""Orders API for staff (admin, dispatcher; API keys act with their role). Drivers: 403.

Documented in ``docs/api-orders.md``.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Body, File, Query, Request, Response, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import TypeAdapter, ValidationError

from lastmile.auth.deps import Caller
from lastmile.auth.principal import STAFF
from lastmile.common.web import DbSession, problem
from lastmile.core.errors import FieldIssue, InputError
from lastmile.core.formats.table import decode_upload
from lastmile.integrations.configured import map_area
from lastmile.orders import lifecycle, service
from lastmile.orders.lifecycle import OrderStatus
from lastmile.orders.models import Order
from lastmile.orders.schemas import (
    GeocodeAnswer,
    ImportReport,
    OrderCreate,
    OrderEventRead,
    OrderPage,
    OrderRead,
    OrderUpdate,
    OrderWriteResponse,
    OrderWriteResult,
    TransitionRequest,
)

router = APIRouter(prefix="/api/v1", tags=["orders"])

MAX_BATCH = 1000
MAX_IMPORT_BYTES = 10_000_000

_ONE: TypeAdapter[OrderCreate] = TypeAdapter(OrderCreate)
_MANY: TypeAdapter[list[OrderCreate]] = TypeAdapter(list[OrderCreate])

_CREATE_SCHEMA = OrderCreate.model_json_schema(ref_template="#/components/schemas/{model}")
_CREATE_SCHEMA.pop("$defs", None)
_CREATE_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "oneOf": [
                        _CREATE_SCHEMA,
                        {"type": "array", "items": _CREATE_SCHEMA, "maxItems": MAX_BATCH},
                    ]
                }
            }
        },
    }
}


def _parse_orders(body: Any) -> list[OrderCreate]:
    """One order or a list, with error paths as sent (``lon``, ``3.windows.0``).

    Validated here rather than by a union type, whose errors would name the union's members.
    """
    try:
        if isinstance(body, list):
            if len(body) > MAX_BATCH:
                raise InputError(
                    issues=[
                        FieldIssue(
                            None, "body", str(len(body)), f"at most {MAX_BATCH} orders per request"
                        )
                    ],
                    source="orders",
                )
            return _MANY.validate_python(body)
        return [_ONE.validate_python(body)]
    except ValidationError as exc:
        raise RequestValidationError(
            [{**e, "loc": ("body", *e["loc"])} for e in exc.errors(include_context=False)]
        ) from None


@router.post(
    "/orders",
    response_model=OrderWriteResponse,
    status_code=201,
    operation_id="create_orders",
    openapi_extra=_CREATE_BODY,
)
def create_orders(
    request: Request,
    caller: Caller,
    session: DbSession,
    body: Annotated[Any, Body(include_in_schema=False)],
) -> OrderWriteResponse:
    """Create one order or a list (all or nothing); idempotent on external_id."""
    caller.require(*STAFF)
    orders_in = _parse_orders(body)
    results = service.create_many(
        session=session, org_id=caller.org_id, orders_in=orders_in, actor=caller.actor
    )
    _geocode_later(request, caller.org_id, [r.order for r in results])
    items = [
        OrderWriteResult(result=r.result, existed=r.existed, order=OrderRead.of(r.order))
        for r in results
    ]
    return OrderWriteResponse(
        items=items,
        created=sum(1 for r in results if r.result == "created"),
        updated=sum(1 for r in results if r.result == "updated"),
        unchanged=sum(1 for r in results if r.result == "unchanged"),
    )


@router.post(
    "/orders/import",
    response_model=ImportReport,
    operation_id="import_orders",
    responses={422: {"description": "Invalid rows (nothing written) or an unusable file."}},
)
def import_orders(
    request: Request,
    caller: Caller,
    session: DbSession,
    file: Annotated[UploadFile, File(description="Orders CSV (docs/csv-formats.md).")],
    dry_run: bool = False,
    skip_invalid: bool = False,
    date: Annotated[
        dt.date | None, Query(description="Delivery date of rows without a date column.")
    ] = None,
) -> ImportReport | JSONResponse:
    """Import an orders CSV; per-row report. Any invalid row: nothing written (422)."""
    caller.require(*STAFF)
    data = file.file.read(MAX_IMPORT_BYTES + 1)
    if len(data) > MAX_IMPORT_BYTES:
        raise InputError(
            issues=[FieldIssue(None, "file", None, f"is larger than {MAX_IMPORT_BYTES} bytes")],
            source="orders CSV",
        )
    report = service.import_csv(
        session=session,
        org_id=caller.org_id,
        text=decode_upload(data, source=service.IMPORT_SOURCE),
        actor=caller.actor,
        date=date,
        dry_run=dry_run,
        skip_invalid=skip_invalid,
        area=lambda: map_area(request.app.state.settings),
    )
    if not dry_run and not report.applied:
        return problem(
            422,
            "Invalid input",
            f"{report.invalid} invalid row(s); nothing was imported "
            "(fix them, or send skip_invalid=true to import the valid rows)",
            "invalid_rows",
            **report.model_dump(mode="json"),
        )
    if not dry_run and request.app.state.settings.geocode_imports:
        request.app.state.jobs.enqueue("geocode_orders", org_id=caller.org_id)
    return report


def _geocode_later(request: Request, org_id: str, orders: list[Order]) -> None:
    """Addresses without coordinates are geocoded by a background job (offline index)."""
    if not request.app.state.settings.geocode_imports:
        return
    if any(lifecycle.needs_geocoding(status=o.status, lon=o.lon, lat=o.lat) for o in orders):
        request.app.state.jobs.enqueue("geocode_orders", org_id=org_id)


@router.get("/geocode", response_model=GeocodeAnswer, operation_id="geocode_address")
def geocode_address(
    request: Request,
    caller: Caller,
    q: Annotated[str, Query(min_length=3, max_length=300, description="Address text.")],
) -> GeocodeAnswer:
    """Check an address offline: verdict, best match and candidates (to fix an order)."""
    caller.require(*STAFF)
    from lastmile.integrations.configured import geocoder_for

    result = geocoder_for(request.app.state.settings).geocode(q)
    return GeocodeAnswer(
        input=q,
        verdict=result.verdict.value,
        address=result.address.format() if result.address else None,
        lon=result.location.lon if result.location else None,
        lat=result.location.lat if result.location else None,
        confidence=result.confidence,
        changes=list(result.changes),
        reason=result.reason,
        candidates=[
            {
                "address": c.address.format(),
                "lon": c.location.lon,
                "lat": c.location.lat,
                "score": c.score,
            }
            for c in result.candidates
        ],
    )


@router.get("/orders", response_model=OrderPage, operation_id="list_orders")
def list_orders(
    caller: Caller,
    session: DbSession,
    date: Annotated[dt.date | None, Query(description="Delivery date.")] = None,
    status: Annotated[list[OrderStatus] | None, Query(description="One or several.")] = None,
    q: Annotated[
        str | None,
        Query(max_length=200, description="Text in external id, address or customer."),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=service.MAX_LIMIT)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000_000)] = 0,
) -> OrderPage:
    """Orders by date and external id, filtered, one page at a time."""
    caller.require(*STAFF)
    rows, total = service.list_orders(
        session=session,
        org_id=caller.org_id,
        date=date,
        statuses=[s.value for s in status or []],
        q=q,
        limit=limit,
        offset=offset,
    )
    return OrderPage(items=[OrderRead.of(o) for o in rows], total=total, limit=limit, offset=offset)


@router.get("/orders/{order_id}", response_model=OrderRead, operation_id="get_order")
def get_order(order_id: str, caller: Caller, session: DbSession) -> OrderRead:
    """One order."""
    caller.require(*STAFF)
    return OrderRead.of(service.get(session=session, org_id=caller.org_id, order_id=order_id))


@router.patch("/orders/{order_id}", response_model=OrderRead, operation_id="update_order")
def update_order(
    order_id: str, body: OrderUpdate, request: Request, caller: Caller, session: DbSession
) -> OrderRead:
    """Change some fields; a new address without coordinates is geocoded again at once."""
    caller.require(*STAFF)
    order = service.update(
        session=session, org_id=caller.org_id, order_id=order_id, order_in=body, actor=caller.actor
    )
    settings = request.app.state.settings
    if (
        "address" in body.model_fields_set
        and "lon" not in body.model_fields_set
        and settings.geocode_imports
        and lifecycle.needs_geocoding(status=order.status, lon=order.lon, lat=order.lat)
        and order.address_verdict is None
    ):
        from lastmile.integrations.configured import geocoder_for
        from lastmile.orders.jobs import geocode_order

        order = geocode_order(session=session, order=order, geocoder=geocoder_for(settings))
    return OrderRead.of(order)


@router.delete(
    "/orders/{order_id}", status_code=204, response_class=Response, operation_id="delete_order"
)
def delete_order(order_id: str, caller: Caller, session: DbSession) -> Response:
    """Delete a new, ready or cancelled order (others: 409, cancel instead)."""
    caller.require(*STAFF)
    service.delete(session=session, org_id=caller.org_id, order_id=order_id, actor=caller.actor)
    return Response(status_code=204)


@router.post(
    "/orders/{order_id}/transitions", response_model=OrderRead, operation_id="transition_order"
)
def transition_order(
    order_id: str, body: TransitionRequest, caller: Caller, session: DbSession
) -> OrderRead:
    """Change an order's status (409 if the lifecycle does not allow it)."""
    caller.require(*STAFF)
    order = service.transition(
        session=session,
        org_id=caller.org_id,
        order_id=order_id,
        to_status=body.to,
        actor=caller.actor,
        at=body.at,
        lon=body.lon,
        lat=body.lat,
        note=body.note,
        reason=body.reason,
        new_date=body.date,
    )
    return OrderRead.of(order)


@router.get(
    "/orders/{order_id}/events",
    response_model=list[OrderEventRead],
    operation_id="list_order_events",
)
def list_order_events(order_id: str, caller: Caller, session: DbSession) -> list[OrderEventRead]:
    """The order's status history, oldest first: who, when, where."""
    caller.require(*STAFF)
    rows = service.history(session=session, org_id=caller.org_id, order_id=order_id)
    return [OrderEventRead.of(r) for r in rows]
