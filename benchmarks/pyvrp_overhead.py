"""Where does our planner lose to plain PyVRP on big instances? (issue 16, docs/solver.md)

Runs the *same* PyVRP search (``pyvrp.solve``, default parameters) on three encodings of one
benchmark instance, for a fixed number of iterations rather than a wall-clock budget, so the
answer does not depend on how loaded the (shared) machine is:

* ``plain``: the instance as a PyVRP user models it (``solver_bench.plain_pyvrp_data``);
* ``ours``: the ``ProblemData`` our ``solve`` builds from the instance (``_translate``);

and reports, per encoding and seed, the cost (rescored from the instance file by the
independent verifier), CPU time per iteration (process time: much less dependent on the
machine's load than iterations per wall-clock second; the load is printed too) and the time
spent before the search (screening and translating).

Run ``python benchmarks/pyvrp_overhead.py FILE --iterations 20000 --seeds 1 2``.
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
from pyvrp.stop import MaxIterations

from lastmile.core.formats.instance_check import format_cost, verify_routes
from lastmile.core.formats.instances import read_instance
from lastmile.core.planning.explain import screen_orders
from lastmile.core.planning.solve import _translate

sys.path.insert(0, str(ROOT / "benchmarks"))
from solver_bench import plain_pyvrp_data


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("file", type=Path)
    parser.add_argument("--iterations", type=int, default=20000)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1])
    parser.add_argument("--encodings", default="plain,ours")
    args = parser.parse_args()
    instance = read_instance(args.file.read_text(encoding="utf-8"), args.file.stem)

    started = time.perf_counter()
    servable, _ = screen_orders(instance.problem)
    screened = time.perf_counter() - started
    ours = _translate(instance.problem, servable, strict=True)
    translated = time.perf_counter() - started - screened
    plain = plain_pyvrp_data(instance)
    print(
        f"{instance.meta.name}: screen_orders {screened:.2f} s, translate {translated:.2f} s "
        f"(load {os.getloadavg()[0]:.1f})"
    )
    results: dict[str, list[float]] = {}
    for encoding in args.encodings.split(","):
        for seed in args.seeds:
            data = plain if encoding == "plain" else ours.data
            t0 = time.perf_counter()
            cpu0 = time.process_time()
            result = pyvrp.solve(
                data, stop=MaxIterations(args.iterations), seed=seed, collect_stats=False
            )
            elapsed = time.perf_counter() - t0
            cpu = time.process_time() - cpu0
            ids = (
                [c.id for c in instance.customers]
                if encoding == "plain"
                else [int(o.id) for o in ours.client_orders]
            )
            routes = [
                [ids[a.idx] for a in route.schedule() if a.is_client()]
                for route in result.best.routes()
            ]
            verdict = verify_routes(instance, routes)
            cost = float(format_cost(verdict.cost_int, verdict.scale))
            results.setdefault(encoding, []).append(cost)
            print(
                f"{encoding:>6} seed {seed}: cost {cost:.1f} feasible={verdict.feasible} "
                f"routes={verdict.routes} {1000 * cpu / args.iterations:.2f} CPU-ms/iteration "
                f"({elapsed:.1f} s wall, {cpu:.1f} s CPU, load {os.getloadavg()[0]:.1f})",
                flush=True,
            )
    for encoding, costs in results.items():
        print(f"{encoding:>6}: mean cost {statistics.fmean(costs):.1f} over {len(costs)} seeds")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
