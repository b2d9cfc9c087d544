"""Plan several days at once: orders with a date range, each served on exactly one day.

The approach (why: docs/solver.md, "Planning more than one day"):

1. **Days first** (:mod:`.week_assign`): every order gets a day of its range by a territory
   split on the real travel times, within the balance (no day more than ``balance`` above
   the mean in stops) and each day's fleet capacity. Milliseconds.
2. **Each day with ``plan_day``**, the same call as a single day (same solver, same
   independent checker), with a share of the time budget proportional to its orders.
3. **Moving orders between days**: an order left out on its day is offered to the other days
   of its range; a flexible order whose removal saves more than its cheapest insertion into
   another day's routes (evaluated with the planner's own route clock) moves there. The days
   that changed are solved again with the rest of the budget, and the new plans are kept only
   if together they serve at least as many orders for less (else the old assignment stays).

The whole call takes ``time_limit`` seconds, the budget of one day, not one per day.
One PyVRP model for the whole week (a vehicle type per van and day, window copies per day
of an order's range) was the alternative; docs/solver.md says why we did not take it.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np

from lastmile.core.errors import ModelError
from lastmile.core.model import Location, Order, Plan, Problem, Route, TravelMatrix, Vehicle
from lastmile.core.planning.balance import Balance, stop_cap_for
from lastmile.core.planning.build import collect_locations, validate_problem
from lastmile.core.planning.check import CheckReport
from lastmile.core.planning.day import plan_day
from lastmile.core.planning.explain import insertions
from lastmile.core.planning.search import SolveProgress
from lastmile.core.planning.timing import route_cost, simulate
from lastmile.core.planning.week_assign import assign_days, units_of
from lastmile.core.roads.provider import TravelTimeProvider

log = logging.getLogger(__name__)

FIRST_PASS_SHARE = 0.65
"""Part of the budget for the first plan of every day; the rest re-solves moved days."""
INSERTION_POSITIONS = 3
"""Positions per route tried when pricing a move (the smallest detours in distance)."""


@dataclass(frozen=True)
class WeekDay:
    """One day of the plan and the vehicles (with that day's shifts) that work on it."""

    date: dt.date
    vehicles: tuple[Vehicle, ...]


@dataclass(frozen=True)
class WeekProblem:
    """Orders, the days, and each order's range ``(earliest, latest)`` (inclusive dates).

    ``locations``/``matrices`` cover every order and every day's depots, so a day's
    :class:`Problem` shares them without copying. Build one with :func:`build_week`.
    """

    days: tuple[WeekDay, ...]
    orders: tuple[Order, ...]
    ranges: Mapping[str, tuple[dt.date, dt.date]]
    dimensions: tuple[str, ...]
    locations: tuple[Location, ...]
    matrices: Mapping[str, TravelMatrix]

    def days_of(self, order_id: str) -> tuple[int, ...]:
        """Indices of the plan days inside the order's range."""
        first, last = self.ranges[order_id]
        return tuple(i for i, d in enumerate(self.days) if first <= d.date <= last)

    def day_problem(self, index: int, orders: Sequence[Order]) -> Problem:
        return Problem(
            orders=tuple(orders),
            vehicles=self.days[index].vehicles,
            dimensions=self.dimensions,
            locations=self.locations,
            matrices=self.matrices,
        )


def validate_week(
    orders: Sequence[Order],
    ranges: Mapping[str, tuple[dt.date, dt.date]],
    days: Sequence[WeekDay],
    dimensions: Sequence[str],
) -> None:
    """Refuse a week that cannot be planned, naming the order or day."""
    if not days:
        raise ModelError("no days to plan")
    dates = [d.date for d in days]
    if len(set(dates)) != len(dates) or dates != sorted(dates):
        raise ModelError("the plan's days must be distinct and in order")
    for day in days:
        if not day.vehicles:
            raise ModelError(f"{day.date}: no vehicles on this day")
        validate_problem(orders, day.vehicles, dimensions)
    by_id = {o.id: o for o in orders}
    for order in orders:
        if order.id not in ranges:
            raise ModelError(f"order {order.id}: no date range")
        first, last = ranges[order.id]
        if last < first:
            raise ModelError(f"order {order.id}: latest date {last} is before earliest {first}")
        if not any(first <= d <= last for d in dates):
            raise ModelError(f"order {order.id}: no day of the plan is in {first}..{last}")
        target = by_id.get(order.deliver_to or "")
        if target is not None:
            t_first, t_last = ranges.get(target.id, (first, last))
            if max(first, t_first) > min(last, t_last) or not any(
                max(first, t_first) <= d <= min(last, t_last) for d in dates
            ):
                raise ModelError(
                    f"orders {order.id}->{target.id}: a pickup and its delivery share no day"
                )


def build_week(
    orders: Sequence[Order],
    ranges: Mapping[str, tuple[dt.date, dt.date]],
    days: Sequence[WeekDay],
    dimensions: Sequence[str],
    provider: TravelTimeProvider,
) -> WeekProblem:
    """Validate the week and compute one travel matrix per profile any day's fleet uses."""
    validate_week(orders, ranges, days, dimensions)
    all_vehicles = [v for d in days for v in d.vehicles]
    locations = collect_locations(orders, all_vehicles)
    matrices = {
        p.value: provider.matrix(locations, p) for p in sorted({v.profile for v in all_vehicles})
    }
    return WeekProblem(
        days=tuple(days),
        orders=tuple(orders),
        ranges=dict(ranges),
        dimensions=tuple(dimensions),
        locations=tuple(locations),
        matrices=matrices,
    )


@dataclass(frozen=True)
class DayPlan:
    """One day of a week plan: the day's problem (its orders and vehicles), the solved plan
    and what the independent checker found in it."""

    date: dt.date
    problem: Problem
    plan: Plan
    check: CheckReport


@dataclass(frozen=True)
class WeekStats:
    runtime_s: float
    first_pass_s: float
    moves_tried: int
    moves_kept: int


@dataclass(frozen=True)
class WeekPlan:
    days: tuple[DayPlan, ...]
    stats: WeekStats

    @property
    def cost(self) -> float:
        return round(sum(d.plan.cost for d in self.days), 2)

    def served(self) -> int:
        return sum(len(r.order_ids) for d in self.days for r in d.plan.routes)


WeekProgress = Callable[[SolveProgress], None]


def plan_week(
    week: WeekProblem,
    *,
    time_limit: float,
    seed: int = 0,
    workers: int = 1,
    balance: Balance | None = None,
    route_balance: Balance | None = None,
    max_iterations: int | None = None,
    on_progress: WeekProgress | None = None,
) -> WeekPlan:
    """Plan every day of ``week`` in ``time_limit`` seconds in all (module docstring).

    ``balance``: no day more than this above the mean in stops (default 20 %).
    ``route_balance``: within each day, spread the orders over the vans as ``plan_day``'s
    ``balance`` does (None: the cheapest day).
    """
    started = time.perf_counter()
    balance = balance or Balance()
    n_days = len(week.days)
    days_of = {o.id: week.days_of(o.id) for o in week.orders}
    units = units_of(week.orders, days_of)
    cap = stop_cap_for(len(units), n_days, balance)
    capacities = [
        np.sum([v.capacity for v in d.vehicles], axis=0) if week.dimensions else np.zeros(0)
        for d in week.days
    ]
    profile = week.days[0].vehicles[0].profile.value
    anchor = Problem(
        orders=week.orders,
        vehicles=week.days[0].vehicles,
        dimensions=week.dimensions,
        locations=week.locations,
        matrices=week.matrices,
    )
    choice = assign_days(
        units,
        days=n_days,
        problem=anchor,
        profile=profile,
        capacities=capacities,
        stop_cap=cap,
        seed=seed,
    )
    assigned: list[list[Order]] = [[] for _ in week.days]
    for unit, day in zip(units, choice, strict=True):
        assigned[day].extend(unit.orders)

    flexible = any(len(days_of[o.id]) > 1 for o in week.orders)
    first_budget = time_limit * (FIRST_PASS_SHARE if flexible and n_days > 1 else 1.0)
    report = _Reporter(on_progress, time_limit, started)
    plans = _solve_days(
        week,
        assigned,
        range(n_days),
        budget=first_budget,
        started=started,
        seed=seed,
        workers=workers,
        route_balance=route_balance,
        max_iterations=max_iterations,
        report=report,
    )
    first_pass_s = time.perf_counter() - started
    tried = kept = 0
    if flexible and n_days > 1:
        moves = _moves(week, plans, days_of, cap, started + time_limit)
        tried = len(moves)
        if moves:
            candidate = [list(day) for day in assigned]
            changed: set[int] = set()
            for order, source, target in moves:
                candidate[source] = [o for o in candidate[source] if o.id != order.id]
                candidate[target].append(order)
                changed |= {source, target}
            remaining = max(0.0, time_limit - (time.perf_counter() - started))
            again = _solve_days(
                week,
                candidate,
                sorted(changed),
                budget=remaining,
                started=time.perf_counter(),
                seed=seed,
                workers=workers,
                route_balance=route_balance,
                max_iterations=max_iterations,
                report=report,
            )
            if _better([again[d] for d in changed], [plans[d] for d in changed]):
                plans.update(again)
                kept = len(moves)
    report.done()
    return WeekPlan(
        days=tuple(plans[i] for i in range(n_days)),
        stats=WeekStats(
            runtime_s=round(time.perf_counter() - started, 3),
            first_pass_s=round(first_pass_s, 3),
            moves_tried=tried,
            moves_kept=kept,
        ),
    )


class _Reporter:
    """One progress stream over all the day solves: the fraction is the budget used."""

    def __init__(self, sink: WeekProgress | None, time_limit: float, started: float) -> None:
        self.sink, self.limit, self.started = sink, max(time_limit, 1e-9), started

    def __call__(self, event: SolveProgress) -> None:
        if self.sink is None:
            return
        elapsed = time.perf_counter() - self.started
        self.sink(replace(event, elapsed_s=elapsed, fraction=min(0.99, elapsed / self.limit)))

    def done(self) -> None:
        if self.sink is not None:
            elapsed = time.perf_counter() - self.started
            self.sink(SolveProgress(elapsed, 1.0, None, 0))


def _solve_days(
    week: WeekProblem,
    assigned: Sequence[Sequence[Order]],
    which: Sequence[int] | range,
    *,
    budget: float,
    started: float,
    seed: int,
    workers: int,
    route_balance: Balance | None,
    max_iterations: int | None,
    report: _Reporter,
) -> dict[int, DayPlan]:
    """``plan_day`` for each day in ``which``, the budget shared by their order counts."""
    out: dict[int, DayPlan] = {}
    left = sum(len(assigned[d]) for d in which)
    for d in which:
        problem = week.day_problem(d, assigned[d])
        remaining = max(0.05, budget - (time.perf_counter() - started))
        share = remaining * len(assigned[d]) / left if left else 0.05
        left -= len(assigned[d])
        checked = plan_day(
            problem,
            time_limit=max(0.05, share),
            seed=seed,
            workers=workers,
            balance=route_balance,
            max_iterations=max_iterations,
            on_progress=report,
        )
        out[d] = DayPlan(week.days[d].date, problem, checked.plan, checked.check)
    return out


def _key(plans: Sequence[DayPlan]) -> tuple[int, float]:
    return (
        sum(len(r.order_ids) for p in plans for r in p.plan.routes),
        -sum(p.plan.cost for p in plans),
    )


def _better(new: Sequence[DayPlan], old: Sequence[DayPlan]) -> bool:
    """More orders served, or as many for less; a plan the checker faults never replaces
    a clean one."""
    if any(not p.check.ok for p in new) and all(p.check.ok for p in old):
        return False
    return _key(new) > _key(old)


def _removal_saving(problem: Problem, route: Route, order_id: str) -> float:
    vehicle = problem.vehicle(route.vehicle_id)
    rest = [problem.order(o) for o in route.order_ids if o != order_id]
    if not rest:
        return route.cost
    timing = simulate(problem, vehicle, rest, route.start_time)
    return route.cost - route_cost(vehicle, timing.distance_m, timing.start_time, timing.end_time)


def _moves(
    week: WeekProblem,
    plans: Mapping[int, DayPlan],
    days_of: Mapping[str, tuple[int, ...]],
    cap: int,
    deadline: float,
) -> list[tuple[Order, int, int]]:
    """Orders worth moving to another day of their range: (order, from day, to day).

    Left-out orders first (any feasible insertion), then routed ones whose saving on their
    day beats their cheapest insertion elsewhere. Each route gives and takes at most one
    order per round, so that the estimates (made on today's routes) stay close to true.
    """
    served = {d: sum(len(r.order_ids) for r in p.plan.routes) for d, p in plans.items()}
    candidates: list[tuple[float, Order, int, int, str | None, str]] = []
    stop_at = deadline - 0.35 * (deadline - time.perf_counter())  # leave time to re-solve
    for d, day in plans.items():
        problem = day.problem
        dropped: list[tuple[str, Route | None]] = [
            (u.order_id, None)
            for u in day.plan.unassigned
            if problem.order(u.order_id).deliver_to is None
            and problem.pickup_of(u.order_id) is None
        ]
        routed: list[tuple[str, Route | None]] = [
            (oid, r)
            for r in day.plan.routes
            for oid in r.order_ids
            if problem.order(oid).deliver_to is None and problem.pickup_of(oid) is None
        ]
        for oid, route in [*dropped, *routed]:
            if time.perf_counter() > stop_at:
                break
            others = [t for t in days_of[oid] if t != d]
            if not others:
                continue
            order = problem.order(oid)
            saving = _removal_saving(problem, route, oid) if route else float("inf")
            for t in others:
                other = plans[t]
                with_it = replace(other.problem, orders=(*other.problem.orders, order))
                options = [
                    i
                    for i in insertions(
                        with_it,
                        other.plan.routes,
                        order,
                        nearest_positions=INSERTION_POSITIONS,
                    )
                    if i.feasible
                ]
                if not options:
                    continue
                best = min(options, key=lambda i: i.added_cost)
                gain = saving - best.added_cost
                if gain > 0.01:
                    source_route = route.vehicle_id if route else None
                    candidates.append((gain, order, d, t, source_route, best.vehicle_id))
    candidates.sort(key=lambda c: -c[0])
    moves: list[tuple[Order, int, int]] = []
    gave: set[tuple[int, str]] = set()
    took: set[tuple[int, str]] = set()
    moved: set[str] = set()
    for _gain, order, source, target, source_route, target_route in candidates:
        if order.id in moved or served[target] + 1 > cap or (target, target_route) in took:
            continue
        if source_route is not None and (source, source_route) in gave:
            continue
        moves.append((order, source, target))
        moved.add(order.id)
        took.add((target, target_route))
        if source_route is not None:
            gave.add((source, source_route))
            served[source] -= 1
        served[target] += 1
    return moves


__all__ = [
    "DayPlan",
    "WeekDay",
    "WeekPlan",
    "WeekProblem",
    "WeekStats",
    "build_week",
    "plan_week",
    "validate_week",
]
