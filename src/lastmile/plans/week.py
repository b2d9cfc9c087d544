"""Multi-day plans: one solve over several days that becomes one ordinary plan per day.

Why one plan per day: dispatch, the driver app, tracking, the live page and the KPIs all
work on a day's plan (its routes and stops in the ``routes`` slice). A week that stayed one
object would need each of them to learn about weeks; a week that becomes days needs none of
them to change. The week row (:class:`PlanWeek`) keeps what only the week knows: its days,
the balance between them and the independent checker's findings over the whole week.

Flexible orders (``earliest_date``..``latest_date``) move to the day the plan chose
(``Order.date``), keeping their range, so that re-planning the week may move them again.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Sequence
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session, sessionmaker

from lastmile.common.clock import utcnow
from lastmile.config import Settings
from lastmile.core.errors import FieldIssue, InputError
from lastmile.core.formats.plan_json import plan_document
from lastmile.core.planning import Balance, SolveProgress
from lastmile.core.planning.week import WeekDay, WeekPlan, build_week, plan_week
from lastmile.core.planning.week_check import check_week, day_loads
from lastmile.events import service as events
from lastmile.events import types as event_types
from lastmile.fleet import service as fleet
from lastmile.orders import service as orders
from lastmile.orders.core_view import core_orders
from lastmile.orders.models import Order
from lastmile.orgs.models import Organisation
from lastmile.plans.models import Plan, PlanWeek
from lastmile.plans.service import PLANNABLE, failure_message, store_routes

log = logging.getLogger(__name__)

MAX_DAYS = 14
"""Days one multi-day plan may span (two weeks: the search budget is shared by all days)."""


def _dates(start: dt.date, end: dt.date, skip: Sequence[int]) -> list[dt.date]:
    return [
        start + dt.timedelta(days=k)
        for k in range((end - start).days + 1)
        if (start + dt.timedelta(days=k)).isoweekday() not in skip
    ]


def create(
    *,
    session: Session,
    org_id: str,
    start: dt.date,
    end: dt.date,
    skip_weekdays: Sequence[int],
    vehicle_ids: Sequence[str] | None,
    day_vehicle_ids: dict[dt.date, list[str]] | None,
    time_limit_s: float | None,
    balance_pct: float,
    route_balance_pct: float | None,
    actor: str,
) -> PlanWeek:
    """Queue a multi-day plan (the ``solve_week`` job solves it); every day of ``start``..
    ``end`` except the ISO weekdays in ``skip_weekdays`` (7 = Sunday). Checked here so that a
    bad request is answered 422 at once, naming the field."""
    issues: list[FieldIssue] = []
    if end < start:
        issues.append(FieldIssue(None, "end", end.isoformat(), "is before start"))
    elif (end - start).days + 1 > MAX_DAYS:
        issues.append(
            FieldIssue(None, "end", end.isoformat(), f"a plan spans at most {MAX_DAYS} days")
        )
    days = _dates(start, end, skip_weekdays) if not issues else []
    if not issues and not days:
        issues.append(FieldIssue(None, "skip_weekdays", None, "leaves no day to plan"))
    for day in day_vehicle_ids or {}:
        if day not in days:
            issues.append(
                FieldIssue(None, f"day_vehicle_ids.{day}", day.isoformat(), "is not a plan day")
            )
    if issues:
        raise InputError(issues=issues, source="plan")
    for ids in [vehicle_ids, *(day_vehicle_ids or {}).values()]:
        if ids is not None:
            fleet.to_core_vehicles(session=session, org_id=org_id, vehicle_ids=list(ids))
    week = PlanWeek(
        org_id=org_id,
        start=start,
        end=end,
        status="queued",
        params={
            "days": [d.isoformat() for d in days],
            "vehicle_ids": list(vehicle_ids) if vehicle_ids is not None else None,
            "day_vehicle_ids": {d.isoformat(): list(v) for d, v in (day_vehicle_ids or {}).items()},
            "time_limit_s": time_limit_s,
            "balance_pct": balance_pct,
            "route_balance_pct": route_balance_pct,
        },
        created_by=actor,
    )
    session.add(week)
    session.commit()
    return week


def get(*, session: Session, org_id: str, week_id: str) -> PlanWeek:
    from lastmile.core.errors import NotFound

    week = session.scalar(select(PlanWeek).where(PlanWeek.org_id == org_id, PlanWeek.id == week_id))
    if week is None:
        raise NotFound("multi-day plan not found")
    return week


def list_weeks(*, session: Session, org_id: str, limit: int = 50) -> list[PlanWeek]:
    query = select(PlanWeek).where(PlanWeek.org_id == org_id)
    return list(session.scalars(query.order_by(PlanWeek.created_at.desc()).limit(limit)))


def plans_of(*, session: Session, org_id: str, week_id: str) -> list[Plan]:
    """The week's day plans, by date."""
    return list(
        session.scalars(
            select(Plan).where(Plan.org_id == org_id, Plan.week_id == week_id).order_by(Plan.date)
        )
    )


