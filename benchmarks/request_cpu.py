"""Server CPU per request, in process (issue 17): a tracking view, its status.json, a GPS batch.

    .venv/bin/python benchmarks/request_cpu.py [--drivers 100 --requests 1000 --profile]

Why in process: ``make bench-load`` measures throughput with wrk against two servers, which on
a 2-core machine shared with other work depends on everything else running. The CPU time a
request costs the server process is steadier: this runs ``--requests`` requests of each kind,
one after the other, through the same ASGI application the servers run (middleware, routing,
dependencies, the after-commit pipeline of ``create_app``'s lifespan), and divides the
process's CPU time (``time.process_time``: every thread, so the pipeline's and the event bus's
work counts too) by the number of requests. Not included: the HTTP parsing of uvicorn (h11,
about 1 ms per request in the load bench's profiles) and PostgreSQL's own CPU (reported
separately: every ``postgres`` process of the server, which other users of the server share).

The day is the load benchmark's (``load_bench.setup_day``: PostgreSQL, roads, ``--drivers``
routes of ``--stops`` orders, a tracking link per order), with every route started
15 minutes ago through the driver API. Phases, in this order:

``gps``     ``POST /api/v1/driver/positions``, batches of ``--batch`` points, drivers in turn;
            each driver's batch covers the next ``--gps-span`` seconds of its own time after
            the previous one (2.5 s: 500 drivers at the target of 2,000 positions/s; a phone
            sending every 10 s at 1 fix/s is ``--gps-span 10``).
``views``   ``GET /t/{token}`` (a counted view), links in turn, one client address per link;
            every route's stored prediction made fresh first (as while its GPS flows).
``status``  ``GET /t/{token}/status.json`` (what the open page polls every 30 s), the same.
``views-stale``, ``status-stale``: the same with every stored prediction an hour old (a
            phone that stopped sending, a route not started yet: readers compute the ETAs).

For each: CPU ms per request (process, and PostgreSQL), wall ms, SQL statements per request,
and with ``--profile`` a second pass of the same requests under ``py-spy record`` (own process,
``--gil --nonblocking``: CPU, not waiting) whose top functions are printed. ``PYTHONPATH=DIR``
measures another copy of the package (how the "before" figures were taken). ``--write`` saves the report to
``benchmarks/results/<--write-name>.txt`` and ``.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))

from load_bench import (  # a script beside this one
    DEPOT,
    RESULTS,
    TICK,
    VENV_BIN,
    machine,
    postgres_pids,
    proc_ticks,
    pyspy_summary,
    say,
    setup_day,
)

Request = tuple[str, str, list[tuple[str, str]], bytes, str]
"""method, path, headers, body, client address."""


async def call(app: Any, request: Request) -> tuple[int, bytes]:
    """One request through the ASGI application, as uvicorn would hand it over."""
    method, path, headers, body, client = request
    path, _, query = path.partition("?")
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query.encode(),
        "root_path": "",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers],
        "client": (client, 40000),
        "server": ("127.0.0.1", 8000),
    }
    done = False
    status = 0
    chunks: list[bytes] = []

    async def receive() -> dict[str, Any]:
        nonlocal done
        if not done:
            done = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.sleep(3600)
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    await app(scope, receive, send)
    return status, b"".join(chunks)


class Statements:
    """SQL statements sent by the application's engine."""

    def __init__(self, engine: Any) -> None:
        from sqlalchemy import event

        self.count = 0
        event.listen(engine, "before_cursor_execute", self._one)

    def _one(self, *_: Any) -> None:
        self.count += 1


def pg_ticks() -> int:
    return sum(proc_ticks(p) for p in postgres_pids())


async def run(
    app: Any,
    requests: Callable[[int], Request],
    n: int,
    statements: Statements,
    expect: int,
    offset: int,
) -> dict[str, Any]:
    """``n`` requests one after the other: CPU and wall time, statements, per request."""
    pg0, q0 = pg_ticks(), statements.count
    cpu0, wall0 = time.process_time(), time.perf_counter()
    for i in range(n):
        status, body = await call(app, requests(offset + i))
        if status != expect:
            raise SystemExit(f"request {i}: HTTP {status} {body[:300]!r}")
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    pg = (pg_ticks() - pg0) / TICK
    return {
        "requests": n,
        "cpu_ms": round(1000 * cpu / n, 2),
        "wall_ms": round(1000 * wall / n, 2),
        "postgres_cpu_ms": round(1000 * pg / n, 2),
        "sql_per_request": round((statements.count - q0) / n, 1),
        "loadavg": [round(x, 2) for x in os.getloadavg()],
    }


