"""OSM extract -> routable road graph, and the ``*.roads.npz`` cache next to the extract.

Building happens in two stages:

1. :func:`parse_extract` reads the ``.osm.pbf`` once with pyosmium and keeps every
   ``highway`` way some profile may use, as *segments* between consecutive OSM nodes with
   their haversine length and, per profile, a forward and a backward speed (0 = closed).
   Node coordinates are kept, so paths have the real geometry.
2. :func:`prepare_profile` turns the segments into the graph one profile routes on: only
   the largest strongly connected component (so every snapped pair is mutually reachable),
   with chains of degree-2 nodes contracted into single edges. On Liechtenstein this cuts
   the drivable graph from ~26k to ~6k nodes, which is what makes a 1000x1000 matrix
   (1000 Dijkstra runs) fit in about a second. Each contracted edge remembers the chain of
   original segments it stands for, so geometry and snapping stay exact.

Both stages are written to one ``.npz`` file (numpy arrays only, no pickle) together with
the format version, a fingerprint of the speed/access rules and the extract's size and
modification time; a cache that does not match is rebuilt.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt
import osmium
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components

from lastmile.core.geo.distance import EARTH_RADIUS_M
from lastmile.core.model import Profile
from lastmile.core.roads.compact import pack, unpack
from lastmile.core.roads.contraction import CACHED_ARRAYS, build_hierarchy, with_weights
from lastmile.core.roads.hierarchy import Hierarchy
from lastmile.core.roads.profiles import PROFILES, node_blocks, rules_fingerprint, way_speeds
from lastmile.core.roads.restrictions import TurnRestriction, apply_restrictions, read_restriction

CACHE_FORMAT_VERSION = 4
"""Bump when the arrays in the cache change meaning."""

CACHE_SUFFIX = ".roads.npz"

TIME_SCALE = 10
"""Integer time units per second (deciseconds) for edge weights."""
DIST_SCALE = 100
"""Integer distance units per metre (centimetres) for edge weights."""

DIST_BITS = 29
"""Low bits of a packed weight hold centimetres: exact up to 5,368 km per path."""
DIST_MASK = (1 << DIST_BITS) - 1

ProgressCallback = Callable[[float, str], None]
"""``on_progress(fraction, message)``: fraction in 0..1, a short human message."""

Int64Array = npt.NDArray[np.int64]
Float64Array = npt.NDArray[np.float64]


def _no_progress(fraction: float, message: str) -> None:
    """Default progress sink."""


@dataclass(frozen=True)
class ProfileGraph:
    """The contracted, strongly connected graph one profile routes on.

    Node ids here are *contracted* ids ``0..K-1``; ``kept_nodes`` maps them to full node ids.
    Edge ``c`` goes ``edge_from[c] -> edge_to[c]`` and stands for the chain of original
    directed segments ``chain[chain_ptr[c]:chain_ptr[c + 1]]`` (ids ``2 * segment + dir``,
    ``dir`` 0 = along the OSM way, 1 = against it). Weights are integers: time in
    deciseconds, distance in centimetres, each summed in floating point over the chain and
    rounded once (:data:`TIME_SCALE`, :data:`DIST_SCALE`), so matrices and paths agree to
    centimetres.
    """

    profile: Profile
    kept_nodes: Int64Array
    edge_from: Int64Array
    edge_to: Int64Array
    edge_time: Int64Array
    edge_dist: Int64Array
    chain_ptr: Int64Array
    chain: Int64Array

    @property
    def node_count(self) -> int:
        return len(self.kept_nodes)

    @property
    def edge_count(self) -> int:
        return len(self.edge_from)


@dataclass(frozen=True)
class RoadGraph:
    """Every usable road segment of an extract, plus the prepared per-profile graphs.

    ``speed_fwd[p, s]`` / ``speed_bwd[p, s]`` are m/s for profile ``PROFILES[p]`` along /
    against segment ``s`` (``seg_u -> seg_v``); 0 means closed in that direction.
    """

    name: str
    node_lon: Float64Array
    node_lat: Float64Array
    seg_u: Int64Array
    seg_v: Int64Array
    seg_len_m: Float64Array
    speed_fwd: npt.NDArray[np.float32]
    speed_bwd: npt.NDArray[np.float32]
    seg_origin: Int64Array
    """Segment ``s`` is a copy of ``seg_origin[s]`` made for a turn restriction (itself if
    it is an original); snapping uses originals and reaches their copies through this."""
    profiles: dict[Profile, ProfileGraph] = field(default_factory=dict)
    hierarchies: dict[Profile, Hierarchy] = field(default_factory=dict)

    @property
    def node_count(self) -> int:
        return len(self.node_lon)

    @property
    def segment_count(self) -> int:
        return len(self.seg_u)

    def directed_edges(self, profile: Profile) -> tuple[Int64Array, Int64Array, Int64Array]:
        """Open directed segments of ``profile``: (ids ``2*s+dir``, from nodes, to nodes)."""
        p = PROFILES.index(profile)
        fwd = np.flatnonzero(self.speed_fwd[p] > 0)
        bwd = np.flatnonzero(self.speed_bwd[p] > 0)
        ids = np.concatenate([2 * fwd, 2 * bwd + 1]).astype(np.int64)
        src = np.concatenate([self.seg_u[fwd], self.seg_v[bwd]]).astype(np.int64)
        dst = np.concatenate([self.seg_v[fwd], self.seg_u[bwd]]).astype(np.int64)
        return ids, src, dst

    def directed_time_s(self, profile: Profile, ids: Int64Array) -> Float64Array:
        """Travel time (s) of directed segments ``ids`` for ``profile``."""
        p = PROFILES.index(profile)
        seg = ids // 2
        speed = np.where(ids % 2 == 0, self.speed_fwd[p, seg], self.speed_bwd[p, seg])
        result: Float64Array = self.seg_len_m[seg] / speed.astype(np.float64)
        return result


def cache_path_for(extract: Path) -> Path:
    """``x/liechtenstein.osm.pbf`` -> ``x/liechtenstein.osm.roads.npz``."""
    name = extract.name
    stem = name[: -len(".pbf")] if name.endswith(".pbf") else extract.stem
    return extract.with_name(stem + CACHE_SUFFIX)


def extract_name(path: Path) -> str:
    """``liechtenstein.osm.pbf`` / ``liechtenstein.osm.roads.npz`` -> ``liechtenstein``."""
    name = path.name
    for suffix in (CACHE_SUFFIX, ".pbf", ".osm", ".roads"):
        if name.endswith(suffix):
            name = name[: -len(suffix)]
    return name


def segment_lengths_m(
    lon_a: Float64Array, lat_a: Float64Array, lon_b: Float64Array, lat_b: Float64Array
) -> Float64Array:
    """Vectorised haversine (same formula and radius as :func:`lastmile.core.geo.haversine_m`)."""
    la, lb = np.radians(lat_a), np.radians(lat_b)
    dlat = lb - la
    dlon = np.radians(lon_b - lon_a)
    h = np.sin(dlat / 2) ** 2 + np.cos(la) * np.cos(lb) * np.sin(dlon / 2) ** 2
    result: Float64Array = 2 * EARTH_RADIUS_M * np.arcsin(np.minimum(1.0, np.sqrt(h)))
    return result


def parse_extract(path: Path, on_progress: ProgressCallback = _no_progress) -> RoadGraph:
    """Read the ``highway`` ways of an extract into segments with per-profile speeds.

    Ways that reference nodes missing from the extract (cut at its border) are split at the
    gap. Barrier nodes (``barrier=bollard``, ...) close the segments touching them for the
    profiles they stop. Turn restrictions (``type=restriction`` relations via a node) are
    built in by splitting their via node (:mod:`lastmile.core.roads.restrictions`).
    """
    on_progress(0.0, f"reading {path.name}")
    node_index: dict[int, int] = {}
    lons: list[float] = []
    lats: list[float] = []
    seg_u: list[int] = []
    seg_v: list[int] = []
    way_rules: list[list[float]] = []
    way_counts: list[int] = []
    barriers: dict[int, list[bool]] = {}
    restrictions: list[TurnRestriction] = []
    way_segments: dict[int, tuple[int, int]] = {}
    rule_rows: dict[tuple[str | None, ...], list[float]] = {}  # see way_speeds
    processor = (
        osmium.FileProcessor(str(path), osmium.osm.NODE | osmium.osm.WAY | osmium.osm.RELATION)
        .with_locations()
        .with_filter(osmium.filter.KeyFilter("highway", "barrier", "type"))
    )
    ways = 0
    for obj in processor:
        if isinstance(obj, osmium.osm.Node):
            node_tags = {tag.k: tag.v for tag in obj.tags}
            blocks = [node_blocks(node_tags.get, profile) for profile in PROFILES]
            if any(blocks):
                barriers[obj.id] = blocks
            continue
        if isinstance(obj, osmium.osm.Relation):
            restriction = read_restriction(
                {tag.k: tag.v for tag in obj.tags},
                [(m.type, m.ref, m.role) for m in obj.members],
            )
            if restriction is not None:
                restrictions.append(restriction)
            continue
        if not isinstance(obj, osmium.osm.Way):
            continue
        row = way_speeds({tag.k: tag.v for tag in obj.tags}, rule_rows)
        if not any(row):
            continue
        ways += 1
        if ways % 5000 == 0:
            on_progress(0.05, f"read {ways:,} ways")
        count = 0
        previous = -1
        for node in obj.nodes:
            location = node.location
            if not location.valid():
                previous = -1
                continue
            index = node_index.get(node.ref)
            if index is None:
                index = len(lons)
                node_index[node.ref] = index
                lons.append(location.lon)
                lats.append(location.lat)
            if previous >= 0 and previous != index:
                seg_u.append(previous)
                seg_v.append(index)
                count += 1
            previous = index
        if count:
            way_segments[obj.id] = (len(seg_u) - count, count)
            way_rules.append(row)
            way_counts.append(count)
    on_progress(0.4, f"read {ways:,} road ways, {len(seg_u):,} segments")
    node_lon = np.array(lons, dtype=np.float64)
    node_lat = np.array(lats, dtype=np.float64)
    u = np.array(seg_u, dtype=np.int64)
    v = np.array(seg_v, dtype=np.int64)
    per_way = np.array(way_rules, dtype=np.float32).reshape(-1, 2 * len(PROFILES))
    per_seg = np.repeat(per_way, np.array(way_counts, dtype=np.int64), axis=0)
    blocked = np.zeros((len(lons), len(PROFILES)), dtype=bool)
    for osm_id, blocks in barriers.items():
        index = node_index.get(osm_id)
        if index is not None:
            blocked[index] = blocks
    closed = blocked[u] | blocked[v]  # segment x profile
    per_seg[np.concatenate([closed, closed], axis=1)] = 0.0
    if restrictions:
        on_progress(0.4, f"applying {len(restrictions):,} turn restrictions")
    split = apply_restrictions(
        node_lon, node_lat, u, v, per_seg, restrictions, way_segments, node_index
    )
    node_lon, node_lat, u, v = split.node_lon, split.node_lat, split.seg_u, split.seg_v
    return RoadGraph(
        name=extract_name(path),
        node_lon=node_lon,
        node_lat=node_lat,
        seg_u=u,
        seg_v=v,
        seg_len_m=segment_lengths_m(node_lon[u], node_lat[u], node_lon[v], node_lat[v]),
        speed_fwd=np.ascontiguousarray(split.speeds[:, : len(PROFILES)].T),
        speed_bwd=np.ascontiguousarray(split.speeds[:, len(PROFILES) :].T),
        seg_origin=split.seg_origin,
    )


def _largest_scc_edges(node_count: int, src: Int64Array, dst: Int64Array) -> npt.NDArray[np.bool_]:
    """Mask of the edges inside the largest strongly connected component."""
    graph = csr_matrix(
        (np.ones(len(src), dtype=np.int8), (src, dst)), shape=(node_count, node_count)
    )
    _, labels = connected_components(graph, directed=True, connection="strong")
    sizes = np.bincount(labels[np.concatenate([src, dst])], minlength=labels.max() + 1)
    largest = int(np.argmax(sizes))
    mask: npt.NDArray[np.bool_] = (labels[src] == largest) & (labels[dst] == largest)
    return mask


def _contractible(node_count: int, src: Int64Array, dst: Int64Array) -> npt.NDArray[np.bool_]:
    """Nodes in the middle of a plain chain: ``a->x->b`` or ``a<->x<->b`` with ``a != b``.

    Anything else (junctions, dead ends, changes between one- and two-way, parallel edges)
    stays a graph node.
    """
    outdeg = np.bincount(src, minlength=node_count)
    indeg = np.bincount(dst, minlength=node_count)
    by_src = np.lexsort((dst, src))
    by_dst = np.lexsort((src, dst))
    out_start = np.concatenate([[0], np.cumsum(outdeg)[:-1]])
    in_start = np.concatenate([[0], np.cumsum(indeg)[:-1]])
    out_sorted = dst[by_src]
    in_sorted = src[by_dst]
    nodes = np.arange(node_count)
    result = np.zeros(node_count, dtype=bool)

    one = nodes[(indeg == 1) & (outdeg == 1)]
    result[one] = out_sorted[out_start[one]] != in_sorted[in_start[one]]

    two = nodes[(indeg == 2) & (outdeg == 2)]
    o1, o2 = out_sorted[out_start[two]], out_sorted[out_start[two] + 1]
    i1, i2 = in_sorted[in_start[two]], in_sorted[in_start[two] + 1]
    result[two] = (o1 != o2) & (o1 == i1) & (o2 == i2)
    return result


def prepare_profile(graph: RoadGraph, profile: Profile) -> ProfileGraph:
    """Largest strongly connected component of ``profile``, degree-2 chains contracted."""
    ids, src, dst = graph.directed_edges(profile)
    if len(ids) == 0:
        empty = np.zeros(0, dtype=np.int64)
        return ProfileGraph(
            profile, empty, empty, empty, empty, empty, np.zeros(1, np.int64), empty
        )
    keep = _largest_scc_edges(graph.node_count, src, dst)
    ids, src, dst = ids[keep], src[keep], dst[keep]
    order = np.lexsort((dst, src))
    ids, src, dst = ids[order], src[order], dst[order]
    n = graph.node_count
    contractible = _contractible(n, src, dst)
    in_graph = np.zeros(n, dtype=bool)
    in_graph[src] = True
    kept = in_graph & ~contractible
    if not kept.any():  # the whole component is one ring: cut it anywhere
        kept[src[0]] = True
    out_ptr = np.concatenate([[0], np.cumsum(np.bincount(src, minlength=n))]).tolist()
    dst_list = dst.tolist()
    contractible_list = contractible.tolist()
    kept_list = kept.tolist()

    chain: list[int] = []
    chain_ptr = [0]
    edge_from: list[int] = []
    edge_to: list[int] = []
    for s in np.flatnonzero(kept).tolist():
        for first in range(out_ptr[s], out_ptr[s + 1]):
            chain.append(first)
            previous, x = s, dst_list[first]
            while contractible_list[x] and not kept_list[x]:
                lo, hi = out_ptr[x], out_ptr[x + 1]
                nxt = lo if hi - lo == 1 or dst_list[lo] != previous else lo + 1
                chain.append(nxt)
                previous, x = x, dst_list[nxt]
            chain_ptr.append(len(chain))
            edge_from.append(s)
            edge_to.append(x)

    local = np.array(chain, dtype=np.int64)
    ptr = np.array(chain_ptr, dtype=np.int64)
    time_s = graph.directed_time_s(profile, ids[local])
    length_m = graph.seg_len_m[ids[local] // 2]
    starts = ptr[:-1]
    kept_nodes = np.flatnonzero(kept).astype(np.int64)
    renumber = np.full(n, -1, dtype=np.int64)
    renumber[kept_nodes] = np.arange(len(kept_nodes))
    return ProfileGraph(
        profile=profile,
        kept_nodes=kept_nodes,
        edge_from=renumber[np.array(edge_from, dtype=np.int64)],
        edge_to=renumber[np.array(edge_to, dtype=np.int64)],
        edge_time=np.rint(np.add.reduceat(time_s, starts) * TIME_SCALE).astype(np.int64),
        edge_dist=np.rint(np.add.reduceat(length_m, starts) * DIST_SCALE).astype(np.int64),
        chain_ptr=ptr,
        chain=ids[local],
    )


def pack_weight(time: Int64Array, dist: Int64Array) -> Int64Array:
    """One integer per (deciseconds, centimetres): ordered by time, then by distance.

    Sums of packed weights are packed sums (as long as the centimetres of a path stay
    below 2**29), so a shortest path on them is the fastest path and, among equally fast
    ones, the shortest; both halves decode from the one total.
    """
    packed: Int64Array = (np.maximum(time, 0).astype(np.int64) << DIST_BITS) + np.clip(
        dist, 0, DIST_MASK
    ).astype(np.int64)
    return packed


@dataclass(frozen=True)
class BaseArcs:
    """A profile's routing graph: contracted edges without loops, the best of parallel ones.

    ``edge[i]`` is the contracted edge (of :class:`ProfileGraph`) arc ``i`` stands for.
    """

    tail: Int64Array
    head: Int64Array
    weight: Int64Array
    edge: Int64Array


def base_arcs(pg: ProfileGraph) -> BaseArcs:
    """The arcs every search of ``pg``'s profile runs on (the hierarchy is built on them)."""
    w = pack_weight(pg.edge_time, pg.edge_dist)
    keep = pg.edge_from != pg.edge_to
    rows, cols, w = pg.edge_from[keep], pg.edge_to[keep], w[keep]
    ids = np.flatnonzero(keep).astype(np.int64)
    order = np.lexsort((w, cols, rows))
    rows, cols, w, ids = rows[order], cols[order], w[order], ids[order]
    first = np.ones(len(rows), dtype=bool)
    first[1:] = (rows[1:] != rows[:-1]) | (cols[1:] != cols[:-1])
    return BaseArcs(rows[first], cols[first], w[first], ids[first])


