"""A whole simulated day: log in, create the orders, plan, dispatch and drive.

:func:`run_simulation` is what ``lastmile simulate`` and ``lastmile demo`` call: it takes
:class:`Options`, drives the day in :mod:`lastmile.simulation.day` and returns an
:class:`Outcome` with the day's KPIs (``GET /api/v1/kpis``) and the simulation's counts.
Traffic jams, the late driver and the same-day orders come from the seed; what the server
answers (the plan, where an insert goes) is the only other input.
"""

from __future__ import annotations

import math
import random
import statistics
import threading
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import httpx
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from lastmile.simulation import console
from lastmile.simulation.client import (
    Driver,
    NothingToDrive,
    SimulationError,
    _check,
    _login,
    _ready_orders,
    _routes_of,
    _staff_client,
    _ts,
    ensure_fleet,
    simulated_logins,
    wait_plan,
)
from lastmile.simulation.clock import (
    PREPARE_AT_S,
    BusinessClock,
    Place,
    copy_fleet,
    copy_orders,
    enter_simulation,
)
from lastmile.simulation.day import GPS_BATCH_S, Counts, Simulation, _Actor
from lastmile.simulation.legs import Roads
from lastmile.simulation.phone import Phone
from lastmile.simulation.scenario import (
    Jam,
    default_same_day,
    jams_text,
    late_driver,
    make_jams,
    make_orders,
    same_day_orders,
)

ORDER_BATCH = 1000
"""Orders per ``POST /orders`` (the API's limit)."""


@dataclass
class Outcome:
    """The result of a simulated day."""

    day: date
    kpis: dict[str, Any]
    counts: Counts
    drivers: int
    speed: float
    roads: str
    road_fallbacks: int
    jams: tuple[Jam, ...]
    late: tuple[str, float] | None
    """The late driver's login and how many simulated minutes late they started."""
    simulated_s: float
    real_s: float
    resumed: bool
    stopped: bool
    same_day_ids: list[str]
    organisation: str = ""
    """The simulation organisation the day ran in."""
    simulates: str | None = None
    """The real organisation it simulates (``None``: the login was the simulation's own)."""


@dataclass
class Options:
    """Everything ``lastmile simulate`` (and the demo) can ask for."""

    server: str
    email: str | None = None
    password: str | None = None
    api_key: str | None = None
    logins: list[tuple[str, str]] = field(default_factory=list)
    driver_password: str | None = None
    drivers: int = 1
    orders: int = 20
    existing: bool = False
    day: date | None = None
    speed: float = 60.0
    seed: int = 1
    same_day: int | None = None
    plan_time_limit: float = 2.0
    plan_leftovers: bool = True
    """False: a day whose drivers' routes are all finished was driven, even if some of its
    orders are still ready (unassigned or same-day orders that did not fit); the demo."""
    progress: bool = True
    gps_batch_s: float = GPS_BATCH_S
    """Real seconds between a phone's GPS batches."""
    stop: threading.Event | None = None
    say: Callable[[str], None] = console.print


def run_simulation(options: Options, roads: Roads) -> Outcome:
    """Log in, prepare, plan, dispatch and drive the day; the KPIs at the end."""
    timeout = 60.0
    server = options.server.rstrip("/")
    with ExitStack() as clients:
        staff = _staff_client(server, options.email, options.password, options.api_key, timeout)
        clients.callback(staff.close)
        logins = list(options.logins[: options.drivers])
        place = enter_simulation(staff, server, timeout, drivers=[e for e, _ in logins])
        if place.staff is not staff:
            clients.callback(place.staff.close)
        if place.real_name is not None:
            options.say(
                f"the day runs in [bold]{place.name}[/] ({place.id}), the simulation organisation "
                f"of {place.real_name}" + (", created now" if place.created else "")
                + "; its own clock, not the real one"
            )  # fmt: skip
        if len(logins) < options.drivers:
            if not options.driver_password:
                raise SimulationError(
                    f"{options.drivers} drivers need {options.drivers} driver logins "
                    f"(got {len(logins)})"
                )
            logins += simulated_logins(
                place.staff, options.drivers, options.driver_password, have=len(logins)
            )
        team: list[Driver] = []
        for login, secret in logins:
            client = _login(server, login, secret, timeout, organisation=place.id)
            clients.callback(client.close)
            me = _check(client.get("/api/v1/auth/me"), "who am I")
            if me["role"] != "driver":
                raise SimulationError(f"{login} is {me['role']}, not a driver")
            team.append(Driver(email=login, client=client, user_id=me["user_id"]))
        return _run(staff, place, team, options, roads)


