"""``lastmile roads``: build the offline road graph of an OSM extract and compute matrices."""

import csv
import json
import math
import os
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from lastmile.core.errors import FieldIssue, InputError, LastmileError
from lastmile.core.model import Location, Profile
from lastmile.core.roads import RoadNetwork, RoadProvider, default_extract
from lastmile.core.roads.build import ProgressCallback, cache_path_for
from lastmile.core.roads.engine import DEFAULT_MAX_SNAP_M

ATTRIBUTION = "© OpenStreetMap contributors (ODbL 1.0)"

app = typer.Typer(
    help="Offline road engine: build a road graph from an OpenStreetMap extract "
    "(.osm.pbf) and compute travel-time/distance matrices on it.",
    no_args_is_help=True,
)
console = Console()
err_console = Console(stderr=True)

ExtractOption = Annotated[
    Path | None,
    typer.Option(
        "--roads",
        help="OSM extract (.osm.pbf) or its .roads.npz cache. Default: the bundled "
        "Liechtenstein extract.",
        dir_okay=False,
    ),
]
CacheOption = Annotated[
    Path | None,
    typer.Option(
        "--cache", help="Where the graph cache lives. Default: next to the extract.", dir_okay=False
    ),
]


@contextmanager
def _progress(enabled: bool = True) -> Iterator[ProgressCallback]:
    """A Rich progress bar fed by the core's ``on_progress(fraction, message)`` callback."""
    with Progress(
        TextColumn("{task.description:<40}"),
        BarColumn(),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
        disable=not enabled,
    ) as progress:
        task = progress.add_task("loading", total=1.0)

        def report(fraction: float, message: str) -> None:
            progress.update(task, completed=fraction, description=message)

        yield report


def _fail(message: str) -> typer.Exit:
    err_console.print(f"[red]error:[/red] {message}", highlight=False, soft_wrap=True)
    return typer.Exit(code=1)


@app.command("build")
def build(
    extract: Annotated[
        Path, typer.Argument(help="OpenStreetMap extract, .osm.pbf.", dir_okay=False)
    ],
    profile: Annotated[
        list[Profile] | None,
        typer.Option("--profile", "-p", help="Profile to prepare (repeatable). Default: all."),
    ] = None,
    cache: CacheOption = None,
    rebuild: Annotated[
        bool, typer.Option("--rebuild", help="Rebuild even if the cache is fresh.")
    ] = False,
) -> None:
    """Build (or refresh) the road graph cache of an extract and print its size."""
    if not extract.is_file():
        raise _fail(f"{extract}: no such file")
    started = time.perf_counter()
    try:
        with _progress() as report:
            network = RoadNetwork.load(
                extract, profiles=profile, cache=cache, rebuild=rebuild, on_progress=report
            )
    except Exception as exc:  # osmium raises RuntimeError on a broken file
        raise _fail(f"{extract}: cannot build a road graph: {exc}") from exc
    elapsed = time.perf_counter() - started
    graph = network.graph
    table = Table(title=f"road graph {graph.name}")
    table.add_column("profile")
    table.add_column("nodes", justify="right")
    table.add_column("edges", justify="right")
    table.add_column("segments", justify="right")
    for prof, prepared in graph.profiles.items():
        table.add_row(
            prof.value,
            f"{prepared.node_count:,}",
            f"{prepared.edge_count:,}",
            f"{len(prepared.chain):,}",
        )
    console.print(table)
    target = cache or cache_path_for(extract)
    verb = "loaded from cache in" if network.from_cache else "built in"
    console.print(
        f"{graph.node_count:,} OSM nodes, {graph.segment_count:,} road segments; "
        f"{verb} {elapsed:.2f} s",
        highlight=False,
    )
    if target.exists():
        console.print(f"cache: {target}", highlight=False, soft_wrap=True)
    else:
        console.print(f"cache: not written ({target.parent} is not writable)", highlight=False)
    console.print(f"Map data {ATTRIBUTION}", highlight=False)


