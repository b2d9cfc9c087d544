"""``lastmile simulate``: drive a whole delivery day against a running server, over HTTP only.

Creates (or uses) the day's orders, makes sure there are N drivers with logins and N vehicles,
plans the day, dispatches it and then drives every route exactly as the driver app would
(``/api/v1/driver/*``): ``route_started``, GPS points along the roads with noise, ``arrived``,
``delivered`` with a signature (sometimes ``failed``, ``not_home``), ``route_finished``.

The day is a small discrete-event simulation in simulated seconds: each driver's phone is a
generator that says when it next wants to act, a heap orders those moments, and the loop
sleeps until each is due (``--speed`` times faster than real time). The phone re-reads its
route before heading to each next stop, so stops a dispatcher inserts during the day (the
simulation's own same-day orders, ``POST /orders/{id}/insert``) are driven too. Traffic jams,
leg and service-time variation, failures and the late driver come from ``--seed``; what the
server answers (the plan, where an insert goes) is the only other input.

**Timestamps are real.** The server refuses device times in the future, so every event and GPS
point carries the real clock at the moment it is sent: a day at ``600x`` lasts a few real
minutes and its time-based KPIs describe the compressed day. At the end it prints the KPIs of
``GET /api/v1/kpis`` for that date and the simulation's own counts.
"""

from __future__ import annotations

import bisect
import csv
import heapq
import itertools
import math
import random
import statistics
import struct
import threading
import time
import uuid
import zlib
from collections import Counter
from collections.abc import Callable, Generator, Iterator, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from lastmile.cli.common import bundled_extract, load_provider
from lastmile.cli.plan import sample_path
from lastmile.core.errors import InputError
from lastmile.core.geo.distance import haversine_m
from lastmile.core.model import Location, Profile
from lastmile.core.roads import NoRoadsError, RoadProvider, StraightLineProvider

console = Console()

FAIL_PROBABILITY = 0.1
"""Share of stops where nobody is home (``failed``, ``not_home``)."""
POD_SHARE = 0.95
"""Share of deliveries for which the driver takes the proof the organisation asks for."""
GPS_EVERY_S = 20.0
"""Simulated seconds between two GPS points."""
GPS_NOISE_DEG = 0.00005
"""About 5 m of GPS noise."""
GPS_BATCH_S = 1.0
"""A phone sends its buffered GPS points at most once a real second (and before each event)."""
DRIVE_FACTOR = (0.85, 1.25)
"""Each leg takes its road travel time times a factor drawn from this range."""
SERVICE_FACTOR = (0.6, 1.6)
"""Each stop takes its planned service time times a factor drawn from this range."""
JAM_FACTOR = (1.5, 2.0)
"""During a traffic jam the vehicles move this many times slower."""
JAM_MINUTES = (30.0, 90.0)
LATE_MINUTES = (15.0, 45.0)
"""How late the late driver starts (simulated minutes)."""
SAME_DAY_SHARE = 0.05
"""Default same-day orders: 5 % of ``--orders`` (at least one from 10 orders on)."""
ORDER_BATCH = 1000
"""Orders per ``POST /orders`` (the API's limit)."""
MAX_POSITIONS = 1000
"""Positions per ``POST /driver/positions`` (the API's limit)."""
DEPOT = (9.5087, 47.1657)
"""Where vehicles the simulation creates start (the sample day's depot in Schaan)."""


class SimulationError(Exception):
    """Something the server answered that the simulation cannot go on from."""


class NothingToDrive(SimulationError):
    """The day has no order left to plan and no unfinished route: it was already driven."""


def parse_speed(text: str) -> float:
    """``60x``, ``60`` or ``0.5x`` -> 60.0; must be positive."""
    value = float(text.strip().lower().removesuffix("x"))
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"speed must be positive, got {text!r}")
    return value


def default_same_day(orders: int) -> int:
    """About :data:`SAME_DAY_SHARE` of the day's orders, at least one from 10 orders on."""
    return 0 if orders < 10 else max(1, round(orders * SAME_DAY_SHARE))


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


