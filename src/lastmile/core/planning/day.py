"""Plan a day: the one call behind ``lastmile plan`` and the server's plan job.

Both used to solve and then run the independent checker on their own, and disagreed on what
a failed check means: the CLI printed a warning and wrote the plan, the server raised and
the plan became "failed" with a generic message, its routes lost. One behaviour now:

* **The plan is kept and marked.** A plan the checker finds fault with is usually almost
  right (one stop a minute late after rounding, a break placed past its window). Throwing it
  away leaves the owner with nothing at 6 in the morning; hiding the finding would make the
  check pointless. So :func:`plan_day` always returns the plan *with* the checker's report,
  and every caller must show it: the plan document carries it as ``check`` (see
  ``docs/plan-json.md``), the CLI prints it and exits with status 3, the dashboard shows it
  on the plan page, the ``plan.done`` event says how many findings there are.
* **Never silent.** The findings are also logged as a warning here, so a server log shows
  them even when nobody opens the plan.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from lastmile.core.model import Plan, Problem
from lastmile.core.planning.balance import Balance, solve_balanced
from lastmile.core.planning.check import CheckReport, check
from lastmile.core.planning.solve import ProgressCallback, solve

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CheckedPlan:
    """A solved day and what the independent checker found in it (``check.ok``: nothing)."""

    plan: Plan
    check: CheckReport


def plan_day(
    problem: Problem,
    *,
    time_limit: float,
    seed: int = 0,
    workers: int = 1,
    balance: Balance | None = None,
    max_iterations: int | None = None,
    on_progress: ProgressCallback | None = None,
) -> CheckedPlan:
    """Solve ``problem`` (cheapest, or spread over the vans with ``balance``) and check it.

    ``workers`` is the number of solver processes (see ``solve``). The plan is returned
    whatever the checker says; the caller shows ``check`` to the user (module docstring).
    """
    if balance is None:
        plan = solve(
            problem,
            time_limit=time_limit,
            seed=seed,
            on_progress=on_progress,
            max_iterations=max_iterations,
            workers=workers,
        )
    else:
        plan = solve_balanced(
            problem,
            balance,
            time_limit=time_limit,
            seed=seed,
            on_progress=on_progress,
            max_iterations=max_iterations,
            workers=workers,
        )
    report = check(plan, problem)
    if not report.ok:
        log.warning(
            "the independent check found %d problem(s) in the plan (kept, marked): %s",
            len(report.violations),
            "; ".join(v.message for v in report.violations[:5]),
        )
    return CheckedPlan(plan, report)


__all__ = ["CheckedPlan", "plan_day"]
