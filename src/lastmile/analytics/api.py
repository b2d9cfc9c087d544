"""KPIs API (staff): the day's KPIs as JSON or CSV, and logging "where is my order" contacts."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Response

from lastmile.analytics import report as documents
from lastmile.analytics import service
from lastmile.analytics.models import Comparison
from lastmile.analytics.schemas import (
    ComparisonCreate,
    ComparisonRead,
    ComparisonReport,
    ContactCreate,
    ContactRead,
    KpiFilters,
    KpiRead,
    KpiSeriesRead,
    MetricChangeRead,
    MetricInfo,
    ObjectiveIn,
    ObjectiveResultRead,
    SeriesPoint,
)
from lastmile.auth.deps import Caller
from lastmile.auth.principal import STAFF, Principal
from lastmile.common.web import DbSession
from lastmile.core import kpi

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


def _filters_read(f: service.Filters) -> KpiFilters:
    return KpiFilters.model_validate(
        {
            "from": f.start,
            "to": f.end,
            "driver_id": f.driver_id,
            "vehicle_id": f.vehicle_id,
            "depot_id": f.depot_id,
        }
    )


def metric_info(m: kpi.Metric) -> MetricInfo:
    return MetricInfo(
        name=m.name, label=m.label, unit=m.unit, better=m.better, indicator=m.indicator
    )


@router.get("/kpis", response_model=KpiRead, operation_id="get_kpis", responses=_AUTH)
def get_kpis(caller: Staff, session: DbSession, f: Scope) -> KpiRead:
    """KPIs of the delivery dates in range, optionally of one driver, vehicle or depot."""
    result = service.compute(session=session, org_id=caller.org_id, f=f)
    return KpiRead.model_validate({**vars(result), "filters": _filters_read(f)})


@router.get(
    "/kpis/series", response_model=KpiSeriesRead, operation_id="get_kpi_series", responses=_AUTH
)
def get_kpi_series(
    caller: Staff,
    session: DbSession,
    f: Scope,
    bucket: Annotated[
        Literal["day", "week"], Query(description="One point per day or per ISO week.")
    ] = "day",
) -> KpiSeriesRead:
    """Trends: every catalogue KPI per day or week of the range (same filters as /kpis)."""
    points = service.series(session=session, org_id=caller.org_id, f=f, bucket=bucket)
    return KpiSeriesRead(
        filters=_filters_read(f),
        bucket=bucket,
        metrics=[metric_info(m) for m in kpi.METRICS],
        points=[
            SeriesPoint.model_validate(
                {
                    "from": p.start,
                    "to": p.end,
                    "orders": p.kpis.orders,
                    "values": kpi.values(p.kpis),
                }
            )
            for p in points
        ],
    )


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


# --- baseline vs pilot -----------------------------------------------------------------------

_NOT_FOUND: dict[int | str, dict[str, Any]] = {
    **_AUTH,
    404: {"description": "No such comparison in the caller's organisation"},
}


def _comparison_read(row: Comparison) -> ComparisonRead:
    return ComparisonRead(
        id=row.id,
        name=row.name,
        baseline={k: v if k == "typed" else str(v) for k, v in row.baseline.items()},
        pilot={k: str(v) for k, v in row.pilot.items()},
        objectives=[ObjectiveIn.model_validate(o) for o in row.objectives],
        created_at=row.created_at,
        created_by=row.created_by,
    )


def _report_read(done: service.Report) -> ComparisonReport:
    result = done.result
    return ComparisonReport(
        comparison=_comparison_read(done.comparison),
        all_met=result.all_met,
        objectives=[
            ObjectiveResultRead(
                objective=ObjectiveIn.model_validate(vars(r.objective)),
                label=documents.objective_label(r.objective),
                actual=r.actual,
                met=r.met,
            )
            for r in result.objectives
        ],
        changes=[
            MetricChangeRead(
                metric=metric_info(c.metric),
                baseline=c.baseline,
                pilot=c.pilot,
                change=c.change,
                change_rate=c.change_rate,
                improved=c.improved,
            )
            for c in result.changes
        ],
        baseline_orders=result.baseline.orders,
        pilot_orders=result.pilot.orders,
        warnings=done.warnings,
    )


@router.post(
    "/comparisons",
    response_model=ComparisonReport,
    status_code=201,
    operation_id="create_comparison",
    responses=_AUTH,
)
def create_comparison(
    body: ComparisonCreate, caller: Staff, session: DbSession
) -> ComparisonReport:
    """Mark a baseline and a pilot (periods, optionally a depot/driver/vehicle each) with the
    pilot's objectives; answers the report right away."""
    row = service.create_comparison(
        session=session,
        org_id=caller.org_id,
        name=body.name,
        baseline=body.baseline.as_scope(),
        pilot=body.pilot.as_scope(),
        objectives=[kpi.Objective(o.metric, o.op, o.target, o.relative) for o in body.objectives],
        actor=caller.actor,
    )
    return _report_read(service.report(session=session, org_id=caller.org_id, comparison_id=row.id))


