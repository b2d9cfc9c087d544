"""Many businesses on one install (#17): N small organisations' compressed days at once.

    .venv/bin/python benchmarks/tenants_bench.py [--orgs 100 --drivers 5 --orders 200 --speed 30]

What it does (results and discussion: ``docs/benchmarks.md``, Many businesses on one install):

1. *Setup* (not measured): a fresh PostgreSQL database (``--pg``; dropped at the end unless
   ``--keep``), migrated; ``--orgs`` simulation organisations (``orgs.service.create(...,
   simulation=True)``: each has its own clock), each with an admin and ``--drivers`` driver
   logins. Then ``lastmile serve --workers 2`` and ``lastmile worker --concurrency 2`` start
   on it (``LASTMILE_JOBS=queue``, JSON access logs).
2. *The day*: one ``lastmile.simulation.run_simulation`` per organisation, all at once (a
   thread each, started ``--stagger`` seconds apart), exactly what ``lastmile simulate`` does
   (travel times: straight lines unless ``--roads``):
   the admin creates ``--orders`` orders over the API, the fleet, a plan (a worker job),
   dispatch, then the phones drive the day at ``--speed`` on the organisation's own clock
   (route started, GPS batches every ``--gps-batch-s`` real seconds, arrived, delivered or
   failed, a proof photo or signature per delivery, same-day orders inserted).
3. *Figures*: p50/p95/max per endpoint from the servers' access log (``duration_ms`` of each
   request, JSON lines), worker lag (procrastinate: a job's start minus when it was due),
   CPU seconds of the servers and the worker, the database's growth (per table) and the proof
   files' size after the day, extrapolated to a month of 100 organisations with and without
   the retention settings (``LASTMILE_RETENTION_POSITIONS_DAYS`` = 30,
   ``LASTMILE_RETENTION_POD_DAYS`` = 180), and the load average (the machine is shared).

``--write NAME``: the report to ``benchmarks/results/NAME.txt`` and the numbers to ``.json``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import psycopg

ROOT = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).resolve().parent / "results"
VENV_BIN = Path(sys.executable).parent
PASSWORD = "tenant bench password 1"
DAY_ORGS = 100
"""The issue's install: 100 small organisations (500 drivers, 20,000 orders a day)."""


