"""``lastmile simulate`` against the real app served by uvicorn on loopback: small days.

The server plans with straight-line travel times (fast); the simulated phones drive on the
bundled road network, as the command does by default.
"""

from __future__ import annotations

import datetime as dt
import itertools
import random
import re
import statistics
import time
import zlib
from functools import cache
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from helpers.live import serve_app
from helpers.service import PASSWORD, OrgUsers, make_org
from lastmile.app import create_app
from lastmile.auth import service as auth
from lastmile.cli import app as cli
from lastmile.config import Settings
from lastmile.core.geo.distance import haversine_m
from lastmile.core.model import Location, Profile
from lastmile.core.roads import RoadNetwork, RoadProvider, default_extract
from lastmile.drivers.models import DeviceEvent, Position
from lastmile.drivers.pod_store import image_type
from lastmile.fleet.models import Driver
from lastmile.orders.models import Order
from lastmile.orgs import clock as org_clock
from lastmile.orgs import service as orgs
from lastmile.orgs.models import Organisation, Role
from lastmile.routes.models import Route
from lastmile.simulation.legs import Roads
from lastmile.simulation.proofs import proof_png
from lastmile.simulation.scenario import (
    Jam,
    default_same_day,
    make_jams,
    make_orders,
    parse_speed,
    slowdown,
)

SCHAAN = Location(9.5087, 47.1657)
TRIESEN = Location(9.5265427, 47.1196385)
DEPOTS = (
    Location(9.5349137, 47.2521241),  # Ruggell
    Location(9.5229141, 47.1430357),  # Vaduz
    Location(9.5076534, 47.0675654),  # Balzers
)


@cache
def provider() -> RoadProvider:
    return RoadProvider(RoadNetwork.load(default_extract()))


def road_gap_m(points: list[Location]) -> list[float]:
    """Distance of each point to the nearest road segment of the bundled extract (van)."""
    return [s.distance_m for s in provider().snap_many(points, Profile.VAN)]


def chord_gap_m(p: Location, a: Location, b: Location) -> float:
    """Distance of ``p`` to the straight segment ``a``-``b`` (local flat projection)."""
    k = 111_320.0
    c = k * 0.68  # cos(47.1°)
    ax, ay, bx, by, px, py = a.lon * c, a.lat * k, b.lon * c, b.lat * k, p.lon * c, p.lat * k
    dx, dy = bx - ax, by - ay
    f = 0.0 if dx == dy == 0 else ((px - ax) * dx + (py - ay) * dy) / (dx * dx + dy * dy)
    f = min(1.0, max(0.0, f))
    return float(((px - ax - f * dx) ** 2 + (py - ay - f * dy) ** 2) ** 0.5)


def test_speed_and_orders_are_parsed_and_seeded() -> None:
    assert parse_speed("600x") == 600 and parse_speed("0.5") == 0.5
    with pytest.raises(ValueError):
        parse_speed("0x")
    day = dt.date(2026, 11, 24)
    a = make_orders(day, 5, random.Random(3))
    assert a == make_orders(day, 5, random.Random(3))
    assert a != make_orders(day, 5, random.Random(4))
    assert [o["external_id"] for o in a][:2] == ["SIM-2026-11-24-0001", "SIM-2026-11-24-0002"]
    assert make_orders(day, 1, random.Random(3), label="S")[0]["external_id"] == (
        "SIM-2026-11-24-S0001"
    )
    assert all(9.4 < o["lon"] < 9.7 and 47.0 < o["lat"] < 47.3 for o in a)
    assert [default_same_day(n) for n in (1, 9, 10, 20, 150)] == [0, 0, 1, 1, 8]


def test_missing_driver_logins_are_explained() -> None:
    result = CliRunner().invoke(
        cli, ["simulate", "--server", "http://127.0.0.1:9", "--api-key", "k", "--drivers", "2"]
    )
    assert result.exit_code == 2
    text = " ".join(result.output.split())
    assert "lastmile admin create-user --role driver" in text and "--driver-password" in text
    both = CliRunner().invoke(
        cli,
        [
            "simulate",
            "--server",
            "http://127.0.0.1:9",
            "--api-key",
            "k",
            "--no-roads",
            "--roads",
            "x.osm.pbf",
            "--driver",
            "a@b:c",
        ],
    )
    assert both.exit_code == 2 and "exclude each other" in both.output


