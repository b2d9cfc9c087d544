"""How the planner hands a day to PyVRP without copying its matrices when it need not."""

from __future__ import annotations

import numpy as np

from helpers.lineworld import order, problem, van
from lastmile.core.planning import check, solve
from lastmile.core.planning.solve import _pick, _translate


def test_an_unchanged_int64_matrix_is_passed_as_it_is_and_a_changed_one_copied() -> None:
    m = np.array([[0, 5], [5, 0]], dtype=np.int64)
    idx = np.arange(2)
    assert _pick(m, idx, identity=True, changes=False) is m
    changed = _pick(m, idx, identity=True, changes=True)
    assert not np.shares_memory(changed, m)
    assert _pick(m.astype(np.int32), idx, identity=True, changes=False).dtype == np.int64
    swapped = _pick(m, np.array([1, 0]), identity=False, changes=False)
    assert swapped.tolist() == [[0, 5], [5, 0]] and not np.shares_memory(swapped, m)


def test_orders_share_the_problems_locations_and_plan_correctly() -> None:
    # Two orders at the same door (km 3), one far one; no skills, no open ends: PyVRP gets the
    # problem's own location index, one location for both orders at km 3.
    orders = [order("A", 3), order("B", 3), order("C", 7)]
    p = problem(orders, [van("V1"), van("V2")])
    tr = _translate(p, p.orders, strict=False)
    assert tr.data.num_locations == len(p.locations) == 3  # depot, km 3, km 7
    plan = solve(p, time_limit=1, seed=1, max_iterations=100)
    assert check(plan, p).ok
    assert sorted(oid for r in plan.routes for oid in r.order_ids) == ["A", "B", "C"]


def test_skills_and_open_ends_still_get_a_location_per_order() -> None:
    orders = [order("A", 3, skills=frozenset({"fridge"})), order("B", 3)]
    p = problem(orders, [van("V1", skills=frozenset({"fridge"})), van("V2", end=None)])
    tr = _translate(p, p.orders, strict=False)
    assert tr.data.num_locations == 1 + 1 + 2  # depot, "anywhere", one per order
    plan = solve(p, time_limit=1, seed=1, max_iterations=100)
    assert check(plan, p).ok
    route_of = {oid: r.vehicle_id for r in plan.routes for oid in r.order_ids}
    assert route_of["A"] == "V1"
