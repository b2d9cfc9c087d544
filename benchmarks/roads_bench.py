"""Road engine at city scale: ``make bench-roads`` (docs/benchmarks.md, "Roads at city scale").

For each city (synthetic ``size`` x ``size`` grids written as real OSM PBF by
``lastmile.core.roads.synthetic``, plus the bundled Liechtenstein extract and any
``--extract``), it measures, as a user would run them:

* ``lastmile roads build CITY -p van --rebuild``: whole command, peak memory (max RSS of
  the child), size of the cache written;
* ``lastmile roads matrix`` 1000 x 1000: whole command (cache already built);
* one-to-200 (an insertion) in process: median of 20 ``RoadProvider.one_to_many`` calls;
* on Liechtenstein, the hierarchy against the plain Dijkstra engine on the same 1000
  points (median ratio of durations, largest difference);
* on the 250k city (``--plan-size``), ``lastmile plan`` of the same 1000 points as orders
  given by coordinates (25 vans of 60 parcels from the city centre, ``--time-limit 10``):
  whole command, peak memory, orders planned.

The machine is shared: the 1-minute load average (``/proc/loadavg``) is printed next to
every number. Results go to stdout as a Markdown table and to ``--out`` as JSON.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from lastmile.core.model import Location, Profile
from lastmile.core.roads import RoadNetwork, RoadProvider, default_extract
from lastmile.core.roads.engine import scipy_dijkstra
from lastmile.core.roads.synthetic import generate_city

LASTMILE = str(Path(sys.executable).with_name("lastmile"))


def load() -> float:
    """The 1-minute load average (the machine is shared)."""
    return float(Path("/proc/loadavg").read_text().split()[0])


def run(command: list[str]) -> tuple[float, float]:
    """Whole-command wall time (s) and the child's peak memory (MiB)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    started = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    elapsed = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return elapsed, max(peak, before) / 1024


LAST_CPU_S: list[float] = [0.0]
"""CPU seconds (user + system, all threads) of the last :func:`run_peak` command: on a
shared machine a truer measure of the work than wall time."""


def run_peak(command: list[str]) -> tuple[float, float]:
    """Like :func:`run`, but the peak of this very command (a fresh helper process)."""
    probe = (
        "import resource, subprocess, sys, time;"
        "t = time.perf_counter();"
        "subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL);"
        "u = resource.getrusage(resource.RUSAGE_CHILDREN);"
        "print(time.perf_counter() - t, u.ru_maxrss / 1024, u.ru_utime + u.ru_stime)"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe, *command], check=True, capture_output=True, text=True
    ).stdout.split()
    LAST_CPU_S[0] = round(float(out[2]), 1)
    return float(out[0]), float(out[1])


def random_points(network: RoadNetwork, n: int, seed: int) -> list[Location]:
    """Uniform points over the extract's bounding box, kept where a road is within 250 m."""
    rng = np.random.default_rng(seed)
    lon, lat = network.graph.node_lon, network.graph.node_lat
    provider = RoadProvider(network)
    points: list[Location] = []
    while len(points) < n:
        batch = [
            Location(float(x), float(y))
            for x, y in zip(
                rng.uniform(lon.min(), lon.max(), 2 * n),
                rng.uniform(lat.min(), lat.max(), 2 * n),
                strict=True,
            )
        ]
        snaps = provider.snap_many(batch, Profile.VAN)
        points.extend(p for p, s in zip(batch, snaps, strict=True) if s.on_road)
    return points[:n]


def write_points(points: list[Location], path: Path) -> None:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["lon", "lat"])
        writer.writerows([p.lon, p.lat] for p in points)


def measure_plan(extract: Path, points: list[Location], work: Path) -> dict[str, object]:
    """``lastmile plan`` of ``points`` as 1000 orders by coordinates, as a user runs it."""
    orders = work / f"{extract.stem}-orders.csv"
    with orders.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "lon", "lat", "parcels", "service_min"])
        writer.writerows([f"O{i:04d}", p.lon, p.lat, 1, 3] for i, p in enumerate(points))
    lon = float(np.mean([p.lon for p in points]))
    lat = float(np.mean([p.lat for p in points]))
    out = work / f"{extract.stem}-plan.json"
    command = [
        LASTMILE, "plan", str(orders), "--vehicles", "25", "--capacity", "60",
        "--depot", f"{lon:.6f},{lat:.6f}", "--roads", str(extract), "--time-limit", "10",
        "--out", str(out),
    ]  # fmt: skip
    row: dict[str, object] = {"load_plan": load()}
    plan_s, plan_peak = run_peak(command)
    document = json.loads(out.read_text())
    row.update(
        plan_1000_s=round(plan_s, 1),
        plan_cpu_s=LAST_CPU_S[0],
        plan_peak_mib=round(plan_peak),
        plan_unassigned=len(document.get("unassigned", [])),
    )
    return row


