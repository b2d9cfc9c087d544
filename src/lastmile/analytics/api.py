"""KPIs API (staff): the day's KPIs as JSON or CSV, and logging "where is my order" contacts."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Response

from lastmile.analytics import service
from lastmile.analytics.schemas import ContactCreate, ContactRead, KpiFilters, KpiRead
from lastmile.auth.principal import STAFF, Principal
from lastmile.common.web import Caller, DbSession

router = APIRouter(prefix="/api/v1", tags=["analytics"])

_AUTH: dict[int | str, dict[str, Any]] = {
    401: {"description": "Not logged in"},
    403: {"description": "Not staff (admin or dispatcher)"},
}


def staff(caller: Caller) -> Principal:
    caller.require(*STAFF)
    return caller


Staff = Annotated[Principal, Depends(staff)]


def _filters(
    caller: Staff,
    session: DbSession,
    from_: Annotated[
        dt.date | None,
        Query(alias="from", description="First delivery date (default: today, local)."),
    ] = None,
    to: Annotated[dt.date | None, Query(description="Last delivery date (default: from).")] = None,
    driver_id: str | None = None,
    vehicle_id: str | None = None,
    depot_id: str | None = None,
) -> service.Filters:
    return service.filters(
        session=session,
        org_id=caller.org_id,
        start=from_,
        end=to,
        driver_id=driver_id,
        vehicle_id=vehicle_id,
        depot_id=depot_id,
    )


Scope = Annotated[service.Filters, Depends(_filters)]


@router.get("/kpis", response_model=KpiRead, operation_id="get_kpis", responses=_AUTH)
def get_kpis(caller: Staff, session: DbSession, f: Scope) -> KpiRead:
    """KPIs of the delivery dates in range, optionally of one driver, vehicle or depot."""
    result = service.compute(session=session, org_id=caller.org_id, f=f)
    body = KpiRead.model_validate(
        {
            **vars(result),
            "filters": KpiFilters.model_validate(
                {
                    "from": f.start,
                    "to": f.end,
                    "driver_id": f.driver_id,
                    "vehicle_id": f.vehicle_id,
                    "depot_id": f.depot_id,
                }
            ),
        }
    )
    return body


@router.get(
    "/kpis.csv",
    operation_id="export_kpis_csv",
    response_class=Response,
    responses={**_AUTH, 200: {"content": {"text/csv": {}}}},
)
def export_kpis(caller: Staff, session: DbSession, f: Scope) -> Response:
    """The same KPIs as CSV (``scope,metric,value``)."""
    result = service.compute(session=session, org_id=caller.org_id, f=f)
    name = f"kpis-{f.start.isoformat()}-{f.end.isoformat()}.csv"
    return Response(
        content=service.to_csv(result),
        media_type="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@router.post(
    "/orders/{order_id}/contacts",
    response_model=ContactRead,
    status_code=201,
    operation_id="log_order_contact",
    responses={**_AUTH, 404: {"description": "No such order in the caller's organisation"}},
)
def log_contact(
    order_id: str, body: ContactCreate, caller: Staff, session: DbSession
) -> ContactRead:
    """Log a customer's "where is my order" contact (counts in the contacts KPI)."""
    payload = service.log_contact(
        session=session,
        org_id=caller.org_id,
        order_id=order_id,
        channel=body.channel,
        note=body.note,
        actor=caller.actor,
    )
    return ContactRead(
        order_id=payload["order_id"],
        channel=payload["channel"],
        note=payload["note"],
        at=dt.datetime.fromisoformat(payload["at"]),
        actor=payload["actor"],
    )
