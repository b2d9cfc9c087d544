"""Load benchmark (issue 7): GPS ingest, tracking pages and SSE fan-out on PostgreSQL.

    .venv/bin/python benchmarks/load_bench.py [--drivers 500 --sse-clients 50 --duration 40]

Results and analysis: ``docs/benchmarks.md`` (Load) and ``docs/load.md``. What it does:

1. *Setup* (not measured): a fresh PostgreSQL database (``--db``, dropped at the end),
   migrated by the app (``create_app``); one organisation (Europe/Vaduz) with ``--drivers``
   drivers, each with a login, a bearer token and a van; ``--stops`` orders per driver at
   the bundled sample day's addresses (Liechtenstein, jittered ~30 m); a route per driver
   timed by the travel-time provider the servers use (roads by default), stored with
   ``plans.service.store_routes`` and dispatched with ``plans.service.dispatch``; a tracking
   link per order; ``ANALYZE``. Then the servers start and every route is started through
   the driver API (``route_started``), so positions are accepted.
2. Two server processes on PostgreSQL: two ``lastmile serve`` on two ports (default: each
   gets half of every load generator's connections and of the SSE clients, as behind a
   round-robin proxy), or ``--mode workers``: one ``lastmile serve --workers 2`` (one shared
   socket: the kernel hands connections to whichever process accepts first).
3. Phases (``--phases``), each with the CPU time of every process involved (servers, load
   generators, this process, PostgreSQL sampled every 0.5 s), the bench database's
   connections, and, with py-spy installed, a ``--gil`` profile of server 1:

   ``ingest``   wrk + ``load/positions.lua``, closed loop on ``--ingest-connections``:
                batches of ``--batch`` points with fresh, unique ``recorded_at``; then the
                stored Position rows are compared with the points wrk saw accepted.
   ``batches``  the same, shorter, with ``--batch-sweep`` points per request.
   ``tracking`` wrk + ``load/tracking.lua`` at a fixed ``--tracking-rate`` (paced with
                ``delay()``; requests sent late are counted); ``tracking-low`` at
                ``--tracking-low``.
   ``combined`` ingest + tracking at ``--tracking-rate`` + ``--sse-clients`` SSE clients on
                ``/api/v1/events`` (asyncio + httpx in this process, half on each server);
                every client's event ids are compared with the events table (lost events),
                and the fan-out delay is event ``created_at`` -> bytes received.
   ``combined-few``  ingest + tracking at ``--tracking-low`` + ``--sse-few`` SSE clients.
   ``sweep``    ingest alone at each of ``--sweep`` connection counts.

4. ``--write``: the report to ``benchmarks/results/<--write-name>.txt``, the numbers to
   ``.json``. ``--server-pythonpath DIR`` runs the servers on a patched copy of the package
   (how ``docs/load.md`` measured the fixes it recommends).

Needs ``wrk`` (``apt-get install wrk``), a PostgreSQL server (``--pg``, trust auth) and, for
the profiles, ``.venv/bin/pip install py-spy``.
"""

from __future__ import annotations

import argparse
import array
import asyncio
import csv
import datetime as dt
import json
import math
import os
import platform
import random
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import psycopg

ROOT = Path(__file__).resolve().parents[1]
LOAD = Path(__file__).resolve().parent / "load"
RESULTS = Path(__file__).resolve().parent / "results"
SAMPLE = ROOT / "src" / "lastmile" / "data" / "sample"
VENV_BIN = Path(sys.executable).parent
DEPOT = (9.5087, 47.1657)
"""The sample day's depot in Schaan: where every van starts and ends."""
ZONE = "Europe/Vaduz"
TICK = os.sysconf("SC_CLK_TCK")

out_lines: list[str] = []


def say(text: str = "") -> None:
    print(text, flush=True)
    out_lines.append(text)


# --- small helpers --------------------------------------------------------------------------


def pct(values: list[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100); nan for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(p / 100 * len(ordered)) - 1))]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def machine() -> dict[str, Any]:
    model = ""
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    uptime = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    return {
        "nproc": os.cpu_count(),
        "cpu": model,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "uptime": uptime,
        "loadavg": os.getloadavg(),
        "utc": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M"),
    }


# --- CPU accounting from /proc ----------------------------------------------------------------


