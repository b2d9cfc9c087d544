"""Plans: create (queued), solve (a job), read, dispatch to drivers."""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Sequence
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from lastmile.common.clock import utcnow
from lastmile.common.metrics import METRICS
from lastmile.config import Settings
from lastmile.core.errors import Conflict, FieldIssue, InputError, LastmileError, NotFound
from lastmile.core.formats.plan_json import plan_document
from lastmile.core.planning import (
    Balance,
    SolveProgress,
    build_problem,
    plan_day,
)
from lastmile.events import service as events
from lastmile.events import types as event_types
from lastmile.fleet import service as fleet
from lastmile.fleet.models import Driver, Vehicle
from lastmile.orders import service as orders
from lastmile.orders.core_view import core_orders
from lastmile.orders.models import Order
from lastmile.orgs import clock as org_clock
from lastmile.orgs.models import Organisation
from lastmile.plans.models import Plan
from lastmile.routes import service as routes
from lastmile.routes.models import Route

log = logging.getLogger(__name__)

PLANNABLE = ("ready", "planned")
"""Order statuses a new plan may take: ready ones, and planned ones (re-planning the day)."""


def create(
    *,
    session: Session,
    org_id: str,
    date: dt.date,
    order_ids: Sequence[str] | None,
    vehicle_ids: Sequence[str] | None,
    time_limit_s: float | None,
    actor: str,
    balance_pct: float | None = None,
) -> Plan:
    """Queue a plan for ``date``; the solve job picks it up. ``balance_pct``: spread the day
    evenly over the vehicles, none more than that many percent above the mean (None: the
    cheapest day). Named orders and vehicles are checked here, so that a request naming
    unknown ones is answered 422 at once instead of queuing a plan that fails."""
    if order_ids is not None:
        _orders_to_plan(session, org_id, date, order_ids)
    if vehicle_ids is not None:
        fleet.to_core_vehicles(session=session, org_id=org_id, vehicle_ids=list(vehicle_ids))
    plan = Plan(
        org_id=org_id,
        date=date,
        status="queued",
        params={
            "order_ids": list(order_ids) if order_ids is not None else None,
            "vehicle_ids": list(vehicle_ids) if vehicle_ids is not None else None,
            "time_limit_s": time_limit_s,
            "balance_pct": balance_pct,
        },
        created_by=actor,
    )
    session.add(plan)
    session.flush()
    events.record(
        session=session,
        org_id=org_id,
        type=event_types.PLAN_QUEUED,
        payload={"plan_id": plan.id, "date": date.isoformat()},
    )
    session.commit()
    return plan


def get(*, session: Session, org_id: str, plan_id: str) -> Plan:
    plan = session.scalar(select(Plan).where(Plan.org_id == org_id, Plan.id == plan_id))
    if plan is None:
        raise NotFound("plan not found")
    return plan


def list_plans(
    *, session: Session, org_id: str, date: dt.date | None, limit: int = 50
) -> list[Plan]:
    query = select(Plan).where(Plan.org_id == org_id)
    if date is not None:
        query = query.where(Plan.date == date)
    return list(session.scalars(query.order_by(Plan.created_at.desc()).limit(limit)))


def _select_orders(session: Session, plan: Plan) -> list[Order]:
    return _orders_to_plan(session, plan.org_id, plan.date, plan.params.get("order_ids"))


def _orders_to_plan(
    session: Session, org_id: str, date: dt.date, ids: Sequence[str] | None
) -> list[Order]:
    """The orders a plan takes; named ids that are unknown, of another organisation or not
    ready are an :class:`InputError` (checked when the plan is asked for, and again when the
    job runs, since orders may change in between)."""
    query = select(Order).where(Order.org_id == org_id)
    if ids is not None:
        rows = list(session.scalars(query.where(Order.id.in_(ids))))
        found = {o.id for o in rows}
        missing = [i for i in ids if i not in found]
        if missing:
            raise InputError(
                issues=[
                    FieldIssue(None, "order_ids", m, "is not an order of this organisation")
                    for m in missing[:20]
                ],
                source="plan",
            )
        not_ready = [o.external_id for o in rows if o.status not in PLANNABLE]
        if not_ready:
            raise InputError(
                issues=[
                    FieldIssue(
                        None, "order_ids", e, "is not ready to plan (check its address/status)"
                    )
                    for e in not_ready[:20]
                ],
                source="plan",
            )
        return rows
    return list(
        session.scalars(
            query.where(Order.date == date, Order.status.in_(PLANNABLE)).order_by(
                Order.created_at, Order.external_id
            )
        )
    )