def _prepare(
    staff: httpx.Client, team: list[Driver], options: Options, day: date, rng: random.Random
) -> tuple[list[str], float]:
    """The ready orders to plan (created unless ``existing``) and the vehicles' capacity."""
    if options.existing:
        ready = _ready_orders(staff, day)
        parcels = sum(float(o.get("demand", {}).get("parcels", 1)) for o in ready)
        options.say(f"{day}: {len(ready)} orders of the day ready to plan")
        return [o["id"] for o in ready], parcels
    bodies = make_orders(day, options.orders, rng)
    order_ids: list[str] = []
    fresh = 0
    for i in range(0, len(bodies), ORDER_BATCH):
        response = staff.post("/api/v1/orders", json=bodies[i : i + ORDER_BATCH])
        if response.status_code == 409:  # same external ids, other addresses: another seed
            raise SimulationError(
                f"the orders SIM-{day.isoformat()}-… of an earlier run can no longer change "
                "(a run with another --seed?): use that run's --seed, or another --date. "
                f"The server said: {response.json().get('detail', response.text[:300])}"
            )
        created = _check(response, "create orders")
        order_ids.extend(
            item["order"]["id"] for item in created["items"] if item["order"]["status"] == "ready"
        )
        fresh += created["created"]
    options.say(f"{day}: {fresh} orders created, {len(order_ids)} ready to plan")
    return order_ids, sum(b["demand"]["parcels"] for b in bodies)


def _run(
    real: httpx.Client, place: Place, team: list[Driver], options: Options, roads: Roads
) -> Outcome:
    rng = random.Random(options.seed)
    day = options.day
    if day is None:  # today in the (real) organisation's time zone: the KPIs' default day
        day = date.fromisoformat(_check(real.get("/api/v1/kpis"), "today")["filters"]["from"])
    clock = BusinessClock(place, day)
    clock.start(PREPARE_AT_S, 1.0)  # the day's orders come in before the first van leaves
    staff = place.staff
    if place.real_name is not None:
        vans = copy_fleet(real, place)
        if vans:
            options.say(f"{vans} vehicles copied from {place.real_name}")
    if options.existing and place.real_name is not None:
        copied = copy_orders(real, place, day)
        options.say(f"{copied} ready orders of {day} copied from {place.real_name}")
    order_ids, parcels = _prepare(staff, team, options, day, rng)
    ensure_fleet(staff, team, capacity=math.ceil(parcels * 1.2 / len(team)) + 1)
    if not options.plan_leftovers:
        shown = _routes_of(team, day, ("dispatched", "started", "finished"))
        if shown and all(r["status"] == "finished" for _, r in shown):
            raise NothingToDrive(
                f"the {len(shown)} routes of {day} are finished"
                + (f"; {len(order_ids)} orders were left over" if order_ids else "")
            )
        if shown:  # the day was planned: drive on what is left of it, plan nothing more
            order_ids = []
    resumed = False
    if order_ids:
        plan_id = _check(
            staff.post(
                "/api/v1/plans",
                json={
                    "date": day.isoformat(),
                    "order_ids": order_ids,
                    "vehicle_ids": [m.vehicle_id for m in team],
                    "time_limit_s": options.plan_time_limit,
                },
            ),
            "queue the plan",
        )["id"]
        options.say(f"planning {len(order_ids)} orders on {len(team)} vehicles…")
        plan = wait_plan(staff, plan_id, timeout_s=options.plan_time_limit * 10 + 60)
        driver_of = {m.vehicle_id: m.driver_id for m in team}
        assignments = {r["vehicle_id"]: driver_of[r["vehicle_id"]] for r in plan["routes"]}
        _check(
            staff.post(f"/api/v1/plans/{plan_id}/dispatch", json={"assignments": assignments}),
            "dispatch the plan",
        )
        options.say(
            f"plan {plan_id}: {len(plan['routes'])} routes, {len(plan['unassigned'])} unassigned"
        )
    routes = _routes_of(team, day)
    if order_ids and not routes:
        raise NothingToDrive(
            f"the plan of {day} put none of its {len(order_ids)} orders on a route"
        )
    if not order_ids:
        if not routes:
            what = "" if options.existing else f" of the {options.orders} orders"
            raise NothingToDrive(
                f"none{what} of {day} is ready to plan and no route of that day is left to "
                "drive (already driven by an earlier run?): simulate another --date"
            )
        resumed = True
        options.say(f"nothing new to plan on {day}: resuming {len(routes)} unfinished routes")
    return _drive(staff, routes, options, roads, clock, resumed)


