"""Re-optimising the rest of a running day: the solver re-plans the remaining stops of a plan's
running routes from where the vehicles are now, and the result replaces them only if it serves
every remaining order for less.

A *preview* runs the same search and reports what would change (per route: the stops before
and after, cost, distance and end time) without writing anything, so the dashboard can show
the owner the consequence before they apply it. Applying searches again with the same seed:
unless a driver reported something in between, it finds the same answer.

It uses the live model of :mod:`lastmile.live.service` (route states, the live day problem,
ETA refresh) and writes stops only through :mod:`lastmile.routes.service`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from lastmile.config import Settings
from lastmile.core import model as core
from lastmile.core.errors import Conflict, FieldIssue, InputError, NotFound
from lastmile.core.planning import solve
from lastmile.core.times import DayClock
from lastmile.events import service as events
from lastmile.live.etas import refresh
from lastmile.live.service import (
    EVENT_ROUTE_CHANGED,
    RUNNING,
    LiveDay,
    _locked,
    _now,
    _remaining_orders,
    _rewrite_remaining,
    _serialise,
    build_live_day,
)
from lastmile.live.state import RouteState, load_states, zone_of
from lastmile.plans.models import Plan
from lastmile.routes import service as routes_service
from lastmile.routes.models import RouteStatus, StopKind


@dataclass(frozen=True)
class RouteChange:
    """One route's remaining stops before and after re-optimising (order ids in visit order)."""

    route_id: str
    vehicle_id: str
    before: tuple[str, ...]
    after: tuple[str, ...]
    cost_before: float
    cost_after: float
    distance_before_m: int
    distance_after_m: int
    end_before_s: int
    end_after_s: int
    moved_in: tuple[str, ...]
    """Orders that come to this route from another one."""


@dataclass(frozen=True)
class Reoptimised:
    changed: bool
    """A better plan was found (and, unless this is a preview, stored)."""
    message: str
    cost_before: float
    cost_after: float
    routes: list[str]
    moved_orders: int
    clock: DayClock
    """The plan day's times (``end_*_s`` of the changes are seconds of that day)."""
    applied: bool = False
    changes: tuple[RouteChange, ...] = field(default=())


def _changes(states: Sequence[RouteState], day: LiveDay, result: core.Plan) -> list[RouteChange]:
    """What the solver's answer changes, route by route (unchanged routes left out)."""
    old_route_of = {o.id: rid for rid, st in day.states.items() for o in _remaining_orders(st, ())}
    new_routes = {r.vehicle_id: r for r in result.routes}
    out = []
    for state in states:
        rid = state.route.id
        new = new_routes.get(rid)
        base = next(r for r in day.routes if r.vehicle_id == rid)
        before = tuple(
            s.order_id for s in state.remaining if s.kind == StopKind.ORDER and s.order_id
        )
        after = tuple(s.order_id for s in (new.stops if new else ()) if s.order_id)
        if before == after:
            continue
        out.append(
            RouteChange(
                route_id=rid,
                vehicle_id=state.route.vehicle_id,
                before=before,
                after=after,
                cost_before=round(base.cost, 2),
                cost_after=round(new.cost, 2) if new else 0.0,
                distance_before_m=base.distance_m,
                distance_after_m=new.distance_m if new else 0,
                end_before_s=base.end_time,
                end_after_s=new.end_time if new else base.start_time,
                moved_in=tuple(o for o in after if old_route_of.get(o) != rid),
            )
        )
    return out