class Spy:
    """``py-spy record`` of this process while a pass runs (raw collapsed stacks)."""

    def __init__(self, out: Path) -> None:
        self.out = out
        self.proc = subprocess.Popen(
            [
                str(VENV_BIN / "py-spy"),
                "record",
                "--pid",
                str(os.getpid()),
                "--rate",
                "250",
                "--format",
                "raw",
                "--nonblocking",
                "--gil",
                "--output",
                str(out),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(1.0)  # attached

    def stop(self) -> dict[str, Any]:
        self.proc.send_signal(signal.SIGINT)
        self.proc.wait(timeout=60)
        return pyspy_summary(self.out, top=40) if self.out.exists() else {}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--drivers", type=int, default=100)
    parser.add_argument("--stops", type=int, default=10, help="orders per route")
    parser.add_argument("--requests", type=int, default=500, help="measured requests per phase")
    parser.add_argument("--warmup", type=int, default=100, help="unmeasured requests first")
    parser.add_argument("--batch", type=int, default=10, help="positions per GPS batch")
    parser.add_argument(
        "--gps-span",
        type=float,
        default=2.5,
        help="seconds of a driver's own time one batch covers (2.5: 500 drivers at 2,000/s)",
    )
    parser.add_argument(
        "--phases",
        default="gps,views,status,views-stale",
        help="any of gps, views, status, views-stale, status-stale (in this order)",
    )
    parser.add_argument("--profile", action="store_true", help="a py-spy pass of every phase")
    parser.add_argument(
        "--roads", action=argparse.BooleanOptionalAction, default=True, help="road travel times"
    )
    parser.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--db", default="lastmile_cpubench")
    parser.add_argument("--write", action="store_true", help="save to benchmarks/results/")
    parser.add_argument("--write-name", default="request_cpu")
    args = parser.parse_args()
    asyncio.run(bench(args))


async def bench(args: argparse.Namespace) -> None:
    m = machine()
    say(
        f"request_cpu: {args.drivers} drivers x {args.stops} stops, {args.requests} requests "
        f"per phase after {args.warmup} warm-up, batches of {args.batch} points covering "
        f"{args.gps_span} s, travel times {'roads' if args.roads else 'straight-line'}"
    )
    say(f"machine: {m['nproc']} CPUs (nproc), {m['cpu']}, Python {m['python']}, {m['utc']} UTC")
    say(f"before the run: {m['uptime']} (the machine is shared with other agents' work)")
    with psycopg.connect(args.pg, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{args.db}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{args.db}"')
    base, _, _ = args.pg.rpartition("/")
    conninfo = f"{base}/{args.db}"
    url = conninfo.replace("postgresql://", "postgresql+psycopg://", 1)
    work = Path(tempfile.mkdtemp(prefix="lastmile-cpu-"))
    results: dict[str, Any] = {}
    try:
        args.roads = bool(args.roads)
        day = setup_day(url, work, args)
        with psycopg.connect(conninfo, autocommit=True) as conn:
            conn.execute("ANALYZE")
        app = day.app
        async with app.router.lifespan_context(app):
            results = await phases(app, day, args, work, conninfo)
    finally:
        with psycopg.connect(args.pg, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{args.db}" WITH (FORCE)')
        shutil.rmtree(work, ignore_errors=True)
    say(
        f"after the run: {subprocess.run(['uptime'], capture_output=True, text=True).stdout.strip()}"
    )
    if args.write:
        RESULTS.mkdir(exist_ok=True)
        from load_bench import out_lines

        (RESULTS / f"{args.write_name}.txt").write_text("\n".join(out_lines) + "\n")
        payload = {"machine": m, "args": vars(args), "phases": results}
        (RESULTS / f"{args.write_name}.json").write_text(
            json.dumps(payload, indent=1, default=str) + "\n"
        )
        say(f"written: benchmarks/results/{args.write_name}.txt and .json")


async def phases(
    app: Any, day: Any, args: argparse.Namespace, work: Path, conninfo: str
) -> dict[str, Any]:
    started = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=15)
    for token, route_id in day.starts:
        body = {
            "events": [
                {
                    "key": f"cpu-start-{route_id}",
                    "type": "route_started",
                    "occurred_at": started.isoformat(),
                    "route_id": route_id,
                    "lon": DEPOT[0],
                    "lat": DEPOT[1],
                }
            ]
        }
        auth = [("authorization", f"Bearer {token}"), ("content-type", "application/json")]
        status, text = await call(
            app, ("POST", "/api/v1/driver/events", auth, json.dumps(body).encode(), "10.9.0.1")
        )
        if status != 200 or b'"applied"' not in text:
            raise SystemExit(f"route_started {route_id}: HTTP {status} {text[:300]!r}")
    say(f"setup: {day.routes} routes started, {len(day.links)} tracking links, {day.setup_s:.0f} s")
    clocks = [started + dt.timedelta(seconds=1)] * len(day.drivers)

    def gps(i: int) -> Request:
        d = i % len(day.drivers)
        token, lon, lat = day.drivers[d]
        first = clocks[d]
        step = args.gps_span / args.batch
        points = [
            {
                "lon": round(lon + 0.00005 * ((i // len(day.drivers)) * args.batch + k), 6),
                "lat": lat,
                "recorded_at": (first + dt.timedelta(seconds=step * (k + 1))).isoformat(),
                "accuracy_m": 8.0,
                "speed_ms": 9.0,
                "heading": 90.0,
            }
            for k in range(args.batch)
        ]
        clocks[d] = first + dt.timedelta(seconds=args.gps_span)
        headers = [("authorization", f"Bearer {token}"), ("content-type", "application/json")]
        return (
            "POST",
            "/api/v1/driver/positions",
            headers,
            json.dumps({"positions": points}).encode(),
            "10.9.0.2",
        )

    def view(i: int) -> Request:
        token, client = day.links[i % len(day.links)]
        return ("GET", f"/t/{token}", [("accept-language", "en")], b"", client)

    def poll(i: int) -> Request:
        token, client = day.links[i % len(day.links)]
        return ("GET", f"/t/{token}/status.json", [], b"", client)

    def predictions(age: str) -> Callable[[], None]:
        """Make every route's stored prediction fresh (as while GPS flows) or an hour old (a
        phone that stopped sending: readers compute it), whatever the time this run took."""

        def prepare() -> None:
            with psycopg.connect(conninfo, autocommit=True) as conn:
                conn.execute(f"UPDATE routes SET eta_computed_at = now() {age}")

        return prepare

    kinds: dict[str, tuple[Callable[[int], Request], Callable[[], None] | None]] = {
        "gps": (gps, None),
        "views": (view, predictions("")),
        "status": (poll, predictions("")),
        "views-stale": (view, predictions("- interval '1 hour'")),
        "status-stale": (poll, predictions("- interval '1 hour'")),
    }
    statements = Statements(app.state.engine)
    out: dict[str, Any] = {}
    offset = 0
    for name in [p.strip() for p in args.phases.split(",") if p.strip()]:
        make, prepare = kinds[name]
        if prepare:
            prepare()
        await run(app, make, args.warmup, statements, 200, offset)
        offset += args.warmup
        result = await run(app, make, args.requests, statements, 200, offset)
        offset += args.requests
        say(
            f"{name:12s} {result['cpu_ms']:6.2f} ms CPU per request (process), "
            f"{result['postgres_cpu_ms']:5.2f} ms PostgreSQL, {result['wall_ms']:6.2f} ms wall, "
            f"{result['sql_per_request']} SQL statements; load average {result['loadavg']}"
        )
        if args.profile:
            if prepare:
                prepare()
            spy = Spy(work / f"pyspy-{name}.txt")
            await run(app, make, args.requests, statements, 200, offset)
            offset += args.requests
            prof = spy.stop()
            result["pyspy"] = prof
            if prof:
                say(f"   py-spy --gil ({prof['samples']} samples), lastmile functions, inclusive:")
                for fn, share in [x for x in prof["inclusive"] if "lastmile/" in x[0]][:14]:
                    say(f"      {share:5.1f} %  {fn}")
                say("   functions, self:")
                for fn, share in prof["self"][:12]:
                    say(f"      {share:5.1f} %  {fn}")
        out[name] = result
    return out


if __name__ == "__main__":
    main()
