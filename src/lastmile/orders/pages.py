"""The dashboard's orders page and its JSON helpers: import preview with pins, bulk status
changes."""

from __future__ import annotations

import datetime as dt
import math
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from fastapi.responses import Response
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from lastmile.auth.deps import Caller
from lastmile.auth.principal import STAFF
from lastmile.common.web import AppSettings, DbSession
from lastmile.core.errors import FieldIssue, InputError
from lastmile.core.formats.addresses import AddressColumns, address_line
from lastmile.core.formats.orders_csv import ORDER_ALIASES
from lastmile.core.formats.table import decode_upload, match_columns, read_rows
from lastmile.core.times import format_clock
from lastmile.integrations.configured import geocoder_for, map_area
from lastmile.integrations.geocode import Geocoder
from lastmile.orders import service as orders
from lastmile.orders.lifecycle import (
    ACCEPTED_VERDICTS,
    UNRESOLVED_VERDICTS,
    OrderStatus,
    location_words,
)
from lastmile.pageframe.layout import (
    Viewer,
    json_script,
    org_today,
    parse_day,
    render,
    staff_page,
)

router = APIRouter(include_in_schema=False)


PAGE_SIZE = 50


BULK_ACTIONS = {
    "cancel": OrderStatus.CANCELLED,
    "ready": OrderStatus.READY,
    "new": OrderStatus.NEW,
    "reschedule": OrderStatus.RESCHEDULED,
}


def is_unresolved(order: Any) -> bool:
    """An order the geocoder could not place (distinct from one not checked yet)."""
    return order.lon is None and order.address_verdict in UNRESOLVED_VERDICTS


def _order_json(o: Any, geocoder: Geocoder | None = None) -> dict[str, Any]:
    """An order's pin; an unresolved one carries the geocoder's reason and suggestions
    (the same answer as ``GET /api/v1/geocode``), and its best guess as the pin's place."""
    item: dict[str, Any] = {
        "id": o.id,
        "external_id": o.external_id,
        "status": o.status,
        "address": o.address,
        "lon": o.lon,
        "lat": o.lat,
        "verdict": o.address_verdict,
        "verdict_text": location_words(o.address_verdict),
        "unresolved": is_unresolved(o),
    }
    if item["unresolved"] and geocoder is not None:
        result = geocoder.geocode(o.address)
        item["reason"] = result.reason
        item["candidates"] = [
            {"address": c.address.format(), "lon": c.location.lon, "lat": c.location.lat}
            for c in result.candidates[:5]
        ]
        if result.candidates:  # the pin starts at the best guess (never saved by itself)
            best = result.candidates[0].location
            item["lon"], item["lat"] = best.lon, best.lat
    return item


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
    day = parse_day(date) if date != "all" else None
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
    geocoder = geocoder_for(settings) if any(is_unresolved(o) for o in rows) else None
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
        "clock": format_clock,
        "pins": json_script(
            [
                _order_json(o, geocoder)
                for o in rows
                if o.lon is not None or (is_unresolved(o) and o.status == OrderStatus.NEW)
            ]
        ),
        "location_words": location_words,
        "is_unresolved": is_unresolved,
    }
    name = (
        "dashboard/_orders_table.html"
        if request.headers.get("hx-request") and request.headers.get("hx-target") == "orders-list"
        else "dashboard/orders.html"
    )
    return render(request, name, viewer, settings, **context)


@router.post("/app/api/orders/preview")
def import_preview(
    caller: Caller,
    session: DbSession,
    settings: AppSettings,
    file: Annotated[UploadFile, File()],
    date: Annotated[str, Form(max_length=40)] = "",
) -> dict[str, Any]:
    """Dry run of an orders CSV: every row's verdict, its address checked by the geocoder and,
    where known, its pin. Saves nothing."""
    caller.require(*STAFF)
    data = file.file.read(10_000_001)
    if len(data) > 10_000_000:
        raise InputError(
            issues=[FieldIssue(None, "file", None, "is larger than 10000000 bytes")],
            source="orders CSV",
        )
    text = decode_upload(data, source=orders.IMPORT_SOURCE)
    report = orders.import_csv(
        session=session,
        org_id=caller.org_id,
        text=text,
        actor=caller.actor,
        date=parse_day(date),
        dry_run=True,
        area=lambda: map_area(settings),
    )
    header, raw_rows = read_rows(text, source="orders CSV")
    columns = match_columns(header, ORDER_ALIASES, source="orders CSV")
    col = columns.field_to_column
    address_columns = AddressColumns.of(columns)
    cells = dict(raw_rows)
    geocoder = geocoder_for(settings) if settings.geocode_imports else None
    out = []
    for row in report.rows:
        cell = cells.get(row.row, {})
        address = address_line(cell, address_columns)
        lon = _float(cell.get(col.get("lon", ""), ""))
        lat = _float(cell.get(col.get("lat", ""), ""))
        verdict: str | None = "given"
        reason = ""
        if row.status == "invalid":
            verdict, lon, lat = "invalid", None, None
        elif lon is None or lat is None:
            lon = lat = None
            verdict = None
            if geocoder is not None and address:
                # The same check the import's geocoding job makes after the import.
                result = geocoder.geocode(address)
                verdict, reason = result.verdict.value, result.reason
                if result.verdict.value in ACCEPTED_VERDICTS and result.location is not None:
                    lon, lat = result.location.lon, result.location.lat
                    reason = "; ".join(result.changes)
        out.append(
            {
                **row.model_dump(mode="json"),
                "address": address,
                "lon": lon,
                "lat": lat,
                "verdict": verdict,
                "verdict_text": "invalid row" if verdict == "invalid" else location_words(verdict),
                "unresolved": verdict in UNRESOLVED_VERDICTS,
                "reason": reason,
            }
        )
    return {
        "rows": out,
        "created": report.created,
        "updated": report.updated,
        "unchanged": report.unchanged,
        "invalid": report.invalid,
        "unresolved": sum(1 for r in out if r["unresolved"]),
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
    day = parse_day(body.filter_date)
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