def say(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cpu_s(pid: int) -> float:
    """User + system CPU seconds of ``pid`` and its children that ended (``/proc``)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    ticks = os.sysconf("SC_CLK_TCK")
    return sum(int(f) for f in fields[11:15]) / ticks


def tree(pid: int) -> list[int]:
    """``pid`` and its descendants."""
    found, todo = [pid], [pid]
    while todo:
        parent = todo.pop()
        try:
            kids = Path(f"/proc/{parent}/task/{parent}/children").read_text().split()
        except OSError:
            continue
        found += [int(k) for k in kids]
        todo += [int(k) for k in kids]
    return found


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


# --- setup ----------------------------------------------------------------------------------


def setup(url: str, orgs: int, drivers: int) -> list[dict[str, Any]]:
    """The organisations, their admins and drivers (one password hash for all: argon2 at
    production cost for 600 users would be most of the setup)."""
    from sqlalchemy.orm import Session

    from lastmile.auth.models import User
    from lastmile.auth.security import hash_password
    from lastmile.db import create_db_engine, migrate
    from lastmile.orgs import service as orgs_service
    from lastmile.orgs.models import Role

    engine = create_db_engine(url)
    migrate(engine)
    hashed = hash_password(PASSWORD)
    tenants = []
    with Session(engine) as session:
        for i in range(orgs):
            org = orgs_service.create(
                session=session, name=f"Tenant {i:03d}", timezone="Europe/Vaduz", simulation=True
            )
            admin = User(email=f"admin@t{i:03d}.example", name="admin", password_hash=hashed)
            team = [
                User(email=f"driver{d}@t{i:03d}.example", name=f"driver {d}", password_hash=hashed)
                for d in range(drivers)
            ]
            session.add_all([admin, *team])
            session.flush()
            orgs_service.add_member(
                session=session, org_id=org.id, user_id=admin.id, role=Role.ADMIN
            )
            for user in team:
                orgs_service.add_member(
                    session=session, org_id=org.id, user_id=user.id, role=Role.DRIVER
                )
            tenants.append({"id": org.id, "admin": admin.email, "drivers": [u.email for u in team]})
        session.commit()
    engine.dispose()
    return tenants


class Servers:
    """``lastmile serve --workers 2`` and ``lastmile worker``, on the bench database."""

    def __init__(self, env: dict[str, str], work: Path, concurrency: int) -> None:
        self.port = free_port()
        lastmile = str(VENV_BIN / "lastmile")
        self.server_log = work / "server.log"
        self.worker_log = work / "worker.log"
        self.server = subprocess.Popen(
            [lastmile, "serve", "--workers", "2", "--port", str(self.port)],
            env=env,
            cwd=work,
            stdout=self.server_log.open("wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 180
        while True:
            try:
                if httpx.get(f"{self.url}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or self.server.poll() is not None:
                raise SystemExit(
                    f"the server did not come up:\n{self.server_log.read_text()[-3000:]}"
                )
            time.sleep(0.5)
        self.worker = subprocess.Popen(
            [lastmile, "worker", "--concurrency", str(concurrency)],
            env=env,
            cwd=work,
            stdout=self.worker_log.open("wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def cpu(self) -> dict[str, float]:
        return {
            "servers": sum(cpu_s(p) for p in tree(self.server.pid)),
            "worker": sum(cpu_s(p) for p in tree(self.worker.pid)),
        }

    def stop(self) -> None:
        for proc in (self.worker, self.server):
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in (self.worker, self.server):
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)


# --- the day ----------------------------------------------------------------------------------


def run_day(server: str, tenants: list[dict[str, Any]], args: argparse.Namespace) -> list[Any]:
    from lastmile.simulation.legs import Roads
    from lastmile.simulation.run import Options, run_simulation

    roads = Roads(None)  # the phones drive straight lines (the servers plan on the roads)
    done = 0
    lock = threading.Lock()

    def one(index: int) -> Any:
        nonlocal done
        time.sleep(index * args.stagger)
        tenant = tenants[index]
        options = Options(
            server=server,
            email=tenant["admin"],
            password=PASSWORD,
            logins=[(e, PASSWORD) for e in tenant["drivers"]],
            drivers=len(tenant["drivers"]),
            orders=args.orders,
            speed=args.speed,
            seed=index + 1,
            plan_time_limit=args.plan_time_limit,
            progress=False,
            gps_batch_s=args.gps_batch_s,
            say=lambda _text: None,
        )
        try:
            outcome: Any = run_simulation(options, roads)
        except Exception as exc:  # one tenant's failure is a result, not the end of the run
            outcome = exc
        with lock:
            done += 1
            what = "ok" if not isinstance(outcome, Exception) else f"FAILED {outcome!r}"[:200]
            say(f"tenant {index:03d} done ({done}/{len(tenants)}): {what}")
        return outcome

    with ThreadPoolExecutor(max_workers=len(tenants)) as pool:
        return list(pool.map(one, range(len(tenants))))


# --- figures ----------------------------------------------------------------------------------


def endpoints(log: Path) -> dict[str, dict[str, float]]:
    """p50/p95/max milliseconds and count per ``METHOD route`` from the JSON access lines."""
    times: dict[str, list[float]] = defaultdict(list)
    statuses: dict[str, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    for line in log.read_text(errors="replace").splitlines():
        if not line.startswith("{"):
            continue
        try:
            row = json.loads(line)
        except ValueError:
            continue
        if "duration_ms" not in row or not row.get("route"):
            continue
        key = f"{row['method']} {row['route']}"
        times[key].append(float(row["duration_ms"]))
        statuses[key][int(row["status"])] += 1
    return {
        key: {
            "count": len(values),
            "p50_ms": statistics.median(values),
            "p95_ms": percentile(values, 0.95),
            "max_ms": max(values),
            "non_2xx": sum(n for s, n in statuses[key].items() if not 200 <= s < 300),
        }
        for key, values in sorted(times.items(), key=lambda kv: -len(kv[1]))
    }


def worker_lag(conn: psycopg.Connection[Any]) -> dict[str, Any]:
    """How long jobs waited: first start minus when due (deferral, or its schedule)."""
    rows = conn.execute(
        """
        SELECT j.id, j.task_name, j.args->>'name', j.scheduled_at,
               min(e.at) FILTER (WHERE e.type = 'deferred'),
               min(e.at) FILTER (WHERE e.type = 'started')
        FROM procrastinate_jobs j JOIN procrastinate_events e ON e.job_id = j.id
        GROUP BY j.id
        """
    ).fetchall()
    by_name: dict[str, list[float]] = defaultdict(list)
    never = 0
    for _id, task, name, scheduled, deferred, started in rows:
        if started is None:
            never += 1
            continue
        due = max(d for d in (scheduled, deferred) if d is not None)
        by_name[name or task].append(max(0.0, (started - due).total_seconds()))
    every = [v for values in by_name.values() for v in values]
    summary = {
        name: {
            "jobs": len(v),
            "p50_s": statistics.median(v),
            "p95_s": percentile(v, 0.95),
            "max_s": max(v),
        }
        for name, v in sorted(by_name.items())
    }
    return {
        "jobs": len(every),
        "never_started": never,
        "p50_s": statistics.median(every) if every else None,
        "p95_s": percentile(every, 0.95) if every else None,
        "max_s": max(every) if every else None,
        "by_job": summary,
    }


def table_sizes(conn: psycopg.Connection[Any]) -> dict[str, int]:
    rows = conn.execute(
        """
        SELECT c.relname, pg_total_relation_size(c.oid)
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind = 'r' AND n.nspname = 'public'
        """
    ).fetchall()
    return {name: int(size) for name, size in rows}


def row_counts(conn: psycopg.Connection[Any]) -> dict[str, int]:
    return {
        table: int(conn.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0])  # type: ignore[index]
        for table in ("orders", "positions", "pods", "events", "device_events", "stops")
    }


def pod_bytes(root: Path) -> tuple[int, int]:
    files = [p for p in root.rglob("*") if p.is_file()] if root.exists() else []
    return len(files), sum(p.stat().st_size for p in files)


def per_month(growth: dict[str, int], pods: int, scale: float) -> dict[str, float]:
    """A day's growth (bytes) of ``orgs`` organisations as GiB per month of 100 of them;
    with retention the positions stop growing at 30 days and the proof files at 180."""
    gib = 1024**3
    positions = growth.get("positions", 0) * scale
    rest = sum(v for k, v in growth.items() if k != "positions") * scale
    return {
        "positions_gib_per_month": positions * 30 / gib,
        "other_tables_gib_per_month": rest * 30 / gib,
        "pod_files_gib_per_month": pods * scale * 30 / gib,
        "positions_gib_kept_with_retention": positions * 30 / gib,
        "pod_files_gib_kept_with_retention": pods * scale * 180 / gib,
        "database_gib_after_a_year_with_retention": (positions * 30 + rest * 365) / gib,
        "database_gib_after_a_year_without": (positions + rest) * 365 / gib,
    }


# --- main --------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orgs", type=int, default=DAY_ORGS)
    parser.add_argument("--drivers", type=int, default=5, help="Drivers per organisation.")
    parser.add_argument("--orders", type=int, default=200, help="Orders per organisation.")
    parser.add_argument("--speed", type=float, default=30.0, help="Simulated s per real s.")
    parser.add_argument("--gps-batch-s", type=float, default=10.0)
    parser.add_argument("--plan-time-limit", type=float, default=2.0)
    parser.add_argument("--stagger", type=float, default=1.0, help="Seconds between starts.")
    parser.add_argument("--worker-concurrency", type=int, default=2)
    parser.add_argument(
        "--roads",
        action="store_true",
        help="Plan on the bundled road network (default: straight lines; a fresh data "
        "directory builds the road cache first, minutes on a loaded machine).",
    )
    parser.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--keep", action="store_true", help="Keep the database and files.")
    parser.add_argument("--write", metavar="NAME")
    args = parser.parse_args()

    name = f"lastmile_tenants_{uuid.uuid4().hex[:8]}"
    base = args.pg.rsplit("/", 1)[0]
    url = f"{base}/{name}".replace("postgresql://", "postgresql+psycopg://", 1)
    work = Path(tempfile.mkdtemp(prefix="lastmile-tenants-"))
    with psycopg.connect(args.pg, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    servers: Servers | None = None
    report: dict[str, Any] = {
        "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]),
        "orgs": args.orgs,
        "drivers": args.orgs * args.drivers,
        "orders": args.orgs * args.orders,
        "speed": args.speed,
        "gps_batch_s": args.gps_batch_s,
        "roads": args.roads,
        "cpus": os.cpu_count(),
        "load_before": os.getloadavg(),
    }
    try:
        say(f"setup: {args.orgs} organisations, {args.orgs * args.drivers} drivers in {name}")
        tenants = setup(url, args.orgs, args.drivers)
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("LASTMILE_")},
            "LASTMILE_DATABASE_URL": url,
            "LASTMILE_DATA_DIR": str(work),
            "LASTMILE_SECRET_KEY": "tenants-bench",
            "LASTMILE_JOBS": "queue",
            "LASTMILE_LOG_FORMAT": "json",
            "LASTMILE_GEOCODE_IMPORTS": "false",
            "LASTMILE_DB_POOL_SIZE": "20",
            "LASTMILE_USE_ROADS": "true" if args.roads else "false",
        }
        servers = Servers(env, work, args.worker_concurrency)
        with psycopg.connect(f"{base}/{name}", autocommit=True) as conn:
            sizes_before = table_sizes(conn)
            db_before = int(
                conn.execute("SELECT pg_database_size(current_database())").fetchone()[0]
            )  # type: ignore[index]
        cpu_before = servers.cpu()
        bench_before = time.process_time()
        say(f"the day: {args.orgs} simulations at {args.speed:g}x on {servers.url}")
        began = time.monotonic()
        outcomes = run_day(servers.url, tenants, args)
        wall = time.monotonic() - began
        time.sleep(5)  # the last jobs (notifications) of the day
        cpu_after = servers.cpu()
        report["load_after"] = os.getloadavg()
        report["wall_s"] = wall
        report["cpu_s"] = {k: cpu_after[k] - cpu_before[k] for k in cpu_after}
        report["cpu_s"]["bench_process"] = time.process_time() - bench_before
        failed = [repr(o)[:300] for o in outcomes if isinstance(o, Exception)]
        good = [o for o in outcomes if not isinstance(o, Exception)]
        report["tenants_failed"] = failed
        report["simulated"] = {
            "delivered": sum(int(o.kpis.get("delivered") or 0) for o in good),
            "positions": sum(o.counts.positions for o in good),
            "position_batches": sum(o.counts.position_batches for o in good),
            "pods": sum(o.counts.pods for o in good),
            "rejected_events": sum(len(o.counts.rejected) for o in good),
            "simulated_h_median": statistics.median([o.simulated_s / 3600 for o in good])
            if good
            else None,
            "real_s_median": statistics.median([o.real_s for o in good]) if good else None,
            "on_time_rate_median": statistics.median(
                [float(o.kpis.get("on_time_rate") or 0) for o in good]
            )
            if good
            else None,
        }
        report["endpoints"] = endpoints(servers.server_log)
        with psycopg.connect(f"{base}/{name}", autocommit=True) as conn:
            report["worker_lag"] = worker_lag(conn)
            sizes_after = table_sizes(conn)
            db_after = int(
                conn.execute("SELECT pg_database_size(current_database())").fetchone()[0]
            )  # type: ignore[index]
            report["rows"] = row_counts(conn)
        growth = {
            k: sizes_after.get(k, 0) - sizes_before.get(k, 0)
            for k in sizes_after
            if not k.startswith("procrastinate")
        }
        files, pod_size = pod_bytes(work / "pod")
        report["storage"] = {
            "database_growth_bytes": db_after - db_before,
            "table_growth_bytes": dict(sorted(growth.items(), key=lambda kv: -kv[1])[:10]),
            "pod_files": files,
            "pod_bytes": pod_size,
        }
        report["per_month_100_orgs"] = per_month(growth, pod_size, DAY_ORGS / args.orgs)
    finally:
        if servers is not None:
            servers.stop()
        if not args.keep:
            with psycopg.connect(args.pg, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            shutil.rmtree(work, ignore_errors=True)
        else:
            say(f"kept: database {name}, files {work}")
    text = render(report)
    print(text)
    if args.write:
        RESULTS.mkdir(exist_ok=True)
        (RESULTS / f"{args.write}.txt").write_text(text)
        (RESULTS / f"{args.write}.json").write_text(json.dumps(report, indent=2, default=str))


def render(r: dict[str, Any]) -> str:
    lines = [
        f"tenants bench: {r['orgs']} organisations, {r['drivers']} drivers, {r['orders']} orders, "
        f"{r['speed']:g}x, GPS batches every {r['gps_batch_s']:g} s; {r['cpus']} CPUs",
        f"load average before {r['load_before'][0]:.1f} / after {r['load_after'][0]:.1f}; "
        f"day took {r['wall_s']:.0f} s real; CPU s: "
        + ", ".join(f"{k} {v:.0f}" for k, v in r["cpu_s"].items()),
        f"failed tenants: {len(r['tenants_failed'])} {r['tenants_failed'][:3]}",
        "simulated: " + ", ".join(f"{k} {v}" for k, v in r["simulated"].items()),
        "",
        f"{'endpoint':<52}{'count':>8}{'p50 ms':>9}{'p95 ms':>9}{'max ms':>9}{'non-2xx':>9}",
    ]
    for key, e in r["endpoints"].items():
        lines.append(
            f"{key[:51]:<52}{e['count']:>8}{e['p50_ms']:>9.1f}{e['p95_ms']:>9.1f}"
            f"{e['max_ms']:>9.0f}{e['non_2xx']:>9}"
        )
    lag = r["worker_lag"]
    lines += ["", f"worker lag: {lag['jobs']} jobs, never started {lag['never_started']}, "
              f"p50 {lag['p50_s']} s, p95 {lag['p95_s']} s, max {lag['max_s']} s"]  # fmt: skip
    for job, v in lag["by_job"].items():
        lines.append(
            f"  {job:<30} {v['jobs']:>6} jobs  p50 {v['p50_s']:.2f} s  p95 {v['p95_s']:.2f} s  "
            f"max {v['max_s']:.2f} s"
        )
    s = r["storage"]
    lines += [
        "",
        f"rows: {r['rows']}",
        f"database grew {s['database_growth_bytes'] / 1e6:.1f} MB; proof files "
        f"{s['pod_files']} = {s['pod_bytes'] / 1e6:.1f} MB",
        "largest tables' growth (MB): "
        + ", ".join(f"{k} {v / 1e6:.1f}" for k, v in s["table_growth_bytes"].items()),
        "per month of 100 organisations (GiB): "
        + ", ".join(f"{k} {v:.2f}" for k, v in r["per_month_100_orgs"].items()),
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
