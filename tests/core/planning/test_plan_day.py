"""``plan_day``: the one call behind ``lastmile plan`` and the server's plan job. It returns
the plan with the independent checker's verdict, and the plan document carries that verdict
(``check``), so a plan with findings is kept and marked, never dropped or silently kept."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from zoneinfo import ZoneInfo

from helpers.lineworld import H, order, problem, van
from lastmile.core.formats.plan_json import plan_document
from lastmile.core.model import TimeWindow
from lastmile.core.planning import Balance, check, plan_day, simulate


def test_plan_day_solves_checks_and_the_document_says_so() -> None:
    p = problem([order(f"O{i}", i) for i in range(1, 7)], [van("V1"), van("V2")])
    checked = plan_day(p, time_limit=2, seed=1, max_iterations=200)
    assert checked.check.ok, str(checked.check)
    assert {oid for r in checked.plan.routes for oid in r.order_ids} == {
        f"O{i}" for i in range(1, 7)
    }
    doc = plan_document(
        p,
        checked.plan,
        day=date(2026, 3, 2),
        zone=ZoneInfo("Europe/Vaduz"),
        travel_times="line",
        check=checked.check,
    )
    assert doc["check"] == {"ok": True, "violations": []}


def test_plan_day_balances_when_asked() -> None:
    p = problem(
        [order(f"O{i}", i) for i in range(1, 13)],
        [van(f"V{i}", capacity=(20.0,)) for i in range(1, 4)],
    )
    cheapest = plan_day(p, time_limit=2, seed=1, max_iterations=300)
    balanced = plan_day(p, time_limit=2, seed=1, max_iterations=300, balance=Balance(0.2))
    assert len(cheapest.plan.routes) == 1
    assert sorted(len(r.order_ids) for r in balanced.plan.routes) == [4, 4, 4]
    assert balanced.check.ok, str(balanced.check)


def test_a_plan_with_findings_is_marked_in_the_document() -> None:
    """The document of a plan the checker faults lists each finding (code, order, amount)."""
    o1 = order("O1", 5, windows=(TimeWindow(8 * H, 8 * H + 330),))
    p = problem([o1, order("O2", 1)], [van("V1")])
    first = plan_day(p, time_limit=1, seed=1, max_iterations=100)
    assert first.check.ok and [s.order_id for s in first.plan.routes[0].stops] == ["O1", "O2"]
    good = first.plan
    # Serve O2 first, as a dispatcher's move would: O1 is then reached at 8:06, late.
    route = good.routes[0]
    late_sequence = tuple(sorted(route.stops, key=lambda s: s.order_id != "O2"))
    timing = simulate(p, p.vehicles[0], [p.order(s.order_id) for s in late_sequence if s.order_id])
    moved = replace(
        good,
        routes=(
            replace(
                route,
                stops=timing.stops,
                end_time=timing.end_time,
                distance_m=timing.distance_m,
            ),
        ),
    )
    report = check(moved, p, check_cost=False)
    assert not report.ok
    doc = plan_document(
        p, moved, day=date(2026, 3, 2), zone=ZoneInfo("UTC"), travel_times="line", check=report
    )
    assert doc["check"]["ok"] is False
    late = [v for v in doc["check"]["violations"] if v["code"] == "late"]
    assert late and late[0]["order_id"] == "O1" and late[0]["amount"] > 0