def make_orders(
    day: date, count: int, rng: random.Random, *, label: str = ""
) -> list[dict[str, Any]]:
    """``count`` orders at sample addresses (chosen and jittered ~30 m with the seed); the
    external ids ``SIM-<date>-<label><n>`` make a second run of the same day reuse them."""
    addresses = sample_addresses()
    picked = (
        rng.sample(addresses, count) if count <= len(addresses) else rng.choices(addresses, k=count)
    )
    who = "Same-day customer" if label else "Simulated customer"
    return [
        {
            "external_id": f"SIM-{day.isoformat()}-{label}{i + 1:04d}",
            "date": day.isoformat(),
            "address": a.address,
            "lon": round(a.lon + rng.uniform(-0.0003, 0.0003), 6),
            "lat": round(a.lat + rng.uniform(-0.0003, 0.0003), 6),
            "service_s": a.service_s,
            "demand": {"parcels": a.parcels},
            "customer": f"{who} {i + 1}",
        }
        for i, a in enumerate(picked)
    ]


# --- where the phone drives ------------------------------------------------------------------


def bearing(a: Location, b: Location) -> float:
    """Heading from ``a`` to ``b``, degrees clockwise from north (0 to 360)."""
    dx = (b.lon - a.lon) * math.cos(math.radians((a.lat + b.lat) / 2))
    dy = b.lat - a.lat
    return math.degrees(math.atan2(dx, dy)) % 360.0


@dataclass(frozen=True)
class Leg:
    """The way from one stop to the next: a polyline, its length and its travel time."""

    points: tuple[Location, ...]
    cumulative_m: tuple[float, ...]
    duration_s: float
    on_roads: bool

    @classmethod
    def of(cls, points: Sequence[Location], duration_s: float, on_roads: bool) -> Leg:
        cumulative = [0.0]
        for a, b in itertools.pairwise(points):
            cumulative.append(cumulative[-1] + haversine_m(a, b))
        return cls(tuple(points), tuple(cumulative), max(0.0, duration_s), on_roads)

    @property
    def distance_m(self) -> float:
        return self.cumulative_m[-1]

    def at(self, metres: float) -> tuple[Location, float]:
        """The point ``metres`` along the leg and the heading there."""
        if len(self.points) == 1:
            return self.points[0], 0.0
        i = min(max(bisect.bisect_right(self.cumulative_m, metres), 1), len(self.points) - 1)
        a, b = self.points[i - 1], self.points[i]
        piece = self.cumulative_m[i] - self.cumulative_m[i - 1]
        f = 0.0 if piece <= 0 else min(1.0, max(0.0, (metres - self.cumulative_m[i - 1]) / piece))
        return Location(a.lon + (b.lon - a.lon) * f, a.lat + (b.lat - a.lat) * f), bearing(a, b)


class Roads:
    """The phone's map: fastest paths on a road network (the package's own engine, run
    client-side), or straight lines. A leg whose ends are not near the network's roads
    (further than the engine's snapping distance) is a straight line."""

    def __init__(self, provider: RoadProvider | None) -> None:
        self.provider = provider
        self.straight = StraightLineProvider()
        self.fallbacks = 0
        self._legs: dict[tuple[Location, Location, Profile], Leg] = {}

    @property
    def name(self) -> str:
        return self.provider.name if self.provider is not None else "straight lines"

    def leg(self, a: Location, b: Location, profile: Profile) -> Leg:
        key = (a, b, profile)
        found = self._legs.get(key)
        if found is None:
            found = self._road_leg(a, b, profile)
            if found is None:
                if self.provider is not None:
                    self.fallbacks += 1
                matrix = self.straight.matrix([a, b], profile)
                found = Leg.of([a, b], float(matrix.durations_s[0, 1]), False)
            if len(self._legs) > 10_000:
                self._legs.clear()
            self._legs[key] = found
        return found

    def _road_leg(self, a: Location, b: Location, profile: Profile) -> Leg | None:
        if self.provider is None:
            return None
        try:
            if not all(s.on_road for s in self.provider.snap_many([a, b], profile)):
                return None
            path = self.provider.path(a, b, profile)
            matrix = self.provider.matrix([a, b], profile)
        except NoRoadsError:
            return None
        return Leg.of(path, float(matrix.durations_s[0, 1]), True)


