"""Built-in road engine vs. a real OSRM, on the same 150 sample addresses and the same extract.

What it compares, and why:

* **Providers.** lastmile's road engine (``RoadProvider(RoadNetwork.load(extract))``, the
  ``van`` profile the sample fleet uses, and ``car`` for reference) and OSRM 26.10
  (``osrm-routed --algorithm ch``, OSRM's own ``car.lua``) over the *same*
  ``liechtenstein.osm.pbf``, queried through ``lastmile.integrations.matrix.OsrmProvider``.
* **Agreement** over the 150 x 149 ordered pairs of distinct addresses of
  ``src/lastmile/data/sample/sample_day_orders.csv``: Pearson correlation, the median of
  ours / OSRM, the 10th and 90th percentiles of that ratio, and the share of pairs within
  +-20 %, for durations and for distances; the same by OSRM trip length.
* **Snapping.** How far each address is from the road it joins in each engine
  (OSRM's ``/nearest``), how often the two engines join different roads (> 25 m apart), and
  what our access legs (walked at 10 km/h, added at both ends; OSRM adds none) weigh.
* **Time** of one 150 x 150 matrix call (best of 3, after a warm-up): in process vs HTTP on
  loopback (OSRM in two requests of at most 100 x 100 and two smaller ones).

The OSRM server is started with ``scripts/osrm-test-server.sh`` (cached under
``~/.cache/lastmile-osrm``) unless ``--url`` names a running one.

Run ``.venv/bin/python benchmarks/osrm_compare.py`` (``--write`` updates the
``## Road engine vs OSRM`` section of ``docs/benchmarks.md``).
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import os
import platform
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import numpy as np
import numpy.typing as npt

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from lastmile.core.geo.distance import haversine_m  # noqa: E402
from lastmile.core.model import Location, Profile, TravelMatrix  # noqa: E402
from lastmile.core.roads import RoadNetwork, RoadProvider, default_extract  # noqa: E402
from lastmile.integrations.matrix import OsrmProvider  # noqa: E402

DOC = ROOT / "docs" / "benchmarks.md"
SECTION = "## Road engine vs OSRM"
SAMPLE = ROOT / "src" / "lastmile" / "data" / "sample" / "sample_day_orders.csv"
SCRIPT = ROOT / "scripts" / "osrm-test-server.sh"
BANDS = ((0, 2_000), (2_000, 5_000), (5_000, 10_000), (10_000, 10**9))


def machine() -> str:
    cpu = "unknown CPU"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    load = (
        f"; load average {os.getloadavg()[0]:.1f} when the run started"
        if hasattr(os, "getloadavg")
        else ""
    )
    return f"{os.cpu_count()} CPUs (nproc), {cpu}, Python {platform.python_version()}{load}"


def sample_locations() -> list[Location]:
    with SAMPLE.open(encoding="utf-8") as fh:
        return [Location(float(r["lon"]), float(r["lat"])) for r in csv.DictReader(fh)]


def osrm_setup() -> tuple[str, str]:
    """(osrm-routed, .osrm dataset) from scripts/osrm-test-server.sh."""
    found = subprocess.run(
        ["bash", str(SCRIPT), "setup"], capture_output=True, text=True, check=True
    ).stdout.split()
    return found[-2], found[-1]


def without_turn_costs(routed: str, folder: Path) -> str:
    """The extract prepared with car.lua minus every turn and obstacle cost (diagnostic)."""
    bin_dir = Path(routed).parent
    profiles = folder / "profiles"
    shutil.copytree(bin_dir.parent / "share" / "profiles", profiles)
    car = profiles / "car.lua"
    text = car.read_text()
    marker = "function process_turn(profile, turn)\n"
    assert marker in text, "car.lua changed: no process_turn"
    car.write_text(text.replace(marker, marker + "  if true then return end\n"))
    pbf = folder / "liechtenstein.osm.pbf"
    shutil.copy(default_extract(), pbf)
    for cmd in (
        [str(bin_dir / "osrm-extract"), "-p", str(car), str(pbf)],
        [str(bin_dir / "osrm-contract"), str(folder / "liechtenstein.osrm")],
    ):
        subprocess.run(cmd, check=True, capture_output=True)
    return str(folder / "liechtenstein.osrm")


@contextlib.contextmanager
def osrm_server(routed: str, dataset: str) -> Iterator[str]:
    """A loopback ``osrm-routed --algorithm ch`` over ``dataset``, for the block."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(
            [routed, "--algorithm", "ch", "--ip", "127.0.0.1", "--port", str(port), dataset],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            base = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 30
            while True:
                with contextlib.suppress(httpx.TransportError):
                    if httpx.get(f"{base}/nearest/v1/driving/9.52,47.14").status_code == 200:
                        break
                if time.monotonic() > deadline or process.poll() is not None:
                    log.seek(0)
                    raise RuntimeError("osrm-routed did not start: " + log.read().decode()[-2000:])
                time.sleep(0.1)
            yield base
        finally:
            process.terminate()
            process.wait(timeout=10)


