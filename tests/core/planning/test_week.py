"""Multi-day planning: each order once, on a day of its range, no day above the balance,
checked by the independent week checker (which rebuilds every day from the week's inputs)."""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import replace

import pytest

from helpers.lineworld import H, LineProvider, order, van
from lastmile.core.errors import ModelError
from lastmile.core.model import Plan, TimeWindow
from lastmile.core.planning import Balance
from lastmile.core.planning.check import ViolationCode
from lastmile.core.planning.week import WeekDay, build_week, plan_week
from lastmile.core.planning.week_check import check_week, day_loads

MON = dt.date(2026, 3, 2)
DAYS = [MON + dt.timedelta(days=k) for k in range(5)]


def week_of(orders, ranges, days=DAYS[:2], vans=None):  # type: ignore[no-untyped-def]
    fleet = vans or (lambda d: (van("V1", capacity=(40.0,)), van("V2", capacity=(40.0,))))
    return build_week(
        orders, ranges, [WeekDay(d, tuple(fleet(d))) for d in days], ("parcels",), LineProvider()
    )


def solved(week, **kw):  # type: ignore[no-untyped-def]
    kw.setdefault("time_limit", 2)
    kw.setdefault("max_iterations", 300)
    plan = plan_week(week, **kw)
    pairs = [(d.date, d.plan) for d in plan.days]
    report = check_week(week, pairs, kw.get("balance"))
    assert report.ok, str(report)
    return plan


def served_on(plan, date):  # type: ignore[no-untyped-def]
    day = next(d for d in plan.days if d.date == date)
    return {oid for r in day.plan.routes for oid in r.order_ids}


def test_flexible_orders_split_into_territories_one_side_per_day() -> None:
    # Ten stops east and ten west of the depot, each may come either day: one side per day
    # drives each side once; mixing them drives both sides on both days.
    east = [order(f"E{i}", i) for i in range(1, 11)]
    west = [order(f"W{i}", -i) for i in range(1, 11)]
    orders = east + west
    week = week_of(orders, {o.id: (DAYS[0], DAYS[1]) for o in orders})
    plan = solved(week)
    days = [served_on(plan, d) for d in DAYS[:2]]
    assert sum(len(d) for d in days) == 20
    sides = [{oid[0] for oid in d} for d in days]
    assert sorted(map(sorted, sides)) == [["E"], ["W"]]
    # Each day one van out to 10 km and back: 40 km in all.
    assert sum(d.plan.distance_m for d in plan.days) == 40_000


def test_one_day_orders_stay_on_their_day_and_ranges_are_kept() -> None:
    rng = random.Random(3)
    orders, ranges = [], {}
    for k in range(40):
        o = order(f"O{k}", rng.uniform(-15, 15))
        first = rng.randrange(5)
        last = min(4, first + rng.randrange(3))
        orders.append(o)
        ranges[o.id] = (DAYS[first], DAYS[last])
    week = week_of(orders, ranges, days=DAYS)
    plan = solved(week, balance=Balance(0.5))
    for o in orders:
        (date,) = [d.date for d in plan.days if o.id in served_on(plan, d.date)]
        assert ranges[o.id][0] <= date <= ranges[o.id][1]


def test_balance_no_day_far_above_the_mean() -> None:
    # 30 orders at the same spot, all flexible over 3 days: the cheapest plan is one trip,
    # the balance allows at most 12 a day (mean 10, +20 %).
    orders = [order(f"O{k}", 5) for k in range(30)]
    week = week_of(orders, {o.id: (DAYS[0], DAYS[2]) for o in orders}, days=DAYS[:3])
    plan = solved(week, balance=Balance(0.2))
    loads = day_loads(week, [(d.date, d.plan) for d in plan.days])
    assert sum(x.stops for x in loads) == 30
    assert max(x.stops for x in loads) <= 12


def test_each_day_has_its_own_fleet_and_capacity() -> None:
    # Monday one small van (5 parcels), Tuesday two big ones: Monday gets at most 5.
    orders = [order(f"O{k}", 1 + k % 4) for k in range(14)]

    def fleet(d):  # type: ignore[no-untyped-def]
        if d == DAYS[0]:
            return [van("SMALL", capacity=(5.0,))]
        return [van("V1", capacity=(10.0,)), van("V2", capacity=(10.0,))]

    week = week_of(orders, {o.id: (DAYS[0], DAYS[1]) for o in orders}, vans=fleet)
    plan = solved(week, balance=Balance(1.0))
    assert len(served_on(plan, DAYS[0])) <= 5
    assert len(served_on(plan, DAYS[0])) + len(served_on(plan, DAYS[1])) == 14


def test_shifts_differ_per_day_and_windows_are_kept() -> None:
    # Tuesday's shift is afternoon only: a morning-window order must go on Monday.
    morning = order("AM", 3, windows=(TimeWindow(8 * H, 10 * H),))
    others = [order(f"O{k}", k) for k in range(1, 7)]

    def fleet(d):  # type: ignore[no-untyped-def]
        shift = TimeWindow(8 * H, 18 * H) if d == DAYS[0] else TimeWindow(13 * H, 18 * H)
        return [van("V1", shift=shift)]

    orders = [morning, *others]
    week = week_of(orders, {o.id: (DAYS[0], DAYS[1]) for o in orders}, vans=fleet)
    plan = solved(week, balance=Balance(1.0))
    assert "AM" in served_on(plan, DAYS[0])