def load_roads(extract: Path | None, *, enabled: bool = True) -> Roads:
    """The road network of ``extract`` (default: the bundled one), or straight lines."""
    if not enabled:
        return Roads(None)
    provider = load_provider(extract or bundled_extract(), console=console)
    assert isinstance(provider, RoadProvider)
    return Roads(provider)


# --- proof of delivery -----------------------------------------------------------------------


def _png(width: int, height: int, rows: Sequence[bytes]) -> bytes:
    def chunk(tag: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(tag + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", crc)

    raw = b"".join(b"\x00" + row for row in rows)
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit greyscale
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw, 9))
        + chunk(b"IEND", b"")
    )


def proof_png(kind: str, rng: random.Random) -> bytes:
    """A small generated PNG: a squiggle for a ``signature``, grey noise for a ``photo``."""
    width, height = (160, 48) if kind == "signature" else (64, 48)
    if kind != "signature":
        return _png(width, height, [rng.randbytes(width) for _ in range(height)])
    pixels = [bytearray(b"\xff" * width) for _ in range(height)]
    a1, a2 = rng.uniform(8, 14), rng.uniform(3, 7)
    f1, f2 = rng.uniform(0.05, 0.12), rng.uniform(0.2, 0.4)
    p1, p2 = rng.uniform(0, 2 * math.pi), rng.uniform(0, 2 * math.pi)
    previous: int | None = None
    for x in range(10, width - 10):
        y = round(height / 2 + a1 * math.sin(f1 * x + p1) + a2 * math.sin(f2 * x + p2))
        y = min(max(y, 1), height - 2)
        low, high = (y, y) if previous is None else (min(y, previous), max(y, previous))
        for row in range(low, high + 2):
            pixels[min(row, height - 1)][x] = 0
        previous = y
    return _png(width, height, [bytes(row) for row in pixels])


# --- the day's scenario ----------------------------------------------------------------------


@dataclass(frozen=True)
class Jam:
    """A traffic jam: from ``start_s`` to ``end_s`` (simulated seconds since the first
    departure) every vehicle moves ``factor`` times slower."""

    start_s: float
    end_s: float
    factor: float


def make_jams(span_s: float, rng: random.Random) -> tuple[Jam, ...]:
    """One or two jams starting in the first 70 % of the day."""
    jams = []
    for _ in range(rng.choice((1, 2))):
        start = rng.uniform(0.0, max(1.0, 0.7 * span_s))
        length = rng.uniform(*JAM_MINUTES) * 60
        jams.append(Jam(round(start), round(start + length), round(rng.uniform(*JAM_FACTOR), 2)))
    return tuple(sorted(jams, key=lambda j: j.start_s))


def slowdown(jams: Sequence[Jam], t: float) -> float:
    return max((j.factor for j in jams if j.start_s <= t < j.end_s), default=1.0)


def jams_text(jams: Sequence[Jam]) -> str:
    """``+1:20 to +2:05 x1.7`` per jam (simulated time since the first departure)."""
    return ", ".join(f"{_clock(j.start_s)} to {_clock(j.end_s)} x{j.factor:g}" for j in jams)


def _clock(s: float) -> str:
    return f"+{int(s // 3600)}:{int(s % 3600 // 60):02d}"


# --- talking to the server -------------------------------------------------------------------


@dataclass
class Driver:
    email: str
    client: httpx.Client
    user_id: str
    driver_id: str = ""
    vehicle_id: str = ""
    profile: Profile = Profile.VAN


