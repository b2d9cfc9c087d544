"""PyVRP's search, as ``pyvrp.solve`` runs it, with two handles ``solve`` does not offer.

``pyvrp.solve`` builds a local search, a penalty manager and an iterated local search, and
runs them. This module does the same with PyVRP's public classes (so the search is PyVRP's,
unchanged), and adds:

* **a warm start with its penalties.** PyVRP starts every penalty at the midpoint of its
  range (50,000 per unit of excess load or time warp) and adapts it slowly (x0.9 or x1.5 per
  500 candidate solutions). A search that continues from another one's best solution (the
  parallel exchange in ``solve``) should continue with the penalties that search had
  learnt, not start again from 50,000; :class:`SearchResult` hands them on.
* **the penalties it ended with**, for the same reason.

Everything else (operators, neighbourhood, perturbation, late-acceptance parameters) is
PyVRP's default ``SolveParams``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pyvrp
from pyvrp.IteratedLocalSearch import IteratedLocalSearch
from pyvrp.PenaltyManager import PenaltyManager
from pyvrp.search import LocalSearch, PerturbationManager, compute_neighbours
from pyvrp.stop import MaxIterations, MaxRuntime, MultipleCriteria, StoppingCriterion

from lastmile.core.units import COST_SCALE


@dataclass(frozen=True)
class SolveProgress:
    """One progress report while solving; ``fraction`` goes from 0 to 1."""

    elapsed_s: float
    fraction: float
    best_cost: float | None
    """Best feasible plan's objective so far (currency; orders left out count with their
    prize); ``None`` while no feasible plan is known."""
    iterations: int


ProgressCallback = Callable[[SolveProgress], None]


class ProgressStop:
    """PyVRP stopping criterion that also reports progress (it sees every iteration)."""

    def __init__(
        self,
        time_limit: float,
        max_iterations: int | None,
        on_progress: ProgressCallback | None,
    ) -> None:
        criteria: list[StoppingCriterion] = [MaxRuntime(time_limit)]
        if max_iterations is not None:
            criteria.append(MaxIterations(max_iterations))
        self._inner = MultipleCriteria(criteria)
        self._time_limit = time_limit
        self._max_iterations = max_iterations
        self._on_progress = on_progress
        self._start: float | None = None
        self._last_report = 0.0
        self.iterations = 0

    def __call__(self, best_cost: int) -> bool:
        now = time.perf_counter()
        if self._start is None:
            self._start = now
        stop = bool(self._inner(best_cost))
        if not stop:
            self.iterations += 1
        if self._on_progress is not None and (stop or now - self._last_report >= 0.1):
            self._last_report = now
            elapsed = now - self._start
            fraction = elapsed / self._time_limit if self._time_limit > 0 else 1.0
            if self._max_iterations:
                fraction = max(fraction, self.iterations / self._max_iterations)
            # PyVRP reports the largest integer while its best solution is infeasible.
            cost = best_cost / COST_SCALE if best_cost < np.iinfo(np.int64).max // 2 else None
            self._on_progress(
                SolveProgress(elapsed, 1.0 if stop else min(fraction, 0.99), cost, self.iterations)
            )
        return stop


Penalties = tuple[list[float], float, float]
"""Per unit of excess load (one per dimension), of time warp, of excess distance."""


@dataclass
class SearchResult:
    best: pyvrp.Solution
    iterations: int
    runtime_s: float
    penalties: Penalties


class Searcher:
    """PyVRP's search set up once for ``data``: its neighbourhood and local search are
    built here and reused by every :meth:`run` (a round of the parallel exchange). On a
    10,000-stop day computing the neighbourhood alone takes seconds; redoing it every round
    would eat the rounds. The random stream continues from run to run."""

    def __init__(self, data: pyvrp.ProblemData, seed: int) -> None:
        self.data = data
        self.params = pyvrp.SolveParams()
        self.rng = pyvrp.RandomNumberGenerator(seed=seed)
        neighbours = compute_neighbours(data, self.params.neighbourhood)
        perturbation = PerturbationManager(self.params.perturbation)
        self.local_search = LocalSearch(data, self.rng, neighbours, perturbation)
        for operator in self.params.operators:
            if operator.supports(data):
                self.local_search.add_operator(operator(data))

    def run(
        self,
        stop: StoppingCriterion,
        *,
        initial: pyvrp.Solution | None = None,
        penalties: Penalties | None = None,
    ) -> SearchResult:
        """One iterated local search from ``initial`` (default: a random solution improved
        by local search, as ``pyvrp.solve`` does) with ``penalties`` (default: PyVRP's)."""
        params = self.params
        manager = PenaltyManager(
            penalties if penalties is not None else params.penalty.midpoint_penalties(self.data),
            params.penalty,
        )
        if initial is None:
            random = pyvrp.Solution.make_random(self.data, self.rng)
            initial = self.local_search(random, manager.max_cost_evaluator(), exhaustive=True)
        algorithm = IteratedLocalSearch(self.data, manager, self.local_search, initial, params.ils)
        result = algorithm.run(stop, collect_stats=False, display=False)
        loads, time_warp, distance = manager.penalties()
        return SearchResult(
            result.best, result.num_iterations, result.runtime, (list(loads), time_warp, distance)
        )


def search(
    data: pyvrp.ProblemData,
    stop: StoppingCriterion,
    seed: int,
    *,
    initial: pyvrp.Solution | None = None,
    penalties: Penalties | None = None,
) -> SearchResult:
    """One PyVRP iterated local search (see :meth:`Searcher.run`)."""
    return Searcher(data, seed).run(stop, initial=initial, penalties=penalties)


__all__ = ["Penalties", "ProgressCallback", "SearchResult", "Searcher", "SolveProgress", "search"]
