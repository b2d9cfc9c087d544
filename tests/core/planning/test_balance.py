"""Balanced plans: every route within the owner's margin of the mean, in stops and in hours,
measured from the plan by the independent checker's own arithmetic (not the solver's)."""

from __future__ import annotations

import pytest

from helpers.lineworld import H, order, problem, van
from lastmile.core.model import Plan
from lastmile.core.planning import check, solve
from lastmile.core.planning.balance import Balance, balance_of, solve_balanced, stop_cap_for


def checked(plan: Plan, p) -> Plan:  # type: ignore[no-untyped-def]
    report = check(plan, p)
    assert report.ok, str(report)
    return plan


def test_the_stop_cap_is_the_margin_above_an_even_share() -> None:
    assert stop_cap_for(13, 3, Balance(0.2)) == 5  # mean 4.33, +20 % = 5.2
    assert stop_cap_for(12, 3, Balance(0.2)) == 4  # mean 4, +20 % = 4.8
    assert stop_cap_for(5, 3, Balance(0.0)) == 2  # an even share can't be below ceil(mean)
    assert stop_cap_for(10, 1, Balance(0.2)) == 12
    with pytest.raises(ValueError):
        Balance(-0.1)


def test_cheapest_takes_one_van_balanced_spreads_over_all() -> None:
    orders = [order(f"O{i}", i) for i in range(1, 13)]
    vans = [van(f"V{i}", capacity=(20.0,)) for i in range(1, 4)]
    p = problem(orders, vans)
    cheapest = checked(solve(p, time_limit=2, seed=1, max_iterations=300), p)
    assert len(cheapest.routes) == 1  # one trip along the line is the cheapest day
    plan = checked(solve_balanced(p, Balance(0.2), time_limit=2, seed=1, max_iterations=300), p)
    assert not plan.unassigned
    assert sorted(len(r.order_ids) for r in plan.routes) == [4, 4, 4]
    assert balance_of(plan, 3).max_stops == 4


def test_hours_are_balanced_too() -> None:
    # Two orders take an hour each at the door; stop balance alone may give both to one van.
    orders = [order(f"L{i}", 1, service_s=H) for i in range(2)] + [
        order(f"S{i}", 1 + i / 10) for i in range(4)
    ]
    p = problem(orders, [van("V1"), van("V2")])
    plan = checked(solve_balanced(p, Balance(0.2), time_limit=2, seed=1, max_iterations=300), p)
    report = balance_of(plan, 2)
    assert report.meets(Balance(0.2)), report
    long_vans = {r.vehicle_id for r in plan.routes for o in r.order_ids if o.startswith("L")}
    assert len(long_vans) == 2


def test_balance_is_measured_over_offered_vans_not_used_ones() -> None:
    orders = [order(f"O{i}", i) for i in range(1, 4)]
    p = problem(orders, [van("V1"), van("V2"), van("V3")])
    plan = checked(solve(p, time_limit=1, seed=1, max_iterations=100), p)
    report = balance_of(plan, 3)
    assert report.vehicles == 3 and report.mean_stops == pytest.approx(1.0)
    assert report.meets(Balance(0.2)) == (report.max_stops <= 1)
