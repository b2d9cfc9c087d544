"""Road engine benchmark: graph build, cache load and many-to-many matrices on Liechtenstein.

Why it measures what it measures:

* **Build vs. load.** Building (pyosmium parse + per-profile preparation) happens once per
  extract; every later process only loads the ``.roads.npz`` cache. Both are timed, on a
  copy of the extract in a temporary directory so the repository is never written.
* **Realistic stops.** Matrices are over random *addresses* of the extract (address nodes and
  addressed buildings) (fixed seed),
  the points a delivery day really has, not random coordinates in forests.
* **Whole call.** Matrix times are for :meth:`RoadProvider.matrix` end to end (snapping,
  query graph, the many-to-many search, decoding), best of ``--repeat`` runs.
* **Algorithms compared on the same query graph** (after pruning dead-end branches) and checked to return identical weights:
  scipy's Dijkstra (``indices=``), the same on two threads (scipy releases the GIL), igraph
  (C, if installed: ``pip install -e '.[bench]'``), and scipy on the *uncontracted* graph
  (what the engine would cost without degree-2 contraction).
* **Agreement.** For sampled pairs, the length of ``path(a, b)`` is compared with the matrix
  distance: they must be the same path.

Run ``.venv/bin/python benchmarks/matrix_bench.py`` (add ``--write`` to update the
``## Road engine`` section of ``docs/benchmarks.md``).
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

ROOT = Path(__file__).resolve().parents[1]
try:
    import lastmile  # noqa: F401
except ImportError:  # running from a checkout without `pip install -e .`
    sys.path.insert(0, str(ROOT / "src"))

# ruff: noqa: E402 (the imports below may need the path set up above)
import numpy as np
import osmium
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra

from lastmile.core.model import Location, Profile, TravelMatrix
from lastmile.core.roads import RoadNetwork, RoadProvider, default_extract
from lastmile.core.roads.build import parse_extract, prepare_profile
from lastmile.core.roads.engine import (
    DistanceFunction,
    path_length_m,
    scipy_dijkstra,
    threaded_dijkstra,
)

DOC = ROOT / "docs" / "benchmarks.md"
SECTION = "## Road engine"


def igraph_distances() -> DistanceFunction | None:
    """igraph's Dijkstra (C, single thread) behind the engine's DistanceFunction, if installed."""
    try:
        import igraph  # type: ignore[import-untyped,import-not-found,unused-ignore]
    except ImportError:
        return None

    def run(graph: csr_matrix, origins: Any, targets: Any) -> Any:
        coo = graph.tocoo()
        g = igraph.Graph(n=graph.shape[0], edges=np.column_stack([coo.row, coo.col]), directed=True)
        g.es["w"] = coo.data
        return np.array(
            g.distances(source=origins.tolist(), target=targets.tolist(), weights="w", mode="out")
        )

    return run


def addresses(extract: Path, n: int, seed: int) -> list[Location]:
    found = []
    processor = osmium.FileProcessor(str(extract), osmium.osm.NODE | osmium.osm.WAY)
    for obj in processor.with_locations().with_filter(osmium.filter.KeyFilter("addr:housenumber")):
        if isinstance(obj, osmium.osm.Node):
            found.append(Location(obj.location.lon, obj.location.lat))
        elif isinstance(obj, osmium.osm.Way):  # buildings: the mean of their corners
            corners = [(n.lon, n.lat) for n in obj.nodes if n.location.valid()]
            if corners:
                lon, lat = np.mean(corners, axis=0)
                found.append(Location(float(lon), float(lat)))
    rng = np.random.default_rng(seed)
    return [found[i] for i in rng.choice(len(found), min(n, len(found)), replace=False)]


T = TypeVar("T")


def best_of(repeat: int, fn: Callable[[], T]) -> tuple[float, T]:
    """Best wall time of ``repeat`` runs (the least disturbed by other processes)."""
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - started)
    return min(times), result


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{os.cpu_count()} CPUs (nproc), {cpu}, Python {platform.python_version()}"


def uncontracted_seconds_per_source(
    network: RoadNetwork, profile: Profile, sources: int
) -> tuple[float, int]:
    """Dijkstra cost per origin on the full segment graph of the profile's component."""
    graph = network.graph
    pg = graph.profiles[profile]
    ids = pg.chain
    seg = ids // 2
    src = np.where(ids % 2 == 0, graph.seg_u[seg], graph.seg_v[seg])
    dst = np.where(ids % 2 == 0, graph.seg_v[seg], graph.seg_u[seg])
    nodes, inverse = np.unique(np.concatenate([src, dst]), return_inverse=True)
    n = len(nodes)
    w = np.maximum(graph.directed_time_s(profile, ids), 1e-3)
    csr = csr_matrix((w, (inverse[: len(ids)], inverse[len(ids) :])), shape=(n, n))
    origins = np.random.default_rng(0).choice(n, sources, replace=False)
    elapsed, _ = best_of(2, lambda: dijkstra(csr, indices=origins))
    return elapsed / sources, n