def best_of(fn: Callable[[], TravelMatrix], repeat: int = 3) -> tuple[TravelMatrix, float]:
    result = fn()  # warm-up (first use of a profile builds its snapping index)
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return result, min(times)


def compare(
    ours: npt.NDArray[np.int64], theirs: npt.NDArray[np.int64], mask: npt.NDArray[np.bool_]
) -> str:
    a = ours[mask].astype(np.float64)
    b = theirs[mask].astype(np.float64)
    r = float(np.corrcoef(a, b)[0, 1])
    ratio = a[b > 0] / b[b > 0]  # ratios only where OSRM's value is not 0 (same road point)
    p10, p50, p90 = np.percentile(ratio, [10, 50, 90])
    within = float(np.mean(np.abs(ratio - 1) <= 0.2))
    return f"{r:.3f} | {p50:.2f} | {p10:.2f} / {p90:.2f} | {within:.0%}"


def run(url: str | None) -> str:
    locations = sample_locations()
    n = len(locations)
    off = ~np.eye(n, dtype=bool)
    network = RoadNetwork.load(default_extract())
    roads = RoadProvider(network)
    lines = [SECTION, ""]
    with contextlib.ExitStack() as stack:
        flat: TravelMatrix | None = None
        if url:
            base = url.rstrip("/")
        else:
            routed, dataset = osrm_setup()
            base = stack.enter_context(osrm_server(routed, dataset))
            folder = Path(stack.enter_context(tempfile.TemporaryDirectory()))
            flat_base = stack.enter_context(osrm_server(routed, without_turn_costs(routed, folder)))
            with OsrmProvider(flat_base) as flat_osrm:
                flat = flat_osrm.matrix(locations, Profile.VAN)
        osrm = stack.enter_context(OsrmProvider(base))
        van, t_van = best_of(lambda: roads.matrix(locations, Profile.VAN))
        car, t_car = best_of(lambda: roads.matrix(locations, Profile.CAR))
        theirs, t_osrm = best_of(lambda: osrm.matrix(locations, Profile.VAN))
        requests_per_call = osrm.stats.requests // 4
        nearest = []
        with httpx.Client(base_url=base) as client:
            for loc in locations:
                answer = client.get(
                    f"/nearest/v1/driving/{loc.lon:.6f},{loc.lat:.6f}", params={"number": "1"}
                ).json()["waypoints"][0]
                nearest.append((Location(*answer["location"]), float(answer["distance"])))
    snaps = roads.snap_many(locations, Profile.VAN)

    lines.append("Command: `.venv/bin/python benchmarks/osrm_compare.py --write`")
    lines.append(f"Machine: {machine()}.")
    lines.append(
        "OSRM 26.10.0 (PyPI `osrm-bindings`, `osrm-routed --algorithm ch`, "
        "profile `car.lua`) on loopback, built by `scripts/osrm-test-server.sh` from the same "
        f"`liechtenstein.osm.pbf`. {n} addresses of `sample_day_orders.csv`, "
        f"{int(off.sum()):,} ordered pairs."
    )
    lines.append("")
    lines.append(
        "| ours vs OSRM car | Pearson r | median ours / OSRM | 10th / 90th percentile | within ±20 % |"
    )
    lines.append("|---|---:|---:|---:|---:|")
    lines.append(f"| durations, `van` | {compare(van.durations_s, theirs.durations_s, off)} |")
    lines.append(f"| distances, `van` | {compare(van.distances_m, theirs.distances_m, off)} |")
    lines.append(f"| durations, `car` | {compare(car.durations_s, theirs.durations_s, off)} |")
    lines.append(f"| distances, `car` | {compare(car.distances_m, theirs.distances_m, off)} |")

    # the access legs we add and OSRM does not
    snap_m = np.array([s.distance_m for s in snaps])
    leg_m = snap_m[:, None] + snap_m[None, :]
    leg_s = np.rint(leg_m / (roads.snap_speed_kmh / 3.6)).astype(np.int64)
    no_leg_dur = van.durations_s - leg_s
    no_leg_dist = van.distances_m - np.rint(leg_m).astype(np.int64)
    lines.append(
        f"| durations, `van`, without our access legs | {compare(no_leg_dur, theirs.durations_s, off)} |"
    )
    lines.append(
        f"| distances, `van`, without our access legs | {compare(no_leg_dist, theirs.distances_m, off)} |"
    )
    if flat is not None:
        lines.append(
            "| durations, `car` vs OSRM car without turn and obstacle costs | "
            f"{compare(car.durations_s, flat.durations_s, off)} |"
        )
        lines.append(
            "| durations, OSRM with / without turn and obstacle costs | "
            f"{compare(theirs.durations_s, flat.durations_s, off)} |"
        )
    zero = int((off & (theirs.durations_s == 0)).sum())
    lines.append("")
    lines.append(
        f"Ratios leave out the {zero} pairs OSRM answers with 0 s (two addresses joining the "
        "road at the same point); Pearson r uses every pair."
    )
    lines.append("")
    lines.append("By OSRM trip distance (`van`):")
    lines.append("")
    lines.append(
        "| OSRM distance | pairs | durations: median ours / OSRM | within ±20 % | distances: median ours / OSRM | within ±20 % |"
    )
    lines.append("|---|---:|---:|---:|---:|---:|")
    for low, high in BANDS:
        band = off & (theirs.distances_m >= low) & (theirs.distances_m < high)
        band &= theirs.durations_s > 0
        if not band.any():
            continue
        dr = van.durations_s[band] / theirs.durations_s[band]
        mr = van.distances_m[band] / theirs.distances_m[band]
        label = f"{low / 1000:g} to {high / 1000:g} km" if high < 10**9 else f"≥ {low / 1000:g} km"
        lines.append(
            f"| {label} | {int(band.sum()):,} | {np.median(dr):.2f} | "
            f"{np.mean(np.abs(dr - 1) <= 0.2):.0%} | {np.median(mr):.2f} | "
            f"{np.mean(np.abs(mr - 1) <= 0.2):.0%} |"
        )
    lines.append("")

    osrm_snap = np.array([d for _, d in nearest])
    apart = np.array(
        [haversine_m(s.snapped, loc) for s, (loc, _) in zip(snaps, nearest, strict=True)]
    )
    lines.append(
        f"Snapping: address to road, median {np.median(snap_m):.0f} m ours / "
        f"{np.median(osrm_snap):.0f} m OSRM, max {snap_m.max():.0f} m / {osrm_snap.max():.0f} m; "
        f"the two snapped points are more than 25 m apart for {int((apart > 25).sum())} of {n} "
        f"addresses (max {apart.max():.0f} m). Our access legs (both ends, 10 km/h) add a median "
        f"{np.median(leg_s[off]):.0f} s and {np.median(leg_m[off]):.0f} m per pair; OSRM starts "
        "and ends on the road."
    )
    lines.append("")
    lines.append(
        f"Time for one {n} x {n} matrix (best of 3 after a warm-up): ours `van` {t_van * 1000:.0f} ms, "
        f"`car` {t_car * 1000:.0f} ms in process; OSRM {t_osrm * 1000:.0f} ms over HTTP on "
        f"loopback ({requests_per_call} `/table` requests of at most 100 x 100)."
    )
    lines.append("")
    lines.append("Map data © OpenStreetMap contributors (ODbL 1.0).")
    return "\n".join(lines) + "\n"


