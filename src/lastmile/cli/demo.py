"""``lastmile demo``: a newcomer's first minute.

Plans the bundled sample day to files (map, plan.json), seeds a demo organisation with users,
fleet and today's orders in the embedded database, and starts the server.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy import select
from sqlalchemy.orm import Session

from lastmile.auth import service as auth
from lastmile.cli.plan import plan as plan_command
from lastmile.cli.plan import sample_path
from lastmile.config import get_settings
from lastmile.core.errors import NotFound
from lastmile.db import create_db_engine, migrate, session_factory
from lastmile.fleet import service as fleet
from lastmile.fleet.models import Driver, Vehicle
from lastmile.fleet.schemas import DepotCreate, DriverCreate
from lastmile.orders import service as orders
from lastmile.orgs import service as orgs
from lastmile.orgs.models import Organisation, Role

DEMO_ORG = "Demo Deliveries"
DEMO_TZ = "Europe/Vaduz"
DEMO_PASSWORD = "demo-password"
DEPOT = (9.5087, 47.1657, "Depot Schaan")

console = Console()


@dataclass(frozen=True)
class DemoLogin:
    role: Role
    email: str


LOGINS = (
    DemoLogin(Role.ADMIN, "admin@demo.lastmile.test"),
    DemoLogin(Role.DISPATCHER, "dispatcher@demo.lastmile.test"),
    DemoLogin(Role.DRIVER, "driver@demo.lastmile.test"),
)


def seed(session: Session) -> tuple[Organisation, int]:
    """Create (or refresh) the demo organisation; returns it and how many orders today has."""
    try:
        org = orgs.get_by_name(session=session, name=DEMO_ORG)
    except NotFound:
        org = orgs.create(session=session, name=DEMO_ORG, timezone=DEMO_TZ)
    users: dict[Role, str] = {}
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
        users[login.role] = user.id
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
    existing = {
        d.vehicle_id for d in session.scalars(select(Driver).where(Driver.org_id == org.id))
    }
    # The demo driver login drives the first van: a vehicle the sample plan always uses.
    vans = [v for v in vehicles if v.profile == "van"][:1]
    vehicles = vans + [v for v in vehicles if v not in vans]
    for number, vehicle in enumerate(vehicles, start=1):
        if vehicle.id in existing:
            continue
        fleet.create_driver(
            session=session,
            org_id=org.id,
            driver_in=DriverCreate(
                name=f"Driver {number}",
                vehicle_id=vehicle.id,
                user_id=users[Role.DRIVER] if number == 1 else None,
            ),
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


def demo(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port.")] = 8000,
    out: Annotated[Path, typer.Option(help="Folder for the sample plan's files.")] = Path("out"),
    serve: Annotated[bool, typer.Option(help="Start the server after seeding.")] = True,
) -> None:
    """Plan the sample day, seed a demo organisation and start the server."""
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
    console.rule("3. Server")
    console.print(f"Open [bold]http://{host}:{port}/docs[/] (API) — stop with Ctrl+C")
    from lastmile.cli.server import serve as serve_command

    serve_command(host=host, port=port, workers=1)
