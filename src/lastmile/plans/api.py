"""Plans API: queue a plan, follow its progress, read it, dispatch it."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Query, Request
from sqlalchemy.orm import Session

from lastmile.auth.deps import Caller
from lastmile.auth.principal import STAFF
from lastmile.common.web import DbSession
from lastmile.plans import document, service
from lastmile.plans import week as weeks
from lastmile.plans.models import Plan, PlanWeek
from lastmile.plans.schemas import (
    DispatchRequest,
    DispatchResult,
    PlanCreate,
    PlanCreated,
    PlanRead,
    PlanSummary,
    WeekCreate,
    WeekDaySummary,
    WeekRead,
)

router = APIRouter(prefix="/api/v1", tags=["plans"])


def _read(session: Session, plan: Plan) -> PlanRead:
    """The plan as it is now: routes and stops from the rows (see ``plans.document``)."""
    current = document.current(session=session, plan=plan)
    doc = current or {}
    return PlanRead(
        id=plan.id,
        date=plan.date,
        status=plan.status,
        progress=plan.progress,
        error=plan.error,
        created_at=plan.created_at,
        finished_at=plan.finished_at,
        dispatched_at=plan.dispatched_at,
        routes=doc.get("routes", []),
        unassigned=doc.get("unassigned", []),
        totals=doc.get("totals", {}),
        document=current,
        week_id=plan.week_id,
    )


@router.post("/plans", response_model=PlanCreated, status_code=202, operation_id="create_plan")
def create_plan(
    body: PlanCreate, request: Request, caller: Caller, session: DbSession
) -> PlanCreated:
    """Queue the optimisation of a day; poll ``GET /plans/{id}`` or listen to ``/events``."""
    caller.require(*STAFF)
    plan = service.create(
        session=session,
        org_id=caller.org_id,
        date=body.date,
        order_ids=body.order_ids,
        vehicle_ids=body.vehicle_ids,
        time_limit_s=body.time_limit_s,
        actor=caller.actor,
        balance_pct=body.balance_pct if body.objective == "balanced" else None,
    )
    request.app.state.jobs.enqueue("solve_plan", plan_id=plan.id)
    return PlanCreated(id=plan.id, status=plan.status)


@router.get("/plans", response_model=list[PlanSummary], operation_id="list_plans")
def list_plans(
    caller: Caller,
    session: DbSession,
    date: dt.date | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> list[PlanSummary]:
    """Plans of the organisation, newest first."""
    caller.require(*STAFF)
    return [
        PlanSummary(
            id=p.id,
            date=p.date,
            status=p.status,
            progress=p.progress,
            created_at=p.created_at,
            dispatched_at=p.dispatched_at,
        )
        for p in service.list_plans(session=session, org_id=caller.org_id, date=date, limit=limit)
    ]


@router.get("/plans/{plan_id}", response_model=PlanRead, operation_id="get_plan")
def get_plan(plan_id: str, caller: Caller, session: DbSession) -> PlanRead:
    """Status, progress, and when done: routes with stops and times, unassigned with reasons."""
    caller.require(*STAFF)
    return _read(session, service.get(session=session, org_id=caller.org_id, plan_id=plan_id))


@router.post(
    "/plans/{plan_id}/dispatch", response_model=DispatchResult, operation_id="dispatch_plan"
)
def dispatch_plan(
    plan_id: str, body: DispatchRequest, caller: Caller, session: DbSession
) -> DispatchResult:
    """Assign routes to drivers and mark their orders dispatched."""
    caller.require(*STAFF)
    routes, count = service.dispatch(
        session=session,
        org_id=caller.org_id,
        plan_id=plan_id,
        assignments=body.assignments,
        actor=caller.actor,
    )
    return DispatchResult(
        plan_id=plan_id,
        routes=[
            {"id": r.id, "vehicle_id": r.vehicle_id, "driver_id": r.driver_id, "status": r.status}
            for r in routes
        ],
        orders_dispatched=count,
    )


def _week_read(week: PlanWeek) -> WeekRead:
    summary = week.summary or {}
    return WeekRead(
        id=week.id,
        start=week.start,
        end=week.end,
        status=week.status,
        progress=week.progress,
        error=week.error,
        created_at=week.created_at,
        finished_at=week.finished_at,
        days=[WeekDaySummary.model_validate(d) for d in summary.get("days", [])],
        balance_pct=summary.get("balance_pct"),
        max_above_mean_pct=summary.get("max_above_mean_pct"),
        check=summary.get("check", []),
        not_planned=summary.get("not_planned", []),
    )


@router.post(
    "/plan-weeks", response_model=PlanCreated, status_code=202, operation_id="create_plan_week"
)
def create_plan_week(
    body: WeekCreate, request: Request, caller: Caller, session: DbSession
) -> PlanCreated:
    """Queue a multi-day plan: orders with a date range each go on one day of it. When done it
    is one ordinary plan per day (``days[].plan_id``); poll ``GET /plan-weeks/{id}``."""
    caller.require(*STAFF)
    week = weeks.create(
        session=session,
        org_id=caller.org_id,
        start=body.start,
        end=body.end,
        skip_weekdays=body.skip_weekdays,
        vehicle_ids=body.vehicle_ids,
        day_vehicle_ids=body.day_vehicle_ids,
        time_limit_s=body.time_limit_s,
        balance_pct=body.balance_pct,
        route_balance_pct=body.route_balance_pct,
        actor=caller.actor,
    )
    request.app.state.jobs.enqueue("solve_week", week_id=week.id)
    return PlanCreated(id=week.id, status=week.status)


@router.get("/plan-weeks", response_model=list[WeekRead], operation_id="list_plan_weeks")
def list_plan_weeks(
    caller: Caller, session: DbSession, limit: Annotated[int, Query(ge=1, le=200)] = 50
) -> list[WeekRead]:
    """Multi-day plans of the organisation, newest first."""
    caller.require(*STAFF)
    return [
        _week_read(w) for w in weeks.list_weeks(session=session, org_id=caller.org_id, limit=limit)
    ]


@router.get("/plan-weeks/{week_id}", response_model=WeekRead, operation_id="get_plan_week")
def get_plan_week(week_id: str, caller: Caller, session: DbSession) -> WeekRead:
    """Status, progress, and when done: each day's plan with stops and hours per van, the
    balance between the days and the independent checker's findings."""
    caller.require(*STAFF)
    return _week_read(weeks.get(session=session, org_id=caller.org_id, week_id=week_id))
