"""``lastmile simulate``: drive a whole delivery day against a running server, over HTTP only.

Creates (or uses) the day's orders, makes sure there are N drivers with logins and N vehicles,
plans the day, dispatches it and then drives every route exactly as the driver app would
(``/api/v1/driver/*``): ``route_started``, GPS points along the roads with noise, ``arrived``,
``delivered`` with a signature (sometimes ``failed``, ``not_home``), ``route_finished``. At the
end it prints the KPIs of ``GET /api/v1/kpis`` for that date and the simulation's own counts.

This module is the command: its options, their errors and the printing. The simulation
itself is :mod:`lastmile.simulation` (the demo drives its day with it too).
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated

import httpx
import typer
from rich.markup import escape

from lastmile.cli.common import bundled_extract, load_provider
from lastmile.core.errors import InputError
from lastmile.core.roads import RoadProvider
from lastmile.simulation import console
from lastmile.simulation.client import SimulationError
from lastmile.simulation.legs import Roads
from lastmile.simulation.report import print_outcome
from lastmile.simulation.run import Options, run_simulation
from lastmile.simulation.scenario import parse_speed


def load_roads(extract: Path | None, *, enabled: bool = True) -> Roads:
    """The road network of ``extract`` (default: the bundled one), or straight lines."""
    if not enabled:
        return Roads(None)
    provider = load_provider(extract or bundled_extract(), console=console)
    assert isinstance(provider, RoadProvider)
    return Roads(provider)


def simulate(
    server: Annotated[str, typer.Option(help="Base URL of the lastmile server.")],
    email: Annotated[str | None, typer.Option(help="Dispatcher or admin login.")] = None,
    password: Annotated[str | None, typer.Option(help="Its password.")] = None,
    api_key: Annotated[
        str | None, typer.Option("--api-key", help="A staff API key instead of a login.")
    ] = None,
    driver: Annotated[
        list[str] | None,
        typer.Option(
            "--driver",
            help="A driver's login EMAIL:PASSWORD (repeat once per driver; "
            "create them with `lastmile admin create-user --role driver`).",
        ),
    ] = None,
    driver_password: Annotated[
        str | None,
        typer.Option(
            "--driver-password",
            help="Create the missing driver logins (admin only) with this password.",
        ),
    ] = None,
    drivers: Annotated[int, typer.Option("--drivers", min=1, help="How many drivers drive.")] = 1,
    orders: Annotated[
        int, typer.Option("--orders", min=1, max=10_000, help="Orders of the day.")
    ] = 20,
    existing: Annotated[
        bool,
        typer.Option(
            "--existing", help="Plan the date's ready orders instead of creating --orders."
        ),
    ] = False,
    day: Annotated[
        str | None, typer.Option("--date", help="Delivery date YYYY-MM-DD (default: today).")
    ] = None,
    speed: Annotated[
        str, typer.Option(help="Time compression: 60x = a simulated minute per real second.")
    ] = "60x",
    seed: Annotated[int, typer.Option(help="Seed of addresses, delays and failures.")] = 1,
    same_day: Annotated[
        int | None,
        typer.Option(
            "--same-day",
            min=0,
            help="Orders arriving during the day (default: 5 % of --orders, ≥ 1 from 10).",
        ),
    ] = None,
    roads: Annotated[
        Path | None,
        typer.Option(
            "--roads", help="OpenStreetMap extract (.osm.pbf) to drive on (default: bundled)."
        ),
    ] = None,
    no_roads: Annotated[
        bool, typer.Option("--no-roads", help="Drive straight lines between stops.")
    ] = False,
    plan_time_limit: Annotated[
        float, typer.Option("--plan-time-limit", help="Solver time limit, seconds.")
    ] = 2.0,
) -> None:
    """Simulate a delivery day against a server through its public HTTP API."""
    try:
        factor = parse_speed(speed)
        when = date.fromisoformat(day) if day else None
    except ValueError as exc:
        console.print(f"[red]error:[/] {escape(str(exc))}")
        raise typer.Exit(2) from exc
    if roads is not None and no_roads:
        console.print("[red]error:[/] --roads and --no-roads exclude each other")
        raise typer.Exit(2)
    logins = driver or []
    if any(":" not in x for x in logins) or (len(logins) < drivers and not driver_password):
        console.print(
            f"[red]error:[/] --drivers {drivers} needs {drivers} --driver EMAIL:PASSWORD logins "
            f"(got {len(logins)}): create them with `lastmile admin create-user --role driver`, "
            "or let an admin's login create them with --driver-password"
        )
        raise typer.Exit(2)
    try:
        network = load_roads(roads, enabled=not no_roads)
    except InputError as exc:
        text = "; ".join(f"{i.field} {i.value}: {i.message}" for i in exc.issues)
        console.print(f"[red]error:[/] {escape(text or exc.message)}", highlight=False)
        raise typer.Exit(2) from exc
    options = Options(
        server=server,
        email=email,
        password=password,
        api_key=api_key,
        logins=[(a, b) for a, _, b in (x.partition(":") for x in logins)],
        driver_password=driver_password,
        drivers=drivers,
        orders=orders,
        existing=existing,
        day=when,
        speed=factor,
        seed=seed,
        same_day=same_day,
        plan_time_limit=plan_time_limit,
    )
    try:
        outcome = run_simulation(options, network)
    except (SimulationError, httpx.HTTPError) as exc:
        console.print(f"[red]error:[/] {escape(str(exc))}")
        raise typer.Exit(1) from exc
    print_outcome(outcome)
