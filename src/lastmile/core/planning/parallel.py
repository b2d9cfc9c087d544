"""Several cores for one plan: parallel PyVRP searches that exchange their best solution.

Independent searches with different seeds (best of N) lost to one search on 1000-customer
instances: each got 1/N of the machine's iterations when it was busy, and a big instance
needs every iteration on *one* trajectory (docs/benchmarks.md, Solver). Here the time is
cut into rounds; in each round every process searches from the best solution found so far
by any of them (with its own random stream, seeded ``seed + k``, so they explore
differently, and with the penalties its own search had learnt, see :mod:`.search`), and at
the end of the round the best one is handed to all. A round is long enough for thousands of
iterations (``ROUND_S``), and each process sets its search up once (neighbourhood, local
search) and reuses it every round, so the exchange costs little next to the search.

The problem data is not sent to the workers: it is put in a module global before the pool
forks, so each worker reads the parent's copy (copy-on-write) instead of a pickled one (on a
10,000-stop day the matrices are gigabytes).
"""

from __future__ import annotations

import multiprocessing
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace

import pyvrp

from lastmile.core.planning.search import (
    Penalties,
    ProgressCallback,
    ProgressStop,
    Searcher,
    SearchResult,
    SolveProgress,
    search,
)

ROUND_S = 8.0
"""Seconds between exchanges of the best solution (the last round takes what is left)."""

_DATA: pyvrp.ProblemData | None = None
"""The problem of the running parallel solve, inherited by forked workers."""
_SEARCHER: Searcher | None = None
"""A worker process's search, set up in its first round and reused in the next ones."""


def solution_key(solution: pyvrp.Solution) -> tuple[int, int]:
    """(infeasible, cost) of a PyVRP solution: feasible first, then cheapest; orders left out
    count with their prize."""
    cost = (
        solution.distance_cost()
        + solution.duration_cost()
        + solution.fixed_vehicle_cost()
        + solution.uncollected_prizes()
    )
    return (0 if solution.is_feasible() else 1), cost


def _worker_round(
    seed: int,
    seconds: float,
    max_iterations: int | None,
    initial: pyvrp.Solution | None,
    penalties: Penalties | None,
) -> SearchResult:
    global _SEARCHER
    assert _DATA is not None, "the problem is set before the pool forks"
    if _SEARCHER is None or _SEARCHER.data is not _DATA:
        _SEARCHER = Searcher(_DATA, seed)  # later rounds continue its random stream
    stop = ProgressStop(seconds, max_iterations, None)
    return _SEARCHER.run(stop, initial=initial, penalties=penalties)


def run_searches(
    data: pyvrp.ProblemData,
    *,
    seed: int,
    time_limit: float,
    max_iterations: int | None,
    workers: int,
    on_progress: ProgressCallback | None,
) -> list[SearchResult]:
    """Search ``data`` with ``workers`` processes (this one included) for ``time_limit``
    seconds; return each process's last result with its iterations over all rounds (the
    caller takes the best)."""
    if workers <= 1:
        return [search(data, ProgressStop(time_limit, max_iterations, on_progress), seed)]
    global _DATA
    rounds = max(1, round(time_limit / ROUND_S))
    per_round = time_limit / rounds
    iterations = None if max_iterations is None else max(1, max_iterations // rounds)
    methods = multiprocessing.get_all_start_methods()
    # fork: the workers inherit _DATA (and do not re-import the caller's main module, which
    # spawn would, needing an ``if __name__ == "__main__"`` guard in every script).
    context = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
    _DATA = data
    started = time.perf_counter()
    own_searcher = Searcher(data, seed)
    try:
        with ProcessPoolExecutor(max_workers=workers - 1, mp_context=context) as pool:
            results: list[SearchResult] = []
            done = [0] * workers  # iterations of each process over all rounds
            for r in range(rounds):
                # The whole search keeps to ``time_limit``: a round that started late (set-up
                # and exchanges take time on a loaded machine) gets only what is left.
                left = time_limit - (time.perf_counter() - started)
                if results and left <= 0:
                    break
                round_s = max(0.1, min(per_round, left))
                best = min(results, key=lambda x: solution_key(x.best)) if results else None
                initial = best.best if best is not None else None
                penalties: list[Penalties | None] = [x.penalties for x in results]
                penalties = penalties or [None] * workers
                futures = [
                    pool.submit(
                        _worker_round,
                        seed + k,
                        round_s,
                        iterations,
                        initial,
                        penalties[k],
                    )
                    for k in range(1, workers)
                ]
                report = _round_progress(on_progress, r, rounds, started)
                own = own_searcher.run(
                    ProgressStop(round_s, iterations, report),
                    initial=initial,
                    penalties=penalties[0],
                )
                results = [own, *(f.result() for f in futures)]
                done = [d + x.iterations for d, x in zip(done, results, strict=True)]
            return [replace(x, iterations=d) for x, d in zip(results, done, strict=True)]
    finally:
        _DATA = None


def _round_progress(
    on_progress: ProgressCallback | None, r: int, rounds: int, started: float
) -> ProgressCallback | None:
    """Progress of round ``r`` of ``rounds`` as progress of the whole search."""
    if on_progress is None:
        return None
    report = on_progress

    def update(p: SolveProgress) -> None:
        fraction = (r + p.fraction) / rounds
        if r < rounds - 1:
            fraction = min(fraction, 0.99)
        report(replace(p, fraction=fraction, elapsed_s=time.perf_counter() - started))

    return update


__all__ = ["ROUND_S", "run_searches", "solution_key"]
