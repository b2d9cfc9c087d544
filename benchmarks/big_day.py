"""A big delivery day from text addresses, and the whole ``lastmile plan`` command on it.

Issue 16's scale target: 10,000 distinct text addresses of the bundled country planned with
``lastmile plan --time-limit 180 --skip-unresolved`` in under 5 minutes of whole-command
time, under 6 GiB peak memory of all its processes, <= 1 % unassigned, independently checked.

* **Generate** (``--stops N --out DIR``): ``DIR/orders.csv`` with N distinct addresses
  sampled (seeded) from the bundled extract's address index, written as text only (no
  coordinates: the command geocodes them), with delivery windows, service minutes and
  parcels drawn from the bundled sample day's rows; ``DIR/vehicles.csv`` with one 160-parcel
  van per 45 stops at the sample fleet's depot, shift and costs.
* **Run** (``--run``): the command as a user types it, in its own process; every 0.5 s the
  memory of the whole process tree (the command and any solver/worker processes it starts)
  is summed from ``/proc`` (RSS and PSS, which counts pages shared after a fork once), and
  the peak sum is kept. Afterwards ``plan.json`` gives the unassigned count and the
  independent checker's verdict (its ``check`` member).

``make bench-big-day`` runs it at 10,000 stops (BIG_DAY_ARGS to change). Numbers on a shared
machine are not the product's: write the load (printed) next to them.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import random
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
try:
    import lastmile  # noqa: F401
except ImportError:  # running from a checkout without `pip install -e .`
    sys.path.insert(0, str(ROOT / "src"))

# ruff: noqa: E402 (the imports below may need the path set up above)
from lastmile.common.samples import sample_path
from lastmile.core.geo.geocoder import Address
from lastmile.core.geo.index import load_index
from lastmile.core.roads import default_extract

STOPS_PER_VAN = 45
VAN_PARCELS = 160


def distinct_addresses(extract: Path) -> list[str]:
    """Every distinct postal address of the extract as text (``"Landstrasse 19, 9490 Vaduz"``),
    in a stable order."""
    index = load_index(extract)
    texts = {
        Address(a.street, a.housenumber, a.postcode, a.city).format()
        for a in index.addresses
        if a.street and a.housenumber
    }
    return sorted(texts)


def generate(stops: int, out: Path, seed: int, extract: Path) -> tuple[Path, Path]:
    """Write ``orders.csv`` and ``vehicles.csv`` for a day of ``stops`` orders into ``out``."""
    rng = random.Random(seed)
    addresses = distinct_addresses(extract)
    if stops > len(addresses):
        raise SystemExit(f"the extract has only {len(addresses)} distinct addresses")
    chosen = rng.sample(addresses, stops)
    with sample_path("sample_day_orders.csv").open(newline="", encoding="utf-8") as handle:
        sample = list(csv.DictReader(handle))
    out.mkdir(parents=True, exist_ok=True)
    orders = out / "orders.csv"
    with orders.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "address", "window_start", "window_end", "service_min", "parcels"])
        for k, address in enumerate(chosen, start=1):
            window = rng.choice(sample)  # a window of the sample day, as a pair
            writer.writerow(
                [
                    f"BIG-{k:05d}",
                    address,
                    window["window_start"],
                    window["window_end"],
                    rng.choice(sample)["service_min"],
                    rng.choice(sample)["parcels"],
                ]
            )
    with sample_path("sample_vehicles.csv").open(newline="", encoding="utf-8") as handle:
        van = next(r for r in csv.DictReader(handle) if r["profile"] == "van")
    vehicles = out / "vehicles.csv"
    columns = ["start_lon", "start_lat", "end_lon", "end_lat", "shift_start", "shift_end"]
    costs = ["cost_per_km", "cost_per_hour", "fixed_cost"]
    with vehicles.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "name", "profile", *columns, "capacity_parcels", *costs])
        for k in range(1, math.ceil(stops / STOPS_PER_VAN) + 1):
            writer.writerow(
                [f"VAN-{k:03d}", f"Van {k}", "van", *(van[c] for c in columns), VAN_PARCELS]
                + [van[c] for c in costs]
            )
    return orders, vehicles


def _children(pid: int) -> list[int]:
    """``pid`` and all its descendants, from /proc (Linux)."""
    parents: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="utf-8") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents.setdefault(int(fields[1]), []).append(int(entry))
    tree, todo = [], [pid]
    while todo:
        current = todo.pop()
        tree.append(current)
        todo.extend(parents.get(current, []))
    return tree


def _memory_kib(pid: int) -> tuple[int, int]:
    """(RSS, PSS) of one process in KiB; (0, 0) once it is gone."""
    try:
        with open(f"/proc/{pid}/smaps_rollup", encoding="utf-8") as fh:
            values = dict(
                (parts[0].rstrip(":"), int(parts[1]))
                for parts in (line.split() for line in fh)
                if len(parts) >= 3 and parts[1].isdigit()
            )
    except OSError:
        return 0, 0
    return values.get("Rss", 0), values.get("Pss", 0)


def run(command: list[str]) -> dict[str, float]:
    """Run ``command``; whole-command seconds and the peak summed RSS/PSS of its tree (MiB)."""
    started = time.perf_counter()
    process = subprocess.Popen(command)
    peak = {"rss": 0, "pss": 0, "processes": 1}
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            pids = _children(process.pid)
            sizes = [_memory_kib(p) for p in pids]
            peak["rss"] = max(peak["rss"], sum(s[0] for s in sizes))
            peak["pss"] = max(peak["pss"], sum(s[1] for s in sizes))
            peak["processes"] = max(peak["processes"], len(pids))
            done.wait(0.5)

    watcher = threading.Thread(target=sample, daemon=True)
    watcher.start()
    code = process.wait()
    elapsed = time.perf_counter() - started
    done.set()
    watcher.join()
    return {
        "exit_code": code,
        "seconds": round(elapsed, 1),
        "peak_rss_mib": round(peak["rss"] / 1024),
        "peak_pss_mib": round(peak["pss"] / 1024),
        "processes": peak["processes"],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--stops", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, default=Path("out/big-day"))
    parser.add_argument("--extract", type=Path, default=None, help="default: the bundled one")
    parser.add_argument("--run", action="store_true", help="also run `lastmile plan` on it")
    parser.add_argument("--time-limit", type=float, default=180.0)
    parser.add_argument("--plan-args", default="", help="more `lastmile plan` options")
    args = parser.parse_args()
    extract = args.extract or default_extract()
    orders, vehicles = generate(args.stops, args.out, args.seed, extract)
    print(f"wrote {orders} ({args.stops} orders) and {vehicles}", flush=True)
    if not args.run:
        return 0
    plan = args.out / "plan.json"
    command = [
        str(Path(sys.executable).with_name("lastmile")),
        "plan",
        str(orders),
        "--vehicles",
        str(vehicles),
        "--roads",
        str(extract),
        "--time-limit",
        f"{args.time_limit:g}",
        "--skip-unresolved",
        "--out",
        str(plan),
        *args.plan_args.split(),
    ]
    load_before = os.getloadavg()[0]
    measured = run(command)
    document = json.loads(plan.read_text(encoding="utf-8")) if plan.is_file() else {}
    totals = document.get("totals", {})
    unassigned = int(totals.get("unassigned", -1))
    result = {
        "stops": args.stops,
        "vans": math.ceil(args.stops / STOPS_PER_VAN),
        **measured,
        "unassigned": unassigned,
        "unassigned_pct": round(100 * unassigned / args.stops, 2) if unassigned >= 0 else None,
        "checked_ok": document.get("check", {}).get("ok"),
        "load_before": round(load_before, 1),
        "load_after": round(os.getloadavg()[0], 1),
        "cpus": os.cpu_count(),
        "command": " ".join(command),
    }
    print(json.dumps(result, indent=2))
    (args.out / "result.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return 0 if measured["exit_code"] == 0 else int(measured["exit_code"])


if __name__ == "__main__":
    raise SystemExit(main())