def proc_ticks(pid: int) -> int:
    """utime + stime of a process (all its threads), in clock ticks; 0 when it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])
    except (OSError, IndexError, ValueError):
        return 0


def machine_ticks() -> tuple[int, int]:
    """(busy, total) jiffies of all CPUs together."""
    with open("/proc/stat") as f:
        values = [int(v) for v in f.readline().split()[1:]]
    idle = values[3] + values[4]
    total = sum(values[:8])
    return total - idle, total


def children_of(pid: int) -> list[int]:
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            if ppid == pid:
                out.append(int(entry))
    return out


def postgres_pids() -> list[int]:
    """Every process of the PostgreSQL server (shared with whatever else uses it)."""
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as f:
                    cmd = f.read().split(b"\0")[0]
            except OSError:
                continue
            if cmd.startswith(b"postgres") or cmd.endswith(b"/bin/postgres"):
                out.append(int(entry))
    return out


class CpuMeter:
    """CPU seconds of named groups of processes between ``start()`` and ``stop()``."""

    def __init__(self, groups: dict[str, Any]) -> None:
        # a group is a list of pids or a function returning one (looked up at start and stop)
        self.groups = groups
        self.base: dict[str, dict[int, int]] = {}
        self.machine0 = (0, 0)
        self.t0 = 0.0
        self.load0 = (0.0, 0.0, 0.0)
        self.fixed: dict[str, float] = {}

    def _pids(self, name: str) -> list[int]:
        group = self.groups[name]
        return list(group() if callable(group) else group)

    def start(self) -> None:
        self.t0 = time.monotonic()
        self.load0 = os.getloadavg()
        self.machine0 = machine_ticks()
        self.base = {n: {p: proc_ticks(p) for p in self._pids(n)} for n in self.groups}

    def add_seconds(self, name: str, seconds: float) -> None:
        """CPU time measured elsewhere (a child that has exited, from ``wait4``)."""
        self.fixed[name] = seconds

    def add(self, name: str, pids: list[int]) -> None:
        """A group that starts now (a load generator): its whole life counts."""
        self.groups[name] = pids
        self.base[name] = dict.fromkeys(pids, 0)

    def stop(self) -> dict[str, Any]:
        wall = time.monotonic() - self.t0
        busy1, total1 = machine_ticks()
        out: dict[str, Any] = {"wall_s": round(wall, 2), "groups": {}}
        ours = 0.0
        for name in self.groups:
            base = self.base.get(name, {})
            pids = set(self._pids(name)) | set(base)
            ticks = sum(max(0, proc_ticks(p) - base.get(p, 0)) for p in pids)
            seconds = ticks / TICK
            if not name.startswith("postgres, all"):
                ours += seconds
            out["groups"][name] = {"cpu_s": round(seconds, 2), "cores": round(seconds / wall, 2)}
        for name, seconds in self.fixed.items():
            ours += seconds
            out["groups"][name] = {"cpu_s": round(seconds, 2), "cores": round(seconds / wall, 2)}
        busy = (busy1 - self.machine0[0]) / TICK
        ncpu = os.cpu_count() or 1
        total = (total1 - self.machine0[1]) / TICK
        out["machine_busy_cores"] = round(busy / wall, 2)
        out["machine_busy_pct"] = round(100 * busy / total, 1) if total else math.nan
        out["ours_cores"] = round(ours / wall, 2)
        out["ncpu"] = ncpu
        out["loadavg_start"] = [round(x, 2) for x in self.load0]
        out["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]
        return out


# --- setup: a started day of N drivers --------------------------------------------------------


@dataclass
class Day:
    org_id: str
    staff_token: str
    drivers: list[tuple[str, float, float]]
    """(bearer token, lon, lat) of every driver."""
    links: list[tuple[str, str]]
    """(tracking token, fake client address) of every order (all out for delivery)."""
    routes: int
    orders: int
    setup_s: float
    steps: dict[str, float]
    starts: list[tuple[str, str]]
    """(driver's token, route id) for ``route_started``."""
    app: Any
    settings: Any


def sample_addresses() -> list[tuple[str, float, float]]:
    with (SAMPLE / "sample_day_orders.csv").open(newline="", encoding="utf-8") as f:
        return [(r["address"], float(r["lon"]), float(r["lat"])) for r in csv.DictReader(f)]


def setup_day(url: str, data_dir: Path, args: argparse.Namespace) -> Day:
    """The day the servers will serve; returns tokens for the load generators."""
    from sqlalchemy import select

    from lastmile.app import create_app
    from lastmile.auth import service as auth
    from lastmile.auth.models import User
    from lastmile.auth.security import hash_password
    from lastmile.config import Settings
    from lastmile.core.model import Location, Profile, TimeWindow
    from lastmile.core.model import Order as CoreOrder
    from lastmile.core.model import Route as CoreRoute
    from lastmile.core.model import Vehicle as CoreVehicle
    from lastmile.core.planning import build_problem, route_cost, simulate
    from lastmile.fleet.models import Driver, Vehicle
    from lastmile.integrations.configured import provider_for
    from lastmile.orders.models import Order
    from lastmile.orgs import service as orgs
    from lastmile.orgs.models import Membership, Role
    from lastmile.plans import service as plans
    from lastmile.plans.models import Plan
    from lastmile.routes.models import Route, Stop
    from lastmile.tracking import service as tracking

    t_start = time.perf_counter()
    steps: dict[str, float] = {}
    mark = [t_start]

    def lap(name: str) -> None:
        now_t = time.perf_counter()
        steps[name] = round(now_t - mark[0], 1)
        mark[0] = now_t

    settings = Settings(
        database_url=url,
        data_dir=data_dir,
        use_roads=args.roads,
        secret_key="load-bench",
        geocode_imports=False,
    )
    app = create_app(settings)  # runs the migrations, as every server process does at start
    # procrastinate's tables too, before two servers start at once: each creates them when
    # missing, and two doing it at the same moment makes one fail (see docs/load.md)
    from lastmile.jobs.queue import ensure_schema, make_app

    queue = make_app(settings)
    queue.open()
    ensure_schema(queue, app.state.engine)
    queue.close()
    sessions = app.state.sessions
    provider = provider_for(settings)
    provider.matrix([Location(*DEPOT), Location(DEPOT[0] + 0.01, DEPOT[1])], Profile.VAN)
    lap("migrations + road graph")
    rng = random.Random(7)
    addresses = sample_addresses()
    zone = ZoneInfo(ZONE)
    now = dt.datetime.now(dt.UTC)
    local = now.astimezone(zone)
    day = local.date()
    now_s = local.hour * 3600 + local.minute * 60 + local.second
    start_s = now_s - 20 * 60  # the vans left 20 minutes ago
    one_hash = hash_password("load-bench-pw")  # argon2 once, shared by every bench login

    with sessions() as session:
        org = orgs.create(session=session, name="Load bench", timezone=ZONE)
        org_id = org.id
        staff = User(email="ops@load.example", name="Ops", password_hash=one_hash)
        session.add(staff)
        session.flush()
        session.add(Membership(org_id=org_id, user_id=staff.id, role=Role.DISPATCHER.value))
        session.commit()
        staff_token = auth.issue_token(
            session=session, user_id=staff.id, org_id=org_id, ttl_s=86400
        )
        users, vehicles, driver_rows = [], [], []
        for i in range(args.drivers):
            user = User(email=f"driver{i}@load.example", name=f"Driver {i}", password_hash=one_hash)
            vehicle = Vehicle(
                org_id=org_id,
                external_id=f"VAN-{i + 1}",
                name=f"Van {i + 1}",
                start_lon=DEPOT[0],
                start_lat=DEPOT[1],
                end_lon=DEPOT[0],
                end_lat=DEPOT[1],
                shift_start_s=start_s - 600,
                shift_end_s=start_s + 12 * 3600,
                capacity={"parcels": 200.0},
                cost_per_km=0.5,
                cost_per_hour=30.0,
                max_overtime_s=2 * 3600,
            )
            users.append(user)
            vehicles.append(vehicle)
        session.add_all(users + vehicles)
        session.flush()
        for i, (user, vehicle) in enumerate(zip(users, vehicles, strict=True)):
            session.add(Membership(org_id=org_id, user_id=user.id, role=Role.DRIVER.value))
            driver_rows.append(
                Driver(
                    org_id=org_id, name=f"Driver{i} Bench", user_id=user.id, vehicle_id=vehicle.id
                )
            )
        session.add_all(driver_rows)
        session.commit()
        tokens = [
            auth.issue_token(session=session, user_id=u.id, org_id=org_id, ttl_s=86400)
            for u in users
        ]
        lap("users, drivers, vans, tokens")
        # orders at sample addresses, a route per van timed by the servers' provider
        plan = Plan(
            org_id=org_id, date=day, status="done", created_by="load-bench", finished_at=now
        )
        session.add(plan)
        session.flush()
        core_routes = []
        order_rows: list[Order] = []
        for i, vehicle in enumerate(vehicles):
            picked = rng.sample(addresses, args.stops)
            rows = []
            for k, (address, lon, lat) in enumerate(picked):
                rows.append(
                    Order(
                        org_id=org_id,
                        external_id=f"LB-{i + 1}-{k + 1}",
                        date=day,
                        status="planned",
                        address=address,
                        lon=round(lon + rng.uniform(-0.0003, 0.0003), 6),
                        lat=round(lat + rng.uniform(-0.0003, 0.0003), 6),
                        address_verdict="given",
                        windows=[[start_s, start_s + 8 * 3600]],
                        service_s=180,
                        demand={"parcels": 1.0},
                        customer=f"Customer {i + 1}-{k + 1}",
                    )
                )
            session.add_all(rows)
            session.flush()
            order_rows.extend(rows)
            core_orders = [
                CoreOrder(
                    id=o.id,
                    location=Location(o.lon, o.lat),
                    demand=(1.0,),
                    service_s=180,
                    windows=(TimeWindow(*o.windows[0]),),
                )
                for o in rows
            ]
            # a plausible order of visits: nearest neighbour from the depot
            here, todo, seq = Location(*DEPOT), list(core_orders), []
            while todo:
                nxt = min(
                    todo,
                    key=lambda o: (
                        (o.location.lon - here.lon) ** 2 + (o.location.lat - here.lat) ** 2
                    ),
                )
                todo.remove(nxt)
                seq.append(nxt)
                here = nxt.location
            core_vehicle = CoreVehicle(
                id=vehicle.id,
                start=Location(*DEPOT),
                end=Location(*DEPOT),
                shift=TimeWindow(vehicle.shift_start_s, vehicle.shift_end_s),
                capacity=(200.0,),
                cost_per_km=0.5,
                cost_per_hour=30.0,
                max_overtime_s=2 * 3600,
                profile=Profile.VAN,
            )
            problem = build_problem(core_orders, [core_vehicle], ("parcels",), provider)
            timing = simulate(problem, core_vehicle, seq, start_s)
            core_routes.append(
                CoreRoute(
                    core_vehicle.id,
                    timing.stops,
                    timing.start_time,
                    timing.end_time,
                    timing.distance_m,
                    route_cost(core_vehicle, timing.distance_m, timing.start_time, timing.end_time),
                    timing.start_load,
                )
            )
        plans.store_routes(session, plan, core_routes)
        session.commit()
        lap("orders, routes")
        plans.dispatch(
            session=session, org_id=org_id, plan_id=plan.id, assignments={}, actor="load-bench"
        )
        lap("dispatch")
        # GPS starts between the depot and the first stop (the van is on its way there)
        positions: list[tuple[str, float, float]] = []
        starts: list[tuple[str, str]] = []
        routes = {
            r.driver_id: r for r in session.scalars(select(Route).where(Route.org_id == org_id))
        }
        by_id = {o.id: o for o in order_rows}
        for driver, token in zip(driver_rows, tokens, strict=True):
            route = routes[driver.id]
            first = session.scalar(
                select(Stop)
                .where(Stop.route_id == route.id, Stop.kind == "order")
                .order_by(Stop.sequence)
                .limit(1)
            )
            assert first is not None and first.order_id is not None
            o = by_id[first.order_id]
            assert o.lon is not None and o.lat is not None
            positions.append((token, (DEPOT[0] + o.lon) / 2, (DEPOT[1] + o.lat) / 2))
            starts.append((token, route.id))
        links = []
        for k, order in enumerate(order_rows):
            _, token = tracking.create_link(
                session=session, org_id=org_id, order_id=order.id, commit=False
            )
            links.append((token, f"10.{(k >> 16) & 255}.{(k >> 8) & 255}.{k & 255}"))
        session.commit()
        lap("tracking links")
    rng.shuffle(links)
    return Day(
        org_id,
        staff_token,
        positions,
        links,
        len(core_routes),
        len(order_rows),
        time.perf_counter() - t_start,
        steps,
        starts,
        app,
        settings,
    )


def start_routes(day: Day, ports: list[int]) -> float:
    """``route_started`` for every route through the driver API of the running servers
    (``POST /api/v1/driver/events``, 8 at a time), as the drivers' phones send it."""
    from concurrent.futures import ThreadPoolExecutor

    t0 = time.perf_counter()

    def start(item: tuple[int, tuple[str, str]]) -> None:
        k, (token, route_id) = item
        at = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
        body = {
            "events": [
                {
                    "key": f"lb-start-{route_id}",
                    "type": "route_started",
                    "occurred_at": at.isoformat(),
                    "route_id": route_id,
                    "lon": DEPOT[0],
                    "lat": DEPOT[1],
                }
            ]
        }
        r = httpx.post(
            f"http://127.0.0.1:{ports[k % len(ports)]}/api/v1/driver/events",
            json=body,
            headers={"Authorization": f"Bearer {token}"},
            timeout=60,
        )
        status = r.json()["results"][0]["status"] if r.status_code == 200 else r.text[:200]
        if status not in ("applied", "duplicate"):
            raise SystemExit(f"route_started of {route_id}: HTTP {r.status_code} {status}")

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(start, enumerate(day.starts)))
    return time.perf_counter() - t0