def failure_message(exc: Exception) -> str:
    """What the dispatcher reads when a plan fails: a domain error's own message (it names
    what to fix); anything else (a database error would show its SQL) only in the server log."""
    if isinstance(exc, LastmileError):
        return exc.message
    log.error("plan failed", exc_info=exc)
    return "planning failed because of an internal error (the server log has the details)"


def solve_plan(*, sessions: sessionmaker[Session], settings: Settings, plan_id: str) -> None:
    """The job: solve a queued plan and store routes, stops and the document.

    Idempotent: a plan already done or failed is left alone, so a retried job is harmless.
    """
    with sessions() as session:
        plan = session.get(Plan, plan_id)
        if plan is None or plan.status in ("done", "failed"):
            return
        plan.status = "running"
        plan.progress = 0.0
        events.record(
            session=session,
            org_id=plan.org_id,
            type=event_types.PLAN_RUNNING,
            payload={"plan_id": plan.id},
        )
        session.commit()
        org_id = plan.org_id
        try:
            document, routed = _solve(session, sessions, settings, plan)
        except Exception as exc:
            session.rollback()
            plan = session.get(Plan, plan_id)
            assert plan is not None
            plan.status = "failed"
            plan.error = failure_message(exc)
            plan.finished_at = utcnow()
            events.record(
                session=session,
                org_id=org_id,
                type=event_types.PLAN_FAILED,
                payload={"plan_id": plan_id, "error": plan.error},
            )
            session.commit()
            METRICS.plans.labels("failed").inc()
            return
        ready = [
            oid
            for oid in routed
            if (o := session.get(Order, oid)) is not None and o.status == "ready"
        ]
        if ready:
            orders.transition_many(
                session=session,
                org_id=org_id,
                order_ids=ready,
                to_status="planned",
                actor="system",
                commit=False,
            )
        plan.document = document
        plan.status = "done"
        plan.progress = 1.0
        plan.finished_at = utcnow()
        events.record(
            session=session,
            org_id=org_id,
            type=event_types.PLAN_DONE,
            payload={
                "plan_id": plan_id,
                "routes": len(document["routes"]),
                "unassigned": len(document["unassigned"]),
                "cost": document["totals"]["cost"],
                "check_findings": len(document["check"]["violations"]),
            },
        )
        session.commit()
        METRICS.plans.labels("done").inc()


def _solve(
    session: Session, sessions: sessionmaker[Session], settings: Settings, plan: Plan
) -> tuple[dict[str, Any], list[str]]:
    from lastmile.integrations.configured import provider_for

    org = session.get(Organisation, plan.org_id)
    assert org is not None
    vehicles, dimensions = fleet.to_core_vehicles(
        session=session, org_id=plan.org_id, vehicle_ids=plan.params.get("vehicle_ids")
    )
    if not vehicles:
        raise InputError(
            issues=[FieldIssue(None, "vehicle_ids", None, "no active vehicles to plan with")],
            source="plan",
        )
    rows = _select_orders(session, plan)
    if not rows:
        raise InputError(
            issues=[FieldIssue(None, "date", plan.date.isoformat(), "has no orders ready to plan")],
            source="plan",
        )
    order_dims = sorted({d for o in rows for d in o.demand})
    unknown = [d for d in order_dims if d not in dimensions]
    if unknown:
        raise InputError(
            issues=[
                FieldIssue(None, "demand", d, "no vehicle has a capacity for this dimension")
                for d in unknown
            ],
            source="plan",
        )
    provider = provider_for(settings)
    problem = build_problem(core_orders(rows, dimensions), vehicles, dimensions, provider)
    limit = float(plan.params.get("time_limit_s") or settings.plan_time_limit_s)
    plan_id, org_id = plan.id, plan.org_id
    last = [0.0]

    def progress(event: SolveProgress) -> None:
        now = time.monotonic()
        if now - last[0] < 0.5 and event.fraction < 1.0:
            return
        last[0] = now
        with sessions() as s:
            row = s.get(Plan, plan_id)
            if row is not None:
                row.progress = round(min(event.fraction, 0.99), 3)
                events.record(
                    session=s,
                    org_id=org_id,
                    type=event_types.PLAN_PROGRESS,
                    payload={
                        "plan_id": plan_id,
                        "progress": row.progress,
                        "best_cost": event.best_cost,
                    },
                )
                s.commit()

    balance_pct = plan.params.get("balance_pct")
    checked = plan_day(
        problem,
        time_limit=limit,
        seed=0,
        workers=settings.solver_workers,
        balance=Balance(float(balance_pct) / 100) if balance_pct is not None else None,
        on_progress=progress,
    )
    result = checked.plan
    document = plan_document(
        problem,
        result,
        day=plan.date,
        zone=ZoneInfo(org.timezone),
        travel_times=provider.name,
        time_limit_s=limit,
        check=checked.check,
    )
    store_routes(session, plan, result.routes)
    return document, [oid for r in result.routes for oid in r.order_ids]


