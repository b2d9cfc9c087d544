"""Solver variants at equal CPU time: a load-independent stand-in for "equal wall time on an
idle machine" (issue 16, docs/solver.md).

On a shared machine a wall-clock budget buys a varying amount of search, so two runs of the
same configuration differ by more than the configurations do. Here every search stops after
a budget of *CPU seconds of its own process* (``time.process_time``). Parallel variants are
emulated by running their workers one after the other, each with the full budget per round,
so "2 workers for S CPU-seconds each" is what two idle cores give in S wall seconds (minus
memory-bandwidth contention, which this cannot show).

Variants (``--variants``):

* ``plain``: the instance as a PyVRP user models it (``solver_bench.plain_pyvrp_data``),
  ``pyvrp.solve`` with default parameters, one process;
* ``ours``: the ProblemData our planner builds, PyVRP's default search, one process;
* ``pert10``: as ``ours`` with ``PerturbationParams(1, 10)`` (default 25);
* ``x2indep``: two independent searches (seeds s, s+1), best of two;
* ``x2exch``: two searches exchanging their best every round (``core.planning.parallel``'s
  scheme, ``ROUND_S``-long rounds in CPU seconds, each worker keeps its penalties).

Run ``python benchmarks/solver_cpu_probe.py FILE --cpu-seconds 20 --seeds 1 2``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
try:
    import lastmile  # noqa: F401
except ImportError:  # running from a checkout without `pip install -e .`
    sys.path.insert(0, str(ROOT / "src"))

# ruff: noqa: E402 (the imports below may need the path set up above)
import pyvrp
from pyvrp.search import PerturbationParams

from lastmile.core.formats.instance_check import format_cost, verify_routes
from lastmile.core.formats.instances import read_instance
from lastmile.core.planning.explain import screen_orders
from lastmile.core.planning.parallel import ROUND_S, solution_key
from lastmile.core.planning.search import SearchResult, search
from lastmile.core.planning.solve import _translate

sys.path.insert(0, str(ROOT / "benchmarks"))
from solver_bench import plain_pyvrp_data


class CpuSeconds:
    """Stop after ``seconds`` of this process's CPU time."""

    def __init__(self, seconds: float) -> None:
        self.end = time.process_time() + seconds

    def __call__(self, best_cost: float) -> bool:
        return time.process_time() >= self.end


def exchange(data: pyvrp.ProblemData, seconds: float, seed: int, workers: int) -> SearchResult:
    rounds = max(1, round(seconds / ROUND_S))
    results: list[SearchResult] = []
    for r in range(rounds):
        best = min(results, key=lambda x: solution_key(x.best)) if results else None
        results = [
            search(
                data,
                CpuSeconds(seconds / rounds),
                seed + k + r * workers,
                initial=best.best if best else None,
                penalties=results[k].penalties if results else None,
            )
            for k in range(workers)
        ]
    return min(results, key=lambda x: solution_key(x.best))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("file", type=Path)
    parser.add_argument("--cpu-seconds", type=float, default=20.0)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1])
    parser.add_argument("--variants", default="plain,ours,x2indep,x2exch")
    args = parser.parse_args()
    instance = read_instance(args.file.read_text(encoding="utf-8"), args.file.stem)
    servable, _ = screen_orders(instance.problem)
    ours = _translate(instance.problem, servable, strict=True)
    plain = plain_pyvrp_data(instance)
    ids_ours = [int(o.id) for o in ours.client_orders]
    ids_plain = [c.id for c in instance.customers]
    budget = args.cpu_seconds
    costs: dict[str, list[float]] = {}
    for variant in args.variants.split(","):
        for seed in args.seeds:
            ids = ids_plain if variant == "plain" else ids_ours
            started = time.perf_counter()
            if variant == "plain":
                best = pyvrp.solve(plain, stop=CpuSeconds(budget), seed=seed).best
            elif variant == "ours":
                best = search(ours.data, CpuSeconds(budget), seed).best
            elif variant == "pert10":
                params = pyvrp.SolveParams(perturbation=PerturbationParams(1, 10))
                best = pyvrp.solve(
                    ours.data, stop=CpuSeconds(budget), seed=seed, params=params
                ).best
            elif variant == "x2indep":
                runs = [search(ours.data, CpuSeconds(budget), seed + k) for k in range(2)]
                best = min(runs, key=lambda x: solution_key(x.best)).best
            elif variant == "x2exch":
                best = exchange(ours.data, budget, seed, 2).best
            else:
                raise SystemExit(f"unknown variant {variant}")
            routes = [
                [ids[a.idx] for a in route.schedule() if a.is_client()] for route in best.routes()
            ]
            verdict = verify_routes(instance, routes)
            cost = float(format_cost(verdict.cost_int, verdict.scale))
            costs.setdefault(variant, []).append(cost)
            print(
                f"{instance.meta.name} {variant:>8} seed {seed}: cost {cost:.1f} "
                f"feasible={verdict.feasible} routes={verdict.routes} "
                f"({time.perf_counter() - started:.0f} s wall, load {os.getloadavg()[0]:.1f})",
                flush=True,
            )
    for variant, values in costs.items():
        print(
            f"{instance.meta.name} {variant:>8}: mean {statistics.fmean(values):.1f} ({len(values)} seeds)"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