def synthetic_city(nodes: int) -> tuple[int, float]:
    """Seconds per Dijkstra origin on a square two-way grid of about ``nodes`` nodes."""
    side = int(np.sqrt(nodes))
    ids = np.arange(side * side).reshape(side, side)
    right = np.column_stack([ids[:, :-1].ravel(), ids[:, 1:].ravel()])
    down = np.column_stack([ids[:-1, :].ravel(), ids[1:, :].ravel()])
    pairs = np.concatenate([right, down])
    edges = np.concatenate([pairs, pairs[:, ::-1]])
    w = np.random.default_rng(0).uniform(10, 60, len(edges))
    n = side * side
    csr = csr_matrix((w, (edges[:, 0], edges[:, 1])), shape=(n, n))
    origins = np.random.default_rng(1).choice(n, 50, replace=False)
    elapsed, _ = best_of(2, lambda: dijkstra(csr, indices=origins))
    return n, elapsed / len(origins)


def run(args: argparse.Namespace) -> str:
    lines: list[str] = []

    def say(text: str = "") -> None:
        print(text, flush=True)
        lines.append(text)

    extract_source = Path(args.extract)
    with tempfile.TemporaryDirectory() as tmp:
        extract = Path(tmp) / extract_source.name
        shutil.copyfile(extract_source, extract)

        started = time.perf_counter()
        graph = parse_extract(extract)
        parse_s = time.perf_counter() - started
        prep = {}
        for profile in Profile:
            t, prepared = best_of(1, partial(prepare_profile, graph, profile))
            prep[profile] = (t, prepared)
        build_s, _ = best_of(1, lambda: RoadNetwork.load(extract, rebuild=True))
        cache = extract.with_name(extract.name.replace(".pbf", ".roads.npz"))
        load_s, loaded = best_of(args.repeat, lambda: RoadNetwork.load(extract))
        assert loaded.from_cache

        say(SECTION)
        say()
        say(
            "Command: `.venv/bin/python benchmarks/matrix_bench.py"
            + (" --write`" if args.write else "`")
        )
        say()
        load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
        say(f"Machine: {machine()}; load average {load:.1f} when the run started.")
        say(
            f"Extract: `{extract_source.name}` ({extract_source.stat().st_size / 1e6:.1f} MB), "
            f"{graph.node_count:,} road nodes, {graph.segment_count:,} segments."
        )
        say()
        say("| step | time |")
        say("|---|---|")
        say(f"| parse extract (pyosmium, all profiles' rules) | {parse_s:.2f} s |")
        for profile, (t, prepared) in prep.items():
            say(
                f"| prepare `{profile.value}` (largest SCC + contraction: "
                f"{prepared.node_count:,} nodes, {prepared.edge_count:,} edges) | {t:.2f} s |"
            )
        say(
            f"| full build incl. writing the cache ({cache.stat().st_size / 1e6:.1f} MB) | {build_s:.2f} s |"
        )
        say(f"| load the cache | {load_s * 1000:.0f} ms |")

        points = addresses(extract, max(args.sizes), args.seed)
        algorithms: dict[str, DistanceFunction] = {
            "scipy dijkstra": scipy_dijkstra,
            "scipy dijkstra, 2 threads": threaded_dijkstra(2),
        }
        ig = igraph_distances()
        if ig is not None:
            algorithms["igraph distances"] = ig
        say()
        say(
            f"Matrices over random addresses (seed {args.seed}); whole `RoadProvider.matrix` "
            f"call, best of {args.repeat} (round-robin); first use of a profile also builds its snapping index:"
        )
        say()
        header = "| profile | first use (index) | " + " | ".join(
            f"{n}x{n} {name}" for n in args.sizes for name in algorithms
        )
        say(header + " |")
        say("|---" * (2 + len(args.sizes) * len(algorithms)) + "|")
        agreement: list[str] = []
        for profile in args.profiles:
            index_s, _ = best_of(1, partial(loaded.index, profile))
            cells: list[str] = []
            for n in args.sizes:
                # round-robin over the algorithms, so a burst of load from other processes
                # hits them alike; the best run of each is reported
                best = dict.fromkeys(algorithms, float("inf"))
                results: dict[str, TravelMatrix] = {}
                for _ in range(args.repeat):
                    for name, fn in algorithms.items():
                        provider = RoadProvider(loaded, distances=fn)
                        t, results[name] = best_of(1, partial(provider.matrix, points[:n], profile))
                        best[name] = min(best[name], t)
                cells.extend(f"{best[name]:.3f} s" for name in algorithms)
                reference = results["scipy dijkstra"]
                for name, result in results.items():
                    same = np.array_equal(
                        reference.durations_s, result.durations_s
                    ) and np.array_equal(reference.distances_m, result.distances_m)
                    if not same:
                        agreement.append(f"{profile.value} {n}: {name} differs from scipy")
            say(f"| {profile.value} | {index_s:.3f} s | " + " | ".join(cells) + " |")

        # path() vs matrix distance on sampled pairs
        provider = RoadProvider(loaded)
        n = min(1000, len(points))
        rng = np.random.default_rng(args.seed)
        for profile in args.profiles:
            result = provider.matrix(points[:n], profile)
            diffs = []
            for _ in range(args.pairs):
                i, j = (int(x) for x in rng.choice(n, 2, replace=False))
                path = provider.path(points[i], points[j], profile)
                diffs.append(abs(path_length_m(path) - result.distances_m[i, j]))
            agreement.append(
                f"{profile.value}: |length(path) - distances_m| over {args.pairs} pairs: "
                f"max {max(diffs):.2f} m, mean {statistics.mean(diffs):.2f} m"
            )
            far = sum(not s.on_road for s in provider.snap_many(points[:n], profile))
            agreement.append(
                f"{profile.value}: {far} of {n} addresses further than 250 m from a road"
            )
        say()
        say("Agreement (all algorithms returned identical matrices unless listed):")
        say()
        for line in agreement:
            say(f"- {line}")

        unpruned_t, _ = best_of(
            args.repeat,
            lambda: RoadProvider(loaded, prune=False).matrix(points[:1000], Profile.VAN),
        )
        per_source, full_nodes = uncontracted_seconds_per_source(loaded, Profile.VAN, 100)
        van = loaded.graph.profiles[Profile.VAN]
        contracted_t, _ = best_of(
            args.repeat,
            lambda: RoadProvider(loaded).matrix(points[:1000], Profile.VAN),
        )
        say()
        say(
            f"Without contraction: the `van` component has {full_nodes:,} nodes instead of "
            f"{van.node_count:,}; scipy needs {per_source * 1000:.2f} ms per origin there, i.e. "
            f"about {per_source * 1000:.1f} s for 1000 origins "
            f"(contracted: {contracted_t:.2f} s for the whole 1000x1000 call; contracted but "
            f"without pruning dead-end branches: {unpruned_t:.2f} s)."
        )
        ratio = van.node_count / full_nodes
        city_nodes = 300_000
        contracted_city = int(city_nodes * ratio)
        per_node = contracted_t / 1000 / van.node_count
        scale = np.log(contracted_city) / np.log(van.node_count)
        city_1000 = per_node * contracted_city * scale * 1000
        say()
        say(
            f"Extrapolation to a 300k-node city graph: contraction keeps about {ratio:.0%} of the "
            f"nodes (~{contracted_city:,}); Dijkstra grows as V log V, so one origin costs "
            f"~{per_node * contracted_city * scale * 1000:.0f} ms and a 1000x1000 matrix "
            f"~{city_1000:.0f} s on one core, memory "
            f"~{contracted_city * 8 * 128 / 1e6:.0f} MB per chunk of 128 origins. That is fine "
            "for a nightly plan, slow for interactive use."
        )
        grid_nodes, grid_per_origin = synthetic_city(contracted_city)
        say()
        say(
            f"Check on a synthetic street grid of {grid_nodes:,} nodes (the contracted size of "
            f"such a city; two-way streets, random 10-60 s edges): scipy needs "
            f"{grid_per_origin * 1000:.1f} ms per origin, i.e. ~{grid_per_origin * 1000:.0f} s "
            "for 1000 origins on one core."
        )
        say()
        say(
            "Choice: plain scipy Dijkstra is the default. igraph and two threads return the same "
            "numbers in about the same time here (scipy releases the GIL, but with another "
            "process on the second core, or graphs this small, threads gain little), and scipy "
            "is already a dependency. What made the difference is the graph: degree-2 "
            f"contraction ({full_nodes / van.node_count:.1f}x fewer nodes, "
            f"{per_source * 1000 / contracted_t:.1f}x faster) and pruning stop-free dead-end "
            f"branches ({unpruned_t / contracted_t:.1f}x in this run)."
        )
        say()
        say(
            "Beyond one machine / one region: (1) rows of a matrix are independent, so origins "
            "can be split across processes or worker machines sharing the same `.roads.npz`; "
            "(2) contraction hierarchies with bucket many-to-many queries (OSRM's `table`) cut "
            "query time by 100-1000x after minutes of preprocessing; (3) for countries or "
            "continents, or for turn restrictions and traffic, use the OSRM/Valhalla adapters "
            "behind the same `TravelTimeProvider`; (4) partition by depot: each depot's service "
            "area is its own small extract and cache."
        )
    return "\n".join(lines) + "\n"


def write_section(text: str) -> None:
    """Replace (or append) our section of docs/benchmarks.md, leaving other sections alone."""
    existing = DOC.read_text() if DOC.exists() else "# Benchmarks\n\n"
    start = existing.find(SECTION + "\n")
    if start < 0:
        updated = existing.rstrip("\n") + "\n\n" + text
    else:
        end = existing.find("\n## ", start + len(SECTION))
        tail = existing[end + 1 :] if end >= 0 else ""
        updated = existing[:start] + text + ("\n" + tail if tail else "")
    DOC.parent.mkdir(parents=True, exist_ok=True)
    DOC.write_text(updated)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--extract", default=str(default_extract()), help="OSM extract (.osm.pbf)")
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 1000])
    parser.add_argument(
        "--profiles",
        type=Profile,
        nargs="+",
        default=[Profile.VAN, Profile.BICYCLE, Profile.WALKING],
    )
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--pairs", type=int, default=100, help="pairs for path/matrix agreement")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--write", action="store_true", help=f"update {DOC.relative_to(ROOT)}")
    args = parser.parse_args(argv)
    text = run(args)
    if args.write:
        write_section(text)
        print(f"wrote {DOC}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
