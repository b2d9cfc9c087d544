"""Each constraint on a tiny instance whose right answer is known; every plan is checked."""

from __future__ import annotations

import pytest

from helpers.lineworld import H, order, problem, van
from lastmile.core.model import (
    Break,
    OrderKind,
    Plan,
    Profile,
    StopKind,
    TimeWindow,
    UnassignedReason,
)
from lastmile.core.planning import check, solve


def solved(p, **kw) -> Plan:  # type: ignore[no-untyped-def]
    plan = solve(p, time_limit=2, seed=1, max_iterations=kw.pop("iterations", 300), **kw)
    report = check(plan, p)
    assert report.ok, str(report)
    return plan


def route_of(plan: Plan, order_id: str) -> str:
    for route in plan.routes:
        if order_id in route.order_ids:
            return route.vehicle_id
    raise AssertionError(f"{order_id} not routed")


def test_capacity_splits_orders_over_two_vehicles() -> None:
    p = problem([order("A", 1, 6), order("B", 2, 6)], [van("V1"), van("V2")])
    plan = solved(p)
    assert len(plan.routes) == 2
    assert route_of(plan, "A") != route_of(plan, "B")
    assert not plan.unassigned


def test_time_windows_fix_the_visiting_order() -> None:
    # B is nearer but may only be served late; A must come first.
    orders = [
        order("A", 5, windows=(TimeWindow(8 * H, 8 * H + 600),)),
        order("B", 1, windows=(TimeWindow(10 * H, 11 * H),)),
    ]
    plan = solved(problem(orders, [van()]))
    assert plan.routes[0].order_ids == ["A", "B"]
    b = plan.routes[0].stops[1]
    assert b.start >= 10 * H


def test_second_window_is_used_when_the_first_cannot_be_reached() -> None:
    late_van = van(shift=TimeWindow(9 * H, 18 * H))
    o = order("A", 3, windows=(TimeWindow(8 * H, 8 * H + 1800), TimeWindow(14 * H, 15 * H)))
    plan = solved(problem([o], [late_van]))
    stop = plan.routes[0].stops[0]
    assert 14 * H <= stop.start <= 15 * H


def test_skill_sends_order_to_the_only_equipped_vehicle() -> None:
    vehicles = [
        van("PLAIN", cost_per_km=0.1),
        van("FRIDGE", skills=frozenset({"fridge"}), cost_per_km=5.0),
    ]
    orders = [order("COLD", 2, skills=frozenset({"fridge"})), order("DRY", 3)]
    plan = solved(problem(orders, vehicles))
    assert route_of(plan, "COLD") == "FRIDGE"


def test_unservable_orders_get_precise_reasons() -> None:
    orders = [
        order("SKILL", 1, skills=frozenset({"crane"})),
        order("HEAVY", 1, demand=50),
        order("EARLY", 30, windows=(TimeWindow(8 * H, 8 * H + 600),)),  # 30 min away
        order("OK", 2),
    ]
    plan = solved(problem(orders, [van()]))
    reasons = {u.order_id: u for u in plan.unassigned}
    assert reasons["SKILL"].reason is UnassignedReason.NO_VEHICLE_WITH_SKILL
    assert reasons["HEAVY"].reason is UnassignedReason.DEMAND_EXCEEDS_CAPACITY
    assert "parcels 50 > 10" in reasons["HEAVY"].message
    early = reasons["EARLY"]
    assert early.reason is UnassignedReason.WINDOW_UNREACHABLE
    assert early.late_s_to_fit == 30 * 60 - 600
    assert route_of(plan, "OK") == "V1"


def test_full_fleet_reports_what_would_make_the_order_fit() -> None:
    # One vehicle, 10 parcels; three orders of 4 parcels: one cannot fit.
    orders = [order(f"O{i}", i + 1, demand=4) for i in range(3)]
    plan = solved(problem(orders, [van()]))
    assert len(plan.unassigned) == 1
    assert plan.unassigned[0].reason is UnassignedReason.FLEET_FULL


def test_lateness_that_would_fit_is_quantified() -> None:
    # Two orders 20 km apart with the same five-minute window: only one can be on time, and
    # the other would be 20 min drive + 1 min service - 5 min window = 16 min late.
    w = (TimeWindow(8 * H + 1800, 8 * H + 2100),)
    orders = [order("E", 10, windows=w), order("F", 30, windows=w)]
    plan = solved(problem(orders, [van()]))
    assert len(plan.unassigned) == 1
    missing = plan.unassigned[0]
    assert missing.reason is UnassignedReason.FLEET_FULL
    assert missing.late_s_to_fit == 16 * 60
    assert "16 min late" in missing.message