def prepare_hierarchy(pg: ProfileGraph) -> Hierarchy:
    """The contraction hierarchy of ``pg``'s base arcs (the slow step of a build)."""
    return build_hierarchy(pg.node_count, (arcs := base_arcs(pg)).tail, arcs.head, arcs.weight)


def build(
    extract: Path,
    profiles: Iterable[Profile] = PROFILES,
    on_progress: ProgressCallback = _no_progress,
) -> RoadGraph:
    """Parse ``extract`` and prepare the graphs of ``profiles`` (no cache involved)."""
    graph = parse_extract(extract, on_progress)
    wanted = list(dict.fromkeys(profiles))
    for i, profile in enumerate(wanted):
        on_progress(0.4 + 0.55 * i / max(1, len(wanted)), f"preparing {profile.value} graph")
        prepare(graph, profile)
    on_progress(0.95, "graph ready")
    return graph


# --- cache ------------------------------------------------------------------------------

_GRAPH_ARRAYS = (
    "node_lon",
    "node_lat",
    "seg_u",
    "seg_v",
    "seg_len_m",
    "speed_fwd",
    "speed_bwd",
    "seg_origin",
)
_PROFILE_ARRAYS = (
    "kept_nodes",
    "edge_from",
    "edge_to",
    "edge_time",
    "edge_dist",
    "chain_ptr",
    "chain",
)