def measure_eta_cost(day: Day, args: argparse.Namespace) -> dict[str, Any]:
    """What one batch costs inside the server, split: storing the points vs the ETA
    recompute (``live.service.on_position``), on this database, in this process.
    Both providers are timed: road travel times (the product default) and straight lines."""
    from sqlalchemy import event, select

    from lastmile.drivers import service as drivers
    from lastmile.drivers.schemas import PositionIn
    from lastmile.fleet.models import Driver
    from lastmile.live import etas as live

    app, settings, org_id = day.app, day.settings, day.org_id
    sessions = app.state.sessions
    statements = [0]

    def count(*_: Any) -> None:
        statements[0] += 1

    event.listen(app.state.engine, "before_cursor_execute", count)
    with sessions() as session:
        driver_ids = list(
            session.scalars(select(Driver.id).where(Driver.org_id == org_id).limit(60))
        )
    out: dict[str, Any] = {}
    for label, use_roads in (("roads", True), ("straight", False)):
        s = settings.model_copy(update={"use_roads": use_roads})
        store, eta, store_sql, eta_sql = [], [], [], []
        half = len(driver_ids) // 2
        for n, driver_id in enumerate(driver_ids[:half] if use_roads else driver_ids[half:]):
            with sessions() as session:
                driver = session.get(Driver, driver_id)
                assert driver is not None
                base = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=2)
                points = [
                    PositionIn(
                        lon=DEPOT[0] + 0.001 * k,
                        lat=DEPOT[1],
                        recorded_at=(base + dt.timedelta(milliseconds=100 * k)).isoformat(),
                    )
                    for k in range(args.batch)
                ]
                t0, q0 = time.perf_counter(), statements[0]
                drivers.record_positions(
                    session=session, org_id=org_id, driver=driver, positions=points
                )
                t1, q1 = time.perf_counter(), statements[0]
                newest = drivers.latest_position(
                    session=session, org_id=org_id, driver_id=driver_id
                )
                assert newest is not None and newest.route_id is not None
                live.on_position(
                    session=session,
                    settings=s,
                    org_id=org_id,
                    route_id=newest.route_id,
                    lon=newest.lon,
                    lat=newest.lat,
                    at=newest.recorded_at,
                )
                session.commit()
                t2, q2 = time.perf_counter(), statements[0]
                if n:  # the first call loads the road graph
                    store.append(t1 - t0)
                    eta.append(t2 - t1)
                    store_sql.append(q1 - q0)
                    eta_sql.append(q2 - q1)
        out[label] = {
            "store_ms_p50": round(1000 * statistics.median(store), 2),
            "eta_ms_p50": round(1000 * statistics.median(eta), 2),
            "eta_ms_p95": round(1000 * pct(eta, 95), 2),
            "store_sql": statistics.median(store_sql),
            "eta_sql": statistics.median(eta_sql),
        }
    event.remove(app.state.engine, "before_cursor_execute", count)
    return out


# --- servers ------------------------------------------------------------------------------------


