"""Planning: build a problem, solve it, check any plan independently, explain what is left out.

The rest of lastmile calls only what this package exports; PyVRP stays behind ``solve``.
"""

from lastmile.core.planning.balance import Balance, BalanceReport, balance_of, solve_balanced
from lastmile.core.planning.build import build_problem, validate_problem
from lastmile.core.planning.check import CheckReport, Violation, ViolationCode, check
from lastmile.core.planning.day import CheckedPlan, plan_day
from lastmile.core.planning.explain import Insertion, explain_dropped, insertions, screen_orders
from lastmile.core.planning.solve import SolveProgress, solve
from lastmile.core.planning.timing import RouteTiming, route_cost, simulate

__all__ = [
    "Balance",
    "BalanceReport",
    "CheckReport",
    "CheckedPlan",
    "Insertion",
    "RouteTiming",
    "SolveProgress",
    "Violation",
    "ViolationCode",
    "balance_of",
    "build_problem",
    "check",
    "explain_dropped",
    "insertions",
    "plan_day",
    "route_cost",
    "screen_orders",
    "simulate",
    "solve",
    "solve_balanced",
    "validate_problem",
]
