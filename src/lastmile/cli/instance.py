"""``lastmile solve-instance``: solve one research benchmark instance and print the result.

Why it exists: anyone can check our planner's quality claims on a standard instance
(Solomon / Gehring-Homberger VRPTW, VRPLIB CVRP) with one command, and get a result that is
scored the way the literature scores it. The cost and feasibility printed are recomputed
from the instance file by an independent verifier
(:mod:`lastmile.core.formats.instance_check`) and by the planner's own ``check``; the
solver's objective is not trusted.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from lastmile.core.errors import LastmileError
from lastmile.core.formats.instance_check import format_cost, verify_routes
from lastmile.core.formats.instances import Instance, read_instance
from lastmile.core.model import Plan


def plan_routes(plan: Plan) -> list[list[int]]:
    """The plan's non-empty routes as customer numbers of the instance file."""
    return [[int(oid) for oid in route.order_ids] for route in plan.routes if route.order_ids]


def score_plan(instance: Instance, plan: Plan, runtime_s: float) -> dict[str, Any]:
    """The result object printed by the command (also used by the solver benchmark).

    ``feasible`` needs three independent agreements: our file-based verifier, the planner's
    ``check`` and no unassigned order.
    """
    from lastmile.core.planning import check

    routes = plan_routes(plan)
    verdict = verify_routes(instance, routes)
    report = check(plan, instance.problem)
    violations = list(verdict.violations)
    violations += [f"check: {v}" for v in report.violations]
    violations += [f"unassigned: {u.order_id} ({u.reason.value})" for u in plan.unassigned]
    return {
        "instance": instance.meta.name,
        "convention": instance.meta.convention.value,
        "cost": format_cost(verdict.cost_int, verdict.scale),
        "vehicles": verdict.routes,
        "feasible": verdict.feasible and report.ok and not plan.unassigned,
        "runtime_s": round(runtime_s, 3),
        "routes": routes,
        "violations": violations,
    }


def solve_instance(
    file: Annotated[
        Path,
        typer.Argument(
            exists=True,
            dir_okay=False,
            readable=True,
            help="Solomon/Gehring-Homberger .txt (VRPTW) or VRPLIB .vrp (CVRP, EUC_2D) file.",
        ),
    ],
    time_limit: Annotated[
        float, typer.Option("--time-limit", min=0.1, help="Search time in seconds.")
    ] = 10.0,
    seed: Annotated[int, typer.Option("--seed", help="Random seed (first worker).")] = 0,
    workers: Annotated[
        int,
        typer.Option(
            "--workers",
            min=1,
            help="Solver processes exchanging their best solution (seeds seed, seed+1, ...).",
        ),
    ] = 1,
) -> None:
    """Solve a benchmark instance under its literature convention; print one JSON object.

    VRPTW files are scored under the DIMACS rule (distances truncated to one decimal, total
    distance, fleet size from the file), CVRP files under TSPLIB EUC_2D rounding. The JSON
    has ``instance``, ``cost`` (in the file's units), ``vehicles``, ``feasible``,
    ``runtime_s``, ``routes`` (customer numbers as in the file) and any ``violations``.
    """
    import time

    from lastmile.core.planning import solve

    err = Console(stderr=True)
    try:
        instance = read_instance(file.read_text(encoding="utf-8"), file.stem)
    except LastmileError as exc:
        err.print(f"[red]error:[/red] {exc.message}")
        raise typer.Exit(code=1) from exc

    started = time.perf_counter()
    with Progress(
        TextColumn(f"solving {instance.meta.name}"),
        BarColumn(),
        TextColumn("{task.fields[best]}"),
        TimeElapsedColumn(),
        console=err,
        transient=True,
        disable=not err.is_terminal,
    ) as progress:
        task = progress.add_task("solve", total=1.0, best="")

        def on_progress(event: Any) -> None:
            best = "" if event.best_cost is None else f"best {event.best_cost:.2f}"
            progress.update(task, completed=event.fraction, best=best)

        plan = solve(
            instance.problem,
            time_limit=time_limit,
            seed=seed,
            workers=workers,
            strict=True,
            on_progress=on_progress,
        )
    runtime = time.perf_counter() - started
    typer.echo(json.dumps(score_plan(instance, plan, runtime)))