class Servers:
    """Two server processes on PostgreSQL: two ``lastmile serve`` (``ports``) or one
    ``lastmile serve --workers 2`` (``workers``)."""

    def __init__(self, mode: str, env: dict[str, str], cwd: Path) -> None:
        self.mode = mode
        self.env = env
        self.cwd = cwd
        self.procs: list[subprocess.Popen[bytes]] = []
        self.ports: list[int] = []
        self.logs: list[Path] = []

    def start(self) -> None:
        lastmile = str(VENV_BIN / "lastmile")
        if self.mode == "ports":
            commands = [[lastmile, "serve", "--port", str(p)] for p in (free_port(), free_port())]
        else:
            commands = [[lastmile, "serve", "--workers", "2", "--port", str(free_port())]]
        deadline = time.monotonic() + 120
        # one after the other: each process migrates the schema at start, and two doing it at
        # the same moment can collide (e.g. a patched copy with a new migration)
        for cmd in commands:
            log = self.cwd / f"server-{cmd[-1]}.log"
            port = int(cmd[-1])
            self.logs.append(log)
            self.ports.append(port)
            self.procs.append(
                subprocess.Popen(
                    cmd,
                    env=self.env,
                    cwd=self.cwd,
                    stdout=log.open("wb"),
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            )
            while True:
                try:
                    if httpx.get(f"http://127.0.0.1:{port}/docs", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline or any(p.poll() is not None for p in self.procs):
                    logs = "\n".join(log.read_text()[-2000:] for log in self.logs)
                    raise SystemExit(f"server on port {port} did not come up:\n{logs}")
                time.sleep(0.3)
        if self.mode == "workers":  # both children must be up, not just the first
            while len(self.worker_pids()) < 2 and time.monotonic() < deadline:
                time.sleep(0.3)
            time.sleep(2)

    def worker_pids(self) -> list[int]:
        """The processes that serve requests."""
        if self.mode == "ports":
            return [p.pid for p in self.procs]
        out = []
        for pid in sorted(children_of(self.procs[0].pid)):
            try:
                cmd = Path(f"/proc/{pid}/cmdline").read_bytes()
            except OSError:
                continue
            if b"resource_tracker" not in cmd:  # multiprocessing's helper, not a server
                out.append(pid)
        return out

    def all_pids(self) -> list[int]:
        pids = [p.pid for p in self.procs]
        if self.mode == "workers":
            pids += self.worker_pids()  # the supervisor is idle, but count it anyway
        return pids

    def problems(self) -> dict[str, Any]:
        """Error lines the servers logged (tracebacks' last lines), counted."""
        found: Counter[str] = Counter()
        for log in self.logs:
            lines = log.read_text(errors="replace").splitlines() if log.exists() else []
            for i, line in enumerate(lines):
                if line.startswith("Traceback"):
                    j = i + 1
                    while j < len(lines) and (lines[j].startswith(" ") or not lines[j]):
                        j += 1
                    if j < len(lines):
                        found[lines[j][:200]] += 1
                elif " 500 Internal Server Error" in line:
                    found["HTTP 500 answered"] += 1
        return dict(found.most_common(10))

    def stop(self) -> None:
        for p in self.procs:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGTERM)
        for p in self.procs:
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()


# --- load generators -----------------------------------------------------------------------------


class Wrk:
    """One wrk process with one of the Lua scripts of ``benchmarks/load/``."""

    def __init__(
        self,
        script: str,
        env: dict[str, str],
        threads: int,
        connections: int,
        duration_s: int,
        port: int,
    ) -> None:
        self.cmd = [
            "wrk",
            "-t",
            str(threads),
            "-c",
            str(connections),
            "-d",
            f"{duration_s}s",
            "--timeout",
            "10s",
            "-s",
            str(LOAD / script),
            f"http://127.0.0.1:{port}",
        ]
        self.env = {**os.environ, "LOAD_THREADS": str(threads), **env}
        self.proc: subprocess.Popen[str] | None = None

    def start(self) -> int:
        self.proc = subprocess.Popen(
            self.cmd, env=self.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        return self.proc.pid

    def wait(self) -> dict[str, Any]:
        """wrk's JSON summary, with the CPU seconds wrk used (from ``wait4``: its /proc
        entry is gone once it has exited)."""
        assert self.proc is not None and self.proc.stdout is not None
        out = self.proc.stdout.read()
        _, status, usage = os.wait4(self.proc.pid, 0)
        self.proc.returncode = os.waitstatus_to_exitcode(status)
        for line in out.splitlines():
            if line.startswith("JSON "):
                result: dict[str, Any] = json.loads(line[5:])
                result["duration_s"] = result["duration_us"] / 1e6
                result["cpu_s"] = round(usage.ru_utime + usage.ru_stime, 2)
                return result
        raise SystemExit(f"wrk failed ({self.proc.returncode}):\n{out}")

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


# --- SSE clients --------------------------------------------------------------------------------

_ID = re.compile(rb"^id: (\d+)$", re.M)
_CREATED = re.compile(rb'"created_at":"([^"]+)"')
_CONNECTED = re.compile(rb": connected, events after (\d+)")


@dataclass
class SseClient:
    port: int
    cursor: int | None = None
    ids: array.array[int] = field(default_factory=lambda: array.array("q"))
    delays: array.array[float] = field(default_factory=lambda: array.array("d"))
    error: str = ""


class SseClients:
    """``n`` SSE clients of ``/api/v1/events`` in one asyncio loop (a thread of this process),
    spread round-robin over the server ports. Each keeps the ids it received and, per event,
    the delay from the event's ``created_at`` to the moment its bytes arrived."""

    def __init__(self, n: int, ports: list[int], token: str) -> None:
        self.clients = [SseClient(ports[i % len(ports)]) for i in range(n)]
        self.token = token
        self.connected = threading.Event()
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self._run, name="sse-clients", daemon=True)
        self._stop: asyncio.Event | None = None

    def start(self) -> None:
        self.thread.start()
        if not self.connected.wait(60):
            raise SystemExit("SSE clients did not all connect within 60 s")

    def _run(self) -> None:
        self.loop.run_until_complete(self._main())

    async def _main(self) -> None:
        self._stop = asyncio.Event()
        limits = httpx.Limits(max_connections=len(self.clients) + 10)
        timeout = httpx.Timeout(10.0, read=None)
        async with httpx.AsyncClient(limits=limits, timeout=timeout) as http:
            tasks = [asyncio.create_task(self._one(http, c)) for c in self.clients]
            await self._stop.wait()
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _one(self, http: httpx.AsyncClient, c: SseClient) -> None:
        headers = {"Authorization": f"Bearer {self.token}", "Accept": "text/event-stream"}
        try:
            async with http.stream(
                "GET", f"http://127.0.0.1:{c.port}/api/v1/events", headers=headers
            ) as response:
                if response.status_code != 200:
                    c.error = f"HTTP {response.status_code}"
                    return
                buf = b""
                async for chunk in response.aiter_bytes():
                    now = time.time()
                    buf += chunk
                    *blocks, buf = buf.split(b"\n\n")
                    for block in blocks:
                        m = _ID.search(block)
                        if m is None:
                            if c.cursor is None and (mc := _CONNECTED.search(block)):
                                c.cursor = int(mc.group(1))
                                if all(x.cursor is not None or x.error for x in self.clients):
                                    self.connected.set()
                            continue
                        c.ids.append(int(m.group(1)))
                        mt = _CREATED.search(block)
                        if mt:
                            created = dt.datetime.fromisoformat(mt.group(1).decode()).timestamp()
                            c.delays.append(now - created)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a broken stream is a finding, not a crash of the bench
            c.error = f"{type(exc).__name__}: {exc}"
            if all(x.cursor is not None or x.error for x in self.clients):
                self.connected.set()

    def last_ids(self) -> list[int]:
        """The newest id each working client has (broken or never connected ones left out)."""
        return [
            max(c.ids) if c.ids else (c.cursor or 0)
            for c in self.clients
            if c.cursor is not None and not c.error
        ]

    def stop(self) -> None:
        if self._stop is not None:
            self.loop.call_soon_threadsafe(self._stop.set)
        self.thread.join(timeout=20)


# --- database checks ---------------------------------------------------------------------------


def db_scalar(conninfo: str, sql: str, *params: Any) -> Any:
    with psycopg.connect(conninfo, autocommit=True) as conn:
        row = conn.execute(sql, params).fetchone()
        return row[0] if row else None


class Sampler:
    """Every 0.5 s during a phase: the CPU ticks of every PostgreSQL process, the bench
    database's connections by state, and the 1-minute load average.

    PostgreSQL's CPU has to be followed this way: a server process's pool opens and closes
    its overflow connections all the time under load (``pool_size`` 5, ``max_overflow`` 10),
    so backends come and go during a phase; sampling adds up the CPU of each while it lives
    (a backend that lives less than 0.5 s is missed; the number of sessions opened is
    reported from ``pg_stat_database`` so that the churn shows)."""

    INTERVAL = 0.5

    def __init__(self, conninfo: str, db: str) -> None:
        self.conninfo, self.db = conninfo, db
        self.samples: list[dict[str, int]] = []
        self.loads: list[float] = []
        self.pg_ticks = {"bench": 0, "all": 0}
        self._last: dict[int, int] = {}
        self._first: dict[int, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.sessions0 = self._sessions()
        self.sessions = 0

    def _sessions(self) -> int:
        return int(
            db_scalar(
                self.conninfo, "SELECT sessions FROM pg_stat_database WHERE datname = %s", self.db
            )
            or 0
        )

    def _tick(self, bench: set[int]) -> None:
        for pid in postgres_pids():
            now = proc_ticks(pid)
            delta = now - self._last.get(pid, 0) if pid in self._last else now
            self._last[pid] = now
            if pid in self._first:  # there at the start: count from the start
                delta = now - self._first.pop(pid)
            self.pg_ticks["all"] += max(0, delta)
            if pid in bench:
                self.pg_ticks["bench"] += max(0, delta)

    def _run(self) -> None:
        with psycopg.connect(self.conninfo, autocommit=True) as conn:
            me = conn.execute("SELECT pg_backend_pid()").fetchone()
            mine = me[0] if me else 0
            self._first = {p: proc_ticks(p) for p in postgres_pids()}
            self._last = dict(self._first)
            while True:
                stopping = self._stop.wait(self.INTERVAL)
                rows = conn.execute(
                    "SELECT pid, coalesce(state, '?') FROM pg_stat_activity WHERE datname = %s",
                    (self.db,),
                ).fetchall()
                bench = {pid for pid, _ in rows if pid != mine}
                self._tick(bench)
                states = Counter(state for pid, state in rows if pid != mine)
                self.samples.append(dict(states))
                self.loads.append(os.getloadavg()[0])
                if stopping:
                    break

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.sessions = self._sessions() - self.sessions0

    def summary(self) -> dict[str, Any]:
        states = sorted({k for s in self.samples for k in s})
        return {
            "connections_max": max((sum(s.values()) for s in self.samples), default=0),
            "by_state_max": {k: max(s.get(k, 0) for s in self.samples) for k in states},
            "loadavg_max": max(self.loads, default=math.nan),
            "sessions_opened": self.sessions,
        }


# --- py-spy ---------------------------------------------------------------------------------------


_LINE = re.compile(r":\d+\)$")


def pyspy_summary(raw: Path, top: int = 60) -> dict[str, Any]:
    """Self and inclusive sample shares per function, and a split by area, from
    ``py-spy record --format raw`` (collapsed stacks, one line per stack with a count)."""
    self_c: Counter[str] = Counter()
    incl: Counter[str] = Counter()
    areas: Counter[str] = Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        n = int(count)
        frames = [f for f in stack.split(";") if f and not f.startswith("process ")]
        # "func (path:line)" -> "func (path)": shares per function, not per line
        frames = [_LINE.sub(")", f) for f in frames if not f.startswith("thread ")]
        if not frames:
            continue
        total += n
        self_c[frames[-1]] += n
        for f in set(frames):
            incl[f] += n
        areas[_area(frames)] += n

    def share(c: Counter[str]) -> list[tuple[str, float]]:
        return [(k, round(100 * v / total, 1)) for k, v in c.most_common(top)]

    return {
        "samples": total,
        "self": share(self_c),
        "inclusive": share(incl),
        "areas": share(areas),
    }


_AREAS = (
    ("eta recompute (live.service.on_position)", "on_position"),
    ("storing points (drivers.service.record_positions)", "record_positions"),
    ("SSE stream (events.api stream / fetch)", "events/api.py"),
    ("auth (principal_for_token, current_driver)", "principal_for_token"),
    ("auth (principal_for_token, current_driver)", "current_driver"),
    ("tracking page", "tracking/"),
    ("request body / JSON (pydantic, json)", "serialize_response"),
    ("request body / JSON (pydantic, json)", "request_body_to_args"),
)


def _area(frames: list[str]) -> str:
    joined = ";".join(frames)
    for name, needle in _AREAS:
        if needle in joined:
            return name
    leaf = frames[-1]
    for name, needle in (
        ("HTTP protocol (h11, uvicorn)", "h11"),
        ("HTTP protocol (h11, uvicorn)", "uvicorn"),
        ("asyncio / anyio threads", "asyncio"),
        ("asyncio / anyio threads", "anyio"),
        ("asyncio / anyio threads", "threading"),
        ("PostgreSQL listener (events.bus)", "bus.py"),
    ):
        if needle in leaf or needle in joined:
            return name
    return "other"


# --- phases ------------------------------------------------------------------------------------


@dataclass
class Bench:
    args: argparse.Namespace
    conninfo: str
    db: str
    day: Day
    servers: Servers
    files: dict[str, Path]
    results: dict[str, Any] = field(default_factory=dict)

    def meter(self) -> CpuMeter:
        pids = self.servers.worker_pids()
        groups: dict[str, Any] = {f"server {i + 1} (pid {p})": [p] for i, p in enumerate(pids)}
        if self.servers.mode == "workers":
            groups["server supervisor"] = [self.servers.procs[0].pid]
        groups["bench process (SSE clients, sampling)"] = [os.getpid()]
        return CpuMeter(groups)

    def positions(self) -> int:
        return int(db_scalar(self.conninfo, "SELECT count(*) FROM positions"))

    def settled_positions(self) -> int:
        """The Position count once the requests wrk left in flight have finished on the
        servers (unchanged for a second), so that they count in this phase, not the next."""
        last, deadline = self.positions(), time.monotonic() + 15
        while time.monotonic() < deadline:
            time.sleep(1.0)
            now = self.positions()
            if now == last:
                break
            last = now
        return last

    def ingest_wrk(self, duration: int) -> Wrk:
        env = {
            "LOAD_DRIVERS": str(self.files["drivers"]),
            "LOAD_PORTS": ",".join(map(str, self.servers.ports)),
            "LOAD_BATCH": str(self.args.batch),
            "LOAD_NOT_BEFORE": str(int(time.time() * 1000)),
        }
        return Wrk(
            "positions.lua",
            env,
            self.args.ingest_threads,
            self.args.ingest_connections,
            duration,
            self.servers.ports[0],
        )

    def tracking_wrk(self, duration: int) -> Wrk:
        env = {
            "LOAD_LINKS": str(self.files["links"]),
            "LOAD_PORTS": ",".join(map(str, self.servers.ports)),
            "LOAD_RATE": str(self.args.tracking_rate),
        }
        return Wrk(
            "tracking.lua", env, 2, self.args.tracking_connections, duration, self.servers.ports[0]
        )

    def run_phase(
        self,
        name: str,
        duration: int,
        *,
        ingest: bool,
        tracking: bool,
        sse: int = 0,
        pyspy: Path | None = None,
    ) -> dict[str, Any]:
        say(
            f"\n== phase {name}: {duration} s"
            + (", ingest" if ingest else "")
            + (", tracking" if tracking else "")
            + (f", {sse} SSE clients" if sse else "")
            + (", py-spy on server 1" if pyspy else "")
        )
        clients = None
        if sse:
            clients = SseClients(sse, self.servers.ports, self.day.staff_token)
            clients.start()
            bad = [c.error for c in clients.clients if c.error]
            if bad:
                say(f"   SSE clients failed to connect: {len(bad)} ({bad[0]})")
        positions0 = self.positions()
        events0 = int(db_scalar(self.conninfo, "SELECT coalesce(max(id), 0) FROM events"))
        meter = self.meter()
        sampler = Sampler(self.conninfo, self.db).__enter__()
        meter.start()
        gens: dict[str, Wrk] = {}
        spy = None
        try:
            if ingest:
                gens["wrk ingest"] = self.ingest_wrk(duration)
            if tracking:
                gens["wrk tracking"] = self.tracking_wrk(duration)
            for gen in gens.values():
                gen.start()
            if pyspy is not None:
                spy = subprocess.Popen(
                    [
                        str(VENV_BIN / "py-spy"),
                        "record",
                        "--pid",
                        str(self.servers.worker_pids()[0]),
                        "--duration",
                        str(max(5, duration - 4)),
                        "--rate",
                        "67",
                        "--format",
                        "raw",
                        "--nonblocking",
                        "--gil",
                        "--output",
                        str(pyspy),
                    ],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            outs = {label: gen.wait() for label, gen in gens.items()}
            for label, out in outs.items():
                meter.add_seconds(label, out["cpu_s"])
            if spy is not None:
                _, _, usage = os.wait4(spy.pid, 0)
                spy.returncode = 0
                meter.add_seconds("py-spy", usage.ru_utime + usage.ru_stime)
            sampler.__exit__()
            meter.add_seconds("postgres, bench DB backends", sampler.pg_ticks["bench"] / TICK)
            cpu = meter.stop()
            all_pg = sampler.pg_ticks["all"] / TICK
            cpu["groups"]["postgres, all processes (incl. others' DBs)"] = {
                "cpu_s": round(all_pg, 2),
                "cores": round(all_pg / cpu["wall_s"], 2),
            }
        finally:
            sampler.__exit__()
            for gen in gens.values():
                gen.kill()
        if spy is not None and spy.returncode is None:
            spy.kill()
            spy.wait()
        result: dict[str, Any] = {"duration_s": duration, "cpu": cpu, "db": sampler.summary()}
        if ingest:
            w = outs["wrk ingest"]
            stored = self.settled_positions() - positions0
            rate_batches = w["requests"] / w["duration_s"]
            # wrk stops with requests in flight: the server may still store those, wrk never
            # sees their answers. So: every accepted point must be stored (stored >= accepted),
            # and nothing beyond what was sent (stored <= accepted + in flight x batch).
            in_flight = w["built"] - w["responses"]
            extra = stored - w["accepted"]
            ok = 0 <= extra <= in_flight * self.args.batch
            result["ingest"] = {
                **w,
                "batches_per_s": round(rate_batches, 1),
                "positions_per_s": round(w["accepted"] / w["duration_s"], 1),
                "positions_stored": stored,
                "in_flight_at_stop": in_flight,
                "stored_check": ok,
            }
            lat = w["latency_us"]
            say(
                f"   ingest: {w['requests']} batches in {w['duration_s']:.1f} s = "
                f"{rate_batches:.0f} batches/s = {w['accepted'] / w['duration_s']:.0f} positions/s "
                f"accepted ({w['accepted']} points, {w['rejected']} rejected); non-2xx "
                f"{w['non200']}, socket errors {sum(w['errors'].values()) - w['errors']['status']}"
            )
            say(
                f"           latency p50 {lat['p50'] / 1000:.1f} ms, p95 {lat['p95'] / 1000:.1f} ms, "
                f"p99 {lat['p99'] / 1000:.1f} ms, max {lat['max'] / 1000:.0f} ms "
                f"({self.args.ingest_connections} connections)"
            )
            say(
                f"           stored rows: {stored} = accepted + {extra} (requests in flight when wrk "
                f"stopped: {in_flight}, i.e. up to {in_flight * self.args.batch} points): "
                f"{'no point lost' if ok else 'MISMATCH'}"
            )
        if tracking:
            w = outs["wrk tracking"]
            lat = w["latency_us"]
            result["tracking"] = {**w, "rate": round(w["requests"] / w["duration_s"], 1)}
            say(
                f"   tracking: {w['requests']} requests in {w['duration_s']:.1f} s = "
                f"{w['requests'] / w['duration_s']:.1f}/s (target {self.args.tracking_rate}); "
                f"2xx {w['s2xx']}, 4xx {w['s4xx']}, 5xx {w['s5xx']}; "
                f"sent > 5 ms late {w['late_5ms']}, > 50 ms late {w['late_50ms']}, "
                f"max {w['late_max_ms']:.0f} ms"
            )
            say(
                f"           latency p50 {lat['p50'] / 1000:.1f} ms, p95 {lat['p95'] / 1000:.1f} ms, "
                f"p99 {lat['p99'] / 1000:.1f} ms, max {lat['max'] / 1000:.0f} ms"
            )
        if clients is not None:
            result["sse"] = self.check_sse(clients, events0)
        if pyspy is not None and pyspy.exists():
            result["pyspy"] = pyspy_summary(pyspy)
        self.print_cpu(cpu, result)
        db = result["db"]
        say(
            f"   bench DB connections (max over the phase): {db['connections_max']} "
            f"({', '.join(f'{k} {v}' for k, v in db['by_state_max'].items())}); "
            f"{db['sessions_opened']} PostgreSQL sessions opened "
            f"({db['sessions_opened'] / duration:.1f}/s); "
            f"1-min load average max {db['loadavg_max']:.1f}"
        )
        self.results[name] = result
        return result

    def check_sse(self, clients: SseClients, events0: int) -> dict[str, Any]:
        # ingest has stopped: wait until every client has the newest event, then compare
        end = int(
            db_scalar(
                self.conninfo,
                "SELECT coalesce(max(id), 0) FROM events WHERE org_id = %s",
                self.day.org_id,
            )
        )
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and min(clients.last_ids(), default=end) < end:
            time.sleep(0.2)
        drain_s = 15 - max(0.0, deadline - time.monotonic())
        clients.stop()
        with psycopg.connect(self.conninfo, autocommit=True) as conn:
            lo = min((c.cursor for c in clients.clients if c.cursor is not None), default=0)
            rows = conn.execute(
                "SELECT id, type FROM events WHERE org_id = %s AND id > %s AND id <= %s ORDER BY id",
                (self.day.org_id, lo, end),
            ).fetchall()
        ids = [r[0] for r in rows]
        types = Counter(r[1] for r in rows if r[0] > events0)
        per_client = []
        lost_total = dup_total = 0
        delays: list[float] = []
        lost_ids: set[int] = set()
        connected = [c for c in clients.clients if c.cursor is not None]
        for c in connected:
            cursor = c.cursor or 0
            expected = {i for i in ids if i > cursor}
            got = [i for i in c.ids if i <= end]
            missing = expected - set(got)
            lost = len(missing)
            lost_ids.update(missing)
            dups = len(got) - len(set(got))
            lost_total += lost
            dup_total += dups
            per_client.append(
                {
                    "port": c.port,
                    "cursor": cursor,
                    "expected": len(expected),
                    "received": len(got),
                    "lost": lost,
                    "duplicates": dups,
                    "error": c.error,
                }
            )
            delays.extend(c.delays)
        published = len([i for i in ids if i > max((c.cursor or 0 for c in connected), default=0)])
        by_id = dict(rows)
        lost_types = Counter(by_id[i] for i in lost_ids)
        received = [p["received"] for p in per_client] or [0]
        out = {
            "clients": len(clients.clients),
            "errors": sum(1 for c in clients.clients if c.error),
            "error_kinds": dict(Counter(c.error[:120] for c in clients.clients if c.error)),
            "connected": len(connected),
            "events_published": published,
            "events_by_type": dict(types),
            "received_min": min(received),
            "received_max": max(received),
            "lost": lost_total,
            "lost_distinct_events": len(lost_ids),
            "lost_by_type": dict(lost_types),
            "duplicates": dup_total,
            "delay_ms": {p: round(1000 * pct(delays, p), 1) for p in (50, 95, 99)}
            | {"max": round(1000 * max(delays), 1) if delays else math.nan},
            "drain_s": round(drain_s, 1),
            "per_client": per_client,
        }
        d = out["delay_ms"]
        if out["errors"]:
            say(f"   SSE client errors: {out['error_kinds']}")
        say(
            f"   SSE: {out['clients']} clients ({out['connected']} connected, {out['errors']} "
            f"errors), {published} events "
            f"published while all were connected ({', '.join(f'{k} {v}' for k, v in types.most_common())}); "
            f"received per client {out['received_min']}..{out['received_max']}, lost {lost_total}, "
            f"duplicates {dup_total}"
        )
        if lost_total:
            say(
                f"        lost: {lost_total} deliveries of {len(lost_ids)} distinct events "
                f"({', '.join(f'{k} {v}' for k, v in lost_types.most_common())}), all of them "
                "in the events table"
            )
        say(
            f"        fan-out delay created_at -> received: p50 {d[50]} ms, p95 {d[95]} ms, "
            f"p99 {d[99]} ms, max {d['max']} ms (caught up {drain_s:.1f} s after the load stopped)"
        )
        return out

    def print_cpu(self, cpu: dict[str, Any], result: dict[str, Any]) -> None:
        parts = [f"{k} {v['cores']:.2f}" for k, v in cpu["groups"].items()]
        say(f"   CPU (cores busy over {cpu['wall_s']:.0f} s): " + "; ".join(parts))
        say(
            f"        others (machine - ours): "
            f"{max(0.0, cpu['machine_busy_cores'] - cpu['ours_cores']):.2f} cores"
        )
        say(
            f"        machine {cpu['machine_busy_cores']:.2f} of {cpu['ncpu']} cores busy "
            f"({cpu['machine_busy_pct']} %), load average {cpu['loadavg_start'][0]} -> "
            f"{cpu['loadavg_end'][0]}"
        )
        n = sum(result[k]["requests"] for k in ("ingest", "tracking") if k in result)
        if n:
            server = sum(v["cpu_s"] for k, v in cpu["groups"].items() if k.startswith("server"))
            pg = cpu["groups"]["postgres, bench DB backends"]["cpu_s"]
            what = (
                "batch"
                if "tracking" not in result
                else "page"
                if "ingest" not in result
                else "request (batches and pages together)"
            )
            say(
                f"        per {what}: server {1000 * server / n:.1f} ms CPU, PostgreSQL "
                f"backends {1000 * pg / n:.1f} ms CPU"
            )
            result["cpu_ms_per_request"] = {
                "server": round(1000 * server / n, 1),
                "postgres": round(1000 * pg / n, 1),
            }


def write_inputs(day: Day, work: Path) -> dict[str, Path]:
    drivers = work / "drivers.txt"
    drivers.write_text("".join(f"{t} {lon:.6f} {lat:.6f}\n" for t, lon, lat in day.drivers))
    links = work / "links.txt"
    links.write_text("".join(f"{t} {ip}\n" for t, ip in day.links))
    return {"drivers": drivers, "links": links}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--drivers", type=int, default=500)
    parser.add_argument("--stops", type=int, default=10, help="orders per route")
    parser.add_argument("--sse-clients", type=int, default=50)
    parser.add_argument(
        "--duration",
        type=int,
        default=40,
        help="seconds of the ingest and combined phases (tracking alone: half)",
    )
    parser.add_argument("--batch", type=int, default=10, help="positions per request")
    parser.add_argument(
        "--ingest-connections",
        type=int,
        default=8,
        help="wrk connections for ingest (8: the best throughput in a sweep of 4..32)",
    )
    parser.add_argument("--ingest-threads", type=int, default=2)
    parser.add_argument("--tracking-rate", type=int, default=200, help="tracking pages per second")
    parser.add_argument("--tracking-connections", type=int, default=40)
    parser.add_argument(
        "--sse-few", type=int, default=12, help="SSE clients of the combined-few phase"
    )
    parser.add_argument(
        "--profile",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="py-spy (--gil, --nonblocking) on server 1 during every phase",
    )
    parser.add_argument(
        "--phases",
        default="ingest,batches,tracking,tracking-low,combined,combined-few",
        help="any of sweep, ingest, batches, tracking, tracking-low, combined, combined-few",
    )
    parser.add_argument(
        "--batch-sweep",
        type=lambda text: [int(x) for x in text.split(",")],
        default=[25, 50],
        help="batch sizes of the batches phase",
    )
    parser.add_argument(
        "--tracking-low", type=int, default=50, help="rate of the tracking-low phase"
    )
    parser.add_argument(
        "--sweep",
        type=lambda text: [int(x) for x in text.split(",")],
        default=[4, 8, 16, 32],
        help="ingest connections of the sweep phase",
    )
    parser.add_argument(
        "--roads",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="servers use road travel times (the default of the product)",
    )
    parser.add_argument("--mode", choices=("ports", "workers"), default="ports")
    parser.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--db", default="lastmile_loadbench")
    parser.add_argument(
        "--server-pythonpath",
        default="",
        help="PYTHONPATH of the server processes: measure a patched copy of src/lastmile",
    )
    parser.add_argument("--keep-db", action="store_true")
    parser.add_argument("--keep-work", action="store_true", help="keep the temp dir (server logs)")
    parser.add_argument("--write", action="store_true", help="save to benchmarks/results/")
    parser.add_argument("--write-name", default="load_bench", help="file name without suffix")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (apt-get install -y wrk)")
    phases = [p.strip() for p in args.phases.split(",") if p.strip()]
    t_begin = time.monotonic()

    m = machine()
    say(
        f"load_bench: {args.drivers} drivers x {args.stops} stops, batches of {args.batch}, "
        f"{args.sse_clients} SSE clients, tracking at {args.tracking_rate}/s, "
        f"travel times {'roads' if args.roads else 'straight-line'}, servers: "
        f"{'two `lastmile serve` on two ports' if args.mode == 'ports' else '`lastmile serve --workers 2`'}"
    )
    say(f"machine: {m['nproc']} CPUs (nproc), {m['cpu']}, Python {m['python']}, {m['utc']} UTC")
    say(f"before the run: {m['uptime']}")
    with psycopg.connect(args.pg, autocommit=True) as conn:
        pg_version = conn.execute("SHOW server_version").fetchone()
        conn.execute(f'DROP DATABASE IF EXISTS "{args.db}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{args.db}"')
    base, _, _ = args.pg.rpartition("/")
    conninfo = f"{base}/{args.db}"
    url = conninfo.replace("postgresql://", "postgresql+psycopg://", 1)
    say(f"PostgreSQL {pg_version[0] if pg_version else '?'}, database {args.db} (fresh)")
    work = Path(tempfile.mkdtemp(prefix="lastmile-load-"))
    servers: Servers | None = None
    try:
        day = setup_day(url, work, args)
        # Statistics as a database that has been running would have them (autovacuum's
        # ANALYZE has not come round yet right after the bulk setup; without it the planner
        # takes the per-organisation indexes for tiny and the tracking page costs 10x more).
        with psycopg.connect(conninfo, autocommit=True) as conn:
            conn.execute("ANALYZE")
        files = write_inputs(day, work)
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("LASTMILE_")},
            "LASTMILE_DATABASE_URL": url,
            "LASTMILE_DATA_DIR": str(work),
            "LASTMILE_SECRET_KEY": "load-bench",
            "LASTMILE_USE_ROADS": "true" if args.roads else "false",
            "LASTMILE_GEOCODE_IMPORTS": "false",
            # wrk's X-Forwarded-For is the customer (5,000 of them, as behind a proxy)
            "LASTMILE_TRUSTED_PROXIES": '["127.0.0.1"]',
            # One organisation with 500 drivers: far beyond a tenant's default request rate.
            "LASTMILE_ORG_API_REQUESTS_PER_MINUTE": "0",
        }
        if args.server_pythonpath:  # a patched copy of the package, to measure a change
            env["PYTHONPATH"] = args.server_pythonpath
            say(f"servers import lastmile from {args.server_pythonpath}")
        servers = Servers(args.mode, env, work)
        servers.start()
        say(f"servers: pids {servers.worker_pids()} on ports {servers.ports}")
        day.steps["route_started through the driver API"] = round(
            start_routes(day, servers.ports), 1
        )
        day.setup_s += day.steps["route_started through the driver API"]
        say(
            f"setup: {day.routes} started routes, {day.orders} orders, {len(day.links)} tracking "
            f"links, {len(day.drivers)} driver tokens in {day.setup_s:.1f} s"
        )
        say("   setup steps (s): " + ", ".join(f"{k} {v}" for k, v in day.steps.items()))
        eta_cost = measure_eta_cost(day, args)
        day.app.state.engine.dispose()
        for label, v in eta_cost.items():
            say(
                f"   one batch in process ({label}): storing {args.batch} points p50 "
                f"{v['store_ms_p50']} ms, ETA recompute (on_position) p50 {v['eta_ms_p50']} ms, "
                f"p95 {v['eta_ms_p95']} ms; SQL statements: storing {v['store_sql']}, "
                f"ETA {v['eta_sql']} (incl. the commit)"
            )
        bench = Bench(args, conninfo, args.db, day, servers, files)
        # warm-up: every process loads its road graph and fills its pools
        w = bench.ingest_wrk(4)
        w.start()
        w.wait()
        t = bench.tracking_wrk(2)
        t.start()
        t.wait()
        d = args.duration
        spy = args.profile and (VENV_BIN / "py-spy").exists()
        if args.profile and not spy:
            say("(no py-spy profiles: .venv/bin/pip install py-spy)")
        plan = {
            "ingest": (d, True, False, 0),
            "tracking": (max(10, d // 2), False, True, 0),
            "combined": (d, True, True, args.sse_clients),
            "tracking-low": (max(10, d // 3), False, True, 0),
            "combined-few": (d, True, True, args.sse_few),
        }
        rates = {"combined-few": args.tracking_low, "tracking-low": args.tracking_low}
        for phase in phases:
            if phase == "batches":  # ingest alone with larger batches, short runs
                base_b = args.batch
                for b in args.batch_sweep:
                    args.batch = b
                    bench.run_phase(f"batch-{b}", max(10, d // 3), ingest=True, tracking=False)
                args.batch = base_b
                continue
            if phase == "sweep":  # ingest alone at several concurrencies, short runs
                base_c = args.ingest_connections
                for c in args.sweep:
                    args.ingest_connections = c
                    bench.run_phase(f"sweep-{c}", max(10, d // 3), ingest=True, tracking=False)
                args.ingest_connections = base_c
                continue
            duration, ingest, tracking, sse = plan[phase]
            base_r = args.tracking_rate
            args.tracking_rate = rates.get(phase, base_r)
            result = bench.run_phase(
                phase,
                duration,
                ingest=ingest,
                tracking=tracking,
                sse=sse,
                pyspy=work / f"pyspy-{phase}.txt" if spy else None,
            )
            args.tracking_rate = base_r
            prof = result.get("pyspy")
            if prof:
                say(
                    f"   py-spy --gil on server 1 ({prof['samples']} samples = "
                    f"{prof['samples'] / (67 * max(5, duration - 4)):.0%} of the time one of its "
                    "threads held the GIL), by area:"
                )
                for name, share in prof["areas"]:
                    say(f"      {share:5.1f} %  {name}")
                say("   lastmile functions, inclusive:")
                for name, share in [x for x in prof["inclusive"] if "lastmile/" in x[0]][:15]:
                    say(f"      {share:5.1f} %  {name}")
                say("   functions, self:")
                for name, share in prof["self"][:15]:
                    say(f"      {share:5.1f} %  {name}")
        problems = servers.problems()
        say(f"\nserver logs: {problems or 'no errors'}")
        rows = {
            t: db_scalar(conninfo, f"SELECT count(*) FROM {t}")
            for t in ("positions", "events", "stop_etas", "tracking_hits", "tracking_views")
        }
        say(f"\ntables at the end: {', '.join(f'{k} {v}' for k, v in rows.items())}")
        say(
            f"whole run: {time.monotonic() - t_begin:.0f} s; after the run: "
            f"{subprocess.run(['uptime'], capture_output=True, text=True).stdout.strip()}"
        )
        if args.write:
            RESULTS.mkdir(exist_ok=True)
            (RESULTS / f"{args.write_name}.txt").write_text("\n".join(out_lines) + "\n")
            payload = {
                "machine": m,
                "args": vars(args),
                "setup_s": day.setup_s,
                "setup_steps_s": day.steps,
                "eta_cost": eta_cost,
                "phases": bench.results,
                "server_log_problems": problems,
                "tables": rows,
            }
            (RESULTS / f"{args.write_name}.json").write_text(
                json.dumps(payload, indent=1, default=str) + "\n"
            )
            say(f"written: benchmarks/results/{args.write_name}.txt and .json")
    finally:
        if servers is not None:
            servers.stop()
        if not args.keep_db:
            with psycopg.connect(args.pg, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{args.db}" WITH (FORCE)')
        if args.keep_work:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