def _drive(
    staff: httpx.Client,
    routes: list[tuple[Driver, dict[str, Any]]],
    options: Options,
    roads: Roads,
    clock: BusinessClock,
    resumed: bool,
) -> Outcome:
    seed = options.seed
    day = clock.day.day
    departures = [_ts(r["start"]["departure"]) for _, r in routes]
    first = min(departures, default=0.0)
    durations = [
        max(60.0, _ts(r["end"]["arrival"]) - _ts(r["start"]["departure"])) for _, r in routes
    ]
    span = max((d - first + s for d, s in zip(departures, durations, strict=True)), default=3600.0)
    jams = make_jams(span, random.Random(f"{seed}:jams"))
    late_index, late_s = late_driver(len(routes), seed)
    count = default_same_day(options.orders) if options.same_day is None else options.same_day
    if options.existing and options.same_day is None:
        count = default_same_day(sum(len(r["stops"]) for _, r in routes))
    typical = statistics.median(durations) if durations else 3600.0
    arrivals = same_day_orders(day, count, seed, typical) if routes else []

    with ExitStack() as stack:
        progress = None
        if options.progress:
            progress = stack.enter_context(
                Progress(
                    TextColumn("[progress.description]{task.description}"),
                    BarColumn(),
                    MofNCompleteColumn(),
                    TimeElapsedColumn(),
                    console=console,
                )
            )
        sim = Simulation(
            staff,
            roads,
            jams,
            clock,
            options.speed,
            stop=options.stop,
            progress=progress,
            gps_batch_s=options.gps_batch_s,
        )
        sim.say = options.say
        for index, (member, route) in enumerate(routes):
            sim.phones.append(
                Phone(
                    sim,
                    member,
                    route,
                    offset_s=_ts(route["start"]["departure"]) - first,
                    late_s=late_s if index == late_index else 0.0,
                    rng=random.Random(f"{seed}:driver:{index}"),
                )
            )
        if progress is not None and sim.task is not None:
            todo = sum(
                1
                for _, r in routes
                for s in r["stops"]
                if s["kind"] == "order" and s["status"] in ("pending", "arrived")
            )
            progress.update(sim.task, total=todo)
        late_text = ""
        if late_index is not None:
            late_text = f"; {routes[late_index][0].email} starts {late_s / 60:.0f} min late"
        options.say(
            f"driving {len(routes)} routes at {options.speed:g}x on {roads.name}; "
            f"jams {jams_text(jams)}"
            f"; {len(arrivals)} same-day orders{late_text}"
        )
        first_s = clock.day.seconds(datetime.fromtimestamp(first, UTC))
        clock.start(first_s, options.speed)  # the day's clock runs from the first departure
        actors = [_Actor(p.run(), True) for p in sim.phones]
        actors.append(_Actor(sim.same_day(arrivals), False))
        began = time.monotonic()
        finished = sim.play(actors)
        real_s = time.monotonic() - began
    simulated = max((p.t for p in sim.phones), default=0.0)
    clock.stop(simulated)
    kpis: dict[str, Any] = _check(
        staff.get("/api/v1/kpis", params={"from": day.isoformat(), "to": day.isoformat()}),
        "read the KPIs",
    )
    return Outcome(
        day=day,
        kpis=kpis,
        counts=sim.counts,
        drivers=len(routes),
        speed=options.speed,
        roads=roads.name,
        road_fallbacks=roads.fallbacks,
        jams=jams,
        late=(routes[late_index][0].email, late_s / 60) if late_index is not None else None,
        simulated_s=simulated,
        real_s=real_s,
        resumed=resumed,
        stopped=not finished,
        same_day_ids=sim.same_day_ids,
        organisation=clock.place.name,
        simulates=clock.place.real_name,
    )
