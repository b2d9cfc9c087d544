"""Solver benchmark: our planner vs OR-Tools vs VROOM on Solomon / Gehring-Homberger / CVRP X.

Why this script looks the way it does:

* **Same process, same budget, same matrix.** Every solver gets the instance's integer matrix
  under its literature convention (DIMACS: ``floor(10 * euclid)``; CVRP: rounded euclid),
  built by :mod:`lastmile.core.formats.instances`, and the same wall-clock budget.
* **Independent scoring.** No solver's own objective is used: every route set is rescored
  from the instance file by :func:`lastmile.core.formats.instance_check.verify_routes`
  (distance recomputed pair by pair, windows, capacity, fleet size, every customer exactly
  once). Infeasible results are flagged and left out of the mean gaps, never averaged in.
* **Gaps only within a convention.** BKS come from ``bks.csv`` rows whose ``convention``
  matches the instance's (``dimacs_trunc1_distance`` for VRPTW, ``cvrplib_round_int`` for
  CVRP).

``make bench`` runs Solomon at 1 s and 5 s against plain PyVRP and VROOM, ``make bench-gh``
Gehring-Homberger 400 and 1000 (2 per class, seeds 1 and 2, 60 s); ``make bench
BENCH_ARGS="--set solomon --per-class 2 --budget 10"`` for anything else; see ``--help``.
The benchmark (unlike the product) reads the shared data folder ``../shared/benchmarks``.
"""

from __future__ import annotations

import argparse
import csv
import fnmatch
import math
import os
import re
import statistics
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
try:
    import lastmile  # noqa: F401
except ImportError:  # running from a checkout without `pip install -e .`
    sys.path.insert(0, str(ROOT / "src"))

# ruff: noqa: E402 (the imports below may need the path set up above)
import numpy as np
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from lastmile.core.formats.instance_check import Verdict, format_cost, verify_routes
from lastmile.core.formats.instances import (
    Convention,
    Instance,
    cvrplib_round_int,
    dimacs_trunc1,
    read_instance,
)


def _default_data() -> Path:
    """``shared/benchmarks`` next to the checkout, or next to a folder above it (a git
    worktree under ``wt/NAME`` finds the main checkout's); ``LASTMILE_BENCH_DATA`` wins."""
    if os.environ.get("LASTMILE_BENCH_DATA"):
        return Path(os.environ["LASTMILE_BENCH_DATA"])
    for base in ROOT.parents:
        if (base / "shared" / "benchmarks").is_dir():
            return base / "shared" / "benchmarks"
    return ROOT.parent / "shared" / "benchmarks"


DEFAULT_DATA = _default_data()

SETS: dict[str, tuple[str, str, str]] = {
    # name: (folder under the data dir, file pattern, set name in bks.csv)
    "solomon": ("solomon", "*.txt", "solomon"),
    "homberger_200": ("homberger/200", "*.txt", "homberger_200"),
    "homberger_400": ("homberger/400", "*.txt", "homberger_400"),
    "homberger_1000": ("homberger/1000", "*.txt", "homberger_1000"),
    "cvrp": ("cvrp", "*.vrp", "cvrp_x"),
}

ALL_SOLVERS = ("ours", "ours_w1", "pyvrp", "ortools", "vroom")
SOLVER_LABELS = {
    "ours": "ours (2 workers)",
    "ours_w1": "ours (1 worker)",
    "pyvrp": "plain PyVRP (1 process)",
    "ortools": "OR-Tools GLS",
    "vroom": "VROOM x5",
}


@dataclass
class Result:
    """One (instance, solver) run, scored by the independent verifier."""

    instance: str
    solver: str
    budget_s: float
    runtime_s: float
    seed: int = 0
    routes: list[list[int]] = field(default_factory=list)
    verdict: Verdict | None = None
    bks: float | None = None
    error: str = ""
    iterations: int | None = None
    load1: float | None = None
    """1-minute load average at the end of the run: the machine is shared, so a high value
    means the solver got less CPU than the budget suggests."""

    @property
    def feasible(self) -> bool:
        return self.verdict is not None and self.verdict.feasible and not self.error

    @property
    def cost(self) -> float | None:
        if self.verdict is None:
            return None
        return float(format_cost(self.verdict.cost_int, self.verdict.scale))

    @property
    def gap_pct(self) -> float | None:
        if self.cost is None or not self.bks:
            return None
        return 100.0 * (self.cost - self.bks) / self.bks

    def row(self, set_name: str) -> Row:
        violations = ([self.error] if self.error else []) + (
            list(self.verdict.violations[:5]) if self.verdict else []
        )
        return Row(
            instance=self.instance,
            set=set_name,
            solver=self.solver,
            budget_s=self.budget_s,
            runtime_s=self.runtime_s,
            seed=self.seed,
            cost=self.cost,
            bks=self.bks,
            gap_pct=self.gap_pct,
            vehicles=self.verdict.routes if self.verdict else None,
            feasible=self.feasible,
            violations="; ".join(violations),
            iterations=self.iterations,
            load1=self.load1,
        )


