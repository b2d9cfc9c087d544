"""Probe PyVRP parameters on one benchmark instance: best cost over time per configuration.

Why: when the planner misses a quality target (G&H 1000 at 60 s), we want to know whether
better solver settings would close the gap before proposing a change to
``lastmile.core.planning``. This script builds the *same* ``pyvrp.ProblemData`` the planner
builds (through the planner's private ``_translate``, so it may break when that changes),
runs PyVRP directly with a chosen parameter set, records the best feasible cost at
checkpoints and rescores the final routes with the independent verifier.

Example::

    .venv/bin/python benchmarks/solver_params_probe.py R1_10_1 --config nb20 --time 60
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
try:
    import lastmile  # noqa: F401
except ImportError:
    sys.path.insert(0, str(ROOT / "src"))

# ruff: noqa: E402
import pyvrp
from pyvrp.search import NeighbourhoodParams, PerturbationParams

from lastmile.core.formats.instance_check import verify_routes
from lastmile.core.formats.instances import read_instance

DATA = ROOT.parent / "shared" / "benchmarks"
CHECKPOINTS = (5, 10, 20, 30, 60, 120, 300)


def params_for(config: str) -> pyvrp.SolveParams:
    """Named parameter sets; ``default`` is what the planner uses today."""
    if config == "default":
        return pyvrp.SolveParams()
    if config.startswith("nb"):  # e.g. nb20: granular neighbourhood of 20
        return pyvrp.SolveParams(neighbourhood=NeighbourhoodParams(num_neighbours=int(config[2:])))
    if config.startswith("pert"):  # e.g. pert10: at most 10 perturbations per iteration
        return pyvrp.SolveParams(perturbation=PerturbationParams(1, int(config[4:])))
    raise SystemExit(f"unknown config {config}")


class Recorder:
    """Stopping criterion that stops at ``limit`` s and logs the best cost at checkpoints."""

    def __init__(self, limit: float) -> None:
        self.limit = limit
        self.start: float | None = None
        self.marks: dict[int, float] = {}

    def __call__(self, best_cost: float) -> bool:
        now = time.perf_counter()
        if self.start is None:
            self.start = now
        elapsed = now - self.start
        for mark in CHECKPOINTS:
            if elapsed >= mark and mark not in self.marks:
                self.marks[mark] = best_cost
        return elapsed >= self.limit


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("instance")
    parser.add_argument("--folder", default="homberger/1000")
    parser.add_argument("--config", default="default")
    parser.add_argument("--time", type=float, default=60.0)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    path = DATA / args.folder / f"{args.instance}.txt"
    instance = read_instance(path.read_text(encoding="utf-8"), args.instance)
    solve_module = importlib.import_module("lastmile.core.planning.solve")
    translation = solve_module._translate(instance.problem, list(instance.problem.orders), True)
    stop = Recorder(args.time)
    result = pyvrp.solve(
        translation.data,
        stop=stop,
        seed=args.seed,
        collect_stats=False,
        params=params_for(args.config),
    )
    routes = [
        [
            int(translation.client_orders[activity.idx].id)
            for activity in route.schedule()
            if activity.is_client()
        ]
        for route in result.best.routes()
    ]
    verdict = verify_routes(instance, routes)
    scale = instance.meta.scale
    marks = " ".join(f"{k}s={v / scale:.1f}" for k, v in sorted(stop.marks.items()))
    print(
        f"{args.instance} {args.config} seed={args.seed} final={verdict.cost} "
        f"feasible={verdict.feasible} routes={verdict.routes} iters={result.num_iterations} "
        f"| {marks}",
        flush=True,
    )


if __name__ == "__main__":
    main()