def write_section(text: str, comment: str) -> None:
    """Replace (or append) our section of docs/benchmarks.md, leaving other sections alone.

    Hand-written commentary after the generated text (``comment``, kept from the previous
    section) is preserved.
    """
    existing = DOC.read_text() if DOC.exists() else "# Benchmarks\n\n"
    start = existing.find(SECTION + "\n")
    body = text + ("\n" + comment if comment else "")
    if start < 0:
        updated = existing.rstrip("\n") + "\n\n" + body
    else:
        end = existing.find("\n## ", start + len(SECTION))
        tail = existing[end + 1 :] if end >= 0 else ""
        updated = existing[:start] + body + ("\n" + tail if tail else "")
    DOC.write_text(updated)


def kept_comment() -> str:
    """The commentary of the current section: everything from its ``Reading`` paragraph on."""
    if not DOC.exists():
        return ""
    existing = DOC.read_text()
    start = existing.find(SECTION + "\n")
    if start < 0:
        return ""
    end = existing.find("\n## ", start + len(SECTION))
    section = existing[start : end + 1 if end >= 0 else len(existing)]
    at = section.find("**Reading the numbers.**")
    return section[at:].rstrip("\n") + "\n" if at >= 0 else ""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--url", help="a running osrm-routed (car) over the same extract")
    parser.add_argument("--write", action="store_true", help="update docs/benchmarks.md")
    args = parser.parse_args(argv)
    text = run(args.url)
    print(text)
    if args.write:
        write_section(text, kept_comment())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
