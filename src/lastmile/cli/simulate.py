"""``lastmile simulate``: drive a whole delivery day against a running server, over HTTP only.

Creates (or reuses) the day's orders at real addresses of the bundled sample day, makes sure
there are N drivers with logins and N vehicles, plans the day, dispatches it and then drives
every route exactly as the driver app would (``/api/v1/driver/*``): ``route_started``, GPS
points along the way with noise, ``arrived`` / ``delivered`` (sometimes ``failed``,
``not_home``), ``route_finished``. Time is compressed by ``--speed``; every timestamp is the
real clock at the moment it is sent (the server refuses device times in the future), so a
day at ``600x`` lasts a few real minutes and its time-based KPIs describe the compressed day.
At the end it prints the KPIs of ``GET /api/v1/kpis`` for that date.

The API cannot create user logins (that is ``lastmile admin create-user``), so the drivers'
logins are given with ``--driver EMAIL:PASSWORD`` (one per driver); their driver records and
vehicles are created through the API when missing.
"""

from __future__ import annotations

import csv
import heapq
import math
import random
import time
import uuid
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Annotated, Any

import httpx
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from lastmile.cli.plan import sample_path

console = Console()

FAIL_PROBABILITY = 0.1
GPS_EVERY_S = 20.0
"""Simulated seconds between two GPS points."""
GPS_NOISE_DEG = 0.00005
"""About 5 m of GPS noise."""
DRIVE_FACTOR = (0.85, 1.25)
SERVICE_FACTOR = (0.6, 1.6)
ORDER_BATCH = 1000
"""Orders per ``POST /orders`` (the API's limit)."""
DEPOT = (9.5087, 47.1657)
"""Where vehicles the simulation creates start (the sample day's depot in Schaan)."""


class SimulationError(Exception):
    """Something the server answered that the simulation cannot go on from."""


def parse_speed(text: str) -> float:
    """``60x``, ``60`` or ``0.5x`` -> 60.0; must be positive."""
    value = float(text.strip().lower().removesuffix("x"))
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"speed must be positive, got {text!r}")
    return value


def _check(response: httpx.Response, what: str) -> Any:
    if response.status_code >= 400:
        raise SimulationError(f"{what}: HTTP {response.status_code}: {response.text[:500]}")
    return response.json()


@dataclass(frozen=True)
class SampleAddress:
    address: str
    lon: float
    lat: float
    service_s: int
    parcels: float


def sample_addresses() -> list[SampleAddress]:
    with sample_path("sample_day_orders.csv").open(newline="", encoding="utf-8") as handle:
        return [
            SampleAddress(
                address=row["address"],
                lon=float(row["lon"]),
                lat=float(row["lat"]),
                service_s=int(float(row.get("service_min") or 2) * 60),
                parcels=float(row.get("parcels") or 1),
            )
            for row in csv.DictReader(handle)
        ]


def make_orders(day: date, count: int, rng: random.Random) -> list[dict[str, Any]]:
    """``count`` orders at sample addresses (chosen and jittered ~30 m with the seed); the
    external ids ``SIM-<date>-<n>`` make a second run of the same day reuse them."""
    addresses = sample_addresses()
    picked = (
        rng.sample(addresses, count) if count <= len(addresses) else rng.choices(addresses, k=count)
    )
    return [
        {
            "external_id": f"SIM-{day.isoformat()}-{i + 1:04d}",
            "date": day.isoformat(),
            "address": a.address,
            "lon": round(a.lon + rng.uniform(-0.0003, 0.0003), 6),
            "lat": round(a.lat + rng.uniform(-0.0003, 0.0003), 6),
            "service_s": a.service_s,
            "demand": {"parcels": a.parcels},
            "customer": f"Simulated customer {i + 1}",
        }
        for i, a in enumerate(picked)
    ]


# --- the timeline of one route ---------------------------------------------------------------


@dataclass(order=True)
class Action:
    """Something a driver's phone does at simulated second ``t``."""

    t: float
    seq: int
    driver: int = field(compare=False)
    kind: str = field(compare=False)
    """event, positions (a GPS point), or done."""
    body: dict[str, Any] = field(compare=False, default_factory=dict)


def _eta(stop: dict[str, Any]) -> float:
    return datetime.fromisoformat(stop["eta"]).timestamp()