@dataclass(frozen=True)
class Row:
    """A scored result as stored in the CSV; the tables are made from these."""

    instance: str
    set: str
    solver: str
    budget_s: float
    runtime_s: float
    cost: float | None
    bks: float | None
    gap_pct: float | None
    vehicles: int | None
    feasible: bool
    violations: str
    iterations: int | None = None
    load1: float | None = None
    seed: int = 0

    @property
    def run(self) -> str:
        """The instance and, for runs with another seed than 0, the seed (``R1_4_1 s2``)."""
        return self.instance if not self.seed else f"{self.instance} s{self.seed}"

    @staticmethod
    def fields() -> list[str]:
        return list(Row.__dataclass_fields__)

    @staticmethod
    def parse(record: dict[str, str]) -> Row:
        def number(key: str) -> float | None:
            return float(record[key]) if record[key] else None

        vehicles = record["vehicles"]
        return Row(
            instance=record["instance"],
            set=record["set"],
            solver=record["solver"],
            budget_s=float(record["budget_s"]),
            runtime_s=float(record["runtime_s"]),
            cost=number("cost"),
            bks=number("bks"),
            gap_pct=number("gap_pct"),
            vehicles=int(vehicles) if vehicles else None,
            feasible=record["feasible"] == "True",
            violations=record["violations"],
            iterations=int(record["iterations"]) if record.get("iterations") else None,
            load1=float(record["load1"]) if record.get("load1") else None,
            seed=int(record["seed"]) if record.get("seed") else 0,
        )


# --------------------------------------------------------------------------------------------
# Solvers. Each takes (instance, budget seconds, seed) and returns routes as customer numbers
# and, where the solver reports it, its iteration count.

Solved = tuple[list[list[int]], int | None]


def run_ours(instance: Instance, budget: float, seed: int, workers: int) -> Solved:
    """Our planner, exactly as the product calls it (strict: every customer is required)."""
    from lastmile.cli.instance import plan_routes
    from lastmile.core.planning import solve

    plan = solve(instance.problem, time_limit=budget, seed=seed, workers=workers, strict=True)
    return plan_routes(plan), plan.stats.iterations if plan.stats else None


def _node_matrix(instance: Instance) -> np.ndarray[Any, np.dtype[np.int64]]:
    """The convention's integer matrix over depot + customers in file order (node 0 = depot)."""
    nodes = [instance.depot, *instance.customers]
    xs = [n.x for n in nodes]
    ys = [n.y for n in nodes]
    if instance.meta.convention is Convention.DIMACS:
        return dimacs_trunc1(xs, ys)
    return cvrplib_round_int(xs, ys)


def _fleet(instance: Instance) -> int:
    """Vehicles offered to the other solvers: the same number our planner gets."""
    return len(instance.problem.vehicles)


