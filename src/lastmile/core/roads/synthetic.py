"""Synthetic cities written as real OpenStreetMap PBF, for tests and benchmarks.

The only real extracts a registry offers are tiny, and a city-sized one is hundreds of
megabytes we cannot commit; so tests and ``make bench-roads`` generate their cities. The
result is an ordinary ``.osm.pbf`` read by the same code as any real extract:

* a street grid about :data:`SPACING_M` apart, every node jittered, ``size`` x ``size``
  intersections;
* a road hierarchy: every 10th street is ``secondary``, every 30th ``primary``, the rest
  ``residential``; ways run from one main road to the next;
* one-way streets: every 4th residential street, alternating direction;
* parks: blocks whose inner streets are footways (walkable, not drivable);
* a river across the city (a ``waterway=river`` line) that only main roads cross, on
  bridges;
* turn-restriction relations (``no_left_turn``, ``only_straight_on``) at some crossings of
  main roads, each with ``from``/``via``/``to`` members as OSM defines them.

Deterministic for a given ``seed``. Coordinates start at :data:`ORIGIN` (a plain spot in
Central Europe); nothing here is real map data.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import osmium

SPACING_M = 80.0
JITTER_M = 12.0
ORIGIN = (9.0, 47.0)
"""South-west corner (lon, lat)."""
METRES_PER_DEGREE = 111_320.0


@dataclass(frozen=True)
class Restriction:
    """One turn restriction written to the city: ``from`` way, ``via`` node, ``to`` way."""

    kind: str
    from_way: int
    via_node: int
    to_way: int


@dataclass(frozen=True)
class CityStats:
    """What was written (for the CLI and the benchmark report)."""

    nodes: int
    ways: int
    restrictions: list[Restriction]


def _street_class(index: int) -> str:
    if index % 30 == 0:
        return "primary"
    if index % 10 == 0:
        return "secondary"
    return "residential"


def generate_city(
    path: Path,
    size: int,
    *,
    seed: int = 1,
    restrictions: bool = True,
    river: bool = True,
    parks: bool = True,
) -> CityStats:
    """Write a ``size`` x ``size`` synthetic city to ``path`` (``.osm.pbf``)."""
    if size < 4:
        raise ValueError("a city needs at least 4 x 4 intersections")
    rng = np.random.default_rng(seed)
    lon0, lat0 = ORIGIN
    m_per_lon = METRES_PER_DEGREE * math.cos(math.radians(lat0))
    rows = np.arange(size)
    y = rows[:, None] * SPACING_M + rng.uniform(-JITTER_M, JITTER_M, (size, size))
    x = rows[None, :] * SPACING_M + rng.uniform(-JITTER_M, JITTER_M, (size, size))
    lat = lat0 + y / METRES_PER_DEGREE
    lon = lon0 + x / m_per_lon

    def node_id(r: int, c: int) -> int:
        return 1 + r * size + c

    river_row = size // 2 if river and size >= 8 else -1
    """The river flows between rows ``river_row`` and ``river_row + 1``."""

    def in_park(r: int, c: int) -> bool:
        """Streets strictly inside a park block (8 x 8 intersections every 40)."""
        if not parks or size < 20:
            return False
        return 3 < r % 40 < 11 and 23 < c % 40 < 31

    path.unlink(missing_ok=True)
    writer = osmium.SimpleWriter(str(path))
    way_id = 0
    written: list[Restriction] = []
    try:
        for r in range(size):
            for c in range(size):
                writer.add_node(
                    osmium.osm.mutable.Node(
                        id=node_id(r, c), location=(float(lon[r, c]), float(lat[r, c]))
                    )
                )
        # nodes of the non-road features (a PBF holds all nodes before any way)
        next_node = size * size + 1
        river_nodes: list[int] = []
        if river_row >= 0:
            river_lat = lat0 + (river_row + 0.5) * SPACING_M / METRES_PER_DEGREE
            for c in range(size):
                writer.add_node(
                    osmium.osm.mutable.Node(
                        id=next_node, location=(lon0 + c * SPACING_M / m_per_lon, river_lat)
                    )
                )
                river_nodes.append(next_node)
                next_node += 1
        ends: dict[tuple[str, int, int], int] = {}
        """(axis, line, node id where a way ends) -> way id, for the restrictions."""
        starts: dict[tuple[str, int, int], int] = {}
        for axis in ("row", "col"):
            for line in range(size):
                kind = _street_class(line)
                oneway = kind == "residential" and line % 4 == 1
                reverse = oneway and line % 8 == 5
                breaks = [i for i in range(size) if i % 10 == 0 or i == size - 1]
                for a, b in itertools.pairwise(breaks):
                    run = [(line, i) if axis == "row" else (i, line) for i in range(a, b + 1)]
                    for nodes, tags in _split(run, axis, kind, river_row, in_park):
                        way_id += 1
                        ordered = list(reversed(nodes)) if reverse else nodes
                        if oneway and tags["highway"] == kind:
                            tags["oneway"] = "yes"
                        tags["name"] = f"{'Row' if axis == 'row' else 'Column'} {line} street"
                        writer.add_way(
                            osmium.osm.mutable.Way(
                                id=way_id, nodes=[node_id(r, c) for r, c in ordered], tags=tags
                            )
                        )
                        ends[(axis, line, node_id(*nodes[-1]))] = way_id
                        starts[(axis, line, node_id(*nodes[0]))] = way_id
        if river_nodes:
            way_id += 1
            writer.add_way(
                osmium.osm.mutable.Way(
                    id=way_id, nodes=river_nodes, tags={"waterway": "river", "name": "River"}
                )
            )
        if restrictions:
            for r in range(10, size - 1, 30):
                for c in range(10, size - 1, 30):
                    via = node_id(r, c)
                    from_way = ends.get(("row", r, via))
                    to_way = starts.get(("col", c, via))
                    straight = starts.get(("row", r, via))
                    if from_way is None:
                        continue
                    if (r // 30 + c // 30) % 2 == 0 and to_way is not None:
                        written.append(Restriction("no_left_turn", from_way, via, to_way))
                    elif straight is not None:
                        written.append(Restriction("only_straight_on", from_way, via, straight))
            for i, restriction in enumerate(written, start=1):
                writer.add_relation(
                    osmium.osm.mutable.Relation(
                        id=i,
                        members=[
                            ("w", restriction.from_way, "from"),
                            ("n", restriction.via_node, "via"),
                            ("w", restriction.to_way, "to"),
                        ],
                        tags={"type": "restriction", "restriction": restriction.kind},
                    )
                )
    finally:
        writer.close()
    return CityStats(nodes=size * size, ways=way_id, restrictions=written)


def _split(
    nodes: list[tuple[int, int]],
    axis: str,
    kind: str,
    river_row: int,
    in_park: Callable[[int, int], bool],
) -> list[tuple[list[tuple[int, int]], dict[str, str]]]:
    """Cut a run of grid nodes where it crosses the river or enters a park.

    Columns cross the river only if they are main roads (as a bridge way); residential
    columns stop at both banks. Inside a park a residential street becomes a footway.
    """
    result: list[tuple[list[tuple[int, int]], dict[str, str]]] = []
    current: list[tuple[int, int]] = []
    current_tags = {"highway": kind}

    def flush() -> None:
        if len(current) >= 2:
            result.append((list(current), dict(current_tags)))

    for i, (r, c) in enumerate(nodes):
        if i == 0:
            current = [(r, c)]
            continue
        pr, pc = nodes[i - 1]
        crosses = axis == "col" and river_row >= 0 and min(pr, r) == river_row
        park_here = kind == "residential" and in_park(r, c) and in_park(pr, pc)
        tags = {"highway": "footway"} if park_here else {"highway": kind}
        if crosses:
            flush()
            if kind != "residential":
                result.append(
                    ([(pr, pc), (r, c)], {"highway": kind, "bridge": "yes", "layer": "1"})
                )
            current = [(r, c)]
            current_tags = tags
            continue
        if tags != current_tags:
            flush()
            current = [(pr, pc)]
            current_tags = tags
        current.append((r, c))
    flush()
    return result