def orders_for(session: Session, org_id: str, start: dt.date, end: dt.date) -> list[Order]:
    """Ready (or planned) orders that may come on a day of ``start``..``end``: one-day orders
    of those dates and flexible orders whose range overlaps them."""
    fixed = and_(Order.latest_date.is_(None), Order.date >= start, Order.date <= end)
    flexible = and_(
        Order.latest_date.is_not(None), Order.earliest_date <= end, Order.latest_date >= start
    )
    return list(
        session.scalars(
            select(Order)
            .where(Order.org_id == org_id, Order.status.in_(PLANNABLE), or_(fixed, flexible))
            .order_by(Order.created_at, Order.external_id)
        )
    )


def range_of(order: Order) -> tuple[dt.date, dt.date]:
    if order.latest_date is not None:
        return (order.earliest_date or order.date, order.latest_date)
    return (order.date, order.date)


def solve_week(*, sessions: sessionmaker[Session], settings: Settings, week_id: str) -> None:
    """The job: solve a queued multi-day plan, then store one done plan per day. Idempotent
    (a finished week is left alone)."""
    with sessions() as session:
        week = session.get(PlanWeek, week_id)
        if week is None or week.status in ("done", "failed"):
            return
        week.status, week.progress = "running", 0.0
        session.commit()
        try:
            _solve(session, sessions, settings, week)
        except Exception as exc:
            session.rollback()
            week = session.get(PlanWeek, week_id)
            assert week is not None
            week.status = "failed"
            week.error = failure_message(exc)
            week.finished_at = utcnow()
            session.commit()


def _solve(
    session: Session, sessions: sessionmaker[Session], settings: Settings, week: PlanWeek
) -> None:
    from lastmile.integrations.configured import provider_for

    org = session.get(Organisation, week.org_id)
    assert org is not None
    params = week.params
    dates = [dt.date.fromisoformat(d) for d in params["days"]]
    per_day = params.get("day_vehicle_ids") or {}
    wanted = {d: per_day.get(d.isoformat(), params.get("vehicle_ids")) for d in dates}
    # One fleet read for all days, so that every day's vehicles share the same dimensions.
    everyone = None
    if all(ids is not None for ids in wanted.values()):
        everyone = list(dict.fromkeys(i for ids in wanted.values() for i in ids or []))
    vehicles, dimensions = fleet.to_core_vehicles(
        session=session, org_id=week.org_id, vehicle_ids=everyone
    )
    by_id = {v.id: v for v in vehicles}
    fleets = [
        [by_id[i] for i in ids if i in by_id] if (ids := wanted[d]) is not None else vehicles
        for d in dates
    ]
    empty = [d for d, vs in zip(dates, fleets, strict=True) if not vs]
    if empty:
        raise InputError(
            issues=[
                FieldIssue(None, "vehicle_ids", d.isoformat(), "no active vehicles on this day")
                for d in empty
            ],
            source="plan",
        )
    rows = orders_for(session, week.org_id, dates[0], dates[-1])
    plannable = [o for o in rows if any(range_of(o)[0] <= d <= range_of(o)[1] for d in dates)]
    skipped = [o.external_id for o in rows if o not in plannable]
    if not plannable:
        raise InputError(
            issues=[
                FieldIssue(None, "start", week.start.isoformat(), "no orders ready in these days")
            ],
            source="plan",
        )
    unknown = sorted({d for o in plannable for d in o.demand} - set(dimensions))
    if unknown:
        raise InputError(
            issues=[
                FieldIssue(None, "demand", d, "no vehicle has a capacity for this dimension")
                for d in unknown
            ],
            source="plan",
        )
    provider = provider_for(settings)
    problem = build_week(
        core_orders(plannable, dimensions),
        {o.id: range_of(o) for o in plannable},
        [WeekDay(d, tuple(v)) for d, v in zip(dates, fleets, strict=True)],
        dimensions,
        provider,
    )
    limit = float(params.get("time_limit_s") or settings.plan_time_limit_s)
    balance = Balance(float(params.get("balance_pct", 20)) / 100)
    route_pct = params.get("route_balance_pct")
    result = plan_week(
        problem,
        time_limit=limit,
        workers=settings.solver_workers,
        balance=balance,
        route_balance=Balance(float(route_pct) / 100) if route_pct is not None else None,
        on_progress=_progress(sessions, week.id),
    )
    _store(session, week, org, result, problem, balance, provider.name, limit, skipped)


