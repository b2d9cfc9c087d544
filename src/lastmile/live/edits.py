"""A dispatcher's edits of a dispatched day: move a stop (to another place of its route or to
another running route of the plan) or take it off its route.

Checked like the edits before dispatch (``plans/edit.py``): both routes are re-timed from
where their vehicles are now (the live model of :mod:`lastmile.live.state`: done and arrived
stops stay) and the edited routes go through the independent ``core.planning.check``; a
*preview* writes nothing. Applying rewrites the remaining stops through ``routes.service``,
records ``route.changed`` for each route touched (the driver apps reload at once through their
stream), and recomputes both routes' ETAs. A driver who reports on a stop moved while the
phone was offline still wins (``routes.rewrite_remaining`` keeps where the stop came from).

Goods already in a started van stay there: an order that is out for delivery may be moved
within its own route only, and is never taken off it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from lastmile.config import Settings
from lastmile.core import model as core
from lastmile.core.errors import Conflict, FieldIssue, InputError
from lastmile.core.formats.plan_json import in_owner_words
from lastmile.core.planning import check, route_cost, simulate
from lastmile.events import service as events
from lastmile.live.etas import refresh
from lastmile.live.service import (
    EVENT_ROUTE_CHANGED,
    RUNNING,
    _locked,
    _now,
    _rewrite_remaining,
    _serialise,
    build_live_day,
)
from lastmile.live.state import RouteState, load_states
from lastmile.orders import service as orders
from lastmile.orders.lifecycle import OrderStatus
from lastmile.routes import service as routes_service
from lastmile.routes.models import RouteStatus, Stop


@dataclass(frozen=True)
class LiveEdit:
    """What a move does to the running routes (``applied``: it was stored)."""

    applied: bool
    cost_before: float
    cost_after: float
    violations: list[dict[str, Any]]
    changed_routes: list[str]

    @property
    def ok(self) -> bool:
        return not self.violations


def _bad(field: str, value: str | None, message: str) -> InputError:
    return InputError(issues=[FieldIssue(None, field, value, message)], source="move")


def move_stop(
    *,
    session: Session,
    settings: Settings,
    org_id: str,
    plan_id: str,
    order_id: str,
    to_route_id: str | None,
    position: int,
    actor: str,
    preview: bool = False,
    now: dt.datetime | None = None,
) -> LiveEdit:
    """Move ``order_id`` to ``position`` (0-based among the stops still to do) of
    ``to_route_id``, or take it off its route (``to_route_id`` ``None``: the order goes back to
    ``ready``)."""
    from lastmile.integrations.configured import provider_for

    _serialise(session, org_id)
    running = routes_service.of_plan(
        session=session, org_id=org_id, plan_id=plan_id, statuses=RUNNING
    )
    states = load_states(session=session, org_id=org_id, routes=_locked(session, running))
    source = next((s for s in states for stop in s.remaining if stop.order_id == order_id), None)
    if source is None:
        raise _bad(
            "order_id", order_id, "is not a stop still to do on a running route of this plan"
        )
    target = source
    if to_route_id is not None:
        found = next((s for s in states if s.route.id == to_route_id), None)
        if found is None:
            raise _bad("to_route_id", to_route_id, "is not a running route of this plan")
        target = found
    started = source.route.status == RouteStatus.STARTED
    if started and (to_route_id is None or target is not source):
        raise Conflict("this order is in a van that has left: it can only move within its route")
    touched = [source] if target is source else [source, target]
    provider = provider_for(settings)
    now_s = _now(session, org_id, source.route.date, now)
    day = build_live_day(states=touched, provider=provider, now_s=now_s)
    sequences = {r.vehicle_id: list(r.order_ids) for r in day.routes}
    sequences[source.route.id].remove(order_id)
    if to_route_id is not None:
        ids = sequences[target.route.id]
        ids.insert(max(0, min(position, len(ids))), order_id)
    new_routes = [_timed(day.problem, v, sequences[v.id]) for v in day.problem.vehicles]
    unassigned = (
        ()
        if to_route_id is not None
        else (core.Unassigned(order_id, core.UnassignedReason.NOT_WORTH_IT, "taken off by hand"),)
    )
    report = check(core.Plan(routes=tuple(new_routes), unassigned=unassigned), day.problem)
    external = {o.id: o.external_id or o.id for o in day.problem.orders}
    violations = [
        {
            "code": v.code.value,
            "message": in_owner_words(day.problem, v.message),
            "route_id": v.vehicle_id,
            "order_id": v.order_id,
            "external_id": external.get(v.order_id or ""),
        }
        for v in report.violations
    ]
    outcome = LiveEdit(
        applied=not preview,
        cost_before=round(sum(r.cost for r in day.routes if r.stops), 2),
        cost_after=round(sum(r.cost for r in new_routes if r.stops), 2),
        violations=violations,
        changed_routes=[s.route.id for s in touched],
    )
    if preview:
        session.rollback()  # the locks taken above
        return outcome
    _apply(session, org_id, touched, new_routes, source, target, order_id, to_route_id, actor)
    for state in load_states(session=session, org_id=org_id, routes=[s.route for s in touched]):
        refresh(session=session, provider=provider, state=state, now=now)
    session.commit()
    return outcome


def _timed(problem: core.Problem, vehicle: core.Vehicle, ids: list[str]) -> core.Route:
    timing = simulate(problem, vehicle, [problem.order(i) for i in ids], vehicle.shift.start)
    return core.Route(
        vehicle.id, timing.stops, timing.start_time, timing.end_time, timing.distance_m,
        route_cost(vehicle, timing.distance_m, timing.start_time, timing.end_time),
        timing.start_load,
    )  # fmt: skip


def _apply(
    session: Session,
    org_id: str,
    touched: list[RouteState],
    new_routes: list[core.Route],
    source: RouteState,
    target: RouteState,
    order_id: str,
    to_route_id: str | None,
    actor: str,
) -> None:
    moving: Stop = next(s for s in source.remaining if s.order_id == order_id)
    by_route = {r.vehicle_id: r for r in new_routes}
    for state in touched:
        incoming = {order_id: moving} if state is target and target is not source else None
        new = by_route[state.route.id]
        _rewrite_remaining(session, state, new.stops, incoming, departs_s=new.start_time)
        if by_route[state.route.id].stops:
            state.route.end_s = by_route[state.route.id].end_time
            state.route.duration_s = state.route.end_s - state.route.start_s
    if to_route_id is None:
        routes_service.remove_stop(session=session, stop=moving)
        orders.transition(
            session=session, org_id=org_id, order_id=order_id, to_status=OrderStatus.READY,
            actor=actor, note="taken off its route by the dispatcher", commit=False,
        )  # fmt: skip
    for state in touched:
        if to_route_id is None:
            change = "stop_removed"
        elif target is source:
            change = "stop_moved"
        else:
            change = "stop_added" if state is target else "stop_removed"
        events.record(
            session=session,
            org_id=org_id,
            type=EVENT_ROUTE_CHANGED,
            payload={
                "route_id": state.route.id,
                "driver_id": state.route.driver_id,
                "change": change,
                "order_id": order_id,
                "stop_id": moving.id,
                "actor": actor,
            },
        )
    session.flush()