@router.get(
    "/comparisons",
    response_model=list[ComparisonRead],
    operation_id="list_comparisons",
    responses=_AUTH,
)
def list_comparisons(caller: Staff, session: DbSession) -> list[ComparisonRead]:
    """The organisation's comparisons, newest first."""
    return [
        _comparison_read(r) for r in service.list_comparisons(session=session, org_id=caller.org_id)
    ]


@router.get(
    "/comparisons/{comparison_id}",
    response_model=ComparisonReport,
    operation_id="get_comparison_report",
    responses=_NOT_FOUND,
)
def get_comparison_report(
    comparison_id: str, caller: Staff, session: DbSession
) -> ComparisonReport:
    """The comparison's report: both scopes' KPIs recomputed now, every objective judged."""
    return _report_read(
        service.report(session=session, org_id=caller.org_id, comparison_id=comparison_id)
    )


@router.delete(
    "/comparisons/{comparison_id}",
    status_code=204,
    operation_id="delete_comparison",
    responses=_NOT_FOUND,
)
def delete_comparison(comparison_id: str, caller: Staff, session: DbSession) -> Response:
    """Delete a comparison (the KPIs it reports on are not touched)."""
    service.delete_comparison(session=session, org_id=caller.org_id, comparison_id=comparison_id)
    return Response(status_code=204)


def _document(
    session: DbSession, caller: Principal, comparison_id: str
) -> tuple[service.Report, dict[str, str]]:
    done = service.report(session=session, org_id=caller.org_id, comparison_id=comparison_id)
    names = service.scope_names(
        session=session, org_id=caller.org_id, scopes=[done.baseline, done.pilot]
    )
    return done, names


def _filename(done: service.Report, ext: str) -> str:
    safe = "".join(ch if ch.isalnum() or ch in "-_" else "-" for ch in done.comparison.name)
    return f"{safe.strip('-')[:60] or 'comparison'}.{ext}"


@router.get(
    "/comparisons/{comparison_id}/report.html",
    operation_id="comparison_report_html",
    response_class=Response,
    responses={**_NOT_FOUND, 200: {"content": {"text/html": {}}}},
)
def comparison_report_html(comparison_id: str, caller: Staff, session: DbSession) -> Response:
    """The report as a self-contained HTML page (chart inline; prints on A4)."""
    done, names = _document(session, caller, comparison_id)
    return Response(
        content=documents.to_html(done, names),
        media_type="text/html; charset=utf-8",
        headers={"Content-Disposition": f'inline; filename="{_filename(done, "html")}"'},
    )


@router.get(
    "/comparisons/{comparison_id}/report.pdf",
    operation_id="comparison_report_pdf",
    response_class=Response,
    responses={**_NOT_FOUND, 200: {"content": {"application/pdf": {}}}},
)
def comparison_report_pdf(comparison_id: str, caller: Staff, session: DbSession) -> Response:
    """The same report as an A4 PDF."""
    done, names = _document(session, caller, comparison_id)
    return Response(
        content=documents.to_pdf(done, names),
        media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{_filename(done, "pdf")}"'},
    )