def _progress(sessions: sessionmaker[Session], week_id: str) -> Any:
    last = [0.0]

    def report(event: SolveProgress) -> None:
        now = time.monotonic()
        if now - last[0] < 0.5 and event.fraction < 1.0:
            return
        last[0] = now
        with sessions() as s:
            row = s.get(PlanWeek, week_id)
            if row is not None:
                row.progress = round(min(event.fraction, 0.99), 3)
                s.commit()

    return report


def _store(
    session: Session,
    week: PlanWeek,
    org: Organisation,
    result: WeekPlan,
    problem: Any,
    balance: Balance,
    travel_times: str,
    limit: float,
    skipped: list[str],
) -> None:
    """One done plan per day (routes, stops, document), the orders moved to their day and
    marked planned, the week's summary with the independent checker's findings."""
    pairs = [(d.date, d.plan) for d in result.days]
    report = check_week(problem, pairs, balance)
    zone = ZoneInfo(org.timezone)
    summary_days: list[dict[str, Any]] = []
    for day, load in zip(result.days, day_loads(problem, pairs), strict=True):
        plan = Plan(
            org_id=week.org_id,
            date=day.date,
            status="done",
            progress=1.0,
            params={"week_id": week.id, "time_limit_s": limit},
            created_by=week.created_by,
            week_id=week.id,
            finished_at=utcnow(),
        )
        session.add(plan)
        session.flush()
        plan.document = plan_document(
            day.problem,
            day.plan,
            day=day.date,
            zone=zone,
            travel_times=travel_times,
            time_limit_s=limit,
            check=day.check,
        )
        store_routes(session, plan, day.plan.routes)
        routed = [oid for r in day.plan.routes for oid in r.order_ids]
        for oid in [*routed, *(u.order_id for u in day.plan.unassigned)]:
            row = session.get(Order, oid)
            if row is not None and row.date != day.date:
                row.date = day.date  # a flexible order goes to the day chosen for it
        ready = [oid for oid in routed if (o := session.get(Order, oid)) and o.status == "ready"]
        if ready:
            orders.transition_many(
                session=session,
                org_id=week.org_id,
                order_ids=ready,
                to_status="planned",
                actor="system",
                commit=False,
            )
        events.record(
            session=session,
            org_id=week.org_id,
            type=event_types.PLAN_DONE,
            payload={
                "plan_id": plan.id,
                "routes": len(plan.document["routes"]),
                "unassigned": len(plan.document["unassigned"]),
                "cost": plan.document["totals"]["cost"],
                "check_findings": len(plan.document["check"]["violations"]),
            },
        )
        summary_days.append(
            {
                "date": day.date.isoformat(),
                "plan_id": plan.id,
                "stops": load.stops,
                "hours": load.hours,
                "vans": load.vans,
                "vans_offered": load.vans_offered,
                "unassigned": len(day.plan.unassigned),
                "cost": day.plan.cost,
                "routes": [
                    {
                        "vehicle_id": r.vehicle_id,
                        "stops": len(r.order_ids),
                        "hours": round(r.duration_s / 3600, 2),
                    }
                    for r in day.plan.routes
                ],
            }
        )
    total = sum(d["stops"] for d in summary_days)
    mean = total / len(summary_days) if summary_days else 0.0
    top = max((d["stops"] for d in summary_days), default=0)
    week.summary = {
        "days": summary_days,
        "stops": total,
        "cost": result.cost,
        "balance_pct": round(balance.max_above_mean * 100, 1),
        "max_above_mean_pct": round((top / mean - 1) * 100, 1) if mean else 0.0,
        "check": [{"code": v.code.value, "message": v.message} for v in report.violations],
        "not_planned": skipped,
        "runtime_s": result.stats.runtime_s,
    }
    week.status, week.progress, week.finished_at = "done", 1.0, utcnow()
    session.commit()


__all__ = ["MAX_DAYS", "create", "get", "list_weeks", "orders_for", "plans_of", "solve_week"]