def test_optional_order_only_when_worth_it() -> None:
    orders = [
        order("MUST", 1),
        order("CHEAP", 40, required=False, value=1.0),
        order("RICH", 2, required=False, value=500.0),
    ]
    plan = solved(problem(orders, [van()]))
    routed = plan.routes[0].order_ids
    assert "RICH" in routed and "MUST" in routed
    (cheap,) = plan.unassigned
    assert cheap.order_id == "CHEAP" and cheap.reason is UnassignedReason.NOT_WORTH_IT


def test_paired_pickup_comes_before_its_delivery_on_the_same_vehicle() -> None:
    orders = [
        order("DROP", 1, demand=3),
        order("PICK", 8, demand=3, kind=OrderKind.PICKUP, deliver_to="DROP"),
        order("OTHER", 4),
    ]
    plan = solved(problem(orders, [van("V1"), van("V2")]))
    vehicle = route_of(plan, "PICK")
    assert route_of(plan, "DROP") == vehicle
    ids = next(r.order_ids for r in plan.routes if r.vehicle_id == vehicle)
    assert ids.index("PICK") < ids.index("DROP")


def test_open_route_ends_at_the_last_stop() -> None:
    plan = solved(problem([order("A", 5)], [van(end=None)]))
    route = plan.routes[0]
    assert route.end_time == route.stops[-1].departure
    assert route.distance_m == 5000


def test_break_is_taken_inside_its_window() -> None:
    vehicle = van(breaks=(Break(TimeWindow(9 * H, 10 * H), 1800),))
    orders = [
        order(f"O{i}", i, windows=(TimeWindow(8 * H, 16 * H),), service_s=1200) for i in range(1, 7)
    ]
    plan = solved(problem(orders, [vehicle]))
    breaks = [s for s in plan.routes[0].stops if s.kind is StopKind.BREAK]
    assert len(breaks) == 1
    assert 9 * H <= breaks[0].start <= 10 * H
    assert breaks[0].departure - breaks[0].start == 1800


def test_speed_factor_and_profiles_change_travel_time() -> None:
    fast = solved(problem([order("A", 10)], [van(speed_factor=2.0)]))
    bike = solved(problem([order("A", 10)], [van(profile=Profile.CARGO_BIKE)]))
    fast_stop, bike_stop = fast.routes[0].stops[0], bike.routes[0].stops[0]
    assert fast_stop.arrival - fast.routes[0].start_time == 300  # 10 km x 60 s / 2
    assert bike_stop.arrival - bike.routes[0].start_time == 1800  # 10 km x 180 s


def test_max_duration_limits_the_route() -> None:
    # A round trip to km 30 takes 1 h plus service; a 45-minute limit makes it impossible.
    plan = solved(problem([order("FAR", 30)], [van(max_duration_s=45 * 60)]))
    (u,) = plan.unassigned
    assert u.reason is UnassignedReason.ROUTE_TOO_LONG
    assert u.overtime_s_to_fit == 3600 + 60 - 45 * 60


def test_strict_mode_keeps_required_orders_hard() -> None:
    p = problem([order("A", 1), order("B", 2)], [van()])
    plan = solve(p, time_limit=1, max_iterations=100, strict=True)
    assert check(plan, p).ok
    assert sorted(plan.routes[0].order_ids) == ["A", "B"]


@pytest.mark.parametrize("workers", [1, 2])
def test_same_seed_same_plan(workers: int) -> None:
    orders = [
        order(
            f"O{i}",
            (i * 7) % 23 + 1,
            windows=(TimeWindow(8 * H + (i % 4) * H, 12 * H + (i % 4) * H),),
        )
        for i in range(25)
    ]
    p = problem(orders, [van("V1"), van("V2"), van("V3")])
    first = solve(p, time_limit=30, seed=7, max_iterations=200, workers=workers)
    second = solve(p, time_limit=30, seed=7, max_iterations=200, workers=workers)
    assert [r.order_ids for r in first.routes] == [r.order_ids for r in second.routes]
    assert first.cost == second.cost