@dataclass(frozen=True)
class SourceStamp:
    """What identifies the extract a cache was built from: cheap to check on every load."""

    size: int
    mtime_ns: int

    @classmethod
    def of(cls, path: Path) -> SourceStamp:
        stat = path.stat()
        return cls(size=stat.st_size, mtime_ns=stat.st_mtime_ns)


def write_cache(graph: RoadGraph, cache: Path, stamp: SourceStamp | None) -> None:
    """Write ``graph`` atomically (temp file + rename), so readers never see half a file."""
    arrays: dict[str, npt.NDArray[np.generic]] = {
        "format_version": np.array(CACHE_FORMAT_VERSION),
        "rules": np.array(rules_fingerprint()),
        "name": np.array(graph.name),
        "source_size": np.array(stamp.size if stamp else -1),
        "source_mtime_ns": np.array(stamp.mtime_ns if stamp else -1),
        "profiles": np.array([p.value for p in graph.profiles]),
    }
    for key in _GRAPH_ARRAYS:
        arrays[key] = getattr(graph, key)
    for profile, prepared in graph.profiles.items():
        for key in _PROFILE_ARRAYS:
            arrays[f"{profile.value}__{key}"] = getattr(prepared, key)
        for key in CACHED_ARRAYS:
            arrays[f"{profile.value}__ch_{key}"] = getattr(graph.hierarchies[profile], key)
    fd, tmp = tempfile.mkstemp(prefix=cache.name, suffix=".tmp", dir=cache.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            np.savez(handle, allow_pickle=False, **pack(arrays))
        os.chmod(tmp, 0o644)  # mkstemp makes it owner-only; a cache is no secret
        os.replace(tmp, cache)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def read_cache(cache: Path, stamp: SourceStamp | None) -> RoadGraph | None:
    """The cached graph, or ``None`` if it is missing, unreadable, old or stale.

    ``stamp`` is the extract's current size/mtime; ``None`` skips that check (a cache
    used on its own, without the extract next to it).
    """
    try:
        with np.load(cache, allow_pickle=False) as stored:
            if (
                int(stored["format_version"]) != CACHE_FORMAT_VERSION
                or str(stored["rules"]) != rules_fingerprint()
                or (
                    stamp is not None
                    and (stamp.size, stamp.mtime_ns)
                    != (int(stored["source_size"]), int(stored["source_mtime_ns"]))
                )
            ):
                return None
            data = unpack(stored)
        graph = RoadGraph(str(data["name"]), *(data[key] for key in _GRAPH_ARRAYS))
        for value in data["profiles"].tolist():
            profile = Profile(value)
            parts = (data[f"{value}__{key}"] for key in _PROFILE_ARRAYS)
            pg = graph.profiles[profile] = ProfileGraph(profile, *parts)
            ch = {key: data[f"{value}__ch_{key}"] for key in CACHED_ARRAYS}
            graph.hierarchies[profile] = with_weights(ch, base_arcs(pg).weight)
    except (OSError, ValueError, KeyError):
        return None
    return graph


def load_or_build(
    path: Path,
    *,
    profiles: Sequence[Profile] | None = None,
    cache: Path | None = None,
    rebuild: bool = False,
    on_progress: ProgressCallback = _no_progress,
) -> tuple[RoadGraph, bool]:
    """The graph of an extract (``.osm.pbf``) or of a cache file (``.roads.npz``).

    Uses the cache when it is fresh, otherwise builds and (best effort) writes it; a
    read-only directory only costs the rebuild next time. Returns ``(graph, from_cache)``.
    ``profiles`` (default: all) are prepared in the graph; a fresh cache lacking one of
    them is extended and rewritten.
    """
    wanted = list(PROFILES if profiles is None else profiles)
    if path.name.endswith(CACHE_SUFFIX):
        cache = path
        extract = path.with_name(path.name[: -len(CACHE_SUFFIX)] + ".pbf")
        if not extract.exists():
            graph = read_cache(path, None)
            if graph is None:
                raise FileNotFoundError(
                    f"{path}: not a usable road cache and no extract next to it"
                )
            _prepare_missing(graph, wanted, on_progress)
            return graph, True
    else:
        extract = path
        cache = cache or cache_path_for(path)
    if not extract.exists():
        raise FileNotFoundError(f"{extract}: no such OSM extract")
    stamp = SourceStamp.of(extract)
    graph = None if rebuild else read_cache(cache, stamp)
    if graph is not None:
        on_progress(0.5, f"loaded {cache.name}")
        if _prepare_missing(graph, wanted, on_progress):
            _try_write(graph, cache, stamp)
        on_progress(1.0, "done")
        return graph, True
    graph = build(extract, wanted, on_progress)
    _try_write(graph, cache, stamp)
    on_progress(1.0, "done")
    return graph, False


def _prepare_missing(
    graph: RoadGraph, wanted: Sequence[Profile], on_progress: ProgressCallback
) -> bool:
    """Prepare profiles the cache did not hold; ``True`` if any was added."""
    missing = [p for p in wanted if p not in graph.profiles]
    for profile in missing:
        on_progress(0.75, f"preparing {profile.value} graph")
        prepare(graph, profile)
    return bool(missing)


def prepare(graph: RoadGraph, profile: Profile) -> None:
    """Prepare ``profile``'s graph and its hierarchy (what the cache stores per profile)."""
    pg = prepare_profile(graph, profile)
    graph.profiles[profile] = pg
    graph.hierarchies[profile] = prepare_hierarchy(pg)


def _try_write(graph: RoadGraph, cache: Path, stamp: SourceStamp) -> None:
    """Write the cache if the directory allows it; the graph is usable either way."""
    with contextlib.suppress(OSError):
        write_cache(graph, cache, stamp)
