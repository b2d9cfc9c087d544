"""Live operations benchmark: ETA recompute, same-day insert and slot answers (p50/p95).

    .venv/bin/python benchmarks/live_bench.py [--roads] [--runs N]

* ``eta``: :func:`lastmile.core.live.eta.predict` on a 40-stop route (the pure recompute), and
  the first leg from a GPS position on the road engine (bundled extract, 2x2 query), which
  is the only travel time a recompute needs.
* ``insert (core)``: :func:`lastmile.core.live.insert.best_insertion` over 50 routes / 1000
  stops (every position of every route, then the cheapest re-simulated exactly), against the
  exhaustive :func:`lastmile.core.planning.explain.insertions` on the same problem.
* ``insert (service)`` and ``slots (service)``: ``live.service.insert_order`` and
  ``live.service.slot_offers`` end to end on an embedded SQLite database holding 50 started
  routes / 1000 stops (loading the rows, travel times for the 8 nearest routes, the
  insertion, rewriting the stops, ETAs, events, commit).

Locations: the 150 sample addresses (Liechtenstein) jittered by up to 300 m, so that
``--roads`` can use the bundled road extract; straight-line travel times otherwise.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import math
import os
import platform
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from lastmile.core.live.eta import LiveRoute, LiveStop, Pace, predict
from lastmile.core.live.insert import best_insertion
from lastmile.core.model import Location, Order, Profile, Route, TimeWindow, Vehicle
from lastmile.core.planning import build_problem, insertions, route_cost, simulate
from lastmile.core.roads import RoadNetwork, RoadProvider, StraightLineProvider, default_extract
from lastmile.core.roads.provider import TravelTimeProvider

SAMPLE = Path(__file__).parents[1] / "src" / "lastmile" / "data" / "sample"
DEPOT = Location(9.5209, 47.1410)
H = 3600


def percentiles(samples: list[float]) -> str:
    ordered = sorted(samples)
    p50 = statistics.median(ordered)
    p95 = ordered[min(len(ordered) - 1, math.ceil(0.95 * len(ordered)) - 1)]
    return f"p50 {p50 * 1000:8.3f} ms   p95 {p95 * 1000:8.3f} ms   (n={len(ordered)})"


def timed(fn: Callable[[], object], runs: int) -> list[float]:
    fn()  # warm-up
    out = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return out


def points(n: int, seed: int) -> list[Location]:
    with (SAMPLE / "sample_day_orders.csv").open() as f:
        base = [Location(float(r["lon"]), float(r["lat"])) for r in csv.DictReader(f)]
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        b = rng.choice(base)
        out.append(
            Location(
                round(b.lon + rng.uniform(-0.004, 0.004), 6),
                round(b.lat + rng.uniform(-0.0027, 0.0027), 6),
            )
        )
    return out


def day_orders(n: int, seed: int) -> list[Order]:
    rng = random.Random(seed)
    out = []
    for i, loc in enumerate(points(n, seed)):
        start = rng.choice([8, 8, 9, 10, 11, 12, 13, 14]) * H
        out.append(
            Order(
                id=f"o{i}",
                location=loc,
                demand=(1.0,),
                service_s=180,
                windows=(TimeWindow(start, start + 4 * H),),
            )
        )
    return out


def sweep_routes(orders: list[Order], vehicles: list[Vehicle]) -> dict[str, list[Order]]:
    """Angle sweep around the depot, then by window start: a plausible day, quickly."""

    def angle(o: Order) -> float:
        return math.atan2(o.location.lat - DEPOT.lat, o.location.lon - DEPOT.lon)

    ordered = sorted(orders, key=angle)
    per = math.ceil(len(ordered) / len(vehicles))
    out = {}
    for k, v in enumerate(vehicles):
        chunk = ordered[k * per : (k + 1) * per]
        out[v.id] = sorted(chunk, key=lambda o: (o.windows[0].start, angle(o)))
    return out


def core_day(provider: TravelTimeProvider, routes_n: int, stops_n: int, new_n: int):  # type: ignore[no-untyped-def]
    vehicles = [
        Vehicle(
            id=f"v{k}",
            start=DEPOT,
            end=DEPOT,
            shift=TimeWindow(7 * H, 20 * H),
            capacity=(30.0,),
            cost_per_km=0.5,
            cost_per_hour=30.0,
            max_overtime_s=2 * H,
        )
        for k in range(routes_n)
    ]
    orders = day_orders(stops_n, 1)
    news = [
        Order(
            id=f"n{i}",
            location=loc,
            demand=(1.0,),
            service_s=180,
            windows=(TimeWindow(12 * H, 18 * H),),
        )
        for i, loc in enumerate(points(new_n, 2))
    ]
    t = time.perf_counter()
    problem = build_problem([*orders, *news], vehicles, ("parcels",), provider)
    matrix_s = time.perf_counter() - t
    routes = []
    for vid, seq in sweep_routes(orders, vehicles).items():
        vehicle = problem.vehicle(vid)
        timing = simulate(problem, vehicle, seq, vehicle.shift.start)
        routes.append(
            Route(vid, timing.stops, timing.start_time, timing.end_time, timing.distance_m,
                  route_cost(vehicle, timing.distance_m, timing.start_time, timing.end_time),
                  timing.start_load)
        )  # fmt: skip
    return problem, routes, news, matrix_s


def bench_eta(runs: int, roads: RoadProvider | None) -> None:
    problem, routes, _, _ = core_day(StraightLineProvider(), 1, 40, 0)
    route = routes[0]
    stops = []
    legs = []
    previous = route.start_time
    for s in route.stops:
        order = problem.order(s.order_id) if s.order_id else None
        stops.append(LiveStop(s.order_id or "b", s.order_id, s.departure - s.start,
                              order.windows if order else ()))  # fmt: skip
        legs.append(s.arrival - previous)
        previous = s.departure
    live = LiveRoute(tuple(stops), tuple(legs), 600, 20 * H)
    pace = Pace(1.12, 1.3)
    print(
        f"eta  predict, 40 stops            {percentiles(timed(lambda: predict(live, now=10 * H, first_leg_s=300, pace=pace), runs))}"
    )
    if roads is not None:
        here, there = points(2, 7)
        # A fresh position each time (the engine snaps it anew), as a GPS fix would be.
        rng = random.Random(3)

        def first_leg() -> None:
            p = Location(here.lon + rng.uniform(-1e-4, 1e-4), here.lat + rng.uniform(-1e-4, 1e-4))
            roads.matrix([p, there], Profile.VAN)

        print(f"eta  first leg on roads (2x2)     {percentiles(timed(first_leg, min(runs, 300)))}")


def bench_insert_core(runs: int, provider: TravelTimeProvider) -> None:
    problem, routes, news, matrix_s = core_day(provider, 50, 1000, runs)
    print(f"     (matrix for 1000+{runs} locations: {matrix_s:.2f} s, not timed below)")
    results = []
    found = 0
    for new in news:
        t = time.perf_counter()
        result = best_insertion(problem, routes, new)
        results.append(time.perf_counter() - t)
        found += result.insertion is not None
    print(f"insert core, 50 routes/1000 stops {percentiles(results)}  fitted {found}/{len(news)}")
    slow = timed(lambda: insertions(problem, routes, news[0]), 3)
    print(f"insert exhaustive insertions()    {percentiles(slow)}")


def bench_service(runs: int, roads: bool) -> None:
    from zoneinfo import ZoneInfo

    from fastapi.testclient import TestClient

    from lastmile.app import create_app
    from lastmile.common.clock import utcnow
    from lastmile.config import Settings
    from lastmile.fleet.models import Vehicle as VehicleRow
    from lastmile.live import etas as live_etas
    from lastmile.live import service as live
    from lastmile.orders.models import Order as OrderRow
    from lastmile.orgs import service as orgs
    from lastmile.plans.models import Plan as PlanRow
    from lastmile.routes.models import Route as RouteRow
    from lastmile.routes.models import Stop as StopRow

    data = Path(tempfile.mkdtemp(prefix="lastmile-live-bench-"))
    settings = Settings(
        database_url=f"sqlite:///{data / 'bench.db'}", data_dir=data, use_roads=roads,
        jobs="inline", secret_key="bench", geocode_imports=False,
    )  # fmt: skip
    app = create_app(settings)
    with TestClient(app):
        sessions = app.state.sessions
        zone = ZoneInfo("Europe/Vaduz")
        now = utcnow().astimezone(zone).replace(hour=10, minute=0, second=0, microsecond=0)
        day = now.date()
        from lastmile.integrations.configured import provider_for

        provider: TravelTimeProvider = provider_for(settings)
        problem, routes, news, _ = core_day(provider, 50, 1000, runs)
        with sessions() as session:
            org = orgs.create(session=session, name="Bench", timezone="Europe/Vaduz")
            plan = PlanRow(org_id=org.id, date=day, status="done")
            session.add(plan)
            session.flush()
            ids = {}
            for o in problem.orders:
                row = OrderRow(
                    org_id=org.id, external_id=o.id, date=day, lon=o.location.lon,
                    lat=o.location.lat, windows=[[w.start, w.end] for w in o.windows],
                    service_s=o.service_s, demand={"parcels": 1.0},
                    status="ready" if o.id.startswith("n") else "out_for_delivery",
                )  # fmt: skip
                session.add(row)
                session.flush()
                ids[o.id] = row.id
            for r in routes:
                v = problem.vehicle(r.vehicle_id)
                vrow = VehicleRow(
                    org_id=org.id, external_id=v.id, start_lon=v.start.lon, start_lat=v.start.lat,
                    shift_start_s=v.shift.start, shift_end_s=v.shift.end,
                    capacity={"parcels": 30.0}, cost_per_km=0.5, cost_per_hour=30.0,
                    max_overtime_s=2 * H,
                )  # fmt: skip
                session.add(vrow)
                session.flush()
                rrow = RouteRow(
                    org_id=org.id, plan_id=plan.id, vehicle_id=vrow.id, date=day,
                    status="started", distance_m=r.distance_m, duration_s=r.duration_s,
                    cost=r.cost, start_s=r.start_time, end_s=r.end_time,
                )  # fmt: skip
                session.add(rrow)
                session.flush()
                for seq, s in enumerate(r.stops, start=1):
                    session.add(
                        StopRow(
                            org_id=org.id, route_id=rrow.id, order_id=ids.get(s.order_id or ""),
                            sequence=seq, kind=s.kind.value, arrival_s=s.arrival,
                            start_s=s.start, departure_s=s.departure,
                            status="done" if s.departure < 10 * H else "pending",
                        )
                    )  # fmt: skip
            session.commit()
            org_id = org.id
        samples, fitted = [], 0
        for i, new in enumerate(news):
            with sessions() as session:
                t = time.perf_counter()
                try:
                    live.insert_order(
                        session=session, settings=settings, org_id=org_id,
                        order_id=ids[new.id], actor="bench", now=now,
                    )  # fmt: skip
                    fitted += 1
                except live.DoesNotFit:
                    session.rollback()
                if i:  # the first call warms caches (road graph, imports)
                    samples.append(time.perf_counter() - t)
        print(
            f"insert service (SQLite, {'roads' if roads else 'straight'}) {percentiles(samples)}  fitted {fitted}/{len(news)}"
        )
        slot_samples = []
        for loc in points(runs, 9):
            with sessions() as session:
                t = time.perf_counter()
                live.slot_offers(
                    session=session, settings=settings, org_id=org_id, day=day, location=loc,
                    demand={"parcels": 1.0}, service_s=300, now=now,
                )  # fmt: skip
                slot_samples.append(time.perf_counter() - t)
        print(
            f"slots  service (SQLite, {'roads' if roads else 'straight'}) {percentiles(slot_samples[1:])}"
        )
        with sessions() as session:
            route = session.query(RouteRow).filter(RouteRow.org_id == org_id).first()
            assert route is not None
            state = live_etas.load_states(session=session, org_id=org_id, routes=[route])[0]
            eta_samples = timed(
                lambda: live_etas.compute(
                    state, now=live_etas.seconds_of_day(now, day, zone), provider=provider
                ),
                min(runs, 200),
            )
        print(f"eta  service compute (no DB)      {percentiles(eta_samples)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--roads", action="store_true", help="road engine on the bundled extract")
    parser.add_argument("--runs", type=int, default=200)
    args = parser.parse_args()
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"python {sys.version.split()[0]} on {platform.machine()}, {os.cpu_count()} cores, "
          f"load average {load}, {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC, "
          f"travel: {'roads' if args.roads else 'straight-line'}")  # fmt: skip
    roads = RoadProvider(RoadNetwork.load(default_extract())) if args.roads else None
    bench_eta(max(args.runs, 1000), roads)
    bench_insert_core(args.runs, roads or StraightLineProvider())
    bench_service(args.runs, args.roads)


if __name__ == "__main__":
    main()