def test_a_pickup_and_its_delivery_share_a_day() -> None:
    from lastmile.core.model import OrderKind

    pickup = order("P", 4, kind=OrderKind.PICKUP, deliver_to="D")
    delivery = order("D", -4)
    rest = [order(f"O{k}", k) for k in range(1, 5)]
    orders = [pickup, delivery, *rest]
    ranges = {o.id: (DAYS[0], DAYS[1]) for o in orders}
    ranges["D"] = (DAYS[1], DAYS[1])
    plan = solved(week_of(orders, ranges), balance=Balance(1.0))
    assert {"P", "D"} <= served_on(plan, DAYS[1])


def test_bad_weeks_are_refused_naming_the_order() -> None:
    o = order("O1", 1)
    with pytest.raises(ModelError, match="O1: no day of the plan"):
        week_of([o], {"O1": (DAYS[3], DAYS[4])})
    with pytest.raises(ModelError, match="O1: latest date"):
        week_of([o], {"O1": (DAYS[1], DAYS[0])})
    with pytest.raises(ModelError, match="O1: no date range"):
        week_of([o], {})


def test_the_checker_finds_wrong_days_duplicates_missing_orders_and_imbalance() -> None:
    orders = [order(f"O{k}", k) for k in range(1, 9)]
    ranges = {o.id: (DAYS[0], DAYS[1]) for o in orders}
    ranges["O1"] = (DAYS[0], DAYS[0])
    week = week_of(orders, ranges)
    plan = solved(week, balance=Balance(0.5))
    pairs = [(d.date, d.plan) for d in plan.days]
    mon, tue = pairs
    # Swap the days: O1 (Monday only) is now served on Tuesday.
    swapped = [(mon[0], tue[1]), (tue[0], mon[1])]
    report = check_week(week, swapped, Balance(0.5))
    assert ViolationCode.WRONG_DAY in report.codes()
    # The same plan on both days: every order twice.
    twice = [(mon[0], mon[1]), (tue[0], mon[1])]
    assert ViolationCode.ORDER_DUPLICATED in check_week(week, twice, Balance(5)).codes()
    # An empty Tuesday: its orders are missing.
    empty = [mon, (tue[0], Plan(routes=(), unassigned=()))]
    assert ViolationCode.ORDER_MISSING in check_week(week, empty, Balance(5)).codes()
    # Everything on Monday (one route per van, the routes as the planner built them):
    # over the balance.
    routes = {r.vehicle_id: r for r in tue[1].routes}
    merged = [
        (mon[0], replace(mon[1], routes=(*mon[1].routes, *routes.values()))),
        (tue[0], Plan(routes=(), unassigned=())),
    ]
    codes = check_week(week, merged, Balance(0.2)).codes()
    assert ViolationCode.DAY_BALANCE in codes


def test_the_checker_finds_a_late_stop_on_one_day() -> None:
    orders = [order(f"O{k}", k, windows=(TimeWindow(8 * H, 9 * H),)) for k in range(1, 5)]
    week = week_of(orders, {o.id: (DAYS[0], DAYS[1]) for o in orders})
    plan = solved(week, balance=Balance(5))
    day = next(d for d in plan.days if d.plan.routes)
    route = day.plan.routes[0]
    late = replace(
        route,
        stops=tuple(
            replace(
                s, arrival=s.arrival + 2 * H, start=s.start + 2 * H, departure=s.departure + 2 * H
            )
            for s in route.stops
        ),
        start_time=route.start_time + 2 * H,
        end_time=route.end_time + 2 * H,
    )
    pairs = [
        (d.date, replace(d.plan, routes=(late, *d.plan.routes[1:])) if d is day else d.plan)
        for d in plan.days
    ]
    assert ViolationCode.LATE in check_week(week, pairs, Balance(5), check_cost=False).codes()


def test_a_balance_the_fixed_orders_make_impossible_is_reported_not_hidden() -> None:
    # Ten orders that can only come on Monday, two flexible ones: Monday is over the balance
    # whatever the planner does; every order is still planned and the checker says so.
    fixed = [order(f"M{k}", 1 + k % 3) for k in range(10)]
    flexible = [order("F1", 2), order("F2", 3)]
    ranges = {o.id: (DAYS[0], DAYS[0]) for o in fixed}
    ranges.update({o.id: (DAYS[0], DAYS[1]) for o in flexible})
    week = week_of([*fixed, *flexible], ranges)
    plan = plan_week(week, time_limit=2, max_iterations=300, balance=Balance(0.2))
    assert served_on(plan, DAYS[1]) == {"F1", "F2"}  # the flexible ones go to the light day
    report = check_week(week, [(d.date, d.plan) for d in plan.days], Balance(0.2))
    assert report.codes() == {ViolationCode.DAY_BALANCE}, str(report)