def test_a_leg_follows_the_roads_and_falls_back_to_a_straight_line() -> None:
    roads = Roads(provider())
    leg = roads.leg(SCHAAN, TRIESEN, Profile.VAN)
    assert leg.on_roads and leg.points[0] == SCHAAN and leg.points[-1] == TRIESEN
    straight = haversine_m(SCHAAN, TRIESEN)
    assert straight * 1.05 < leg.distance_m < straight * 2
    assert 300 < leg.duration_s < 1800
    # Points spaced along the path stay on the roads; some are far from the straight line.
    along = [leg.at(leg.distance_m * i / 200)[0] for i in range(1, 200)]
    assert max(road_gap_m(along)) < 60  # the access legs at both ends are the largest gaps
    assert statistics.median(road_gap_m(along)) < 2
    assert max(chord_gap_m(p, SCHAAN, TRIESEN) for p in along) > 150
    # No roads: a straight line, timed like the server's straight-line estimate.
    flat = Roads(None).leg(SCHAAN, TRIESEN, Profile.VAN)
    assert not flat.on_roads and flat.points == (SCHAAN, TRIESEN)
    assert flat.duration_s == pytest.approx(straight * 1.3 / (35 / 3.6), abs=1)
    assert (
        max(chord_gap_m(flat.at(flat.distance_m * i / 10)[0], SCHAAN, TRIESEN) for i in range(11))
        < 1
    )
    # A leg that ends far from any road (a lake in Switzerland, off the extract) is straight.
    off = Location(9.40, 47.25)
    assert not roads.leg(SCHAAN, off, Profile.VAN).on_roads and roads.fallbacks == 1


def test_proofs_are_real_pngs_and_jams_slow_the_day() -> None:
    for kind in ("signature", "photo"):
        png = proof_png(kind, random.Random(1))
        assert image_type(png) == "image/png" and len(png) < 5000
        width, height = int.from_bytes(png[16:20]), int.from_bytes(png[20:24])
        start = png.index(b"IDAT") + 4
        size = int.from_bytes(png[start - 8 : start - 4])
        raw = zlib.decompress(png[start : start + size])
        assert len(raw) == height * (width + 1)
        if kind == "signature":
            assert 0 < raw.count(0) - height < width * height / 4  # some ink, mostly paper
    assert proof_png("signature", random.Random(1)) != proof_png("signature", random.Random(2))
    jams = make_jams(8 * 3600, random.Random(5))
    assert jams == make_jams(8 * 3600, random.Random(5)) and 1 <= len(jams) <= 2
    for jam in jams:
        assert 30 * 60 <= jam.end_s - jam.start_s <= 90 * 60 and 1.5 <= jam.factor <= 2.0
        assert jam.start_s <= 0.7 * 8 * 3600
    assert slowdown([Jam(100, 200, 1.8)], 150) == 1.8 and slowdown([Jam(100, 200, 1.8)], 200) == 1


def morning_zone(hour: int = 9) -> str:
    """A time zone where it is now ``hour`` o'clock: the server places same-day orders at
    the real now, inside the vans' shifts (07:00-19:00) whenever the test runs."""
    offset = (hour - dt.datetime.now(dt.UTC).hour) % 24
    offset = offset - 24 if offset > 12 else offset
    return "UTC" if offset == 0 else f"Etc/GMT{-offset:+d}"


def _org_with_fleet(client: TestClient) -> tuple[OrgUsers, str]:
    """An organisation in the morning with three driver logins, three vans (in the north,
    middle and south, so that the plan uses two or three; room for the same-day orders) and a
    dispatcher API key. The simulation creates the driver records."""
    org = make_org(client, "Sim", timezone=morning_zone())
    sessions: sessionmaker[Session] = client.app.state.sessions  # type: ignore[attr-defined]
    with sessions() as session:
        for n in (2, 3):
            user = auth.create_user(
                session=session, email=f"driver{n}@sim.example", password=PASSWORD, name=f"D{n}"
            )
            orgs.add_member(session=session, org_id=org.org_id, user_id=user.id, role=Role.DRIVER)
    for n, depot in enumerate(DEPOTS, start=1):
        vehicle = client.post(
            "/api/v1/vehicles",
            json={
                "external_id": f"VAN-{n}",
                "start": {"lon": depot.lon, "lat": depot.lat},
                "shift": {"start": "07:00", "end": "19:00"},
                "capacity": {"parcels": 100},
            },
            headers=org.admin,
        )
        assert vehicle.status_code == 201, vehicle.text
    key = client.post(
        "/api/v1/api-keys", json={"name": "sim", "role": "dispatcher"}, headers=org.admin
    )
    assert key.status_code == 201, key.text
    return org, key.json()["key"]


