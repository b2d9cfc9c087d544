"""Manual edits of a plan from the dashboard: move one stop, re-time, check, then store.

The dashboard never trusts itself: a move is re-timed with ``core.planning.simulate`` and the
whole edited plan goes through the independent ``core.planning.check`` *before* the
dispatcher is asked to confirm. Nothing is written by :func:`preview`; :func:`apply` stores
the edited document (and the plan's route/stop rows) only for plans not yet dispatched.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from lastmile.config import Settings
from lastmile.core.errors import Conflict, FieldIssue, InputError
from lastmile.core.formats.plan_json import in_owner_words, plan_document
from lastmile.core.model import Plan as CorePlan
from lastmile.core.model import Problem, Route, Unassigned, UnassignedReason
from lastmile.core.planning import build_problem, check, route_cost, simulate
from lastmile.core.times import seconds_of_iso
from lastmile.events import service as events
from lastmile.events import types as event_types
from lastmile.fleet import service as fleet
from lastmile.integrations.configured import provider_for
from lastmile.orders import service as orders
from lastmile.orders.core_view import core_orders as to_core
from lastmile.orders.models import Order
from lastmile.orgs import service as orgs
from lastmile.plans import document
from lastmile.plans import service as plans
from lastmile.plans.models import Plan


@dataclass
class EditOutcome:
    """What a move would do: cost before/after, and what the independent check found."""

    cost_before: float
    cost_after: float
    distance_before_m: int
    distance_after_m: int
    violations: list[dict[str, Any]]
    changed: list[str]
    """Vehicle ids of the routes the move changes."""
    document: dict[str, Any] = field(repr=False)
    core_plan: CorePlan = field(repr=False)

    @property
    def ok(self) -> bool:
        return not self.violations

    def summary(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "cost_before": self.cost_before,
            "cost_after": self.cost_after,
            "cost_delta": round(self.cost_after - self.cost_before, 2),
            "distance_delta_m": self.distance_after_m - self.distance_before_m,
            "violations": self.violations,
            "changed_vehicles": self.changed,
        }


def _orders_of(session: Session, plan: Plan, wanted: set[str]) -> list[Order]:
    rows: list[Order] = []
    offset = 0
    while True:
        page, total = orders.list_orders(
            session=session, org_id=plan.org_id, date=plan.date, limit=500, offset=offset
        )
        rows.extend(o for o in page if o.id in wanted)
        offset += len(page)
        if not page or offset >= total:
            break
    missing = wanted - {o.id for o in rows}
    if missing:
        raise Conflict(
            f"{len(missing)} order(s) of this plan are gone or moved to another date; plan again"
        )
    return rows


def problem_for(session: Session, settings: Settings, plan: Plan) -> Problem:
    """The problem the plan was solved on, rebuilt from today's rows (orders and fleet)."""
    doc = document.current(session=session, plan=plan) or {}
    wanted = {s["order_id"] for r in doc.get("routes", []) for s in r["stops"] if s["order_id"]}
    wanted |= {u["order_id"] for u in doc.get("unassigned", [])}
    rows = _orders_of(session, plan, wanted)
    vehicles, dimensions = fleet.to_core_vehicles(
        session=session, org_id=plan.org_id, vehicle_ids=plan.params.get("vehicle_ids")
    )
    known = {v.id for v in vehicles}
    lost = [r["vehicle_id"] for r in doc.get("routes", []) if r["vehicle_id"] not in known]
    if lost:
        raise Conflict(f"vehicle(s) {', '.join(lost)} are no longer active; plan again")
    core_orders = to_core(rows, dimensions)
    return build_problem(core_orders, vehicles, dimensions, provider_for(settings))


def _sequences(doc: dict[str, Any]) -> dict[str, tuple[int, list[str]]]:
    """vehicle id -> (departure, order ids in visiting order)."""
    day = date.fromisoformat(doc["date"])
    return {
        r["vehicle_id"]: (
            seconds_of_iso(r["start"]["departure"], day),
            [s["order_id"] for s in r["stops"] if s["kind"] == "order" and s["order_id"]],
        )
        for r in doc["routes"]
    }


def _route(problem: Problem, vehicle_id: str, start: int | None, ids: Sequence[str]) -> Route:
    vehicle = problem.vehicle(vehicle_id)
    timing = simulate(problem, vehicle, [problem.order(i) for i in ids], start)
    return Route(
        vehicle_id=vehicle_id,
        stops=timing.stops,
        start_time=timing.start_time,
        end_time=timing.end_time,
        distance_m=timing.distance_m,
        cost=route_cost(vehicle, timing.distance_m, timing.start_time, timing.end_time),
        start_load=timing.start_load,
    )


def _unassigned(doc: dict[str, Any]) -> tuple[Unassigned, ...]:
    return tuple(
        Unassigned(
            order_id=u["order_id"],
            reason=UnassignedReason(u["reason"]),
            message=u["message"],
            late_s_to_fit=u.get("late_s_to_fit"),
            overtime_s_to_fit=u.get("overtime_s_to_fit"),
            best_vehicle_id=u.get("best_vehicle_id"),
        )
        for u in doc["unassigned"]
    )


