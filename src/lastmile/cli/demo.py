"""``lastmile demo``: a newcomer's first minute.

Plans the bundled sample day to files (map, plan.json), seeds a demo organisation with users,
fleet, a login per driver and today's orders in the embedded database, starts the server and,
once it answers, a simulated day of today's orders in a background thread
(:mod:`lastmile.simulation`, over HTTP like any client) in the simulation organisation "Demo
Deliveries (simulation)", on its own clock, so that vehicles move on ``/app/live`` within
seconds and the day's KPIs are those of a real day.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo

import httpx
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from sqlalchemy import select
from sqlalchemy.orm import Session

from lastmile.auth import service as auth
from lastmile.cli.plan import plan as plan_command
from lastmile.common.samples import sample_path
from lastmile.config import get_settings
from lastmile.core.errors import NotFound
from lastmile.db import create_db_engine, migrate, session_factory
from lastmile.fleet import service as fleet
from lastmile.fleet.models import Driver, Vehicle
from lastmile.fleet.schemas import DepotCreate, DriverCreate, DriverUpdate
from lastmile.orders import service as orders
from lastmile.orgs import service as orgs
from lastmile.orgs.models import Organisation, Role
from lastmile.simulation.client import NothingToDrive, SimulationError
from lastmile.simulation.legs import Roads
from lastmile.simulation.report import print_outcome
from lastmile.simulation.run import Options, run_simulation
from lastmile.simulation.scenario import parse_speed

DEMO_ORG = "Demo Deliveries"
DEMO_TZ = "Europe/Vaduz"
DEMO_PASSWORD = "demo-password"
DEPOT = (9.5087, 47.1657, "Depot Schaan")
DEMO_DRIVERS = 5
"""A driver login per vehicle of the sample fleet (``sample_vehicles.csv``)."""
DEMO_SPEED = "60x"
"""A simulated minute per real second: vans visibly move on the live map."""
DEMO_PLAN_TIME_LIMIT = 3.0
"""Seconds the server's solver gets for today's plan before the simulated day starts."""

console = Console()


@dataclass(frozen=True)
class DemoLogin:
    role: Role
    email: str


def driver_email(number: int) -> str:
    """``driver@…`` drives Van 1 (the login the README names), ``driver<n>@…`` the others."""
    return "driver@demo.lastmile.test" if number == 1 else f"driver{number}@demo.lastmile.test"


DRIVER_LOGINS = tuple(DemoLogin(Role.DRIVER, driver_email(n)) for n in range(1, DEMO_DRIVERS + 1))
LOGINS = (
    DemoLogin(Role.ADMIN, "admin@demo.lastmile.test"),
    DemoLogin(Role.DISPATCHER, "dispatcher@demo.lastmile.test"),
    *DRIVER_LOGINS,
)


def seed(session: Session) -> tuple[Organisation, int]:
    """Create (or refresh) the demo organisation; returns it and how many orders today has."""
    try:
        org = orgs.get_by_name(session=session, name=DEMO_ORG)
    except NotFound:
        org = orgs.create(session=session, name=DEMO_ORG, timezone=DEMO_TZ)
    users: dict[str, str] = {}
    for login in LOGINS:
        try:
            user = auth.get_user_by_email(session=session, email=login.email)
        except NotFound:
            user = auth.create_user(
                session=session,
                email=login.email,
                password=DEMO_PASSWORD,
                name=f"Demo {login.role.value}",
            )
        orgs.add_member(session=session, org_id=org.id, user_id=user.id, role=login.role)
        users[login.email] = user.id
    depots, _ = fleet.list_depots(session=session, org_id=org.id, limit=1)
    if not depots:
        fleet.create_depot(
            session=session,
            org_id=org.id,
            depot_in=DepotCreate(name=DEPOT[2], lon=DEPOT[0], lat=DEPOT[1]),
        )
    fleet.import_vehicles(
        session=session,
        org_id=org.id,
        csv_text=sample_path("sample_vehicles.csv").read_text(),
        dry_run=False,
    )
    vehicles = list(
        session.scalars(
            select(Vehicle).where(Vehicle.org_id == org.id).order_by(Vehicle.external_id)
        )
    )
    records = list(session.scalars(select(Driver).where(Driver.org_id == org.id)))
    by_vehicle = {d.vehicle_id: d for d in records}
    linked = {d.user_id for d in records if d.user_id}
    # driver@… drives the first van: a vehicle the sample plan always uses.
    vans = [v for v in vehicles if v.profile == "van"][:1]
    vehicles = vans + [v for v in vehicles if v not in vans]
    for number, vehicle in enumerate(vehicles, start=1):
        user_id = users.get(driver_email(number))
        if user_id in linked:
            user_id = None
        record = by_vehicle.get(vehicle.id)
        if record is None:
            fleet.create_driver(
                session=session,
                org_id=org.id,
                driver_in=DriverCreate(
                    name=f"Driver {number}", vehicle_id=vehicle.id, user_id=user_id
                ),
            )
        elif record.user_id is None and user_id is not None:  # seeded by an older demo
            fleet.update_driver(
                session=session,
                org_id=org.id,
                driver_id=record.id,
                driver_in=DriverUpdate(user_id=user_id),
            )
    today = datetime.now(ZoneInfo(DEMO_TZ)).date()
    report = orders.import_csv(
        session=session,
        org_id=org.id,
        text=sample_path("sample_day_orders.csv").read_text(),
        actor="system",
        date=today,
    )
    return org, report.created + report.updated + report.unchanged


def _wait_until_up(url: str, timeout_s: float, stop: threading.Event) -> bool:
    """Whether the server answers HTTP (any status) within ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and not stop.is_set():
        try:
            httpx.get(f"{url}/api/v1/auth/me", timeout=2.0)
            return True
        except httpx.TransportError:
            stop.wait(0.25)
    return False