def route_actions(
    route: dict[str, Any], driver: int, offset: float, rng: random.Random, counter: list[int]
) -> list[Action]:
    """The phone's actions along a route, in simulated seconds from the day's start: straight
    lines between stops (GPS every few seconds with noise), planned legs and service times
    varied at random, sometimes nobody home."""
    actions: list[Action] = []

    def add(t: float, kind: str, body: dict[str, Any]) -> None:
        counter[0] += 1
        actions.append(Action(t, counter[0], driver, kind, body))

    def event(t: float, type_: str, **more: Any) -> None:
        add(t, "event", {"key": f"sim-{uuid.uuid4()}", "type": type_, **more})

    def drive(t: float, a: tuple[float, float], b: tuple[float, float], legs_s: float) -> float:
        steps = max(1, int(legs_s // GPS_EVERY_S))
        for i in range(1, steps + 1):
            f = i / steps
            lon = a[0] + (b[0] - a[0]) * f + rng.gauss(0, GPS_NOISE_DEG)
            lat = a[1] + (b[1] - a[1]) * f + rng.gauss(0, GPS_NOISE_DEG)
            add(t + legs_s * f, "position", {"lon": round(lon, 7), "lat": round(lat, 7)})
        return t + legs_s

    start = route["start"]
    here = (float(start["lon"]), float(start["lat"]))
    t = offset
    event(t, "route_started", route_id=route["id"])
    clock = datetime.fromisoformat(start["departure"]).timestamp()
    for stop in route["stops"]:
        planned_leg = max(30.0, _eta(stop) - clock)
        if stop["kind"] == "break":
            t += planned_leg + float(stop["service_s"])
            clock = _eta(stop) + float(stop["service_s"])
            continue
        target = (float(stop["lon"]), float(stop["lat"]))
        t = drive(t, here, target, planned_leg * rng.uniform(*DRIVE_FACTOR))
        here = target
        event(t, "arrived", stop_id=stop["id"], lon=target[0], lat=target[1])
        service = max(10.0, float(stop["service_s"]) * rng.uniform(*SERVICE_FACTOR))
        t += service
        if rng.random() < FAIL_PROBABILITY:
            event(t, "failed", stop_id=stop["id"], reason="not_home", lon=here[0], lat=here[1])
        else:
            event(
                t, "delivered", stop_id=stop["id"], lon=here[0], lat=here[1], recipient="customer"
            )
        clock = _eta(stop) + float(stop["service_s"])
    end = route["end"]
    if end.get("lon") is not None and end.get("arrival"):
        leg = max(30.0, datetime.fromisoformat(end["arrival"]).timestamp() - clock)
        t = drive(t, here, (float(end["lon"]), float(end["lat"])), leg)
    event(t, "route_finished", route_id=route["id"])
    add(t, "done", {})
    return actions


# --- talking to the server -------------------------------------------------------------------


@dataclass
class Driver:
    email: str
    client: httpx.Client
    user_id: str
    driver_id: str = ""
    route: dict[str, Any] | None = None
    gps: list[dict[str, Any]] = field(default_factory=list)


def _login(server: str, email: str, password: str, timeout: float) -> httpx.Client:
    client = httpx.Client(base_url=server, timeout=timeout)
    try:
        body = _check(
            client.post("/api/v1/auth/token", json={"email": email, "password": password}),
            f"log in as {email}",
        )
    except BaseException:
        client.close()
        raise
    client.headers["Authorization"] = f"Bearer {body['access_token']}"
    return client


def _staff_client(
    server: str, email: str | None, password: str | None, api_key: str | None, timeout: float
) -> httpx.Client:
    if api_key:
        return httpx.Client(base_url=server, timeout=timeout, headers={"X-API-Key": api_key})
    if not email or not password:
        raise SimulationError("give --email and --password of a dispatcher, or --api-key")
    return _login(server, email, password, timeout)


def _all(client: httpx.Client, path: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = _check(client.get(path, params={"limit": 500}), path)["items"]
    return items


def ensure_fleet(staff: httpx.Client, drivers: list[Driver], *, capacity: float) -> list[str]:
    """A driver record per login and a vehicle per driver; returns the vehicle ids used.
    Vehicles it creates carry ``capacity`` parcels: a fair share of the day, so that every
    driver gets a route."""
    vehicles = [v for v in _all(staff, "/api/v1/vehicles") if v.get("active", True)]
    for i in range(len(vehicles), len(drivers)):
        body = {
            "external_id": f"SIM-VAN-{i + 1}",
            "name": f"Simulated van {i + 1}",
            "start": {"lon": DEPOT[0], "lat": DEPOT[1]},
            "shift": {"start": "07:00", "end": "19:00"},
            "capacity": {"parcels": capacity},
        }
        vehicles.append(_check(staff.post("/api/v1/vehicles", json=body), "create a vehicle"))
    vehicle_ids = [v["id"] for v in vehicles[: len(drivers)]]
    records = _all(staff, "/api/v1/drivers")
    for driver, vehicle_id in zip(drivers, vehicle_ids, strict=True):
        mine = next((d for d in records if d.get("user_id") == driver.user_id), None)
        if mine is None:
            mine = _check(
                staff.post(
                    "/api/v1/drivers",
                    json={
                        "name": driver.email,
                        "user_id": driver.user_id,
                        "vehicle_id": vehicle_id,
                    },
                ),
                f"create the driver record of {driver.email}",
            )
        driver.driver_id = mine["id"]
    return vehicle_ids


def wait_plan(staff: httpx.Client, plan_id: str, timeout_s: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        plan: dict[str, Any] = _check(staff.get(f"/api/v1/plans/{plan_id}"), "read the plan")
        if plan["status"] == "done":
            return plan
        if plan["status"] == "failed":
            raise SimulationError(f"planning failed: {plan.get('error')}")
        time.sleep(0.2)
    raise SimulationError(f"the plan was not done after {timeout_s:.0f} s")


def _send_gps(driver: Driver) -> None:
    if driver.gps:
        _check(
            driver.client.post("/api/v1/driver/positions", json={"positions": driver.gps}),
            f"send positions of {driver.email}",
        )
        driver.gps = []


def _send_event(driver: Driver, body: dict[str, Any]) -> str:
    _send_gps(driver)
    body = {**body, "occurred_at": datetime.now(UTC).isoformat()}
    result = _check(
        driver.client.post("/api/v1/driver/events", json={"events": [body]}),
        f"send {body['type']} of {driver.email}",
    )["results"][0]
    if result["status"] == "rejected":
        raise SimulationError(f"{body['type']} of {driver.email} rejected: {result['error']}")
    return str(body["type"])


def run_day(
    drivers: list[Driver], actions: list[Action], speed: float, progress: Progress
) -> dict[str, int]:
    """Play the actions in simulated time, ``speed`` times faster than real time."""
    task = progress.add_task("driving", total=sum(1 for a in actions if a.kind == "event"))
    counts: dict[str, int] = {}
    heap = list(actions)
    heapq.heapify(heap)
    started = time.monotonic()
    last_gps = dict.fromkeys(range(len(drivers)), started)
    while heap:
        action = heapq.heappop(heap)
        wait = started + action.t / speed - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        driver = drivers[action.driver]
        if action.kind == "position":
            driver.gps.append({**action.body, "recorded_at": datetime.now(UTC).isoformat()})
            if time.monotonic() - last_gps[action.driver] >= 1.0:  # a batch a second at most
                _send_gps(driver)
                last_gps[action.driver] = time.monotonic()
        elif action.kind == "event":
            if action.body["type"] == "route_finished":
                _send_gps(driver)
            kind = _send_event(driver, action.body)
            counts[kind] = counts.get(kind, 0) + 1
            progress.advance(task)
    return counts


def print_kpis(kpis: dict[str, Any]) -> None:
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
    console.print(table)


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
    drivers: Annotated[int, typer.Option("--drivers", min=1, help="How many drivers drive.")] = 1,
    orders: Annotated[
        int, typer.Option("--orders", min=1, max=10_000, help="Orders of the day.")
    ] = 20,
    day: Annotated[
        str | None, typer.Option("--date", help="Delivery date YYYY-MM-DD (default: today).")
    ] = None,
    speed: Annotated[
        str, typer.Option(help="Time compression: 60x = a simulated minute per real second.")
    ] = "60x",
    seed: Annotated[int, typer.Option(help="Seed of addresses, delays and failures.")] = 1,
    plan_time_limit: Annotated[
        float, typer.Option("--plan-time-limit", help="Solver time limit, seconds.")
    ] = 2.0,
) -> None:
    """Simulate a delivery day against a server through its public HTTP API."""
    try:
        factor = parse_speed(speed)
        when = date.fromisoformat(day) if day else None
    except ValueError as exc:
        console.print(f"[red]error:[/] {exc}")
        raise typer.Exit(2) from exc
    logins = driver or []
    if len(logins) < drivers or any(":" not in x for x in logins):
        console.print(
            f"[red]error:[/] --drivers {drivers} needs {drivers} --driver EMAIL:PASSWORD logins "
            f"(got {len(logins)}); the API cannot create logins: "
            "use `lastmile admin create-user --role driver`"
        )
        raise typer.Exit(2)
    try:
        kpis = _simulate(
            server.rstrip("/"),
            email,
            password,
            api_key,
            [tuple(x.split(":", 1)) for x in logins[:drivers]],  # type: ignore[misc]
            orders,
            when,
            factor,
            seed,
            plan_time_limit,
        )
    except (SimulationError, httpx.HTTPError) as exc:
        console.print(f"[red]error:[/] {exc}")
        raise typer.Exit(1) from exc
    print_kpis(kpis)


def _simulate(
    server: str,
    email: str | None,
    password: str | None,
    api_key: str | None,
    logins: list[tuple[str, str]],
    order_count: int,
    when: date | None,
    speed: float,
    seed: int,
    plan_time_limit: float,
) -> dict[str, Any]:
    rng = random.Random(seed)
    timeout = 60.0
    with ExitStack() as clients:
        staff = _staff_client(server, email, password, api_key, timeout)
        clients.callback(staff.close)
        team: list[Driver] = []
        for login, secret in logins:
            client = _login(server, login, secret, timeout)
            clients.callback(client.close)
            me = _check(client.get("/api/v1/auth/me"), "who am I")
            if me["role"] != "driver":
                raise SimulationError(f"{login} is {me['role']}, not a driver")
            team.append(Driver(email=login, client=client, user_id=me["user_id"]))
        return _run(staff, team, order_count, when, speed, rng, plan_time_limit)


def _run(
    staff: httpx.Client,
    team: list[Driver],
    order_count: int,
    when: date | None,
    speed: float,
    rng: random.Random,
    plan_time_limit: float,
) -> dict[str, Any]:
    if when is None:  # today in the organisation's time zone: the KPIs' default day
        when = date.fromisoformat(_check(staff.get("/api/v1/kpis"), "today")["filters"]["from"])
    bodies = make_orders(when, order_count, rng)
    parcels = sum(b["demand"]["parcels"] for b in bodies)
    vehicle_ids = ensure_fleet(staff, team, capacity=math.ceil(parcels * 1.2 / len(team)) + 1)
    order_ids: list[str] = []
    fresh = 0
    for i in range(0, len(bodies), ORDER_BATCH):
        created = _check(
            staff.post("/api/v1/orders", json=bodies[i : i + ORDER_BATCH]), "create orders"
        )
        order_ids.extend(
            item["order"]["id"] for item in created["items"] if item["order"]["status"] == "ready"
        )
        fresh += created["created"]
    if not order_ids:
        raise SimulationError(
            f"none of the {len(bodies)} orders of {when} is ready to plan (already planned or "
            "driven by an earlier run?): simulate another --date"
        )
    console.print(f"{when}: {fresh} orders created, {len(order_ids)} ready to plan; planning…")
    plan_id = _check(
        staff.post(
            "/api/v1/plans",
            json={
                "date": when.isoformat(),
                "order_ids": order_ids,
                "vehicle_ids": vehicle_ids,
                "time_limit_s": plan_time_limit,
            },
        ),
        "queue the plan",
    )["id"]
    plan = wait_plan(staff, plan_id, timeout_s=plan_time_limit * 10 + 60)
    vehicle_of = dict(zip(vehicle_ids, team, strict=True))
    assignments = {r["vehicle_id"]: vehicle_of[r["vehicle_id"]].driver_id for r in plan["routes"]}
    _check(
        staff.post(f"/api/v1/plans/{plan_id}/dispatch", json={"assignments": assignments}),
        "dispatch the plan",
    )
    console.print(
        f"plan {plan_id}: {len(plan['routes'])} routes, {len(plan['unassigned'])} unassigned; "
        f"driving at {speed:g}x"
    )
    actions: list[Action] = []
    counter = [0]
    routes: list[tuple[int, dict[str, Any]]] = []
    for index, member in enumerate(team):
        body = _check(
            member.client.get("/api/v1/driver/route", params={"date": when.isoformat()}),
            f"read the route of {member.email}",
        )
        if body["route"] is not None and body["route"]["status"] == "dispatched":
            member.route = body["route"]
            routes.append((index, body["route"]))
    if routes:
        first = min(datetime.fromisoformat(r["start"]["departure"]).timestamp() for _, r in routes)
        for index, route in routes:
            offset = datetime.fromisoformat(route["start"]["departure"]).timestamp() - first
            actions.extend(route_actions(route, index, offset, rng, counter))
    with Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    ) as progress:
        counts = run_day(team, actions, speed, progress)
    console.print(", ".join(f"{v} {k}" for k, v in sorted(counts.items())) or "nothing to drive")
    kpis: dict[str, Any] = _check(
        staff.get("/api/v1/kpis", params={"from": when.isoformat(), "to": when.isoformat()}),
        "read the KPIs",
    )
    return kpis
