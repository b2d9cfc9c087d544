"""``lastmile plan``: orders CSV + fleet -> plan.json, an offline map and a GeoJSON file."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from lastmile.cli.common import fail, load_provider, read_text, write_outputs
from lastmile.cli.geocoding import (
    GeocodedOrders,
    addresses_to_geocode,
    correction_lines,
    geocode_orders,
    unresolved_issues,
    unresolved_message,
    unresolved_table,
)
from lastmile.common.samples import sample_path
from lastmile.core.errors import FieldIssue, InputError, LastmileError
from lastmile.core.formats.orders_csv import OrdersFile, parse_orders_csv
from lastmile.core.formats.plan_json import plan_document, plan_geojson
from lastmile.core.formats.table import parse_windows
from lastmile.core.formats.vehicles_csv import PROFILE_ALIASES, parse_vehicles_csv
from lastmile.core.geo.timezone import zone_at
from lastmile.core.model import (
    Location,
    Order,
    Plan,
    Problem,
    TimeWindow,
    Unassigned,
    UnassignedReason,
    Vehicle,
)
from lastmile.core.planning import (
    Balance,
    CheckedPlan,
    SolveProgress,
    build_problem,
    plan_day,
)
from lastmile.core.times import format_clock

console = Console()
err_console = Console(stderr=True)


def _parse_capacity(
    text: str | None, orders_dims: tuple[str, ...]
) -> tuple[tuple[str, ...], tuple[float, ...]]:
    if text is None:
        raise InputError(
            issues=[
                FieldIssue(
                    None,
                    "--capacity",
                    None,
                    "is needed with --vehicles N, e.g. --capacity 100 or --capacity parcels=90,weight_kg=600",
                )
            ],
            source="command line",
        )
    text = text.strip()
    try:
        if "=" not in text:
            return orders_dims[:1] or ("parcels",), (float(text),)
        pairs = [p.split("=", 1) for p in text.split(",")]
        return tuple(k.strip() for k, _ in pairs), tuple(float(v) for _, v in pairs)
    except ValueError as exc:
        raise InputError(
            issues=[FieldIssue(None, "--capacity", text, "is not NUMBER or name=NUMBER,...")],
            source="command line",
        ) from exc


def _parse_depot(text: str | None) -> Location:
    if text is None:
        raise InputError(
            issues=[FieldIssue(None, "--depot", None, "is needed with --vehicles N (LON,LAT)")],
            source="command line",
        )
    try:
        lon, lat = (float(x) for x in text.split(","))
        return Location(lon, lat)
    except ValueError as exc:
        raise InputError(
            issues=[FieldIssue(None, "--depot", text, "is not LON,LAT in degrees")],
            source="command line",
        ) from exc


def _fleet(
    vehicles: str | None,
    capacity: str | None,
    depot: str | None,
    shift: str,
    profile: str,
    cost_per_km: float,
    cost_per_hour: float,
    orders_dims: tuple[str, ...],
) -> tuple[tuple[Vehicle, ...], tuple[str, ...]]:
    if vehicles is None:
        raise InputError(
            issues=[
                FieldIssue(
                    None, "--vehicles", None, "is needed: a vehicles CSV or a number of vehicles"
                )
            ],
            source="command line",
        )
    if re.fullmatch(r"\d+", vehicles.strip()):
        count = int(vehicles)
        if count < 1:
            raise InputError(
                issues=[FieldIssue(None, "--vehicles", vehicles, "must be at least 1")],
                source="command line",
            )
        dims, cap = _parse_capacity(capacity, orders_dims)
        start = _parse_depot(depot)
        try:
            (window,) = [TimeWindow(a, b) for a, b in parse_windows(shift)]
        except ValueError as exc:
            raise InputError(
                issues=[FieldIssue(None, "--shift", shift, "is not one window HH:MM-HH:MM")],
                source="command line",
            ) from exc
        kind = PROFILE_ALIASES.get(profile.lower().replace("-", "_"))
        if kind is None:
            raise InputError(
                issues=[FieldIssue(None, "--profile", profile, "is not a known profile")],
                source="command line",
            )
        fleet = tuple(
            Vehicle(
                id=f"V{k + 1}",
                name=f"Vehicle {k + 1}",
                start=start,
                end=start,
                shift=window,
                capacity=cap,
                profile=kind,
                cost_per_km=cost_per_km,
                cost_per_hour=cost_per_hour,
            )
            for k in range(count)
        )
        return fleet, dims
    parsed = parse_vehicles_csv(read_text(Path(vehicles)), source=vehicles)
    if parsed.unknown_columns:
        err_console.print(
            f"[yellow]{vehicles}: columns not understood (ignored): {', '.join(parsed.unknown_columns)}[/]"
        )
    if depot is not None:
        start = _parse_depot(depot)
        fleet = tuple(
            replace(v, start=start, end=start if v.end is not None else None)
            for v in parsed.vehicles
        )
        return fleet, parsed.dimensions
    return parsed.vehicles, parsed.dimensions


def _zone(name: str | None, fleet: tuple[Vehicle, ...]) -> ZoneInfo:
    if name is None:
        return zone_at(fleet[0].start)
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise InputError(
            issues=[
                FieldIssue(None, "--timezone", name, "is not an IANA time zone (e.g. Europe/Vaduz)")
            ],
            source="command line",
        ) from exc


def _print_plan(problem: Problem, plan: Plan, document: dict[str, Any]) -> None:
    table = Table(title="Routes", header_style="bold")
    load_header = "Max load\n" + "/".join(problem.dimensions)
    for column in (
        "Vehicle",
        "Stops",
        "km",
        "Hours",
        load_header,
        "First\narrival",
        "Last\narrival",
        "Cost",
    ):
        table.add_column(column, justify="left" if column == "Vehicle" else "right")
    for route in plan.routes:
        vehicle = problem.vehicle(route.vehicle_id)
        arrivals = [s.arrival for s in route.stops if s.order_id]
        peak = [
            max([route.start_load[k], *(s.load[k] for s in route.stops)]) / vehicle.capacity[k]
            if vehicle.capacity[k]
            else 0.0
            for k in range(len(problem.dimensions))
        ]
        load_text = " / ".join(f"{p:.0%}" for p in peak)
        table.add_row(
            vehicle.name or vehicle.id,
            str(len(route.order_ids)),
            f"{route.distance_m / 1000:.1f}",
            f"{route.duration_s / 3600:.2f}",
            load_text,
            format_clock(min(arrivals)) if arrivals else "-",
            format_clock(max(arrivals)) if arrivals else "-",
            f"{route.cost:.2f}",
        )
    console.print(table)
    totals = document["totals"]
    console.print(
        f"[bold]Totals:[/] {totals['routed']} of {totals['orders']} orders on "
        f"{totals['vehicles_used']} of {totals['vehicles_available']} vehicles, "
        f"{totals['distance_m'] / 1000:.1f} km, {totals['duration_s'] / 3600:.1f} h, cost {totals['cost']:.2f} "
        f"(travel times: {document['travel_times']})"
    )
    if plan.unassigned:
        missing = Table(title=f"Unassigned ({len(plan.unassigned)})", header_style="bold red")
        missing.add_column("Order")
        missing.add_column("Reason")
        missing.add_column("Details")
        for u in plan.unassigned:
            missing.add_row(u.order_id, u.reason.value, u.message)
        console.print(missing)
    else:
        console.print("[green]Every order is planned.[/]")


def plan(
    orders: Annotated[
        Path | None,
        typer.Argument(help="Orders CSV (see docs/csv-formats.md).", show_default=False),
    ] = None,
    out: Annotated[Path, typer.Option("--out", help="Where to write plan.json.")] = Path(
        "plan.json"
    ),
    vehicles: Annotated[
        str | None, typer.Option(help="Vehicles CSV, or a number of identical vehicles.")
    ] = None,
    capacity: Annotated[
        str | None, typer.Option(help="With --vehicles N: '100' or 'parcels=90,weight_kg=600'.")
    ] = None,
    depot: Annotated[
        str | None, typer.Option(help="LON,LAT where vehicles start and end (overrides the CSV).")
    ] = None,
    shift: Annotated[str, typer.Option(help="With --vehicles N: shift window.")] = "08:00-18:00",
    profile: Annotated[
        str, typer.Option(help="With --vehicles N: van, car, cargo_bike, bicycle or walking.")
    ] = "van",
    cost_per_km: Annotated[float, typer.Option(help="With --vehicles N.")] = 0.30,
    cost_per_hour: Annotated[float, typer.Option(help="With --vehicles N.")] = 25.0,
    time_limit: Annotated[float, typer.Option(help="Seconds of search.")] = 10.0,
    seed: Annotated[
        int, typer.Option(help="Random seed (with --iterations the plan is reproducible).")
    ] = 0,
    iterations: Annotated[
        int | None, typer.Option(help="Stop after this many search iterations.")
    ] = None,
    workers: Annotated[
        int,
        typer.Option(
            min=1,
            help="Solver processes exchanging their best solution (default 1: a second one "
            "did not win reliably at equal wall time, docs/solver.md).",
        ),
    ] = 1,
    day: Annotated[
        str | None, typer.Option("--date", help="Plan date YYYY-MM-DD (default: today).")
    ] = None,
    timezone: Annotated[
        str | None, typer.Option(help="IANA zone of the windows (default: the depot's).")
    ] = None,
    roads: Annotated[
        Path | None, typer.Option(help="OpenStreetMap extract (.osm.pbf) for road travel times.")
    ] = None,
    map_file: Annotated[
        Path | None, typer.Option("--map", help="Write a self-contained HTML map.")
    ] = None,
    geojson: Annotated[Path | None, typer.Option(help="Write routes and stops as GeoJSON.")] = None,
    sample: Annotated[
        bool,
        typer.Option(
            "--sample", help="Plan the bundled sample day (Liechtenstein) on its road network."
        ),
    ] = False,
    balance: Annotated[
        float | None,
        typer.Option(
            "--balance",
            help="Share the day between all vehicles: no route more than PCT percent above "
            "the mean in stops or hours (e.g. 20). Default: the cheapest day.",
            metavar="PCT",
            min=0,
            max=200,
        ),
    ] = None,
    skip_unresolved: Annotated[
        bool,
        typer.Option(
            "--skip-unresolved",
            help="Plan anyway when some addresses cannot be geocoded: those orders are left "
            "unassigned (address_unresolved) instead of stopping.",
        ),
    ] = False,
    address_cache: Annotated[
        Path | None,
        typer.Option(
            "--address-cache",
            help="Address index cache for geocoding rows without lon/lat. Default: next to "
            "the extract (X.osm.addr.json.gz).",
            dir_okay=False,
        ),
    ] = None,
) -> None:
    """Plan a delivery day: routes for the fleet, and a reason for every order left out."""
    try:
        if sample:
            orders = orders or sample_path("sample_day_orders.csv")
            vehicles = vehicles or str(sample_path("sample_vehicles.csv"))
            if roads is None:
                from lastmile.cli.common import bundled_extract

                roads = bundled_extract()
        if orders is None:
            raise InputError(
                issues=[
                    FieldIssue(None, "ORDERS", None, "missing: give an orders CSV (or --sample)")
                ],
                source="command line",
            )
        orders_text = read_text(orders)
        probe: OrdersFile | None = None
        try:
            probe = parse_orders_csv(orders_text, source=str(orders), require_coordinates=False)
        except InputError:
            probe = None  # re-parsed below with the fleet's dimensions, which reports properly
        fleet, dims = _fleet(
            vehicles,
            capacity,
            depot,
            shift,
            profile,
            cost_per_km,
            cost_per_hour,
            probe.dimensions if probe else (),
        )
        parsed = parse_orders_csv(
            orders_text, dimensions=dims, source=str(orders), require_coordinates=False
        )
        geocoded = _geocode_missing(
            parsed, orders_text, str(orders), roads, address_cache, skip_unresolved
        )
        parsed = geocoded.file
        skipped = _skipped_orders(geocoded) if geocoded.unresolved else {}
        if parsed.unknown_columns:
            err_console.print(
                f"[yellow]{orders}: columns not understood (ignored): {', '.join(parsed.unknown_columns)}[/]"
            )
        if parsed.missing_demand:
            err_console.print(
                f"[yellow]{orders}: no column for {', '.join(parsed.missing_demand)}; taken as 0 for every order[/]"
            )
        zone = _zone(timezone, fleet)
        day_planned = _day_of(day, parsed)
        provider = load_provider(
            roads, console=err_console, profiles=list(dict.fromkeys(v.profile for v in fleet))
        )
        with err_console.status(f"Computing travel times ({provider.name}) ..."):
            problem = build_problem(
                tuple(o for o in parsed.orders if o.id not in skipped), fleet, dims, provider
            )
        limit = time_limit if time_limit > 0 else 10.0
        checked = _solve_with_progress(
            problem,
            limit,
            seed,
            iterations,
            workers,
            Balance(balance / 100) if balance is not None else None,
        )
        result, report = checked.plan, checked.check
        if not report.ok:
            err_console.print(
                "[red]The independent check found problems in the plan (written, marked in "
                f"its `check` member; exit status 3):[/]\n{report}"
            )
        if skipped:
            # Every input order appears once in plan.json: the skipped ones (no location,
            # so the map and GeoJSON leave them out) are listed as unassigned.
            extra = tuple(o for o in parsed.orders if o.id in skipped)
            problem = replace(problem, orders=(*problem.orders, *extra))
            result = replace(result, unassigned=(*result.unassigned, *skipped.values()))
        document = plan_document(
            problem,
            result,
            day=day_planned,
            zone=zone,
            travel_times=provider.name,
            time_limit_s=limit,
            check=report,
        )
        outputs: dict[Path, str] = {out: json.dumps(document, indent=2, ensure_ascii=False) + "\n"}
        if map_file is not None or geojson is not None:
            features = plan_geojson(
                problem, result, document, lambda a, b, p: provider.path(a, b, _profile(p))
            )
            if geojson is not None:
                outputs[geojson] = json.dumps(features, ensure_ascii=False) + "\n"
            if map_file is not None:
                from lastmile.pageframe.planmap import render_plan_map

                outputs[map_file] = render_plan_map(
                    document, features, title=f"Delivery plan {day_planned.isoformat()}"
                )
        write_outputs(outputs)
    except LastmileError as exc:
        fail(exc)
    _print_plan(problem, result, document)
    for path in outputs:
        console.print(f"Wrote [bold]{path}[/]")
    if map_file is not None:
        console.print(
            f"Open the map: [link=file://{map_file.resolve()}]file://{map_file.resolve()}[/link]"
        )
    if not report.ok:
        # Last, so it is not scrolled away by the table: the plan is written but marked.
        err_console.print(
            f"[red]The plan has {len(report.violations)} finding(s) of the independent check "
            "(listed above and in plan.json `check`).[/]"
        )
        raise typer.Exit(3)


def _geocode_missing(
    parsed: OrdersFile,
    text: str,
    source: str,
    roads: Path | None,
    cache: Path | None,
    skip_unresolved: bool,
) -> GeocodedOrders:
    """Geocode the rows without coordinates; stop (exit 1) on unresolved ones unless skipped."""
    column, addresses = addresses_to_geocode(text, source=source)
    if not addresses:
        return GeocodedOrders(parsed, ())
    from lastmile.cli.common import bundled_extract

    extract = roads if roads is not None else bundled_extract()
    geocoded = geocode_orders(parsed, addresses, extract=extract, cache=cache, console=err_console)
    if geocoded.corrected:
        err_console.print(f"[cyan]Corrected {len(geocoded.corrected)} address(es):[/]")
        for line in correction_lines(geocoded.corrected):
            err_console.print(f"  {line}", markup=False, highlight=False)
    if geocoded.unresolved:
        err_console.print(unresolved_table(geocoded.unresolved))
        if not skip_unresolved:
            issues = unresolved_issues(geocoded.unresolved, column)
            issues.append(
                FieldIssue(
                    None,
                    None,
                    None,
                    f"{len(issues)} address(es) could not be resolved: fix them, give lon/lat, "
                    "or pass --skip-unresolved to plan without them",
                )
            )
            raise InputError(issues=issues, source=source)
        rows = ", ".join(str(r.row) for r in geocoded.unresolved)
        err_console.print(
            f"[yellow]{len(geocoded.unresolved)} order(s) left unassigned "
            f"(address_unresolved): row {rows}[/]"
        )
    return geocoded


def _skipped_orders(geocoded: GeocodedOrders) -> dict[str, Unassigned]:
    """Unresolved orders, and the other half of a pickup/delivery pair they belong to."""
    skipped = {
        r.order_id: Unassigned(
            r.order_id, UnassignedReason.ADDRESS_UNRESOLVED, unresolved_message(r)
        )
        for r in geocoded.unresolved
    }
    orders: tuple[Order, ...] = geocoded.file.orders
    for order in orders:
        partner = order.deliver_to
        if partner is None:
            continue
        for a, b in ((order.id, partner), (partner, order.id)):
            if a in skipped and b not in skipped:
                skipped[b] = Unassigned(
                    b,
                    UnassignedReason.PAIR_UNASSIGNED,
                    f"the other half of the pair ({a}) has an unresolved address",
                )
    return skipped


def _profile(name: str) -> Any:
    from lastmile.core.model import Profile

    return Profile(name)


def _day_of(text: str | None, parsed: OrdersFile) -> date:
    if text is not None:
        try:
            return date.fromisoformat(text)
        except ValueError as exc:
            raise InputError(
                issues=[FieldIssue(None, "--date", text, "is not a date (YYYY-MM-DD)")],
                source="command line",
            ) from exc
    days = {r.date for r in parsed.rows if r.date is not None}
    if len(days) > 1:
        raise InputError(
            issues=[
                FieldIssue(
                    None,
                    "date",
                    None,
                    f"the file has orders for {len(days)} dates ({', '.join(sorted(d.isoformat() for d in days))}); plan one with --date",
                )
            ],
            source="orders CSV",
        )
    return days.pop() if days else date.today()


def _solve_with_progress(
    problem: Problem,
    limit: float,
    seed: int,
    iterations: int | None,
    workers: int,
    balance: Balance | None = None,
) -> CheckedPlan:
    with Progress(
        TextColumn("Planning {task.fields[orders]} orders"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TextColumn("{task.fields[best]}"),
        TimeElapsedColumn(),
        console=err_console,
        transient=False,
    ) as progress:
        task = progress.add_task("solve", total=1.0, orders=len(problem.orders), best="")

        def update(event: SolveProgress) -> None:
            best = (
                f"best cost {event.best_cost:.2f}" if event.best_cost is not None else "searching"
            )
            progress.update(task, completed=event.fraction, best=best)

        checked = plan_day(
            problem,
            time_limit=limit,
            seed=seed,
            workers=workers,
            balance=balance,
            max_iterations=iterations,
            on_progress=update,
        )
        progress.update(task, completed=1.0)
    return checked