def run_ortools(instance: Instance, budget: float, seed: int) -> Solved:
    """OR-Tools routing: PATH_CHEAPEST_ARC + GUIDED_LOCAL_SEARCH, time dimension with windows.

    OR-Tools has no seed for this search (it is deterministic given the time limit).
    """
    from ortools.constraint_solver import pywrapcp, routing_enums_pb2

    del seed
    matrix = _node_matrix(instance)
    nodes = [instance.depot, *instance.customers]
    n = len(nodes)
    fleet = _fleet(instance)
    manager = pywrapcp.RoutingIndexManager(n, fleet, 0)
    routing = pywrapcp.RoutingModel(manager)
    dist = matrix.tolist()
    distance_cb = routing.RegisterTransitMatrix(dist)
    routing.SetArcCostEvaluatorOfAllVehicles(distance_cb)
    demand_cb = routing.RegisterUnaryTransitVector([int(nd.demand) for nd in nodes])
    routing.AddDimensionWithVehicleCapacity(
        demand_cb, 0, [instance.meta.capacity] * fleet, True, "Capacity"
    )
    # Without a way to leave a customer out, PATH_CHEAPEST_ARC finds no first solution at all
    # on tight-window instances (R101, RC101, RC105 at 10 s). The usual OR-Tools remedy: every
    # customer may be dropped at a penalty far above any route set's cost, so the search
    # starts and then puts everyone back. A result that still drops one is infeasible.
    drop_penalty = int(matrix.max(initial=1)) * (n + 1) * 10
    for position in range(1, n):
        routing.AddDisjunction([manager.NodeToIndex(position)], drop_penalty)
    if instance.meta.has_time_windows:
        scale = instance.meta.scale
        # Transit of arc i->j = service at i + travel i->j, so cumul = service start time.
        service = [nd.service * scale for nd in nodes]
        times = (matrix + np.asarray(service, dtype=np.int64)[:, None]).tolist()
        time_cb = routing.RegisterTransitMatrix(times)
        horizon = instance.depot.due * scale
        routing.AddDimension(time_cb, horizon, horizon, False, "Time")
        time_dim = routing.GetDimensionOrDie("Time")
        for position, nd in enumerate(instance.customers, start=1):
            index = manager.NodeToIndex(position)
            time_dim.CumulVar(index).SetRange(nd.ready * scale, nd.due * scale)
        for v in range(fleet):
            for index in (routing.Start(v), routing.End(v)):
                time_dim.CumulVar(index).SetRange(
                    instance.depot.ready * scale, instance.depot.due * scale
                )
            routing.AddVariableMinimizedByFinalizer(time_dim.CumulVar(routing.Start(v)))
            routing.AddVariableMinimizedByFinalizer(time_dim.CumulVar(routing.End(v)))
    params = pywrapcp.DefaultRoutingSearchParameters()
    params.first_solution_strategy = routing_enums_pb2.FirstSolutionStrategy.PATH_CHEAPEST_ARC
    params.local_search_metaheuristic = (
        routing_enums_pb2.LocalSearchMetaheuristic.GUIDED_LOCAL_SEARCH
    )
    params.time_limit.FromMilliseconds(int(budget * 1000))
    solution = routing.SolveWithParameters(params)
    if solution is None:
        raise RuntimeError(f"no solution found (status {routing.status()})")
    routes: list[list[int]] = []
    for v in range(fleet):
        index = routing.Start(v)
        route: list[int] = []
        index = solution.Value(routing.NextVar(index))
        while not routing.IsEnd(index):
            route.append(nodes[manager.IndexToNode(index)].id)
            index = solution.Value(routing.NextVar(index))
        if route:
            routes.append(route)
    return routes, None


def run_vroom(instance: Instance, budget: float, seed: int) -> Solved:
    """VROOM through pyvroom: same matrix as durations and costs, exploration level 5.

    VROOM has no seed; ``timeout`` caps its search at the budget.
    """
    import vroom

    del seed
    matrix = _node_matrix(instance)
    scale = instance.meta.scale
    problem = vroom.Input()
    problem.set_durations_matrix(profile="car", matrix_input=matrix)
    problem.set_costs_matrix(profile="car", matrix_input=matrix)
    fleet = _fleet(instance)
    tw = instance.meta.has_time_windows
    for k in range(1, fleet + 1):
        problem.add_vehicle(
            vroom.Vehicle(
                k,
                start=0,
                end=0,
                capacity=[instance.meta.capacity],
                time_window=(
                    vroom.TimeWindow(instance.depot.ready * scale, instance.depot.due * scale)
                    if tw
                    else None
                ),
            )
        )
    for position, nd in enumerate(instance.customers, start=1):
        problem.add_job(
            vroom.Job(
                nd.id if nd.id > 0 else 10**6,
                location=position,
                delivery=[nd.demand],
                default_service=nd.service * scale if tw else 0,
                time_windows=[vroom.TimeWindow(nd.ready * scale, nd.due * scale)] if tw else (),
            )
        )
    solution = problem.solve(exploration_level=5, nb_threads=2, timeout=timedelta(seconds=budget))
    result = solution.to_dict()
    routes: list[list[int]] = []
    for route in result["routes"]:
        ids = [
            instance.customers[int(step["location_index"]) - 1].id
            for step in route["steps"]
            if step["type"] == "job"
        ]
        if ids:
            routes.append(ids)
    return routes, None


