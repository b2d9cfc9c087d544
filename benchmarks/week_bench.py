"""A 5-day plan of 1,000 flexible orders within one day's search budget (issue 18, part c).

The instance (seeded, written nowhere: it is rebuilt from the bundled extract each run):
1,000 distinct postal addresses of the bundled country at their address points, windows,
service minutes and parcels drawn from the bundled sample day; each order's date range is
one day (30 %), two or three days (40 %) or the whole week (30 %); every day the same five
160-parcel vans of the sample fleet (shift, depot and costs as in the sample).

Three ways to plan it, each given the same budget ``--time-limit`` for the whole week (the
budget of one day), one after the other (never at once):

* ``week``: ``plan_week`` (territories, each day with ``plan_day``, moves between days).
* ``earliest``: every order on the first day of its range, each day with ``plan_day`` and a
  fifth of the budget: what a one-date-per-order system does. It ignores the balance.
* ``spread``: every order on the least-loaded day of its range (balanced, blind to where
  the orders are), each day with a fifth of the budget.

Every result is checked by ``check_week`` (each order once, on a day of its range, every
day's times, loads and windows recomputed, the balance), never by the planner's numbers.
Numbers on a shared machine: the load average is printed next to each run.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import os
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
try:
    import lastmile  # noqa: F401
except ImportError:  # running from a checkout without `pip install -e .`
    sys.path.insert(0, str(ROOT / "src"))

# ruff: noqa: E402 (the imports below may need the path set up above)
from lastmile.common.samples import sample_path
from lastmile.core.formats.vehicles_csv import parse_vehicles_csv
from lastmile.core.geo.index import load_index
from lastmile.core.model import Location, Order, TimeWindow
from lastmile.core.planning import Balance, plan_day
from lastmile.core.planning.week import DayPlan, WeekDay, WeekPlan, WeekProblem, build_week
from lastmile.core.planning.week import plan_week as run_week
from lastmile.core.planning.week_check import check_week, day_loads
from lastmile.core.roads import RoadNetwork, RoadProvider, default_extract
from lastmile.core.times import read_clock

MONDAY = dt.date(2026, 3, 2)
VANS_PER_DAY = 5


def instance(
    orders_n: int, days_n: int, seed: int, vans_n: int = VANS_PER_DAY
) -> tuple[list[Order], dict[str, tuple[dt.date, dt.date]], list[WeekDay], tuple[str, ...]]:
    rng = random.Random(seed)
    index = load_index(default_extract())
    points: dict[tuple[str, str, str | None], Location] = {}
    for a in index.addresses:
        if a.street and a.housenumber:
            points.setdefault((a.street, a.housenumber, a.postcode), a.location)
    chosen = rng.sample(sorted(points), orders_n)
    with sample_path("sample_day_orders.csv").open(newline="", encoding="utf-8") as handle:
        sample = list(csv.DictReader(handle))
    days = [MONDAY + dt.timedelta(days=k) for k in range(days_n)]
    orders: list[Order] = []
    ranges: dict[str, tuple[dt.date, dt.date]] = {}
    for k, key in enumerate(chosen, start=1):
        row, load = rng.choice(sample), rng.choice(sample)
        order = Order(
            id=f"WK-{k:04d}",
            location=points[key],
            demand=(float(load["parcels"]), float(load["weight_kg"])),
            service_s=int(float(rng.choice(sample)["service_min"]) * 60),
            windows=(TimeWindow(read_clock(row["window_start"]), read_clock(row["window_end"])),),
        )
        draw = rng.random()
        span = 1 if draw < 0.3 else (rng.choice([2, 3]) if draw < 0.7 else days_n)
        first = rng.randrange(days_n - span + 1)
        orders.append(order)
        ranges[order.id] = (days[first], days[first + span - 1])
    fleet = parse_vehicles_csv(sample_path("sample_vehicles.csv").read_text())
    template = next(v for v in fleet.vehicles if v.profile.value == "van")
    from dataclasses import replace

    vans = tuple(
        replace(template, id=f"VAN-{k}", name=f"Van {k}", capacity=(160.0, template.capacity[1]))
        for k in range(1, vans_n + 1)
    )
    return orders, ranges, [WeekDay(d, vans) for d in days], fleet.dimensions


Chooser = Callable[[tuple[int, ...], list[int]], int]


def fixed_days(week: WeekProblem, choose: Chooser, limit: float, seed: int) -> WeekPlan:
    """Each order on the day ``choose`` gives it, each day planned with an equal share."""
    started = time.perf_counter()
    buckets: list[list[Order]] = [[] for _ in week.days]
    counts = [0] * len(week.days)
    for order in week.orders:
        d = choose(week.days_of(order.id), counts)
        buckets[d].append(order)
        counts[d] += 1
    out = []
    for d, orders in enumerate(buckets):
        problem = week.day_problem(d, orders)
        checked = plan_day(problem, time_limit=limit / len(week.days), seed=seed)
        out.append(DayPlan(week.days[d].date, problem, checked.plan, checked.check))
    from lastmile.core.planning.week import WeekStats

    return WeekPlan(tuple(out), WeekStats(time.perf_counter() - started, 0, 0, 0))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--orders", type=int, default=1000)
    parser.add_argument("--days", type=int, default=5)
    parser.add_argument("--time-limit", type=float, nargs="+", default=[60.0])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--vans", type=int, default=VANS_PER_DAY, help="vans per day")
    parser.add_argument("--balance", type=float, default=20.0, help="percent")
    parser.add_argument("--methods", nargs="+", default=["week", "earliest", "spread"])
    args = parser.parse_args()
    orders, ranges, days, dims = instance(args.orders, args.days, args.seed, args.vans)
    t0 = time.perf_counter()
    provider = RoadProvider(RoadNetwork.load(default_extract()))
    week = build_week(orders, ranges, days, dims, provider)
    print(
        f"# {args.orders} orders, {args.days} days x {args.vans} vans, seed {args.seed}; "
        f"matrices {time.perf_counter() - t0:.1f} s; {os.cpu_count()} cores, machine shared "
        "with up to 7 other agents"
    )
    balance = Balance(args.balance / 100)
    print(
        "| method | budget s | wall s | served | unassigned | cost | km | max day above mean "
        "| stops per day | hours per day | check | load before/after |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for limit in args.time_limit:
        for method in args.methods:
            load_before = os.getloadavg()[0]
            started = time.perf_counter()
            if method == "week":
                plan = run_week(week, time_limit=limit, seed=args.seed, balance=balance)
            elif method == "earliest":
                plan = fixed_days(week, lambda ds, c: ds[0], limit, args.seed)
            else:
                plan = fixed_days(week, lambda ds, c: min(ds, key=c.__getitem__), limit, args.seed)
            wall = time.perf_counter() - started
            pairs = [(d.date, d.plan) for d in plan.days]
            report = check_week(week, pairs, balance)
            loads = day_loads(week, pairs)
            mean = sum(x.stops for x in loads) / len(loads)
            above = max(x.stops for x in loads) / mean - 1 if mean else 0.0
            unassigned = sum(len(d.plan.unassigned) for d in plan.days)
            codes = sorted({v.code.value for v in report.violations})
            verdict = (
                "ok" if report.ok else f"{len(report.violations)} findings: {', '.join(codes)}"
            )
            print(
                f"| {method} | {limit:g} | {wall:.1f} | {plan.served()} | {unassigned} | "
                f"{plan.cost:.2f} | {sum(d.plan.distance_m for d in plan.days) / 1000:.0f} | "
                f"{above:.1%} | {' / '.join(str(x.stops) for x in loads)} | "
                f"{' / '.join(f'{x.hours:.1f}' for x in loads)} | {verdict} | "
                f"{load_before:.1f} / {os.getloadavg()[0]:.1f} |",
                flush=True,
            )
            if method == "week":
                print(f"<!-- week: {plan.stats} -->", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