def store_routes(session: Session, plan: Plan, solved: Sequence[Any]) -> None:
    """Replace a plan's routes and stops by ``solved`` (the caller commits); each vehicle's
    usual active driver is proposed for its route."""
    drivers = {
        d.vehicle_id: d.id
        for d in session.scalars(
            select(Driver).where(Driver.org_id == plan.org_id, Driver.active.is_(True))
        )
        if d.vehicle_id
    }
    routes.store(
        session=session,
        org_id=plan.org_id,
        plan_id=plan.id,
        day=plan.date,
        routes=solved,
        drivers=drivers,
    )


def routes_of(*, session: Session, org_id: str, plan_id: str) -> list[Route]:
    return routes.of_plan(session=session, org_id=org_id, plan_id=plan_id)


def dispatch(
    *, session: Session, org_id: str, plan_id: str, assignments: dict[str, str], actor: str
) -> tuple[list[Route], int]:
    """Publish a done plan: routes get drivers, their orders become ``dispatched``."""
    plan = get(session=session, org_id=org_id, plan_id=plan_id)
    if plan.status != "done":
        raise Conflict(f"only a finished plan can be dispatched (this one is {plan.status})")
    if plan.dispatched_at is not None:
        raise Conflict("this plan is already dispatched")
    rows = routes_of(session=session, org_id=org_id, plan_id=plan_id)
    by_vehicle = {r.vehicle_id: r for r in rows}
    issues = []
    for vehicle_id, driver_id in assignments.items():
        if vehicle_id not in by_vehicle:
            issues.append(
                FieldIssue(
                    None,
                    f"assignments.{vehicle_id}",
                    vehicle_id,
                    "is not a vehicle with a route in this plan",
                )
            )
        driver = session.scalar(
            select(Driver).where(Driver.org_id == org_id, Driver.id == driver_id)
        )
        if driver is None:
            issues.append(
                FieldIssue(
                    None,
                    f"assignments.{vehicle_id}",
                    driver_id,
                    "is not a driver of this organisation",
                )
            )
    if issues:
        raise InputError(issues=issues, source="dispatch")
    order_ids: list[str] = []
    for route in rows:
        routes.dispatch(
            session=session,
            route=route,
            driver_id=assignments.get(route.vehicle_id, route.driver_id),
        )
        order_ids.extend(routes.order_ids(session=session, org_id=org_id, route_id=route.id))
    plan.dispatched_at = org_clock.now_of(session=session, org_id=org_id)
    if order_ids:
        orders.transition_many(
            session=session,
            org_id=org_id,
            order_ids=order_ids,
            to_status="dispatched",
            actor=actor,
            commit=False,
        )
    for route in rows:
        vehicle = session.get(Vehicle, route.vehicle_id)
        events.record(
            session=session,
            org_id=org_id,
            type=event_types.ROUTE_DISPATCHED,
            payload={
                "plan_id": plan_id,
                "route_id": route.id,
                "vehicle_id": route.vehicle_id,
                "vehicle": vehicle.name if vehicle else "",
                "driver_id": route.driver_id,
            },
        )
    session.commit()
    return rows, len(order_ids)