@dataclass
class Counts:
    """What the simulation sent and what came back."""

    events: Counter[str] = field(default_factory=Counter)
    rejected: list[str] = field(default_factory=list)
    positions: int = 0
    positions_refused: int = 0
    position_batches: int = 0
    route_reads: int = 0
    pods: int = 0
    same_day_created: int = 0
    same_day_inserted: int = 0
    same_day_elsewhere: int = 0
    """Inserted into a route that no simulated driver drives (another plan's)."""
    same_day_not_fitting: Counter[str] = field(default_factory=Counter)
    same_day_skipped: int = 0
    """Not sent: every route had finished, or the order was no longer ready (an earlier run)."""


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


def simulated_logins(
    staff: httpx.Client, count: int, password: str, have: int
) -> list[tuple[str, str]]:
    """Driver logins ``sim-driver-<n>.<org>@simulated.invalid`` for drivers ``have+1 …
    count``, created through ``POST /api/v1/members`` (an admin's) when missing."""
    me = _check(staff.get("/api/v1/auth/me"), "who am I")
    if me["role"] != "admin":
        raise SimulationError(
            f"creating driver logins (--driver-password) needs an admin's login or API key, "
            f"not a {me['role']}'s; or give --driver EMAIL:PASSWORD for every driver"
        )
    org = str(me["organisation_id"]).lower()
    logins = []
    for n in range(have + 1, count + 1):
        email = f"sim-driver-{n}.{org}@simulated.invalid"
        _check(
            staff.post(
                "/api/v1/members",
                json={
                    "email": email,
                    "role": "driver",
                    "password": password,
                    "name": f"Simulated driver {n}",
                },
            ),
            f"create the login {email}",
        )
        logins.append((email, password))
    return logins


def ensure_fleet(staff: httpx.Client, drivers: list[Driver], *, capacity: float) -> list[str]:
    """A driver record per login and a vehicle per driver; returns the vehicle ids used.

    A driver keeps the vehicle of its record when that one is active; the others get the
    remaining active vehicles, and vehicles ``SIM-VAN-n`` are created when there are too few
    (they carry ``capacity`` parcels: a fair share of the day, so that every driver gets a
    route)."""
    every = _all(staff, "/api/v1/vehicles")
    vehicles = [v for v in every if v.get("active", True)]
    by_id = {v["id"]: v for v in vehicles}
    records = _all(staff, "/api/v1/drivers")
    record_of = {d.get("user_id"): d for d in records if d.get("user_id")}
    taken: set[str] = set()
    for member in drivers:
        mine = record_of.get(member.user_id)
        if mine and mine.get("vehicle_id") in by_id and mine["vehicle_id"] not in taken:
            member.vehicle_id = mine["vehicle_id"]
            taken.add(member.vehicle_id)
    free = [v for v in vehicles if v["id"] not in taken]
    names = {v["external_id"] for v in every}
    numbers = (n for n in itertools.count(1) if f"SIM-VAN-{n}" not in names)
    for member in drivers:
        if member.vehicle_id:
            continue
        if free:
            vehicle = free.pop(0)
        else:
            n = next(numbers)
            body = {
                "external_id": f"SIM-VAN-{n}",
                "name": f"Simulated van {n}",
                "start": {"lon": DEPOT[0], "lat": DEPOT[1]},
                "shift": {"start": "07:00", "end": "19:00"},
                "capacity": {"parcels": capacity},
            }
            vehicle = _check(staff.post("/api/v1/vehicles", json=body), "create a vehicle")
            by_id[vehicle["id"]] = vehicle
        member.vehicle_id = vehicle["id"]
        taken.add(member.vehicle_id)
    for member in drivers:
        member.profile = Profile(by_id[member.vehicle_id].get("profile") or "van")
        mine = record_of.get(member.user_id)
        if mine is None:
            mine = _check(
                staff.post(
                    "/api/v1/drivers",
                    json={
                        "name": member.email,
                        "user_id": member.user_id,
                        "vehicle_id": member.vehicle_id,
                    },
                ),
                f"create the driver record of {member.email}",
            )
        member.driver_id = mine["id"]
    return [m.vehicle_id for m in drivers]


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


def _now() -> str:
    return datetime.now(UTC).isoformat()


