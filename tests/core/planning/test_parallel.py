"""The parallel exchange (``core.planning.parallel``): workers continue from the best
solution any of them found, with the penalties they had learnt (``core.planning.search``)."""

from __future__ import annotations

from pyvrp.stop import MaxIterations

from helpers.lineworld import H, order, problem, van
from lastmile.core.model import TimeWindow
from lastmile.core.planning import check, solve
from lastmile.core.planning.parallel import run_searches, solution_key
from lastmile.core.planning.search import search
from lastmile.core.planning.solve import _translate


def _day():  # type: ignore[no-untyped-def]
    orders = [
        order(
            f"O{i}",
            (i * 7) % 23 + 1,
            windows=(TimeWindow(8 * H + (i % 4) * H, 12 * H + (i % 4) * H),),
        )
        for i in range(40)
    ]
    return problem(orders, [van("V1"), van("V2"), van("V3"), van("V4")])


def test_a_warm_start_continues_from_the_solution_and_its_penalties() -> None:
    p = _day()
    data = _translate(p, p.orders, strict=False).data
    long = search(data, MaxIterations(300), seed=1)
    # One iteration from a random start is far worse than 300; from the warm start it is at
    # least as good as where the long search ended.
    cold = search(data, MaxIterations(1), seed=2)
    warm = search(data, MaxIterations(1), seed=2, initial=long.best, penalties=long.penalties)
    assert solution_key(warm.best) <= solution_key(long.best) < solution_key(cold.best)
    assert warm.penalties[1] > 0


def test_two_workers_exchange_over_rounds_and_count_every_iteration() -> None:
    p = _day()
    data = _translate(p, p.orders, strict=False).data
    # 24 s at ROUND_S = 8 s: three rounds of 100 iterations per worker (the iteration cap
    # ends each round long before its time).
    results = run_searches(
        data, seed=3, time_limit=24, max_iterations=300, workers=2, on_progress=None
    )
    assert [r.iterations for r in results] == [300, 300]
    plan = solve(p, time_limit=24, seed=3, max_iterations=300, workers=2)
    assert check(plan, p).ok
    assert plan.stats is not None and plan.stats.iterations == 600
    assert not plan.unassigned