def _demo_roads() -> Roads:
    """The server's own road network (shared in this process), whatever ``use_roads`` says."""
    from lastmile.core.roads import RoadProvider
    from lastmile.integrations.configured import provider_for

    provider = provider_for(get_settings().model_copy(update={"use_roads": True}))
    return Roads(provider if isinstance(provider, RoadProvider) else None)


def simulate_today(
    url: str,
    *,
    speed: float,
    seed: int = 1,
    plan_time_limit: float = DEMO_PLAN_TIME_LIMIT,
    roads: Roads | None = None,
    stop: threading.Event | None = None,
    out: Console = console,
    wait_s: float = 120.0,
) -> threading.Thread:
    """Start today's simulated day of the demo organisation against ``url`` in a daemon
    thread, once the server answers: the dispatcher plans and dispatches today's ready orders,
    the demo drivers drive them. ``stop`` ends it early. The thread never raises: a day that
    was already driven, or a refusal of the server, is printed and the server keeps serving.
    """
    halt = stop or threading.Event()

    def say(message: str) -> None:
        out.print(f"[dim]simulation:[/] {message}")

    def run() -> None:
        if not _wait_until_up(url, wait_s, halt):
            if not halt.is_set():
                say(f"[red]the server at {url} did not answer; no simulated day[/]")
            return
        options = Options(
            server=url,
            email=LOGINS[1].email,
            password=DEMO_PASSWORD,
            logins=[(login.email, DEMO_PASSWORD) for login in DRIVER_LOGINS],
            drivers=len(DRIVER_LOGINS),
            existing=True,
            speed=speed,
            seed=seed,
            plan_time_limit=plan_time_limit,
            plan_leftovers=False,
            progress=False,
            stop=halt,
            say=say,
        )
        try:
            outcome = run_simulation(options, roads or _demo_roads())
        except NothingToDrive as exc:
            say(
                f"today's orders were already driven ({escape(str(exc))}). The server keeps "
                "running: look at the day on /app/live and its KPIs, or drive another day "
                "with `lastmile simulate --date`."
            )
            return
        except (SimulationError, httpx.HTTPError) as exc:
            say(f"[red]the simulated day stopped:[/] {escape(str(exc))}. The server keeps running.")
            return
        if outcome.stopped:
            return
        print_outcome(outcome, out)
        say("the simulated day is over; the server keeps running (Ctrl+C stops it).")

    thread = threading.Thread(target=run, name="demo-simulation", daemon=True)
    thread.start()
    return thread


def demo(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port.")] = 8000,
    out: Annotated[Path, typer.Option(help="Folder for the sample plan's files.")] = Path("out"),
    serve: Annotated[bool, typer.Option(help="Start the server after seeding.")] = True,
    simulate: Annotated[
        bool,
        typer.Option(help="Once the server answers, drive today's orders in a simulated day."),
    ] = True,
    speed: Annotated[
        str, typer.Option(help="Speed of the simulated day: 60x = a minute per real second.")
    ] = DEMO_SPEED,
) -> None:
    """Plan the sample day, seed a demo organisation, start the server and a simulated day."""
    try:
        factor = parse_speed(speed)
    except ValueError as exc:
        console.print(f"[red]error:[/] {exc}")
        raise typer.Exit(2) from exc
    console.rule("1. Plan the sample day (150 orders, Liechtenstein, real roads)")
    try:
        plan_command(
            orders=None,
            out=out / "plan.json",
            map_file=out / "plan.html",
            geojson=out / "plan.geojson",
            sample=True,
            time_limit=5.0,
            workers=0,
        )
    except typer.Exit as exc:
        if exc.exit_code:
            raise
    console.rule("2. Seed the demo organisation")
    settings = get_settings()
    engine = create_db_engine(settings.resolved_database_url)
    migrate(engine)
    with session_factory(engine)() as session:
        org, count = seed(session)
    console.print(f"Organisation [bold]{org.name}[/] with {count} orders for today")
    engine.dispose()
    table = Table(title=f"Demo logins ({DEMO_ORG}), password: {DEMO_PASSWORD}")
    table.add_column("Role")
    table.add_column("E-mail")
    for login in LOGINS:
        table.add_row(login.role.value, login.email)
    console.print(table)
    console.print(f"Database: {settings.resolved_database_url}")
    if not serve:
        return
    console.rule("3. Server" + (" and a simulated day" if simulate else ""))
    console.print(f"Open [bold]http://{host}:{port}/docs[/] (API) — stop with Ctrl+C")
    if not simulate:
        from lastmile.cli.server import serve as serve_command

        serve_command(host=host, port=port, workers=1)
        return
    local = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
    url = f"http://{local}:{port}" if ":" not in local else f"http://[{local}]:{port}"
    console.print(
        f"Today's orders are planned and driven at {factor:g}x once the server answers, in "
        f"[bold]{DEMO_ORG} (simulation)[/] on its own clock: watch "
        f"[bold]http://{host}:{port}/app/live[/] (log in as {LOGINS[1].email} and switch to "
        "it). "
        "Request logs are off while it runs."
    )
    simulate_today(url, speed=factor)
    import uvicorn

    uvicorn.run(
        "lastmile.app:create_app",
        factory=True,
        host=host,
        port=port,
        log_level="info",
        access_log=False,
    )