def read_points_csv(path: Path) -> list[Location]:
    """Points from a CSV with ``lon`` and ``lat`` columns (other columns are ignored).

    Raises :class:`InputError` naming every bad row and column (rows are 1-based data rows).
    """
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            header = [name.strip().lower() for name in reader.fieldnames or []]
            missing = [c for c in ("lon", "lat") if c not in header]
            if missing:
                issue = FieldIssue(None, None, None, f"missing column(s) {', '.join(missing)}")
                raise InputError(issues=[issue], source=str(path))
            reader.fieldnames = header
            points: list[Location] = []
            issues: list[FieldIssue] = []
            for row_number, row in enumerate(reader, start=1):
                values: dict[str, float] = {}
                for column, bound in (("lon", 180.0), ("lat", 90.0)):
                    raw = (row.get(column) or "").strip()
                    try:
                        value = float(raw)
                    except ValueError:
                        issues.append(FieldIssue(row_number, column, raw, "not a number"))
                        continue
                    if not math.isfinite(value) or abs(value) > bound:
                        issues.append(
                            FieldIssue(row_number, column, raw, f"outside -{bound:g}..{bound:g}")
                        )
                        continue
                    values[column] = value
                if len(values) == 2:
                    points.append(Location(values["lon"], values["lat"]))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise InputError(issues=[FieldIssue(None, None, None, str(exc))], source=str(path)) from exc
    if issues:
        raise InputError(issues=issues, source=str(path))
    if not points:
        raise InputError(issues=[FieldIssue(None, None, None, "no points")], source=str(path))
    return points


def _write_json_atomically(path: Path, payload: object) -> None:
    """Write ``payload`` so that ``path`` holds either the old file or the complete new one."""
    fd, tmp = tempfile.mkstemp(prefix=path.name, suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(payload, handle, separators=(",", ":"))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@app.command("matrix")
def matrix(
    points: Annotated[
        Path, typer.Argument(help="CSV with lon,lat columns (WGS84 degrees).", dir_okay=False)
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="Where to write the JSON matrix.")],
    roads: ExtractOption = None,
    profile: Annotated[Profile, typer.Option("--profile", "-p", help="Vehicle profile.")] = (
        Profile.VAN
    ),
    cache: CacheOption = None,
    max_snap_m: Annotated[
        float,
        typer.Option("--max-snap-m", help="Warn about points further than this from a road."),
    ] = DEFAULT_MAX_SNAP_M,
) -> None:
    """Travel durations (s) and distances (m) between all points, written as JSON.

    The JSON has ``durations_s`` and ``distances_m`` (row = from, integers),
    ``snap_distance_m`` (metres from each point to its road) and ``attribution``.
    """
    try:
        locations = read_points_csv(points)
    except InputError as exc:
        raise _fail(exc.message) from exc
    extract = roads or default_extract()
    if not extract.is_file():
        raise _fail(f"{extract}: no such file")
    if not out.parent.is_dir():
        raise _fail(f"{out.parent}: no such directory for --out")
    try:
        with _progress() as report:
            network = RoadNetwork.load(extract, profiles=[profile], cache=cache, on_progress=report)
    except Exception as exc:
        raise _fail(f"{extract}: cannot load a road graph: {exc}") from exc
    provider = RoadProvider(network, max_snap_m=max_snap_m)
    started = time.perf_counter()
    try:
        result, snaps = provider.matrix_and_snaps(locations, profile)
    except LastmileError as exc:
        raise _fail(exc.message) from exc
    elapsed = time.perf_counter() - started
    far = [i for i, s in enumerate(snaps, start=1) if not s.on_road]
    _write_json_atomically(
        out,
        {
            "durations_s": result.durations_s.tolist(),
            "distances_m": result.distances_m.tolist(),
            "snap_distance_m": [round(s.distance_m, 1) for s in snaps],
            "attribution": ATTRIBUTION,
        },
    )
    n = len(locations)
    console.print(
        f"{n}x{n} {profile.value} matrix on {network.name} in {elapsed:.3f} s -> {out}",
        highlight=False,
        soft_wrap=True,
    )
    if far:
        shown = ", ".join(str(i) for i in far[:20]) + (" ..." if len(far) > 20 else "")
        err_console.print(
            f"[yellow]warning:[/yellow] {len(far)} point(s) more than {max_snap_m:g} m from "
            f"any {profile.value} road (rows {shown}); their access leg is included",
            highlight=False,
        )
    console.print(f"Map data {ATTRIBUTION}", highlight=False)
