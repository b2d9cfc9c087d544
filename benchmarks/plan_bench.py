"""Time to the first feasible plan for the bundled sample day (150 orders, 5 vehicles).

Measures what `lastmile plan --sample` does: load the road network (from its cache), build the
travel matrices, and solve until the first feasible plan is known (and to the end of a 10 s
search, for the final cost). Run: `.venv/bin/python benchmarks/plan_bench.py [--write]`.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import statistics
import time
from pathlib import Path

from lastmile.common.samples import sample_path
from lastmile.core.formats.orders_csv import parse_orders_csv
from lastmile.core.formats.vehicles_csv import parse_vehicles_csv
from lastmile.core.planning import SolveProgress, build_problem, check, solve
from lastmile.core.roads import RoadNetwork, RoadProvider, StraightLineProvider, default_extract
from lastmile.core.roads.provider import TravelTimeProvider

DOC = Path(__file__).parents[1] / "docs" / "benchmarks.md"


def run_once(provider_name: str, time_limit: float) -> dict[str, float]:
    started = time.perf_counter()
    fleet = parse_vehicles_csv(sample_path("sample_vehicles.csv").read_text())
    orders = parse_orders_csv(
        sample_path("sample_day_orders.csv").read_text(), dimensions=fleet.dimensions
    )
    provider: TravelTimeProvider
    if provider_name == "roads":
        provider = RoadProvider(RoadNetwork.load(default_extract()))
    else:
        provider = StraightLineProvider()
    loaded = time.perf_counter()
    problem = build_problem(orders.orders, fleet.vehicles, fleet.dimensions, provider)
    built = time.perf_counter()
    first: list[float] = []

    def progress(event: SolveProgress) -> None:
        if event.best_cost is not None and not first:
            first.append(time.perf_counter())

    plan = solve(
        problem,
        time_limit=time_limit,
        seed=0,
        on_progress=progress,
        workers=min(2, os.cpu_count() or 1),
    )
    done = time.perf_counter()
    assert check(plan, problem).ok
    return {
        "load_s": loaded - started,
        "matrix_s": built - loaded,
        "first_feasible_s": (first[0] if first else done) - started,
        "total_s": done - started,
        "cost": plan.cost,
        "unassigned": len(plan.unassigned),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--time-limit", type=float, default=10.0)
    parser.add_argument(
        "--write", action="store_true", help="write the table into docs/benchmarks.md"
    )
    args = parser.parse_args()
    rows = []
    for provider in ("roads", "straight-line"):
        runs = [run_once(provider, args.time_limit) for _ in range(args.repeat)]
        med = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
        rows.append((provider, med))
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    lines = [
        "## Planning the sample day",
        "",
        f"Command: `.venv/bin/python benchmarks/plan_bench.py --write` (median of {args.repeat} runs, {args.time_limit:g} s search, 2 parallel searches).",
        f"Machine: {os.cpu_count()} CPUs, {cpu}, Python {platform.python_version()}; load average {os.getloadavg()[0]:.1f} at the start.",
        "",
        "| travel times | load network | matrices | first feasible plan (from start) | whole run | cost | unassigned |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for provider, m in rows:
        lines.append(
            f"| {provider} | {m['load_s']:.2f} s | {m['matrix_s']:.2f} s | **{m['first_feasible_s']:.2f} s** | {m['total_s']:.1f} s | {m['cost']:.2f} | {m['unassigned']:.0f} |"
        )
    lines.append("")
    lines.append(
        "Target: first feasible plan in < 2 s. The road network is loaded from its cache (`lastmile roads build` or the first `plan --roads` builds it, ~1 s)."
    )
    table = "\n".join(lines) + "\n"
    print(table)
    if args.write:
        text = DOC.read_text() if DOC.exists() else "# Benchmarks\n"
        pattern = re.compile(r"## Planning the sample day\n.*?(?=\n## |\Z)", re.S)
        text = (
            pattern.sub(table.rstrip("\n"), text)
            if pattern.search(text)
            else text.rstrip("\n") + "\n\n" + table
        )
        DOC.write_text(text)


if __name__ == "__main__":
    main()