def move_stop(
    problem: Problem,
    doc: dict[str, Any],
    *,
    order_id: str,
    to_vehicle_id: str,
    position: int,
    zone: ZoneInfo,
) -> EditOutcome:
    """Move ``order_id`` to ``position`` (0-based) on ``to_vehicle_id``'s route and check.

    Changed routes keep their departure time (a vehicle that had no route leaves at its shift
    start); before and after are both re-timed by ``simulate`` so the delta compares like
    with like.
    """
    routes = _sequences(doc)
    source = next((v for v, (_, ids) in routes.items() if order_id in ids), None)
    issues: list[FieldIssue] = []
    if source is None:
        issues.append(FieldIssue(None, "order_id", order_id, "is not on a route of this plan"))
    if to_vehicle_id not in {v.id for v in problem.vehicles}:
        issues.append(FieldIssue(None, "to_vehicle_id", to_vehicle_id, "is not a plan vehicle"))
    if issues:
        raise InputError(issues=issues, source="plan edit")
    assert source is not None
    before = {v: _route(problem, v, start, ids) for v, (start, ids) in routes.items()}
    edited = {v: (start, list(ids)) for v, (start, ids) in routes.items()}
    edited[source][1].remove(order_id)
    target = edited.setdefault(to_vehicle_id, (problem.vehicle(to_vehicle_id).shift.start, []))
    target[1].insert(max(0, min(position, len(target[1]))), order_id)
    changed = sorted({source, to_vehicle_id})
    after = dict(before)
    for v in changed:
        start, ids = edited[v]
        if ids:
            after[v] = _route(problem, v, start, ids)
        else:
            after.pop(v, None)
    order_of_vehicles = [v.id for v in problem.vehicles]
    new_routes = tuple(sorted(after.values(), key=lambda r: order_of_vehicles.index(r.vehicle_id)))
    core_plan = CorePlan(routes=new_routes, unassigned=_unassigned(doc))
    report = check(core_plan, problem)
    external = {o.id: o.external_id or o.id for o in problem.orders}
    violations = [
        {
            "code": v.code.value,
            "message": in_owner_words(problem, v.message),
            "vehicle_id": v.vehicle_id,
            "order_id": v.order_id,
            "external_id": external.get(v.order_id or ""),
            "amount": v.amount,
        }
        for v in report.violations
    ]
    document = plan_document(
        problem,
        core_plan,
        day=datetime.fromisoformat(doc["date"]).date(),
        zone=zone,
        travel_times=doc.get("travel_times", ""),
        time_limit_s=(doc.get("solver") or {}).get("time_limit_s"),
        check=report,
    )
    document["edited"] = True
    return EditOutcome(
        cost_before=round(sum(r.cost for r in before.values()), 2),
        cost_after=round(sum(r.cost for r in new_routes), 2),
        distance_before_m=sum(r.distance_m for r in before.values()),
        distance_after_m=sum(r.distance_m for r in new_routes),
        violations=violations,
        changed=changed,
        document=document,
        core_plan=core_plan,
    )


def _editable(plan: Plan) -> None:
    if plan.status != "done" or plan.document is None:
        raise Conflict(f"only a finished plan can be edited (this one is {plan.status})")
    if plan.dispatched_at is not None:
        raise Conflict("this plan is already dispatched; edits are for plans not yet dispatched")


def preview(
    *,
    session: Session,
    settings: Settings,
    org_id: str,
    plan_id: str,
    order_id: str,
    to_vehicle_id: str,
    position: int,
) -> EditOutcome:
    """What moving a stop would do. Writes nothing."""
    plan = plans.get(session=session, org_id=org_id, plan_id=plan_id)
    _editable(plan)
    doc = document.current(session=session, plan=plan)
    assert doc is not None
    org = orgs.get(session=session, org_id=org_id)
    problem = problem_for(session, settings, plan)
    return move_stop(
        problem,
        doc,
        order_id=order_id,
        to_vehicle_id=to_vehicle_id,
        position=position,
        zone=ZoneInfo(org.timezone),
    )


def apply(
    *,
    session: Session,
    settings: Settings,
    org_id: str,
    plan_id: str,
    order_id: str,
    to_vehicle_id: str,
    position: int,
    actor: str,
) -> EditOutcome:
    """Recompute the move (never trusting a client's copy) and store the edited plan."""
    outcome = preview(
        session=session,
        settings=settings,
        org_id=org_id,
        plan_id=plan_id,
        order_id=order_id,
        to_vehicle_id=to_vehicle_id,
        position=position,
    )
    plan = plans.get(session=session, org_id=org_id, plan_id=plan_id)
    plan.document = outcome.document
    # Reuses the plan service's writer so route/stop rows have one shape (dispatch reads them).
    plans.store_routes(session, plan, outcome.core_plan.routes)
    events.record(
        session=session,
        org_id=org_id,
        type=event_types.PLAN_EDITED,
        payload={
            "plan_id": plan_id,
            "order_id": order_id,
            "to_vehicle_id": to_vehicle_id,
            "position": position,
            "cost": outcome.cost_after,
            "violations": len(outcome.violations),
            "actor": actor,
        },
    )
    session.commit()
    return outcome