def measure(
    name: str, extract: Path, work: Path, compare: bool, plan: bool = False
) -> dict[str, object]:
    """Build, matrix and one-to-200 numbers of one extract."""
    row: dict[str, object] = {"city": name}
    row["load_build"] = load()
    build_s, build_peak = run_peak(
        [LASTMILE, "roads", "build", str(extract), "-p", "van", "--rebuild"]
    )
    cache = extract.with_name(extract.name.removesuffix(".pbf") + ".roads.npz")
    row.update(
        build_cpu_s=LAST_CPU_S[0],
        build_s=round(build_s, 1),
        build_peak_mib=round(build_peak),
        cache_mb=round(cache.stat().st_size / 1e6, 1),
    )
    network = RoadNetwork.load(extract, profiles=[Profile.VAN])
    pg = network.graph.profiles[Profile.VAN]
    row.update(osm_nodes=network.graph.node_count, graph_nodes=pg.node_count)
    points = random_points(network, 1000, seed=1)
    csv_path = work / f"{name}-points.csv"
    write_points(points, csv_path)
    out = work / f"{name}-matrix.json"
    command = [
        LASTMILE,
        "roads",
        "matrix",
        "--roads",
        str(extract),
        "-p",
        "van",
        str(csv_path),
        "-o",
        str(out),
    ]
    run(command)  # first run: compiles/loads the query code once
    row["load_matrix"] = load()
    matrix_s, matrix_peak = run_peak(command)
    row.update(
        matrix_s=round(matrix_s, 2), matrix_cpu_s=LAST_CPU_S[0], matrix_peak_mib=round(matrix_peak)
    )
    provider = RoadProvider(network)
    provider.one_to_many(points[0], points[1:201], Profile.VAN)
    times = []
    for i in range(20):
        started = time.perf_counter()
        provider.one_to_many(points[i], points[200 + i : 400 + i], Profile.VAN)
        times.append(time.perf_counter() - started)
    row["one_to_200_ms"] = round(1000 * float(np.median(times)), 1)
    row["load_one_to_200"] = load()
    if plan:
        row.update(measure_plan(extract, points, work))
    if compare:
        fast = provider.matrix(points, Profile.VAN)
        started = time.perf_counter()
        slow = RoadProvider(network, distances=scipy_dijkstra).matrix(points, Profile.VAN)
        row["dijkstra_1000_s"] = round(time.perf_counter() - started, 2)
        off = ~np.eye(len(points), dtype=bool)
        ratio = fast.durations_s[off] / np.maximum(slow.durations_s[off], 1)
        row["ratio_to_dijkstra_median"] = round(float(np.median(ratio)), 4)
        row["ratio_to_dijkstra_max_dev"] = round(float(np.abs(ratio - 1).max()), 4)
        row["max_abs_diff_s"] = int(np.abs(fast.durations_s - slow.durations_s).max())
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sizes",
        type=int,
        nargs="*",
        default=[500, 1000],
        help="city grid sizes (500 = 250k intersections, 1000 = 1M)",
    )
    parser.add_argument(
        "--plan-size", type=int, default=500, help="the city on which `lastmile plan` runs"
    )
    parser.add_argument(
        "--extract", type=Path, nargs="*", default=[], help="more real extracts (.osm.pbf)"
    )
    parser.add_argument(
        "--work", type=Path, default=Path(tempfile.gettempdir()) / "lastmile-bench-roads"
    )
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/roads_bench.json"))
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    rows = []
    li = args.work / "liechtenstein.osm.pbf"
    shutil.copyfile(default_extract(), li)
    rows.append(measure("liechtenstein", li, args.work, compare=True))
    print(json.dumps(rows[-1]), flush=True)
    for extract in args.extract:
        copy = args.work / extract.name
        shutil.copyfile(extract, copy)
        rows.append(measure(extract.name.split(".")[0], copy, args.work, compare=True))
        print(json.dumps(rows[-1]), flush=True)
    for size in args.sizes:
        city = args.work / f"city{size}.osm.pbf"
        started = time.perf_counter()
        stats = generate_city(city, size)
        print(
            f"generated {city.name}: {stats.nodes:,} intersections, {len(stats.restrictions)} restrictions in {time.perf_counter() - started:.0f} s",
            flush=True,
        )
        rows.append(
            measure(
                f"grid {size}x{size}", city, args.work, compare=False, plan=size == args.plan_size
            )
        )
        print(json.dumps(rows[-1]), flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"cpus": os.cpu_count(), "rows": rows}, indent=2) + "\n")
    keys = sorted(
        {k for r in rows for k in r}, key=lambda k: list(rows[0]).index(k) if k in rows[0] else 99
    )
    print("| " + " | ".join(keys) + " |")
    print("|" + "---|" * len(keys))
    for r in rows:
        print("| " + " | ".join(str(r.get(k, "-")) for k in keys) + " |")


if __name__ == "__main__":
    main()