def _ts(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


# --- the phone -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """Where the phone heads next: a stop of its route, or the route's end."""

    id: str
    location: Location | None
    stop: dict[str, Any] | None


class Phone:
    """One driver's phone running the driver app: a generator of the simulated moments at
    which it acts (:meth:`run`), talking to the server through :class:`Simulation`."""

    def __init__(
        self,
        sim: Simulation,
        member: Driver,
        route: dict[str, Any],
        *,
        offset_s: float,
        late_s: float,
        rng: random.Random,
    ) -> None:
        self.sim = sim
        self.member = member
        self.route = route
        self.route_id: str = route["id"]
        self.offset_s = offset_s
        self.late_s = late_s
        self.rng = rng
        self.t = 0.0
        start = route["start"]
        self.here = Location(float(start["lon"]), float(start["lat"]))
        self.changed = False
        """Set when the server told the app that its route changed (a stop was inserted)."""
        self.fresh = False
        self.done: set[str] = set()
        """Stops served and breaks taken (a break stays ``pending`` on the server; a stop whose
        outcome the server rejected is not tried again)."""
        self.gps: list[dict[str, Any]] = []
        self.last_flush = 0.0
        self.finished = False

    # -- what the app shows

    def reload(self) -> None:
        """``GET /driver/route``: the route as it is now on the server."""
        body = _check(
            self.member.client.get("/api/v1/driver/route", params={"date": self.route["date"]}),
            f"read the route of {self.member.email}",
        )
        self.sim.counts.route_reads += 1
        self.changed = False
        if body["route"] is not None and body["route"]["id"] == self.route_id:
            self.route = body["route"]

    def next_target(self) -> Target | None:
        """The first stop still to do in the route's current order, else the route's end
        (``None`` for an open route that has arrived)."""
        for stop in sorted(self.route["stops"], key=lambda s: s["sequence"]):
            if stop["status"] not in ("pending", "arrived") or stop["id"] in self.done:
                continue
            where = (
                Location(float(stop["lon"]), float(stop["lat"]))
                if stop.get("lon") is not None and stop.get("lat") is not None
                else None
            )
            return Target(stop["id"], where, stop)
        end = self.route["end"]
        if end.get("lon") is None or end.get("lat") is None:
            return None
        return Target("end", Location(float(end["lon"]), float(end["lat"])), None)

    # -- the day

    def run(self) -> Generator[float, None, None]:
        self.t = self.offset_s + self.late_s
        yield self.t
        self.sim.event(
            self, "route_started", route_id=self.route_id, lon=self.here.lon, lat=self.here.lat
        )
        while True:
            if not self.fresh:
                self.reload()
            self.fresh = False
            target = self.next_target()
            if target is None or (target.stop is None and target.location == self.here):
                break
            if target.stop is not None and target.stop["kind"] == "break":
                self.t += float(target.stop["service_s"])
                yield self.t
                self.done.add(target.id)
                continue
            if target.location is not None and target.location != self.here:
                diverted = yield from self.drive(target)
                if diverted:
                    continue
            if target.stop is not None:
                self.done.add(target.id)
                yield from self.serve(target.stop)
        self.sim.event(
            self, "route_finished", route_id=self.route_id, lon=self.here.lon, lat=self.here.lat
        )
        self.finished = True

    def drive(self, target: Target) -> Generator[float, None, bool]:
        """Drive to ``target``, a GPS point every :data:`GPS_EVERY_S` simulated seconds along
        the leg; returns ``True`` when a route change sent the phone elsewhere on the way."""
        assert target.location is not None
        leg = self.sim.roads.leg(self.here, target.location, self.member.profile)
        duration = max(1.0, leg.duration_s * self.rng.uniform(*DRIVE_FACTOR))
        speed = leg.distance_m / duration  # m per simulated second, outside jams
        done = 0.0
        while done < leg.distance_m:
            pace = speed / slowdown(self.sim.jams, self.t)
            if done + pace * GPS_EVERY_S >= leg.distance_m:
                self.t += (leg.distance_m - done) / pace
                done = leg.distance_m
            else:
                self.t += GPS_EVERY_S
                done += pace * GPS_EVERY_S
            yield self.t
            point, heading = leg.at(done)
            self.here = point if done < leg.distance_m else target.location
            self.sim.position(self, self.here, speed_ms=pace, heading=heading)
            if self.changed and done < leg.distance_m:
                self.changed = False
                self.reload()
                self.fresh = True
                new = self.next_target()
                if new is None or new.id != target.id:
                    return True
        self.here = target.location
        return False

    def serve(self, stop: dict[str, Any]) -> Generator[float, None, None]:
        where = self.here
        self.sim.event(self, "arrived", stop_id=stop["id"], lon=where.lon, lat=where.lat)
        self.t += max(10.0, float(stop["service_s"]) * self.rng.uniform(*SERVICE_FACTOR))
        yield self.t
        if self.rng.random() < FAIL_PROBABILITY:
            self.sim.event(
                self, "failed", stop_id=stop["id"], reason="not_home", lon=where.lon, lat=where.lat
            )
            return
        recipient = stop.get("customer") or "customer"
        key = self.sim.event(
            self,
            "delivered",
            stop_id=stop["id"],
            lon=where.lon,
            lat=where.lat,
            recipient=recipient,
        )
        if key is not None and self.rng.random() < POD_SHARE:
            for kind in stop.get("pod_required") or ():
                self.sim.pod(self, key, kind, recipient)


# --- the day ---------------------------------------------------------------------------------


@dataclass
class _Actor:
    steps: Iterator[float]
    essential: bool


class Simulation:
    """The phones, the dispatcher's same-day orders and the clock that plays them."""

    def __init__(
        self,
        staff: httpx.Client,
        roads: Roads,
        jams: tuple[Jam, ...],
        speed: float,
        *,
        stop: threading.Event | None = None,
        progress: Progress | None = None,
        say: Callable[[str], None] = console.print,
    ) -> None:
        self.staff = staff
        self.roads = roads
        self.jams = jams
        self.speed = speed
        self.stop = stop or threading.Event()
        self.progress = progress
        self.task = progress.add_task("stops", total=0) if progress is not None else None
        self.say = say
        self.counts = Counts()
        self.phones: list[Phone] = []
        self.started = time.monotonic()
        self.same_day_ids: list[str] = []

    # -- requests

    def flush(self, phone: Phone) -> None:
        while phone.gps:
            batch, phone.gps = phone.gps[:MAX_POSITIONS], phone.gps[MAX_POSITIONS:]
            response = phone.member.client.post(
                "/api/v1/driver/positions", json={"positions": batch}
            )
            self.counts.position_batches += 1
            if response.status_code == 409:  # no route in progress (a dispatcher's change)
                self.counts.positions_refused += len(batch)
                continue
            body = _check(response, f"send positions of {phone.member.email}")
            self.counts.positions += int(body["accepted"])
            self.counts.positions_refused += len(body["rejected"])
        phone.last_flush = time.monotonic()

    def position(self, phone: Phone, at: Location, *, speed_ms: float, heading: float) -> None:
        phone.gps.append(
            {
                "lon": round(at.lon + phone.rng.gauss(0, GPS_NOISE_DEG), 7),
                "lat": round(at.lat + phone.rng.gauss(0, GPS_NOISE_DEG), 7),
                "recorded_at": _now(),
                "accuracy_m": 5.0,
                "speed_ms": round(min(speed_ms, 150.0), 2),
                "heading": round(heading, 1),
            }
        )
        if time.monotonic() - phone.last_flush >= GPS_BATCH_S:
            self.flush(phone)

    def event(self, phone: Phone, type_: str, **body: Any) -> str | None:
        """Send one device event (after the GPS points before it); its key, or ``None`` when
        the server rejected it (counted and shown)."""
        self.flush(phone)
        key = f"sim-{uuid.uuid4()}"
        result = _check(
            phone.member.client.post(
                "/api/v1/driver/events",
                json={"events": [{"key": key, "type": type_, "occurred_at": _now(), **body}]},
            ),
            f"send {type_} of {phone.member.email}",
        )["results"][0]
        if result["status"] == "rejected":
            message = f"{type_} of {phone.member.email} rejected: {result['error']}"
            self.counts.rejected.append(message)
            self.say(f"[yellow]{escape(message)}[/]")
            return None
        self.counts.events[type_] += 1
        if type_ in ("delivered", "failed") and self.progress is not None:
            assert self.task is not None
            self.progress.advance(self.task)
        return key

    def pod(self, phone: Phone, key: str, kind: str, recipient: str) -> None:
        """Upload a proof for a synced event, as the app does after the event."""
        response = phone.member.client.post(
            "/api/v1/driver/pod",
            data={"kind": kind, "event_key": key, "recipient": recipient},
            files={"file": (f"{kind}.png", proof_png(kind, phone.rng), "image/png")},
        )
        _check(response, f"upload the {kind} of {phone.member.email}")
        self.counts.pods += 1

    # -- the dispatcher's same-day orders

    def same_day(self, orders: list[tuple[float, dict[str, Any]]]) -> Iterator[float]:
        """Create each order at its moment and insert it into a running route (``409``: it
        does not fit, with the reason); the phone of that route is told its route changed."""
        by_driver = {p.member.driver_id: p for p in self.phones}
        for i, (t, body) in enumerate(orders):
            yield t
            if all(p.finished for p in self.phones):
                self.counts.same_day_skipped += len(orders) - i
                return
            response = self.staff.post("/api/v1/orders", json=[body])
            if response.status_code == 409:  # an earlier run's order that can no longer change
                self.counts.same_day_skipped += 1
                continue
            created = _check(response, "create an order")
            order = created["items"][0]["order"]
            if order["status"] != "ready":
                self.counts.same_day_skipped += 1
                continue
            self.counts.same_day_created += 1
            self.same_day_ids.append(order["id"])
            response = self.staff.post(f"/api/v1/orders/{order['id']}/insert")
            if response.status_code == 409:
                why = response.json()
                reason = str(why.get("reason") or why.get("code") or "conflict")
                self.counts.same_day_not_fitting[reason] += 1
                self.say(
                    f"same-day order {body['external_id']} at {_clock(t)} does not fit "
                    f"({escape(reason)}): {escape(str(why.get('detail', '')))}"
                )
                continue
            inserted = _check(response, f"insert {body['external_id']}")
            phone = by_driver.get(inserted.get("driver_id") or "")
            if phone is None or phone.finished:
                self.counts.same_day_elsewhere += 1
                continue
            self.counts.same_day_inserted += 1
            phone.changed = True
            if self.progress is not None and self.task is not None:
                total = self.progress.tasks[self.task].total or 0
                self.progress.update(self.task, total=total + 1)

    # -- the clock

    def play(self, actors: list[_Actor]) -> bool:
        """Run the actors in simulated time; ``False`` when stopped before the end."""
        heap: list[tuple[float, int, int]] = []
        seq = itertools.count()
        for index, actor in enumerate(actors):
            t = next(actor.steps, None)
            if t is not None:
                heap.append((t, next(seq), index))
        heapq.heapify(heap)
        self.started = time.monotonic()
        while heap and any(actors[i].essential for _, _, i in heap):
            t, _, index = heapq.heappop(heap)
            wait = self.started + t / self.speed - time.monotonic()
            if wait > 0 and self.stop.wait(wait):
                return False
            if self.stop.is_set():
                return False
            later = next(actors[index].steps, None)
            if later is not None:
                heapq.heappush(heap, (later, next(seq), index))
        for phone in self.phones:
            self.flush(phone)
        return True


# --- the whole run ---------------------------------------------------------------------------


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
        if len(logins) < options.drivers:
            if not options.driver_password:
                raise SimulationError(
                    f"{options.drivers} drivers need {options.drivers} driver logins "
                    f"(got {len(logins)})"
                )
            logins += simulated_logins(
                staff, options.drivers, options.driver_password, have=len(logins)
            )
        team: list[Driver] = []
        for login, secret in logins:
            client = _login(server, login, secret, timeout)
            clients.callback(client.close)
            me = _check(client.get("/api/v1/auth/me"), "who am I")
            if me["role"] != "driver":
                raise SimulationError(f"{login} is {me['role']}, not a driver")
            team.append(Driver(email=login, client=client, user_id=me["user_id"]))
        return _run(staff, team, options, roads)


def _ready_orders(staff: httpx.Client, day: date) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    while True:
        page = _check(
            staff.get(
                "/api/v1/orders",
                params={
                    "date": day.isoformat(),
                    "status": "ready",
                    "limit": 500,
                    "offset": len(found),
                },
            ),
            "list the day's orders",
        )
        found.extend(page["items"])
        if not page["items"] or len(found) >= page["total"]:
            return found


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


def _routes_of(
    team: list[Driver], day: date, statuses: tuple[str, ...] = ("dispatched", "started")
) -> list[tuple[Driver, dict[str, Any]]]:
    """Each driver's route of the day as the app shows it (the one in progress, else the next
    dispatched one, else the last finished one), when its status is one of ``statuses``."""
    routes = []
    for member in team:
        body = _check(
            member.client.get("/api/v1/driver/route", params={"date": day.isoformat()}),
            f"read the route of {member.email}",
        )
        route = body["route"]
        if route is not None and route["status"] in statuses:
            routes.append((member, route))
    return routes


def _run(staff: httpx.Client, team: list[Driver], options: Options, roads: Roads) -> Outcome:
    rng = random.Random(options.seed)
    day = options.day
    if day is None:  # today in the organisation's time zone: the KPIs' default day
        day = date.fromisoformat(_check(staff.get("/api/v1/kpis"), "today")["filters"]["from"])
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
    return _drive(staff, routes, options, roads, day, resumed)


def _drive(
    staff: httpx.Client,
    routes: list[tuple[Driver, dict[str, Any]]],
    options: Options,
    roads: Roads,
    day: date,
    resumed: bool,
) -> Outcome:
    seed = options.seed
    departures = [_ts(r["start"]["departure"]) for _, r in routes]
    first = min(departures, default=0.0)
    durations = [
        max(60.0, _ts(r["end"]["arrival"]) - _ts(r["start"]["departure"])) for _, r in routes
    ]
    span = max((d - first + s for d, s in zip(departures, durations, strict=True)), default=3600.0)
    jams = make_jams(span, random.Random(f"{seed}:jams"))
    late_index: int | None = None
    late_s = 0.0
    if len(routes) >= 2:
        late_rng = random.Random(f"{seed}:late")
        late_index = late_rng.randrange(len(routes))
        late_s = round(late_rng.uniform(*LATE_MINUTES) * 60)
    count = default_same_day(options.orders) if options.same_day is None else options.same_day
    if options.existing and options.same_day is None:
        count = default_same_day(sum(len(r["stops"]) for _, r in routes))
    day_rng = random.Random(f"{seed}:same-day")
    bodies = make_orders(day, count, day_rng, label="S") if routes else []
    for body in bodies:  # a same-day order is one parcel: it fits the vans' spare room
        body["demand"] = {"parcels": 1.0}
    typical = statistics.median(durations) if durations else 3600.0
    moments = sorted(day_rng.uniform(0.1, 0.5) * typical for _ in bodies)

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
        sim = Simulation(staff, roads, jams, options.speed, stop=options.stop, progress=progress)
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
            f"; {len(bodies)} same-day orders{late_text}"
        )
        actors = [_Actor(p.run(), True) for p in sim.phones]
        actors.append(_Actor(sim.same_day(list(zip(moments, bodies, strict=True))), False))
        began = time.monotonic()
        finished = sim.play(actors)
        real_s = time.monotonic() - began
    simulated = max((p.t for p in sim.phones), default=0.0)
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
    )


# --- output ----------------------------------------------------------------------------------


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


# --- the command -----------------------------------------------------------------------------


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
