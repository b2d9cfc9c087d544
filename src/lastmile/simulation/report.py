"""What a simulated day prints at the end: the day's KPIs and the simulation's own counts.

Shared by ``lastmile simulate`` and ``lastmile demo``, so that both show a day the same way.
"""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

from lastmile.simulation import console
from lastmile.simulation.run import Outcome
from lastmile.simulation.scenario import jams_text


def print_kpis(kpis: dict[str, Any], out: Console | None = None) -> None:
    table = Table(title=f"KPIs of {kpis['filters']['from']} (GET /api/v1/kpis)")
    table.add_column("KPI")
    table.add_column("value", justify="right")

    def fmt(value: Any, unit: str = "", pct: bool = False) -> str:
        if value is None:
            return "-"
        if pct:
            return f"{100 * value:.1f} %"
        if isinstance(value, float):
            return f"{value:.2f}{unit}"
        return f"{value}{unit}"

    rows = [
        ("orders", fmt(kpis["orders"])),
        ("delivered", fmt(kpis["delivered"])),
        ("failed attempts", fmt(kpis["failed_attempts"])),
        ("first-attempt success", fmt(kpis["first_attempt_success_rate"], pct=True)),
        ("on time", fmt(kpis["on_time_rate"], pct=True)),
        ("POD compliance", fmt(kpis.get("pod_compliance"), pct=True)),
        ("cost per delivery", fmt(kpis["cost"]["per_delivery"])),
        ("avg delivery time", fmt(kpis["avg_delivery_time_s"], " s")),
        ("p90 delivery time", fmt(kpis["p90_delivery_time_s"], " s")),
        ("stops per hour", fmt(kpis["stops_per_hour"])),
        ("km per stop", fmt(kpis["km_per_stop"], " km")),
        ("km planned / actual", f"{kpis['planned_km']:.2f} / {kpis['actual_km']:.2f}"),
        ("hours planned / actual", f"{kpis['planned_hours']:.2f} / {kpis['actual_hours']:.2f}"),
        ("failure reasons", ", ".join(f"{k}: {v}" for k, v in kpis["failure_reasons"].items())),
    ]
    for name, value in rows:
        table.add_row(name, value or "-")
    (out or console).print(table)


def print_outcome(outcome: Outcome, out: Console | None = None) -> None:
    """The KPIs and what the simulation itself did."""
    print_kpis(outcome.kpis, out)
    c = outcome.counts
    table = Table(title="The simulation")
    table.add_column("what")
    table.add_column("count", justify="right")
    if outcome.organisation:
        table.add_row(
            "organisation",
            outcome.organisation
            + (f" (the simulation of {outcome.simulates})" if outcome.simulates else ""),
        )
    table.add_row("routes driven", str(outcome.drivers) + (" (resumed)" if outcome.resumed else ""))
    table.add_row("events sent", str(sum(c.events.values())))
    table.add_row("  by type", ", ".join(f"{k} {v}" for k, v in sorted(c.events.items())) or "-")
    table.add_row("events rejected", str(len(c.rejected)))
    table.add_row("positions sent", f"{c.positions} in {c.position_batches} batches")
    table.add_row("positions refused", str(c.positions_refused))
    table.add_row("proofs uploaded", str(c.pods))
    table.add_row("route reads", str(c.route_reads))
    table.add_row("same-day inserted", str(c.same_day_inserted))
    table.add_row(
        "same-day not fitting",
        f"{sum(c.same_day_not_fitting.values())}"
        + (
            " (" + ", ".join(f"{k}: {v}" for k, v in sorted(c.same_day_not_fitting.items())) + ")"
            if c.same_day_not_fitting
            else ""
        ),
    )
    if c.same_day_elsewhere:
        table.add_row("same-day on another plan's route", str(c.same_day_elsewhere))
    if c.same_day_skipped:
        table.add_row("same-day not sent", str(c.same_day_skipped))
    table.add_row(
        "late driver",
        f"{outcome.late[0]} ({outcome.late[1]:.0f} min)" if outcome.late else "-",
    )
    table.add_row(
        "jams",
        jams_text(outcome.jams),
    )
    table.add_row(
        "roads",
        outcome.roads
        + (f" ({outcome.road_fallbacks} straight legs)" if outcome.road_fallbacks else ""),
    )
    effective = outcome.simulated_s / outcome.real_s if outcome.real_s > 0 else 0.0
    table.add_row(
        "time",
        f"{outcome.simulated_s / 3600:.1f} h simulated in {outcome.real_s:.0f} s "
        f"({effective:.0f}x of {outcome.speed:g}x)" + (", stopped" if outcome.stopped else ""),
    )
    (out or console).print(table)