def plain_pyvrp_data(instance: Instance) -> Any:
    """The instance as a PyVRP user would model it: one client per customer (node number =
    PyVRP index, depot 0), the convention's matrix as distance and duration, the file's
    fleet, nothing else (no prizes, groups, extra matrices or load scaling)."""
    import pyvrp

    matrix = _node_matrix(instance)
    nodes = [instance.depot, *instance.customers]
    tw = instance.meta.has_time_windows
    scale = instance.meta.scale
    big = int(np.iinfo(np.int64).max)
    clients = [
        pyvrp.Client(
            location=k,
            delivery=[int(nd.demand)],
            service_duration=nd.service * scale if tw else 0,
            tw_early=nd.ready * scale if tw else 0,
            tw_late=nd.due * scale if tw else big,
        )
        for k, nd in enumerate(instance.customers, start=1)
    ]
    depot = instance.depot
    return pyvrp.ProblemData(
        locations=[pyvrp.Location(float(nd.x), float(nd.y)) for nd in nodes],
        clients=clients,
        depots=[pyvrp.Depot(location=0)],
        vehicle_types=[
            pyvrp.VehicleType(
                num_available=_fleet(instance),
                capacity=[instance.meta.capacity],
                tw_early=depot.ready * scale if tw else 0,
                tw_late=depot.due * scale if tw else big,
            )
        ],
        distance_matrices=[matrix],
        duration_matrices=[matrix],
    )


def run_pyvrp(instance: Instance, budget: float, seed: int) -> Solved:
    """Plain PyVRP (``pyvrp.solve``, default parameters, one process) for ``budget`` seconds,
    the reference issue 16 measures us against."""
    import pyvrp
    from pyvrp.stop import MaxRuntime

    data = plain_pyvrp_data(instance)
    result = pyvrp.solve(data, stop=MaxRuntime(budget), seed=seed, collect_stats=False)
    routes = [
        [instance.customers[a.idx].id for a in route.schedule() if a.is_client()]
        for route in result.best.routes()
    ]
    return routes, result.num_iterations


SolverFn = Callable[[Instance, float, int], Solved]
SOLVERS: dict[str, SolverFn] = {
    "ours": lambda inst, budget, seed: run_ours(inst, budget, seed, workers=2),
    "ours_w1": lambda inst, budget, seed: run_ours(inst, budget, seed, workers=1),
    "pyvrp": run_pyvrp,
    "ortools": run_ortools,
    "vroom": run_vroom,
}


# --------------------------------------------------------------------------------------------
# Instances, BKS, reporting.


def natural_key(name: str) -> list[object]:
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", name)]


def instance_class(name: str) -> str:
    """Solomon / G&H class (C1, C2, R1, R2, RC1, RC2) or the whole name for other sets."""
    match = re.match(r"^(RC|C|R)(\d)", name)
    if match:
        return match.group(1) + match.group(2)
    return "all"


def select_instances(folder: Path, pattern: str, glob: str, per_class: int | None) -> list[Path]:
    """Files of the set matching ``glob``; with ``per_class`` N evenly spaced ones per class."""
    files = sorted(
        (p for p in folder.glob(pattern) if fnmatch.fnmatch(p.stem, glob)),
        key=lambda p: natural_key(p.stem),
    )
    if per_class is None:
        return files
    classes: dict[str, list[Path]] = {}
    for p in files:
        classes.setdefault(instance_class(p.stem), []).append(p)
    chosen: list[Path] = []
    for members in classes.values():
        k = min(per_class, len(members))
        picks = sorted({math.floor(i * len(members) / k) for i in range(k)})
        chosen.extend(members[i] for i in picks)
    return chosen


def load_bks(path: Path) -> dict[tuple[str, str], float]:
    with path.open(newline="", encoding="utf-8") as handle:
        return {
            (row["instance"], row["convention"]): float(row["bks_objective"])
            for row in csv.DictReader(handle)
        }


def fmt_gap(gap: float | None) -> str:
    return "-" if gap is None else f"{gap:+.2f} %"