def reoptimise(
    *,
    session: Session,
    settings: Settings,
    org_id: str,
    plan_id: str,
    route_ids: Sequence[str] | None,
    time_limit_s: float,
    actor: str,
    now: dt.datetime | None = None,
    preview: bool = False,
) -> Reoptimised:
    """Re-plan the remaining stops of a plan's running routes with the solver.

    Done and arrived stops stay; each vehicle starts where it is now. Orders already in a
    started van stay in that van (their goods are on board); orders of routes not started yet
    may move between the routes of the same status (planned with planned, dispatched with
    dispatched). The new plan is kept only if it serves every remaining order and costs less.
    With ``preview`` nothing is written: the answer says what would change.
    """
    from lastmile.integrations.configured import provider_for

    _serialise(session, org_id)
    plan = session.scalar(select(Plan).where(Plan.org_id == org_id, Plan.id == plan_id))
    if plan is None:
        raise NotFound("plan not found")
    routes = [
        r
        for r in routes_service.of_plan(
            session=session, org_id=org_id, plan_id=plan_id, statuses=RUNNING
        )
        if route_ids is None or r.id in route_ids
    ]
    if route_ids is not None:
        unknown = sorted(set(route_ids) - {r.id for r in routes})
        if unknown:
            raise InputError(
                issues=[
                    FieldIssue(None, "route_ids", u, "is not a running route of this plan")
                    for u in unknown
                ],
                source="reoptimise",
            )
    if not routes:
        raise Conflict("the plan has no running route to re-optimise")
    states = load_states(session=session, org_id=org_id, routes=_locked(session, routes))
    tags = {
        s.route.id: frozenset(
            {
                f"live:{s.route.id}"
                if s.route.status == RouteStatus.STARTED
                else f"live:{s.route.status}"
            }
        )
        for s in states
    }
    now_s = _now(session, org_id, plan.date, now)
    clock = DayClock(plan.date, zone_of(session, org_id))
    provider = provider_for(settings)
    day = build_live_day(states=states, provider=provider, now_s=now_s, tags=tags)
    before = round(sum(r.cost for r in day.routes if r.stops), 2)

    def unchanged(message: str, after: float) -> Reoptimised:
        if preview:
            session.rollback()  # the locks taken above
        return Reoptimised(False, message, before, after, [], 0, clock)

    if not day.problem.orders:
        return unchanged("no remaining stops", before)
    result = solve(day.problem, time_limit=time_limit_s, seed=0)
    if result.unassigned:
        return unchanged(
            f"the solver left {len(result.unassigned)} order(s) out; nothing changed", before
        )
    after = round(sum(r.cost for r in result.routes), 2)
    if after >= before - 0.01:
        return unchanged("the current routes are already as good; nothing changed", after)
    changes = _changes(states, day, result)
    moved = sum(len(c.moved_in) for c in changes)
    changed = [c.route_id for c in changes]
    if preview:
        session.rollback()
        return Reoptimised(
            True, f"{len(changed)} route(s) would change", before, after, changed, moved, clock,
            applied=False, changes=tuple(changes),
        )  # fmt: skip
    all_stops = {
        s.order_id: s
        for st in states
        for s in st.remaining
        if s.kind == StopKind.ORDER and s.order_id
    }
    new_routes = {r.vehicle_id: r for r in result.routes}
    for state in states:
        rid = state.route.id
        change = next((c for c in changes if c.route_id == rid), None)
        if change is None:
            continue
        new = new_routes.get(rid)
        base = next(r for r in day.routes if r.vehicle_id == rid)
        incoming = {oid: all_stops[oid] for oid in change.moved_in}
        _rewrite_remaining(
            session,
            state,
            new.stops if new is not None else (),
            incoming,
            departs_s=new.start_time if new is not None else None,
        )
        distance = new.distance_m if new else 0
        state.route.distance_m = max(0, state.route.distance_m - base.distance_m + distance)
        if new is not None:
            state.route.end_s = new.end_time
        state.route.cost = round(
            max(0.0, state.route.cost - base.cost + (new.cost if new else 0)), 2
        )
        state.route.duration_s = state.route.end_s - state.route.start_s
        events.record(
            session=session,
            org_id=org_id,
            type=EVENT_ROUTE_CHANGED,
            payload={
                "route_id": rid,
                "driver_id": state.route.driver_id,
                "change": "reoptimised",
                "actor": actor,
            },
        )
    session.flush()
    for state in load_states(
        session=session, org_id=org_id, routes=[s.route for s in states if s.route.id in changed]
    ):
        refresh(session=session, provider=provider, state=state, now=now)
    session.commit()
    return Reoptimised(
        True, f"{len(changed)} route(s) changed", before, after, changed, moved, clock,
        applied=True, changes=tuple(changes),
    )  # fmt: skip
