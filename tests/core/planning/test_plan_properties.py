"""Hypothesis: whatever the day looks like, the plan passes the independent check and
every order is routed exactly once or reported unassigned with a reason."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from helpers.lineworld import H, order, problem, van
from lastmile.core.model import Break, OrderKind, Profile, TimeWindow
from lastmile.core.planning import check, solve

windows = st.one_of(
    st.just(()),
    st.builds(
        lambda start, length: (TimeWindow(start, start + length),),
        st.integers(7 * H, 16 * H),
        st.integers(600, 4 * H),
    ),
    st.builds(
        lambda a, b: (TimeWindow(a, a + 1800), TimeWindow(b + 3 * H, b + 4 * H)),
        st.integers(7 * H, 10 * H),
        st.integers(10 * H, 13 * H),
    ),
)


@st.composite
def days(draw: st.DrawFn):  # type: ignore[no-untyped-def]
    n = draw(st.integers(1, 12))
    orders = []
    for i in range(n):
        orders.append(
            order(
                f"O{i}",
                draw(st.integers(0, 40)),
                demand=draw(st.sampled_from([0.5, 1, 2, 5, 12])),
                windows=draw(windows),
                service_s=draw(st.integers(0, 900)),
                required=draw(st.booleans()) or i % 2 == 0,
                value=draw(st.sampled_from([0.0, 5.0, 200.0])),
                skills=draw(st.sampled_from([frozenset(), frozenset({"fridge"})])),
                kind=draw(st.sampled_from([OrderKind.DELIVERY, OrderKind.PICKUP])),
            )
        )
    if n >= 2 and draw(st.booleans()):
        orders[0] = order(
            "O0",
            orders[0].location.lon / 0.01,
            demand=2,
            kind=OrderKind.PICKUP,
            deliver_to="O1",
            required=orders[1].required,
        )
        orders[1] = order(
            "O1", orders[1].location.lon / 0.01, demand=2, required=orders[1].required
        )
    vehicles = []
    for k in range(draw(st.integers(1, 3))):
        start = draw(st.integers(6 * H, 10 * H))
        vehicles.append(
            van(
                f"V{k}",
                shift=TimeWindow(start, start + draw(st.integers(2 * H, 10 * H))),
                capacity=(draw(st.sampled_from([4.0, 10.0, 30.0])),),
                skills=draw(st.sampled_from([frozenset(), frozenset({"fridge"})])),
                profile=draw(st.sampled_from([Profile.VAN, Profile.CARGO_BIKE])),
                end=draw(st.sampled_from([van().start, None])),
                breaks=draw(st.sampled_from([(), (Break(TimeWindow(11 * H, 13 * H), 1800),)])),
                max_duration_s=draw(st.sampled_from([None, 5 * H])),
            )
        )
    return problem(orders, vehicles)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(days(), st.integers(0, 3))
def test_every_plan_passes_the_check_and_accounts_for_every_order(p, seed: int) -> None:  # type: ignore[no-untyped-def]
    plan = solve(p, time_limit=5, seed=seed, max_iterations=150)
    report = check(plan, p)
    assert report.ok, str(report)
    routed = [oid for r in plan.routes for oid in r.order_ids]
    unassigned = [u.order_id for u in plan.unassigned]
    assert sorted(routed + unassigned) == sorted(o.id for o in p.orders)
    assert all(u.message for u in plan.unassigned)
