"""Balanced plans: spread the day over the vans the owner offers.

The cheapest plan often loads one van with everything that fits (13 orders on 1 of 3 vans),
which is right for a courier paid per van and wrong for a florist whose three drivers are
paid for the day anyway and should all be home on time. Routific and OptimoRoute offer the
same choice. "Balanced" here means: no route more than ``max_above_mean`` (20 % by default)
above the mean of the offered vans, both in stops and in working hours.

How, without a balance objective in the solver: caps. The stop cap is known before solving
(``n`` orders over ``k`` vans: at most ``max(ceil(n/k), floor(n/k * (1 + x)))`` each) and is
one more load dimension. Hours are known only after a plan exists: when the longest route is
more than ``1 + x`` times the mean, the day is solved again with that duration as a hard cap
(half the time budget each). The result is the second plan when it serves as many orders,
else the first; :func:`balance_of` measures what was reached, independently of the solver.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace

from lastmile.core.model import Plan, Problem
from lastmile.core.planning.solve import RouteLimits, SolveProgress, solve

DEFAULT_MAX_ABOVE_MEAN = 0.2


@dataclass(frozen=True)
class Balance:
    """The owner's wish: no route more than ``max_above_mean`` above the mean (0.2 = 20 %)."""

    max_above_mean: float = DEFAULT_MAX_ABOVE_MEAN

    def __post_init__(self) -> None:
        if not 0 <= self.max_above_mean <= 10:
            raise ValueError("max_above_mean must be between 0 and 10 (0 % to 1000 %)")


@dataclass(frozen=True)
class BalanceReport:
    """How even a plan is over ``vehicles`` vans (unused vans count with 0 stops, 0 hours)."""

    vehicles: int
    mean_stops: float
    max_stops: int
    mean_hours: float
    max_hours: float

    def above_mean(self) -> tuple[float, float]:
        """The largest route above the mean, as a fraction, in stops and in hours."""
        stops = self.max_stops / self.mean_stops - 1 if self.mean_stops else 0.0
        hours = self.max_hours / self.mean_hours - 1 if self.mean_hours else 0.0
        return stops, hours

    def meets(self, balance: Balance) -> bool:
        """No route above the stop cap of :func:`stop_cap_for`, none more than
        ``max_above_mean`` above the mean in hours."""
        cap = stop_cap_for(round(self.mean_stops * self.vehicles), self.vehicles, balance)
        return self.max_stops <= cap and self.above_mean()[1] <= balance.max_above_mean + 1e-9


def stop_cap_for(orders: int, vehicles: int, balance: Balance) -> int:
    """Most orders one route may take: ``x`` above the mean, but never below an even share
    (5 orders on 3 vans: 2 each is impossible, so 2 is allowed to become 2 and a 1)."""
    if vehicles <= 0:
        return orders
    mean = orders / vehicles
    return max(math.ceil(mean), math.floor(mean * (1 + balance.max_above_mean) + 1e-9))


def balance_of(plan: Plan, vehicles: int) -> BalanceReport:
    """Stops and working hours per van, measured from the plan's own routes."""
    stops = [len(r.order_ids) for r in plan.routes]
    hours = [r.duration_s / 3600 for r in plan.routes]
    count = max(vehicles, len(plan.routes), 1)
    return BalanceReport(
        vehicles=count,
        mean_stops=sum(stops) / count,
        max_stops=max(stops, default=0),
        mean_hours=sum(hours) / count,
        max_hours=max(hours, default=0.0),
    )


def solve_balanced(
    problem: Problem,
    balance: Balance,
    *,
    time_limit: float = 10.0,
    seed: int = 0,
    on_progress: Callable[[SolveProgress], None] | None = None,
    max_iterations: int | None = None,
    workers: int = 1,
) -> Plan:
    """A plan spread evenly over ``problem.vehicles`` (see the module docstring)."""
    vehicles = len(problem.vehicles)
    limits = RouteLimits(max_stops=stop_cap_for(len(problem.orders), vehicles, balance))

    def part(start: float) -> Callable[[SolveProgress], None] | None:
        if on_progress is None:
            return None
        report = on_progress
        return lambda p: report(replace(p, fraction=min(0.99, start + p.fraction / 2)))

    half = time_limit / 2
    first = solve(
        problem,
        time_limit=half,
        seed=seed,
        on_progress=part(0.0),
        max_iterations=max_iterations,
        workers=workers,
        limits=limits,
    )
    measured = balance_of(first, vehicles)
    if measured.above_mean()[1] <= balance.max_above_mean or measured.mean_hours == 0:
        return first
    cap = int(measured.mean_hours * 3600 * (1 + balance.max_above_mean))
    second = solve(
        problem,
        time_limit=half,
        seed=seed,
        on_progress=part(0.5),
        max_iterations=max_iterations,
        workers=workers,
        limits=replace(limits, max_duration_s=cap),
    )
    # The solver returns its best infeasible plan when no feasible one was found in time, and
    # the caps are ours, not the vehicles': keep the second plan only if it keeps them.
    within = all(
        len(r.order_ids) <= (limits.max_stops or 0) and r.duration_s <= cap for r in second.routes
    )
    served = sum(len(r.order_ids) for r in second.routes)
    return second if within and served >= sum(len(r.order_ids) for r in first.routes) else first


__all__ = [
    "DEFAULT_MAX_ABOVE_MEAN",
    "Balance",
    "BalanceReport",
    "balance_of",
    "solve_balanced",
    "stop_cap_for",
]