def markdown(results: Sequence[Row], solvers: Sequence[str]) -> str:
    """Per-instance table (cost, gap, vehicles, runtime per solver) and a means table."""
    instances = list(dict.fromkeys(r.run for r in results))
    by_key = {(r.run, r.solver): r for r in results}
    head = "| instance | BKS | " + " | ".join(SOLVER_LABELS[s] for s in solvers) + " |"
    lines = [head, "|" + "---|" * (2 + len(solvers))]
    for name in instances:
        first = next(r for r in results if r.run == name)
        cells = []
        for s in solvers:
            r = by_key.get((name, s))
            if r is None:
                cells.append("")
            elif r.cost is None:
                cells.append(f"**failed** {r.runtime_s:.1f}s ({r.violations[:40]})")
            else:
                flag = "" if r.feasible else " **INFEASIBLE**"
                cells.append(
                    f"{r.cost:g} ({fmt_gap(r.gap_pct)}) {r.vehicles}v {r.runtime_s:.1f}s{flag}"
                )
        bks = "-" if first.bks is None else f"{first.bks:g}"
        lines.append(f"| {name} | {bks} | " + " | ".join(cells) + " |")
    all_feasible = [
        name
        for name in instances
        if all((name, s) in by_key and by_key[(name, s)].feasible for s in solvers)
    ]
    lines += [
        "",
        "| solver | runs | feasible | mean gap (feasible runs) | mean gap (instances all "
        f"solvers solved feasibly, n={len(all_feasible)}) | max gap | mean runtime | "
        "mean load avg |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for s in solvers:
        runs = [r for r in results if r.solver == s]
        gaps = [r.gap_pct for r in runs if r.feasible and r.gap_pct is not None]
        common = [g for name in all_feasible if (g := by_key[(name, s)].gap_pct) is not None]
        mean = fmt_gap(statistics.fmean(gaps)) if gaps else "-"
        mean_common = fmt_gap(statistics.fmean(common)) if common else "-"
        worst = fmt_gap(max(gaps)) if gaps else "-"
        runtime = statistics.fmean(r.runtime_s for r in runs) if runs else 0.0
        feasible = sum(r.feasible for r in runs)
        loads = [r.load1 for r in runs if r.load1 is not None]
        load = f"{statistics.fmean(loads):.1f}" if loads else "-"
        lines.append(
            f"| {SOLVER_LABELS[s]} | {len(runs)} | {feasible}/{len(runs)} | {mean} | "
            f"{mean_common} | {worst} | {runtime:.1f} s | {load} |"
        )
    return "\n".join(lines)


def write_csv(path: Path, rows: Sequence[Row]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=Row.fields())
        writer.writeheader()
        for row in rows:
            record = dict(row.__dict__)
            record["runtime_s"] = round(row.runtime_s, 3)
            if row.gap_pct is not None:
                record["gap_pct"] = round(row.gap_pct, 4)
            writer.writerow({k: "" if v is None else v for k, v in record.items()})


def read_csvs(paths: Sequence[Path]) -> list[Row]:
    """Rows of several result files; a later file's (run, solver) replaces an earlier."""
    rows: dict[tuple[str, str], Row] = {}
    for path in paths:
        with path.open(newline="", encoding="utf-8") as handle:
            for record in csv.DictReader(handle):
                row = Row.parse(record)
                rows[(row.run, row.solver)] = row
    return list(rows.values())


def run_one(instance: Instance, solver: str, budget: float, seed: int, bks: float | None) -> Result:
    started = time.perf_counter()
    try:
        routes, iterations = SOLVERS[solver](instance, budget, seed)
    except Exception as exc:  # a crashing solver is a result too, not the end of the run
        return Result(
            instance=instance.meta.name,
            solver=solver,
            budget_s=budget,
            runtime_s=time.perf_counter() - started,
            seed=seed,
            bks=bks,
            error=f"{type(exc).__name__}: {exc}; {traceback.format_exc(limit=1)[-200:]}",
        )
    runtime = time.perf_counter() - started
    return Result(
        instance=instance.meta.name,
        solver=solver,
        budget_s=budget,
        runtime_s=runtime,
        seed=seed,
        routes=routes,
        verdict=verify_routes(instance, routes),
        iterations=iterations,
        load1=round(os.getloadavg()[0], 2),
        bks=bks,
    )


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--set", choices=sorted(SETS), default="solomon", dest="set_name")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="benchmark data folder")
    parser.add_argument("--instances", default="*", help="glob on instance names, e.g. 'C1*'")
    parser.add_argument(
        "--per-class",
        type=int,
        default=None,
        help="take N evenly spaced instances per class (C1, C2, R1, R2, RC1, RC2)",
    )
    parser.add_argument(
        "--budget",
        type=float,
        nargs="+",
        default=[10.0],
        help="seconds per instance; several budgets run one after the other, a table each",
    )
    parser.add_argument("--solvers", default=",".join(ALL_SOLVERS))
    parser.add_argument(
        "--seed",
        type=int,
        nargs="+",
        default=[0],
        help="seeds; solvers without a seed (OR-Tools, VROOM) run with the first only",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("results.csv"),
        help="result CSV (with several budgets: one per budget, the budget in its name)",
    )
    parser.add_argument("--markdown", type=Path, default=None, help="also write the tables here")
    parser.add_argument(
        "--combine",
        type=Path,
        nargs="+",
        default=None,
        help="solve nothing: print the tables for these result CSVs (later files win)",
    )
    args = parser.parse_args(argv)
    unknown = [s for s in args.solvers.split(",") if s not in SOLVERS]
    if unknown:
        parser.error(f"unknown solver(s) {unknown}; choose from {', '.join(SOLVERS)}")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    console = Console(stderr=True)
    if args.combine:
        rows = read_csvs(args.combine)
        present = {r.solver for r in rows}
        table = markdown(rows, [s for s in SOLVERS if s in present])
        print(table)
        if args.markdown is not None:
            args.markdown.write_text(table + "\n", encoding="utf-8")
        return 0
    folder_name, pattern, bks_set = SETS[args.set_name]
    folder = args.data / folder_name
    files = select_instances(folder, pattern, args.instances, args.per_class)
    if not files:
        console.print(f"[red]no instances match {args.instances!r} in {folder}[/red]")
        return 2
    bks_table = load_bks(args.data / "bks.csv")
    solvers = args.solvers.split(",")
    # Import every solver before the clock runs, so the first instance does not pay for it.
    import importlib

    for module in (
        "lastmile.core.planning",
        "lastmile.cli.instance",
        "ortools.constraint_solver.pywrapcp",
        "vroom",
    ):
        importlib.import_module(module)

    tables = []
    for budget in args.budget:
        out = args.out
        if len(args.budget) > 1:
            out = args.out.with_name(f"{args.out.stem}_{budget:g}s{args.out.suffix}")
        rows = run_budget(files, solvers, budget, args.seed, bks_table, bks_set, out, console)
        tables.append(f"### {bks_set}, {budget:g} s per instance\n\n" + markdown(rows, solvers))
    text = "\n\n".join(tables)
    print(text)
    if args.markdown is not None:
        args.markdown.write_text(text + "\n", encoding="utf-8")
    return 0


UNSEEDED = ("ortools", "vroom")
"""Solvers without a seed: more seeds would only repeat the same run."""


def run_budget(
    files: Sequence[Path],
    solvers: Sequence[str],
    budget: float,
    seeds: Sequence[int],
    bks_table: dict[tuple[str, str], float],
    bks_set: str,
    out: Path,
    console: Console,
) -> list[Row]:
    """Every instance x seed x solver at ``budget``, one run at a time (never two at once);
    rows written to ``out`` after every run."""
    runs = [
        (path, seed, solver)
        for path in files
        for seed in seeds
        for solver in solvers
        if seed == seeds[0] or solver not in UNSEEDED
    ]
    results: list[Result] = []
    console.print(
        f"{len(files)} instances x seeds {list(seeds)} x {len(solvers)} solvers at {budget:g} s "
        f"(set {bks_set}, {len(runs)} runs): {', '.join(p.stem for p in files)}"
    )
    instances: dict[Path, Instance] = {}
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    ) as progress:
        task = progress.add_task("starting", total=len(runs))
        for path, seed, solver in runs:
            if path not in instances:
                instances[path] = read_instance(path.read_text(encoding="utf-8"), path.stem)
            instance = instances[path]
            bks = bks_table.get((instance.meta.name, instance.meta.convention.value))
            progress.update(task, description=f"{instance.meta.name} s{seed} {solver}")
            result = run_one(instance, solver, budget, seed, bks)
            results.append(result)
            status = "ok" if result.feasible else "[red]INFEASIBLE[/red]"
            progress.console.print(
                f"{instance.meta.name:>10} s{seed} {solver:>8}: cost {result.cost} "
                f"gap {fmt_gap(result.gap_pct)} {result.runtime_s:.1f}s {status} "
                f"iterations={result.iterations} load={result.load1}"
                + (f" {result.error[:120]}" if result.error else "")
            )
            progress.advance(task)
            write_csv(out, [r.row(bks_set) for r in results])
    return [r.row(bks_set) for r in results]


if __name__ == "__main__":
    raise SystemExit(main())
