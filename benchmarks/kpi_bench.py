"""KPI benchmark: how long the KPIs of a range take as the history grows (p50 of a few runs).

    .venv/bin/python benchmarks/kpi_bench.py [--orders-per-day 2000] [--drivers 40]
        [--days 28] [--positions-per-route 300] [--runs 3] [--postgres URL]

Seeds an embedded SQLite database (or a fresh PostgreSQL database with ``--postgres``) with
a meal-kit shop's history: every day ``--orders-per-day`` orders on ``--drivers`` driven
routes (stops, a GPS track, route started/finished events), each order with its status history
(planned, dispatched, out for delivery, arrived, delivered — or failed, 8 %), a sent message,
tracking views. Rows go in with bulk inserts (the seeding is not what is measured).

Then it times, end to end through the service layer (the same calls as the API and the
dashboard): ``GET /api/v1/kpis`` of one day, of a week and of the whole range, and the KPI
page's read (range KPIs + daily trend, one read of the rows).
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock_time
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import insert, text

from lastmile.analytics import service
from lastmile.db import create_db_engine, migrate, session_factory
from lastmile.drivers.models import Position
from lastmile.events.models import Event
from lastmile.fleet.models import Driver, Vehicle
from lastmile.notifications.models import Notification
from lastmile.orders.models import Order, OrderEvent
from lastmile.orgs.models import Organisation
from lastmile.plans.models import Plan
from lastmile.routes.models import Route, Stop

ZONE = ZoneInfo("Europe/Vaduz")
CENTRE = (9.52, 47.14)


def _id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:20]}"


def seed(
    url: str, *, days: int, orders_per_day: int, drivers: int, points: int
) -> tuple[str, date]:
    """Bulk-insert the history; returns the organisation id and the last day."""
    engine = create_db_engine(url)
    migrate(engine)
    rng = random.Random(7)
    org_id = _id("org")
    last = date(2026, 11, 29)
    first = last - timedelta(days=days - 1)
    with engine.begin() as conn:
        conn.execute(
            insert(Organisation),
            [
                {
                    "id": org_id,
                    "name": "Bench Meals",
                    "timezone": "Europe/Vaduz",
                    "settings": {},
                    "created_at": datetime.now(UTC),
                }
            ],
        )
        vehicles = [
            {"id": _id("veh"), "org_id": org_id, "external_id": f"V{i}", "name": f"Van {i}",
             "start_lon": CENTRE[0], "start_lat": CENTRE[1], "shift_start_s": 7 * 3600,
             "shift_end_s": 17 * 3600, "capacity": {"parcels": 80}, "cost_per_km": 0.4,
             "cost_per_hour": 30.0, "fixed_cost": 20.0, "created_at": datetime.now(UTC)}
            for i in range(drivers)
        ]  # fmt: skip
        conn.execute(insert(Vehicle), vehicles)
        people = [
            {"id": _id("drv"), "org_id": org_id, "name": f"Driver {i}", "vehicle_id": v["id"],
             "created_at": datetime.now(UTC)}
            for i, v in enumerate(vehicles)
        ]  # fmt: skip
        conn.execute(insert(Driver), people)
        for d in range(days):
            day = first + timedelta(days=d)
            start = datetime.combine(day, clock_time(8), ZONE).astimezone(UTC)
            plan_id = _id("pln")
            conn.execute(
                insert(Plan),
                [
                    {
                        "id": plan_id,
                        "org_id": org_id,
                        "date": day,
                        "status": "done",
                        "progress": 1.0,
                        "params": {},
                        "created_at": start,
                    }
                ],
            )
            orders, stops, history, positions, events, messages = [], [], [], [], [], []
            per_route = orders_per_day // drivers
            for r, (vehicle, driver) in enumerate(zip(vehicles, people, strict=True)):
                route_id = _id("rte")
                conn.execute(
                    insert(Route),
                    [
                        {
                            "id": route_id,
                            "org_id": org_id,
                            "plan_id": plan_id,
                            "vehicle_id": vehicle["id"],
                            "driver_id": driver["id"],
                            "date": day,
                            "status": "finished",
                            "distance_m": 60_000,
                            "duration_s": 8 * 3600,
                            "cost": 100.0,
                            "start_s": 8 * 3600,
                            "end_s": 16 * 3600,
                            "created_at": start,
                        }
                    ],
                )
                for k in range(per_route):
                    order_id = _id("ord")
                    lon = CENTRE[0] + rng.uniform(-0.05, 0.05)
                    lat = CENTRE[1] + rng.uniform(-0.05, 0.05)
                    at = start + timedelta(minutes=5 + k * 9)
                    orders.append(
                        {
                            "id": order_id,
                            "org_id": org_id,
                            "external_id": f"{day}-{r}-{k}",
                            "date": day,
                            "status": "delivered",
                            "address": "",
                            "lon": lon,
                            "lat": lat,
                            "windows": [[8 * 3600, 14 * 3600]],
                            "service_s": 120,
                            "demand": {"parcels": 1},
                            "created_at": start - timedelta(hours=14),
                            "updated_at": at,
                        }
                    )
                    stops.append(
                        {
                            "id": _id("stp"),
                            "org_id": org_id,
                            "route_id": route_id,
                            "order_id": order_id,
                            "sequence": k,
                            "arrival_s": 8 * 3600 + 300 + k * 540,
                            "start_s": 8 * 3600 + 300 + k * 540,
                            "departure_s": 8 * 3600 + 420 + k * 540,
                            "created_at": start,
                        }
                    )
                    steps = ["planned", "dispatched", "out_for_delivery", "arrived"]
                    steps += ["failed"] if rng.random() < 0.08 else ["delivered"]
                    for n, status in enumerate(steps):
                        history.append(
                            {
                                "id": _id("oev"),
                                "org_id": org_id,
                                "order_id": order_id,
                                "to_status": status,
                                "at": at - timedelta(minutes=len(steps) - n),
                                "actor": "bench",
                                "note": "",
                                "lon": lon,
                                "lat": lat,
                                "reason": "not_home" if status == "failed" else None,
                                "created_at": at,
                            }
                        )
                    messages.append(
                        {
                            "id": _id("ntf"),
                            "org_id": org_id,
                            "order_id": order_id,
                            "template": "confirmed",
                            "channel": "email",
                            "recipient": "x@example.com",
                            "status": "sent",
                            "cost": 0.0,
                            "created_at": start,
                        }
                    )
                for p in range(points):
                    positions.append(
                        {
                            "org_id": org_id,
                            "driver_id": driver["id"],
                            "route_id": route_id,
                            "lon": CENTRE[0] + p * 1e-4,
                            "lat": CENTRE[1],
                            "recorded_at": start + timedelta(seconds=30 * p),
                            "created_at": start,
                        }
                    )
                for kind, hour in (("route.started", 8), ("route.finished", 16)):
                    when = datetime.combine(day, clock_time(hour), ZONE).astimezone(UTC)
                    events.append(
                        {
                            "org_id": org_id,
                            "type": kind,
                            "payload": {"route_id": route_id, "at": when.isoformat()},
                            "created_at": when,
                        }
                    )
            for table, rows in (
                (Order, orders),
                (Stop, stops),
                (OrderEvent, history),
                (Position, positions),
                (Event, events),
                (Notification, messages),
            ):
                conn.execute(insert(table), rows)
            print(f"\rseeded {d + 1}/{days} days", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    if engine.dialect.name == "postgresql":  # fresh statistics, as autovacuum keeps them
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("ANALYZE"))
    engine.dispose()
    return org_id, last


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--orders-per-day", type=int, default=2000)
    parser.add_argument("--drivers", type=int, default=40)
    parser.add_argument("--days", type=int, default=28)
    parser.add_argument("--positions-per-route", type=int, default=300)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument(
        "--postgres", help="admin URL of a PostgreSQL server (a fresh database is made)"
    )
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="kpi-bench-"))
    if args.postgres:
        import psycopg

        name = f"lastmile_kpibench_{uuid.uuid4().hex[:6]}"
        with psycopg.connect(args.postgres, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        url = (
            args.postgres.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1)
            + f"/{name}"
        )
    else:
        url = f"sqlite:///{tmp / 'bench.db'}"
    began = time.perf_counter()
    org_id, last = seed(
        url,
        days=args.days,
        orders_per_day=args.orders_per_day,
        drivers=args.drivers,
        points=args.positions_per_route,
    )
    print(f"seeded in {time.perf_counter() - began:.0f} s", file=sys.stderr)
    engine = create_db_engine(url)
    sessions = session_factory(engine)
    load = os.getloadavg()[0]
    print(
        f"# KPI benchmark: {args.days} days x {args.orders_per_day} orders on {args.drivers} routes a day, "
        f"{args.positions_per_route} GPS points a route; {engine.dialect.name}"
    )
    print(
        f"# {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, load {load:.1f}, Python {platform.python_version()}"
    )
    cases = [
        ("1 day", last, last, None),
        ("7 days", last - timedelta(days=6), last, None),
        (f"{args.days} days", last - timedelta(days=args.days - 1), last, None),
        (
            f"{args.days} days + daily trend (KPI page)",
            last - timedelta(days=args.days - 1),
            last,
            "day",
        ),
    ]
    for label, start, end, bucket in cases:
        samples = []
        for _ in range(args.runs):
            with sessions() as session:
                f = service.Filters(start, end)
                t = time.perf_counter()
                if bucket is None:
                    result = service.compute(session=session, org_id=org_id, f=f)
                else:
                    result, _ = service.overview(session=session, org_id=org_id, f=f, bucket="day")
                samples.append(time.perf_counter() - t)
        print(
            f"{label:<40} {result.orders:>7} orders   p50 {statistics.median(samples):7.2f} s   max {max(samples):7.2f} s"
        )
    engine.dispose()
    if args.postgres:
        import psycopg

        with psycopg.connect(args.postgres, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
