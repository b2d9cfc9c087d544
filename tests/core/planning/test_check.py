"""The checker must catch what a wrong plan gets wrong (it is our independent referee)."""

from __future__ import annotations

from dataclasses import replace

from helpers.lineworld import H, order, problem, van
from lastmile.core.model import Plan, Route, TimeWindow
from lastmile.core.planning import ViolationCode, check, solve


def _plan():  # type: ignore[no-untyped-def]
    orders = [
        order("A", 2, demand=4, windows=(TimeWindow(8 * H, 9 * H),)),
        order("B", 4, demand=4, windows=(TimeWindow(8 * H, 12 * H),)),
        order("C", 6, demand=2),
    ]
    p = problem(orders, [van()])
    plan = solve(p, time_limit=2, max_iterations=200)
    assert check(plan, p).ok
    return p, plan


def _with_route(plan: Plan, route: Route) -> Plan:
    return replace(plan, routes=(route,))


def test_good_plan_passes_and_figures_are_recomputed() -> None:
    p, plan = _plan()
    report = check(plan, p)
    assert report.ok
    (figures,) = report.routes
    assert figures.distance_m == plan.routes[0].distance_m == 12_000
    assert figures.max_load == (10.0,)


def test_claimed_times_that_do_not_add_up_are_caught() -> None:
    p, plan = _plan()
    route = plan.routes[0]
    stops = list(route.stops)
    stops[1] = replace(stops[1], arrival=stops[1].arrival - 120)
    report = check(_with_route(plan, replace(route, stops=tuple(stops))), p)
    assert ViolationCode.TIME_MISMATCH in report.codes()


def test_overload_is_caught() -> None:
    p, plan = _plan()
    small = replace(p, vehicles=(van(capacity=(8.0,)),))
    assert ViolationCode.CAPACITY in check(plan, small).codes()


def test_late_service_is_caught() -> None:
    p, plan = _plan()
    tight = replace(
        p,
        orders=tuple(
            replace(o, windows=(TimeWindow(8 * H, 8 * H + 60),)) if o.id == "C" else o
            for o in p.orders
        ),
    )
    report = check(plan, tight)
    assert ViolationCode.LATE in report.codes()
    late = next(v for v in report.violations if v.code is ViolationCode.LATE)
    assert late.order_id == "C" and late.amount > 0


def test_missing_and_duplicated_orders_are_caught() -> None:
    p, plan = _plan()
    route = plan.routes[0]
    dropped = replace(route, stops=route.stops[1:])
    codes = check(_with_route(plan, dropped), p).codes()
    assert ViolationCode.ORDER_MISSING in codes
    twice = replace(
        plan, unassigned=(*plan.unassigned, *[]), routes=(route, replace(route, vehicle_id="V1"))
    )
    assert {ViolationCode.ORDER_DUPLICATED, ViolationCode.VEHICLE_REUSED} <= check(twice, p).codes()


def test_shift_end_and_cost_are_checked() -> None:
    p, plan = _plan()
    short = replace(p, vehicles=(van(shift=TimeWindow(8 * H, 8 * H + 600)),))
    assert ViolationCode.SHIFT_END in check(plan, short).codes()
    route = plan.routes[0]
    assert (
        ViolationCode.COST_MISMATCH
        in check(_with_route(plan, replace(route, cost=route.cost + 5)), p).codes()
    )


def test_messages_are_in_a_shop_owners_words_with_names() -> None:
    """Messages read "Van 1 would be 10 min late at order B-7", never "served 607 s" or ids."""
    from lastmile.core.formats.plan_json import in_owner_words
    from lastmile.core.units import format_minutes

    p, plan = _plan()
    named = replace(
        p,
        vehicles=(replace(p.vehicles[0], name="Van 1"),),
        orders=tuple(replace(o, external_id=f"B-{o.id}") for o in p.orders),
    )
    # C's window closes 10 min (and a bit) before the van gets there
    c_arrival = next(s.start for s in plan.routes[0].stops if s.order_id == "C")
    tight = replace(
        named,
        orders=tuple(
            replace(o, windows=(TimeWindow(0, c_arrival - 607),)) if o.id == "C" else o
            for o in named.orders
        ),
    )
    late = next(v for v in check(plan, tight).violations if v.code is ViolationCode.LATE)
    assert late.amount == 607
    assert late.message == "V1 would be 10 min late at order C"
    assert in_owner_words(tight, late.message) == "Van 1 would be 10 min late at order B-C"
    assert " s " not in late.message and "served" not in late.message
    # whole ids only: V1 is not replaced inside V10
    assert in_owner_words(tight, "V10 and V1") == "V10 and Van 1"
    assert [format_minutes(s) for s in (0, 29, 607, 3600, 5430)] == [
        "1 min",
        "1 min",
        "10 min",
        "1 h 00 min",
        "1 h 30 min",
    ]