def simulation_of(
    client: TestClient, org: OrgUsers, role: Role = Role.DISPATCHER
) -> tuple[Organisation, dict[str, str]]:
    """The simulation organisation of ``org`` and the headers of a new API key for it."""
    sessions: sessionmaker[Session] = client.app.state.sessions  # type: ignore[attr-defined]
    with sessions() as session:
        twin = org_clock.simulation_of(session=session, org_id=org.org_id)
        assert twin is not None and twin.simulation
        _, key = auth.create_api_key(session=session, org_id=twin.id, name="test", role=role)
        session.expunge(twin)
    return twin, {"X-API-Key": key}


def _kpi_table(output: str) -> dict[str, str]:
    """The rows of the printed KPI table: name -> value."""
    table = output[output.index("KPIs of") : output.index("The simulation")]
    rows = {}
    for line in table.splitlines():
        cells = [c.strip() for c in re.split(r"[│┃]", line) if c.strip()]
        if len(cells) == 2:
            rows[cells[0]] = cells[1]
    return rows


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f} %"


def test_simulate_a_day_on_the_roads(tmp_path: Path) -> None:
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'sim.db'}",
        data_dir=tmp_path,
        use_roads=False,
        jobs="inline",
        secret_key="test-secret",
        plan_time_limit_s=1.0,
        geocode_imports=False,
    )
    speed = 900
    with TestClient(create_app(settings)) as client:
        org, key = _org_with_fleet(client)
        with serve_app(client.app) as url:
            began = time.monotonic()
            result = CliRunner().invoke(
                cli,
                [
                    "simulate",
                    "--server", url,
                    "--api-key", key,
                    *[f"--driver={e}:{PASSWORD}" for e in
                      ("driver@sim.example", "driver2@sim.example", "driver3@sim.example")],
                    "--drivers", "3",
                    "--orders", "12",
                    "--same-day", "3",
                    "--speed", f"{speed}x",
                    "--seed", "7",
                    "--plan-time-limit", "0.5",
                ],
                terminal_width=200,
            )  # fmt: skip
            took = time.monotonic() - began
        assert result.exit_code == 0, result.output + repr(result.exception)
        assert took < 60, f"the simulation took {took:.0f} s"
        out = result.output

        # The day ran in the organisation's simulation organisation, on its own clock.
        twin, sim = simulation_of(client, org)
        assert f"the day runs in {twin.name}" in " ".join(out.split()), out
        assert client.get("/api/v1/kpis", headers=org.dispatcher).json()["orders"] == 0
        kpis = client.get("/api/v1/kpis", headers=sim).json()
        # 12 orders and the 3 same-day ones, each tried exactly once.
        assert kpis["orders"] == 15, out
        assert kpis["delivered"] + kpis["failed_attempts"] == 15, out
        assert set(kpis["failure_reasons"]) <= {"not_home"}
        assert kpis["actual_km"] > 1 and kpis["planned_km"] > 1
        assert kpis["pod_compliance"] is not None and kpis["pod_compliance"] > 0.7
        assert all(c["avg_distance_from_stop_m"] < 1 for c in kpis["drivers"] if c["delivered"])
        # What was printed is what the API says.
        printed = _kpi_table(out)
        assert printed["orders"] == str(kpis["orders"])
        assert printed["delivered"] == str(kpis["delivered"])
        assert printed["failed attempts"] == str(kpis["failed_attempts"])
        assert printed["first-attempt success"] == _pct(kpis["first_attempt_success_rate"])
        assert printed["POD compliance"] == _pct(kpis["pod_compliance"])
        assert printed["on time"] == _pct(kpis["on_time_rate"])
        assert printed["km planned / actual"] == (
            f"{kpis['planned_km']:.2f} / {kpis['actual_km']:.2f}"
        )
        flat = " ".join(re.sub(r"[│┃]", " ", out).split())
        assert re.search(r"same-day inserted 3\b", flat), out
        assert re.search(r"events rejected 0\b", flat), out

        sessions: sessionmaker[Session] = client.app.state.sessions  # type: ignore[attr-defined]
        with sessions() as session:
            routes = list(session.scalars(select(Route).where(Route.org_id == twin.id)))
            # The vans start far apart: the plan uses at least two of them.
            assert 2 <= len(routes) <= 3 and all(r.status == "finished" for r in routes)
            drivers = {d.id: d for d in session.scalars(select(Driver))}
            events = list(session.scalars(select(DeviceEvent).order_by(DeviceEvent.occurred_at)))
            positions = list(session.scalars(select(Position).order_by(Position.recorded_at)))
            same_day = list(
                session.scalars(select(Order).where(Order.external_id.like("SIM-%-S%")))
            )

        # Road-following GPS: the points lie on the roads ...
        points = [Location(p.lon, p.lat) for p in positions]
        assert len(points) > 100
        gaps = sorted(road_gap_m(points))
        assert gaps[len(gaps) // 2] < 8 and gaps[int(len(gaps) * 0.9)] < 25, gaps[-20:]
        # ... and not on the straight lines between consecutive stops of a driver.
        off_chord = []
        for driver_id in drivers:
            mine = [e for e in events if e.driver_id == driver_id]
            if not mine:
                continue
            first = mine[0].payload
            stops = [(mine[0].occurred_at, Location(first["lon"], first["lat"]))] + [
                (e.occurred_at, Location(e.payload["lon"], e.payload["lat"]))
                for e in mine
                if e.type == "arrived"
            ]
            for (t0, a), (t1, b) in itertools.pairwise(stops):
                leg = [
                    Location(p.lon, p.lat)
                    for p in positions
                    if p.driver_id == driver_id and t0 < p.recorded_at <= t1
                ]
                off_chord += [chord_gap_m(p, a, b) for p in leg]
        assert len(off_chord) > 50
        assert sum(1 for g in off_chord if g > 30) / len(off_chord) > 0.2

        # The late driver started 15-45 simulated minutes after the others.
        late = re.search(r"late driver (\S+) \((\d+) min\)", flat)
        assert late is not None, out
        started = {
            drivers[e.driver_id].user_id: e.occurred_at for e in events if e.type == "route_started"
        }
        assert len(started) == len(routes)
        with sessions() as session:
            late_user = auth.get_user_by_email(session=session, email=late.group(1)).id
        minutes = int(late.group(2))
        assert 15 <= minutes <= 45
        delay = started[late_user] - max(t for u, t in started.items() if u != late_user)
        assert delay.total_seconds() > 0.6 * minutes * 60 / speed, (delay, minutes)

        # The same-day orders were inserted during the day and then driven by their driver.
        assert len(same_day) == 3
        outcomes = []
        for order in same_day:
            history = client.get(f"/api/v1/orders/{order.id}/events", headers=sim).json()
            states = [h["to_status"] for h in history]
            assert "dispatched" in states and "arrived" in states, states
            assert states[-1] in ("delivered", "failed"), states
            assert history[-1]["actor"].startswith("driver:")
            outcomes.append(states[-1])
        assert "delivered" in outcomes

        # A second run of the same day has nothing left to plan or drive, and says so.
        with serve_app(client.app) as url:
            again = CliRunner().invoke(
                cli,
                [
                    "simulate", "--server", url,
                    "--email", "dispatcher@sim.example", "--password", PASSWORD,
                    "--driver", f"driver@sim.example:{PASSWORD}",
                    "--orders", "12", "--seed", "7", "--no-roads",
                ],
            )  # fmt: skip
        assert again.exit_code == 1, again.output
        assert "none of the 12 orders" in " ".join(again.output.split())
        # Missing driver logins are created by an admin's login (not a dispatcher's).
        with serve_app(client.app) as url:
            base = ["simulate", "--server", url, "--password", PASSWORD, "--orders", "12"]
            other_seed = CliRunner().invoke(
                cli, [*base, "--email", "dispatcher@sim.example", "--seed", "8", "--driver",
                      f"driver@sim.example:{PASSWORD}"],
            )  # fmt: skip
            base += ["--seed", "7"]
            refused = CliRunner().invoke(
                cli,
                [*base, "--email", "dispatcher@sim.example", "--driver-password", "sim-pass-1"],
            )
            created = CliRunner().invoke(
                cli, [*base, "--email", "admin@sim.example", "--driver-password", "sim-pass-1"]
            )
        assert other_seed.exit_code == 1 and "another --seed" in " ".join(other_seed.output.split())
        assert refused.exit_code == 1 and "needs an admin" in " ".join(refused.output.split())
        assert created.exit_code == 1, created.output  # logged in, then: nothing left to drive
        assert "none of the 12 orders" in " ".join(created.output.split())
        members = client.get("/api/v1/members", headers=simulation_of(client, org, Role.ADMIN)[1])
        members = members.json()
        sims = [m for m in members if m["email"].startswith("sim-driver-1.")]
        assert len(sims) == 1 and sims[0]["role"] == "driver"
        with sessions() as session:
            assert (session.scalar(select(func.count()).select_from(Route)) or 0) == len(routes)
