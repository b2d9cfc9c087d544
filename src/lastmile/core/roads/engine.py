"""The built-in road engine: snapping, many-to-many matrices and paths on an OSM graph.

How a query works
-----------------
1. **Snap.** Every location is projected onto the nearest *segment* (piece of road between
   two OSM nodes) of the profile's largest strongly connected component, found with a
   ``cKDTree`` over points sampled every :data:`SAMPLE_SPACING_M` along the segments. The
   gap between the location and its snapped point is an *access leg*: it is added to the
   distance, and to the duration at ``snap_speed_kmh`` (10 km/h; walking pace for
   ``walking``). Locations further than ``max_snap_m`` (250 m) from any road are still
   routed, but their :class:`Snap` says ``on_road=False`` so callers can warn.
2. **Query graph.** Each snapped point becomes a virtual node, joined to the two ends of
   the contracted edge it lies on (in the directions that edge allows), and to the next
   snapped point on the same edge, so two stops on one street are not routed around the
   block. Dead-end branches without a stop are pruned (a fastest path never enters them).
3. **Fastest paths.** One Dijkstra per origin (``scipy.sparse.csgraph.dijkstra`` with
   ``indices=``) on a single combined weight ``time_ds * 2**29 + dist_cm``. Because every
   sum stays below 2**53 the float64 sums are exact integers, so this is a lexicographic
   search: it minimises time and, among equally fast paths, distance. Decoding the two
   halves gives duration *and* the distance of that same fastest path, with no predecessor
   trees; :meth:`RoadProvider.path` runs the same search with predecessors, so its geometry
   has exactly the length of the matrix entry.

Unreachable pairs cannot happen: snapping only uses the largest strongly connected
component of the profile, where every node reaches every other. A non-finite result would
be a bug and raises ``RuntimeError`` rather than returning ``inf`` or a made-up number.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra
from scipy.spatial import cKDTree

from lastmile.core.errors import LastmileError
from lastmile.core.geo.distance import EARTH_RADIUS_M, haversine_m
from lastmile.core.model import Location, Profile, TravelMatrix
from lastmile.core.roads.build import (
    DIST_BITS,
    DIST_MASK,
    DIST_SCALE,
    TIME_SCALE,
    Float64Array,
    Int64Array,
    ProfileGraph,
    ProgressCallback,
    RoadGraph,
    base_arcs,
    load_or_build,
    pack_weight,
    prepare,
    segment_lengths_m,
)
from lastmile.core.roads.hierarchy import INF, Hierarchy, many_to_many, shortest_path
from lastmile.core.roads.profiles import TOP_SPEED_KMH
from lastmile.core.roads.samples import sample_segments

MAX_EXACT = float(1 << 53)
"""Above this float64 stops holding every integer: 2**24 ds, about 466 hours of travel."""

SAMPLE_SPACING_M = 20.0
"""Distance between the KD-tree sample points along segments (snapping search radius slack)."""

DEFAULT_MAX_SNAP_M = 250.0
DEFAULT_SNAP_SPEED_KMH = 10.0
CHUNK = 128
"""Origins per Dijkstra call: bounds memory at CHUNK x nodes float64."""

BoolArray = npt.NDArray[np.bool_]


class NoRoadsError(LastmileError):
    """The extract has no road this profile may use (e.g. a walking-only map for a van)."""

    code = "no_roads"


@dataclass(frozen=True)
class Snap:
    """Where a location joins the road network of one profile.

    ``segment`` is the road segment (between two OSM nodes) it snapped to and ``fraction``
    the position along it (0 at its first node, 1 at its last). ``distance_m`` is the
    straight access leg from ``location`` to ``snapped``; ``on_road`` is false when that
    leg is longer than the provider's ``max_snap_m`` (probably a wrong address).
    """

    location: Location
    snapped: Location
    distance_m: float
    segment: int
    fraction: float
    on_road: bool


@dataclass(frozen=True)
class _Piece:
    """Part of a contracted edge between two chain positions ``(j, t)``: the unit of geometry."""

    start_j: int
    start_t: float
    end_j: int
    end_t: float


class _ProfileIndex:
    """Per-profile structures derived from a :class:`ProfileGraph`, built once per network."""

    def __init__(self, graph: RoadGraph, pg: ProfileGraph, hierarchy: Hierarchy) -> None:
        self.graph = graph
        self.pg = pg
        self.hierarchy = hierarchy
        chain = pg.chain
        self.elem_time_s = graph.directed_time_s(pg.profile, chain)
        self.elem_len_m = graph.seg_len_m[chain // 2]
        sizes = np.diff(pg.chain_ptr)
        self.elem_edge = np.repeat(np.arange(pg.edge_count), sizes)
        starts = np.repeat(pg.chain_ptr[:-1], sizes)
        cum_t = np.cumsum(self.elem_time_s) - self.elem_time_s
        cum_l = np.cumsum(self.elem_len_m) - self.elem_len_m
        self.cum_time_s = cum_t - cum_t[starts] if len(chain) else cum_t
        self.cum_len_m = cum_l - cum_l[starts] if len(chain) else cum_l
        self.dseg_elem = np.full(2 * graph.segment_count, -1, dtype=np.int64)
        self.dseg_elem[chain] = np.arange(len(chain))

        # base graph: contracted edges, self-loops dropped, parallel edges reduced to the best
        arcs = base_arcs(pg)
        self.base_edge = arcs.edge
        self.base_rows, self.base_cols = arcs.tail, arcs.head
        self.base_w = np.maximum(arcs.weight, 1).astype(np.float64)  # scipy drops zeros
        self._core: tuple[BoolArray, Int64Array] | None = None

        # copies of segments (made for turn restrictions) are reached through their originals
        copies = np.argsort(graph.seg_origin, kind="stable")
        self.copies = copies
        self.copies_ptr = np.concatenate(
            [[0], np.cumsum(np.bincount(graph.seg_origin, minlength=graph.segment_count))]
        ).astype(np.int64)

        # snapping: sample points along every (original) segment this profile can use
        segments = np.unique(graph.seg_origin[chain // 2])
        self.lat0 = math.radians(float(np.mean(graph.node_lat))) if graph.node_count else 0.0
        ux, uy = self.project(
            graph.node_lon[graph.seg_u[segments]], graph.node_lat[graph.seg_u[segments]]
        )
        vx, vy = self.project(
            graph.node_lon[graph.seg_v[segments]], graph.node_lat[graph.seg_v[segments]]
        )
        points, self.sample_segment = sample_segments(ux, uy, vx, vy, segments, SAMPLE_SPACING_M)
        self.tree = cKDTree(points)

    @staticmethod
    def _combine(time: Int64Array, dist: Int64Array) -> Float64Array:
        """Pack (time, distance) into one exact float64 weight; at least 1 (scipy drops zeros)."""
        result: Float64Array = np.maximum(pack_weight(time, dist), 1).astype(np.float64)
        return result

    def project(self, lon: Float64Array, lat: Float64Array) -> tuple[Float64Array, Float64Array]:
        """Equirectangular metres around the extract's mean latitude (fine for a region)."""
        x = np.radians(lon) * EARTH_RADIUS_M * math.cos(self.lat0)
        y = np.radians(lat) * EARTH_RADIUS_M
        return x, y

    # -- positions along contracted edges ----------------------------------------------

    def position_time_len(
        self, j: Int64Array, t: Float64Array
    ) -> tuple[Float64Array, Float64Array]:
        """Time (s) and length (m) from the start of the contracted edge to position (j, t)."""
        return (
            self.cum_time_s[j] + t * self.elem_time_s[j],
            self.cum_len_m[j] + t * self.elem_len_m[j],
        )

    def point_at(self, j: int, t: float) -> Location:
        """The coordinates of chain position (j, t), interpolated along its segment."""
        d = int(self.pg.chain[j])
        seg, backwards = d // 2, d % 2 == 1
        a, b = int(self.graph.seg_u[seg]), int(self.graph.seg_v[seg])
        if backwards:
            a, b = b, a
        lon = self.graph.node_lon[a] + t * (self.graph.node_lon[b] - self.graph.node_lon[a])
        lat = self.graph.node_lat[a] + t * (self.graph.node_lat[b] - self.graph.node_lat[a])
        return Location(float(lon), float(lat))

    def piece_geometry(self, piece: _Piece) -> list[Location]:
        """Start point, the OSM nodes passed, end point."""
        points = [self.point_at(piece.start_j, piece.start_t)]
        points.extend(self.point_at(j, 1.0) for j in range(piece.start_j, piece.end_j))
        points.append(self.point_at(piece.end_j, piece.end_t))
        return points

    def edge_piece(self, c: int) -> _Piece:
        """The whole chain of contracted edge ``c``."""
        return _Piece(int(self.pg.chain_ptr[c]), 0.0, int(self.pg.chain_ptr[c + 1]) - 1, 1.0)

    # -- snapping ------------------------------------------------------------------------

    def snap(self, locations: Sequence[Location], max_snap_m: float) -> list[Snap]:
        """Nearest usable segment for each location (exact within ``max_snap_m``)."""
        if not locations:
            return []
        if self.tree.n == 0:
            raise NoRoadsError(
                f"{self.graph.name}: no roads usable by the {self.pg.profile.value} profile"
            )
        g = self.graph
        lon = np.array([p.lon for p in locations], dtype=np.float64)
        lat = np.array([p.lat for p in locations], dtype=np.float64)
        px, py = self.project(lon, lat)
        xy = np.column_stack([px, py])
        nearest, _ = self.tree.query(xy)
        # Every segment has a sample within SAMPLE_SPACING_M / 2 of any of its points, so a
        # ball of the nearest sample's distance plus that slack holds the nearest segment.
        # Far points (flagged anyway) use the 16 nearest samples to bound the work.
        close = nearest <= max_snap_m
        candidates: list[list[int]] = [[] for _ in locations]
        if close.any():
            radius = nearest[close] + SAMPLE_SPACING_M / 2 + 1e-6
            balls = self.tree.query_ball_point(xy[close], radius)
            for i, ball in zip(np.flatnonzero(close).tolist(), balls, strict=True):
                candidates[i] = ball
        if (~close).any():
            k = min(16, self.tree.n)
            _, idx = self.tree.query(xy[~close], k=k)
            idx = np.asarray(idx).reshape(-1, k)
            for i, row in zip(np.flatnonzero(~close).tolist(), idx.tolist(), strict=True):
                candidates[i] = row
        counts = np.array([len(c) for c in candidates], dtype=np.int64)
        owner = np.repeat(np.arange(len(locations)), counts)
        seg = self.sample_segment[
            np.concatenate([np.asarray(c, dtype=np.int64) for c in candidates])
        ]
        ux, uy = self.project(g.node_lon[g.seg_u[seg]], g.node_lat[g.seg_u[seg]])
        vx, vy = self.project(g.node_lon[g.seg_v[seg]], g.node_lat[g.seg_v[seg]])
        dx, dy = vx - ux, vy - uy
        norm = dx * dx + dy * dy
        with np.errstate(invalid="ignore", divide="ignore"):
            f = np.where(norm > 0, ((px[owner] - ux) * dx + (py[owner] - uy) * dy) / norm, 0.0)
        f = np.clip(f, 0.0, 1.0)
        gap = np.hypot(ux + f * dx - px[owner], uy + f * dy - py[owner])
        # best candidate per location: sort by (location, gap, segment id for determinism)
        order = np.lexsort((seg, gap, owner))
        first = np.concatenate([[0], np.cumsum(counts)[:-1]])
        best = order[first]
        snaps = []
        for i, b in enumerate(best.tolist()):
            s, frac = int(seg[b]), float(f[b])
            u, v = int(g.seg_u[s]), int(g.seg_v[s])
            snapped = Location(
                float(g.node_lon[u] + frac * (g.node_lon[v] - g.node_lon[u])),
                float(g.node_lat[u] + frac * (g.node_lat[v] - g.node_lat[u])),
            )
            distance = haversine_m(locations[i], snapped)
            snaps.append(Snap(locations[i], snapped, distance, s, frac, distance <= max_snap_m))
        return snaps

    def snap_elems(self, snaps: Sequence[Snap]) -> tuple[Int64Array, Int64Array, Float64Array]:
        """``(point, elem, t)``: every directed chain element a snap lies on, with position.

        A snap lies on its segment and on the segment's copies, each in the directions this
        profile may use; a copy runs the same way as its original, so ``t`` carries over.
        """
        n = len(snaps)
        seg = np.array([s.segment for s in snaps], dtype=np.int64)
        frac = np.array([s.fraction for s in snaps], dtype=np.float64)
        counts = self.copies_ptr[seg + 1] - self.copies_ptr[seg]
        owner = np.repeat(np.arange(n), counts)
        first = np.repeat(self.copies_ptr[seg], counts)
        offset = np.arange(len(owner)) - np.repeat(np.cumsum(counts) - counts, counts)
        each = self.copies[first + offset]
        point = np.concatenate([owner, owner])
        elem = np.concatenate([self.dseg_elem[2 * each], self.dseg_elem[2 * each + 1]])
        t = np.concatenate([frac[owner], 1.0 - frac[owner]])
        ok = elem >= 0
        return point[ok], elem[ok], t[ok]

    # -- hierarchy queries ----------------------------------------------------------------

    def attachments(self, snaps: Sequence[Snap]) -> _Attachments:
        """Where each snapped point lies on the contracted edges (one or two directions)."""
        n = len(snaps)
        point, elem, t = self.snap_elems(snaps)
        order = np.argsort(point, kind="stable")
        point, elem, t = point[order], elem[order], t[order]
        edge = self.elem_edge[elem]
        pos_time, pos_len = self.position_time_len(elem, t)
        rest_time = self.pg.edge_time[edge] / TIME_SCALE - pos_time
        rest_len = self.pg.edge_dist[edge] / DIST_SCALE - pos_len
        ptr = np.concatenate([[0], np.cumsum(np.bincount(point, minlength=n))]).astype(np.int64)
        return _Attachments(
            ptr=ptr,
            elem=elem,
            t=t,
            edge=edge,
            pos_time=pos_time,
            pos_len=pos_len,
            leave_node=self.pg.edge_to[edge],
            leave_cost=_pack_seconds_metres(rest_time, rest_len),
            enter_node=self.pg.edge_from[edge],
            enter_cost=_pack_seconds_metres(pos_time, pos_len),
        )

    def along_edge(self, at: _Attachments, n: int) -> Int64Array:
        """Packed weights between points on the same contracted edge, the way it runs.

        A point further along the same edge is reached directly (no detour round the block);
        two points at the very same spot reach each other for free both ways. Other pairs
        are ``INF`` (the hierarchy answers them).
        """
        result = np.full((n, n), INF, dtype=np.int64)
        if len(at.edge) < 2:
            return result
        point = np.repeat(np.arange(n), np.diff(at.ptr))
        order = np.lexsort((at.t, at.elem, at.edge))
        edge = at.edge[order]
        bounds = np.flatnonzero(np.diff(edge)) + 1
        for group in np.split(order, bounds):
            if len(group) < 2:
                continue
            i, j = np.triu_indices(len(group), k=1)
            a, b = group[i], group[j]
            cost = _pack_seconds_metres(
                at.pos_time[b] - at.pos_time[a], at.pos_len[b] - at.pos_len[a]
            )
            np.minimum.at(result, (point[a], point[b]), cost)
            same = (at.elem[a] == at.elem[b]) & (at.t[a] == at.t[b])
            np.minimum.at(result, (point[b][same], point[a][same]), 0)
        return result

    # -- the query graph -----------------------------------------------------------------

    def query_graph(self, snaps: Sequence[Snap], *, prune: bool = True) -> _QueryGraph:
        """Base graph plus one virtual node per snap (ids ``K + i``).

        With ``prune``, dead-end branches (trees hanging off the rest of the network) that
        hold no snapped point are left out: a fastest path never enters a branch it must
        leave the same way, so the result is identical and Dijkstra settles about half
        the nodes on Liechtenstein's drivable graph.
        """
        k = self.pg.node_count
        n = len(snaps)
        # a snap lies on the forward and/or backward directed segment, each in one chain
        point, elem, t = self.snap_elems(snaps)
        edge = self.elem_edge[elem]
        pos_time, pos_len = self.position_time_len(elem, t)
        total_time = self.pg.edge_time[edge] / TIME_SCALE
        total_len = self.pg.edge_dist[edge] / DIST_SCALE
        virtual = k + point
        start_j = self.pg.chain_ptr[edge]
        end_j = self.pg.chain_ptr[edge + 1] - 1

        rows = [self.pg.edge_from[edge], virtual]
        cols = [virtual, self.pg.edge_to[edge]]
        times = [pos_time, total_time - pos_time]
        lens = [pos_len, total_len - pos_len]
        pieces = [
            np.column_stack([start_j, np.zeros_like(t), elem, t]),
            np.column_stack([elem, t, end_j, np.ones_like(t)]),
        ]
        # consecutive snaps on the same contracted edge: the direct way along the street
        order = np.lexsort((t, elem, edge))
        e_s, el_s, t_s, v_s = edge[order], elem[order], t[order], virtual[order]
        pt_s, pl_s = pos_time[order], pos_len[order]
        same = np.flatnonzero(e_s[1:] == e_s[:-1])
        if len(same):
            a, b = same, same + 1
            rows.append(v_s[a])
            cols.append(v_s[b])
            times.append(pt_s[b] - pt_s[a])
            lens.append(pl_s[b] - pl_s[a])
            pieces.append(np.column_stack([el_s[a], t_s[a], el_s[b], t_s[b]]))
            tie = (el_s[a] == el_s[b]) & (t_s[a] == t_s[b])
            if tie.any():  # the same spot: both directions are free
                rows.append(v_s[b][tie])
                cols.append(v_s[a][tie])
                times.append(np.zeros(int(tie.sum())))
                lens.append(np.zeros(int(tie.sum())))
                pieces.append(pieces[-1][tie][:, [2, 3, 0, 1]])
        v_rows = np.concatenate(rows)
        v_cols = np.concatenate(cols)
        v_w = self._combine(
            np.rint(np.maximum(np.concatenate(times), 0) * TIME_SCALE).astype(np.int64),
            np.rint(np.maximum(np.concatenate(lens), 0) * DIST_SCALE).astype(np.int64),
        )
        v_pieces = np.concatenate(pieces)
        v_rows, v_cols, v_w, v_ids = _dedupe_min(v_rows, v_cols, v_w, np.arange(len(v_rows)))
        v_pieces = v_pieces[v_ids]

        base = np.ones(len(self.base_rows), dtype=bool)
        if prune:
            needed = self._needed_nodes(
                np.concatenate([self.pg.edge_from[edge], self.pg.edge_to[edge]])
            )
            base = needed[self.base_rows] & needed[self.base_cols]
        all_rows = np.concatenate([self.base_rows[base], v_rows])
        all_cols = np.concatenate([self.base_cols[base], v_cols])
        all_w = np.concatenate([self.base_w[base], v_w])
        # piece id: >= 0 a base contracted edge, < 0 a virtual piece (-1 - index)
        all_piece = np.concatenate([self.base_edge[base], -1 - np.arange(len(v_rows))])
        order = np.lexsort((all_cols, all_rows))
        all_rows, all_cols, all_w, all_piece = (
            all_rows[order],
            all_cols[order],
            all_w[order],
            all_piece[order],
        )
        size = k + n
        indptr = np.concatenate([[0], np.cumsum(np.bincount(all_rows, minlength=size))])
        matrix = csr_matrix((all_w, all_cols, indptr), shape=(size, size))
        return _QueryGraph(matrix, k, all_piece, v_pieces)

    @property
    def core(self) -> BoolArray:
        """Nodes of the undirected 2-core (the rest are dead-end branches)."""
        return self._branches()[0]

    def _branches(self) -> tuple[BoolArray, Int64Array]:
        """The 2-core and each branch node's neighbour towards it (computed on first use)."""
        if self._core is None:
            self._core = _two_core(self.pg.node_count, self.base_rows, self.base_cols)
        return self._core

    def _needed_nodes(self, attached: Int64Array) -> BoolArray:
        """The 2-core plus the branch paths from the core to every node a snap attaches to."""
        core, parent = self._branches()
        needed = core.copy()
        for start in np.unique(attached).tolist():
            x = start
            while x >= 0 and not needed[x]:
                needed[x] = True
                x = int(parent[x])
        return needed


def _two_core(node_count: int, rows: Int64Array, cols: Int64Array) -> tuple[BoolArray, Int64Array]:
    """Nodes of the undirected 2-core, and for the others the neighbour towards the core.

    Peels degree-1 nodes repeatedly; what is peeled are trees hanging off the network (in a
    strongly connected graph their streets are necessarily two-way). ``parent`` is the
    neighbour a peeled node hung from (``-1`` for the last node of a graph that is a tree).
    """
    a, b = np.minimum(rows, cols), np.maximum(rows, cols)
    pairs = np.unique(np.column_stack([a, b]), axis=0) if len(a) else np.zeros((0, 2), np.int64)
    neighbours: list[list[int]] = [[] for _ in range(node_count)]
    for x, y in pairs.tolist():
        neighbours[x].append(y)
        neighbours[y].append(x)
    degree = [len(n) for n in neighbours]
    alive = [True] * node_count
    parent = [-1] * node_count
    stack = [x for x in range(node_count) if degree[x] <= 1]
    while stack:
        x = stack.pop()
        if not alive[x]:
            continue
        alive[x] = False
        for y in neighbours[x]:
            if alive[y]:
                parent[x] = y
                degree[y] -= 1
                if degree[y] == 1:
                    stack.append(y)
    return np.array(alive, dtype=bool), np.array(parent, dtype=np.int64)


@dataclass(frozen=True)
class _Attachments:
    """Snapped points on contracted edges, grouped by point (``ptr``, as a CSR).

    A point on a two-way street lies on two directed edges. It *leaves* an edge at its end
    node (``leave_node``, after ``leave_cost``) and is *entered* from its start node
    (``enter_node``, ``enter_cost`` from there); costs are packed weights.
    """

    ptr: Int64Array
    elem: Int64Array
    t: Float64Array
    edge: Int64Array
    pos_time: Float64Array
    pos_len: Float64Array
    leave_node: Int64Array
    leave_cost: Int64Array
    enter_node: Int64Array
    enter_cost: Int64Array


def _pack_seconds_metres(seconds: Float64Array, metres: Float64Array) -> Int64Array:
    """Packed weight of a partial edge, rounded like the edges (ds, cm)."""
    return pack_weight(
        np.rint(np.maximum(seconds, 0) * TIME_SCALE).astype(np.int64),
        np.rint(np.maximum(metres, 0) * DIST_SCALE).astype(np.int64),
    )


@dataclass(frozen=True)
class _QueryGraph:
    """CSR graph for one query and what each stored edge stands for."""

    matrix: csr_matrix
    first_virtual: int
    piece: Int64Array
    virtual_pieces: Float64Array

    def piece_of(self, x: int, y: int, index: _ProfileIndex) -> _Piece:
        """The geometry piece behind CSR edge ``x -> y``."""
        lo, hi = int(self.matrix.indptr[x]), int(self.matrix.indptr[x + 1])
        at = lo + int(np.searchsorted(self.matrix.indices[lo:hi], y))
        pid = int(self.piece[at])
        if pid >= 0:
            return index.edge_piece(pid)
        sj, st, ej, et = self.virtual_pieces[-1 - pid].tolist()
        return _Piece(int(sj), st, int(ej), et)


def _dedupe_min(
    rows: Int64Array, cols: Int64Array, w: Float64Array, ids: Int64Array
) -> tuple[Int64Array, Int64Array, Float64Array, Int64Array]:
    """Keep the lightest of parallel edges (a CSR would otherwise *sum* duplicates)."""
    order = np.lexsort((w, cols, rows))
    rows, cols, w, ids = rows[order], cols[order], w[order], ids[order]
    first = np.ones(len(rows), dtype=bool)
    first[1:] = (rows[1:] != rows[:-1]) | (cols[1:] != cols[:-1])
    return rows[first], cols[first], w[first], ids[first]


class RoadNetwork:
    """A road graph ready for queries, with per-profile indexes built on first use."""

    def __init__(self, graph: RoadGraph, *, from_cache: bool = False) -> None:
        self.graph = graph
        self.from_cache = from_cache
        self._indexes: dict[Profile, _ProfileIndex] = {}

    @classmethod
    def load(
        cls,
        path: Path | str,
        *,
        profiles: Sequence[Profile] | None = None,
        cache: Path | None = None,
        rebuild: bool = False,
        on_progress: ProgressCallback | None = None,
    ) -> RoadNetwork:
        """Open an ``.osm.pbf`` (using/refreshing its ``.roads.npz`` cache) or a cache file.

        ``cache`` overrides where the cache of an extract lives (tests, read-only data).
        """
        graph, from_cache = load_or_build(
            Path(path),
            profiles=profiles,
            cache=cache,
            rebuild=rebuild,
            on_progress=on_progress or (lambda fraction, message: None),
        )
        return cls(graph, from_cache=from_cache)

    @property
    def name(self) -> str:
        return self.graph.name

    def index(self, profile: Profile) -> _ProfileIndex:
        """The query structures of ``profile`` (prepared now if the cache lacked it)."""
        found = self._indexes.get(profile)
        if found is None:
            if profile not in self.graph.profiles or profile not in self.graph.hierarchies:
                prepare(self.graph, profile)
            found = _ProfileIndex(
                self.graph, self.graph.profiles[profile], self.graph.hierarchies[profile]
            )
            self._indexes[profile] = found
        return found


DistanceFunction = Callable[[csr_matrix, Int64Array, Int64Array], Float64Array]
"""``(graph, origins, targets) -> weights[origin, target]``: the pluggable many-to-many core.

Implementations must return the exact shortest-path sums of the (integer-valued) weights.
"""


def scipy_dijkstra(graph: csr_matrix, origins: Int64Array, targets: Int64Array) -> Float64Array:
    """One scipy Dijkstra per origin (C code, binary heap), in chunks to bound memory."""
    parts = [
        np.asarray(dijkstra(graph, directed=True, indices=origins[i : i + CHUNK]))[:, targets]
        for i in range(0, len(origins), CHUNK)
    ]
    return np.concatenate(parts) if parts else np.zeros((0, len(targets)))


def threaded_dijkstra(workers: int = 2) -> DistanceFunction:
    """scipy Dijkstra on ``workers`` threads: scipy releases the GIL inside the search."""

    def run(graph: csr_matrix, origins: Int64Array, targets: Int64Array) -> Float64Array:
        chunks = [origins[i : i + CHUNK] for i in range(0, len(origins), CHUNK)]
        if len(chunks) <= 1 or workers <= 1:
            return scipy_dijkstra(graph, origins, targets)

        def one(chunk: Int64Array) -> Float64Array:
            found: Float64Array = np.asarray(dijkstra(graph, directed=True, indices=chunk))
            return found[:, targets]

        with ThreadPoolExecutor(workers) as pool:
            parts = list(pool.map(one, chunks))
        return np.concatenate(parts)

    return run


@dataclass(frozen=True)
class Table:
    """Durations (s) and distances (m) from sources (rows) to targets (columns)."""

    durations_s: Int64Array
    distances_m: Int64Array


class RoadProvider:
    """:class:`~lastmile.core.roads.TravelTimeProvider` on the built-in road engine.

    Matrices, one-to-many rows and paths come from the profile's contraction hierarchy.
    ``distances`` swaps in a plain many-to-many Dijkstra instead (the reference the
    hierarchy is tested and benchmarked against).
    """

    def __init__(
        self,
        network: RoadNetwork,
        *,
        max_snap_m: float = DEFAULT_MAX_SNAP_M,
        snap_speed_kmh: float = DEFAULT_SNAP_SPEED_KMH,
        distances: DistanceFunction | None = None,
        prune: bool = True,
    ) -> None:
        self.network = network
        self.prune = prune
        self.name = f"roads:{network.name}"
        self.max_snap_m = max_snap_m
        self.snap_speed_kmh = snap_speed_kmh
        self.distances = distances

    def snap(self, location: Location, profile: Profile) -> Snap:
        """Where ``location`` joins the roads of ``profile``."""
        return self.snap_many([location], profile)[0]

    def snap_many(self, locations: Sequence[Location], profile: Profile) -> list[Snap]:
        """:meth:`snap` for many locations at once (vectorised)."""
        return self.network.index(profile).snap(locations, self.max_snap_m)

    def _leg_speed_ms(self, profile: Profile) -> float:
        return min(self.snap_speed_kmh, TOP_SPEED_KMH[profile]) / 3.6

    def matrix(self, locations: Sequence[Location], profile: Profile) -> TravelMatrix:
        """Durations (s) and distances (m) of the fastest paths between all pairs."""
        return self.matrix_and_snaps(locations, profile)[0]

    def one_to_many(self, origin: Location, targets: Sequence[Location], profile: Profile) -> Table:
        """Durations and distances from ``origin`` to each target (a 1 x n matrix).

        What an insertion or a slot offer needs: one row, without the n x n table.
        """
        return self.table([origin], targets, profile)

    def table(
        self, sources: Sequence[Location], targets: Sequence[Location], profile: Profile
    ) -> Table:
        """Durations and distances from every source (rows) to every target (columns)."""
        if not sources or not targets:
            empty = np.zeros((len(sources), len(targets)), dtype=np.int64)
            return Table(empty, empty.copy())
        locations = [*sources, *targets]
        index = self.network.index(profile)
        snaps = index.snap(locations, self.max_snap_m)
        n = len(sources)
        at_src = index.attachments(snaps[:n])
        at_dst = index.attachments(snaps[n:])
        packed = many_to_many(
            index.hierarchy,
            at_src.ptr,
            at_src.leave_node,
            at_src.leave_cost,
            at_dst.ptr,
            at_dst.enter_node,
            at_dst.enter_cost,
        )
        along = index.along_edge(index.attachments(snaps), len(locations))[:n, n:]
        packed = np.minimum(packed, along)
        return self._decode(packed, snaps[:n], snaps[n:], sources, targets, profile)

    def matrix_and_snaps(
        self, locations: Sequence[Location], profile: Profile
    ) -> tuple[TravelMatrix, list[Snap]]:
        """:meth:`matrix` plus the snaps it used (to report far-off points)."""
        n = len(locations)
        if n == 0:
            empty = np.zeros((0, 0), dtype=np.int64)
            return TravelMatrix(empty, empty.copy()), []
        index = self.network.index(profile)
        snaps = index.snap(locations, self.max_snap_m)
        if self.distances is None:
            at = index.attachments(snaps)
            packed = many_to_many(
                index.hierarchy,
                at.ptr,
                at.leave_node,
                at.leave_cost,
                at.ptr,
                at.enter_node,
                at.enter_cost,
            )
            packed = np.minimum(packed, index.along_edge(at, n))
        else:
            query = index.query_graph(snaps, prune=self.prune)
            origins = np.arange(n, dtype=np.int64) + query.first_virtual
            weights = self.distances(query.matrix, origins, origins)
            if not np.all(np.isfinite(weights)) or weights.max(initial=0.0) >= MAX_EXACT:
                raise RuntimeError("road engine: unreachable pair inside one component (bug)")
            packed = weights.astype(np.int64)
        table = self._decode(packed, snaps, snaps, locations, locations, profile)
        return TravelMatrix(table.durations_s, table.distances_m), snaps

    def _decode(
        self,
        packed: Int64Array,
        from_snaps: Sequence[Snap],
        to_snaps: Sequence[Snap],
        sources: Sequence[Location],
        targets: Sequence[Location],
        profile: Profile,
    ) -> Table:
        """Seconds and metres from packed weights, plus the access legs at both ends."""
        off_diagonal = packed[~_same_pairs(sources, targets)]
        if off_diagonal.size and off_diagonal.max() >= INF:
            raise RuntimeError("road engine: unreachable pair inside one component (bug)")
        packed = np.where(packed >= INF, 0, packed)
        leg_from = np.array([s.distance_m for s in from_snaps], dtype=np.float64)
        leg_to = np.array([s.distance_m for s in to_snaps], dtype=np.float64)
        speed = self._leg_speed_ms(profile)
        durations = (
            (packed >> DIST_BITS) / TIME_SCALE + leg_from[:, None] / speed + leg_to[None, :] / speed
        )
        distances = (packed & DIST_MASK) / DIST_SCALE + leg_from[:, None] + leg_to[None, :]
        same = _same_pairs(sources, targets)
        durations[same] = 0.0
        distances[same] = 0.0
        return Table(
            durations_s=np.rint(durations).astype(np.int64),
            distances_m=np.rint(distances).astype(np.int64),
        )

    def path(self, a: Location, b: Location, profile: Profile) -> list[Location]:
        """Geometry of the fastest path: ``a``, its snapped point, the roads, ``b``'s, ``b``.

        Its length (sum of haversine legs) equals ``matrix([a, b])`` distance within a
        metre: it is the very path the matrix measured.
        """
        if a == b:
            return [a, b]
        if self.distances is not None:
            return self._dijkstra_path(a, b, profile)
        index = self.network.index(profile)
        snaps = index.snap([a, b], self.max_snap_m)
        at = index.attachments(snaps)
        src = slice(int(at.ptr[0]), int(at.ptr[1]))
        dst = slice(int(at.ptr[1]), int(at.ptr[2]))
        along = int(index.along_edge(at, 2)[0, 1])
        weight, first, last, edges = shortest_path(
            index.hierarchy,
            at.leave_node[src],
            at.leave_cost[src],
            at.enter_node[dst],
            at.enter_cost[dst],
        )
        points = [a]
        if along <= weight:  # b lies further along a's street
            i, j = _along_pair(at, src, dst)
            points.extend(index.piece_geometry(_Piece(i[0], i[1], j[0], j[1])))
        else:
            leave = _best_attachment(at, src, at.leave_node, at.leave_cost, first)
            enter = _best_attachment(at, dst, at.enter_node, at.enter_cost, last)
            elem, t = int(at.elem[leave]), float(at.t[leave])
            end_j = int(index.pg.chain_ptr[at.edge[leave] + 1]) - 1
            points.extend(index.piece_geometry(_Piece(elem, t, end_j, 1.0)))
            for base in edges:
                points.extend(index.piece_geometry(index.edge_piece(int(index.base_edge[base]))))
            elem, t = int(at.elem[enter]), float(at.t[enter])
            start_j = int(index.pg.chain_ptr[at.edge[enter]])
            points.extend(index.piece_geometry(_Piece(start_j, 0.0, elem, t)))
        points.append(b)
        return _dedupe_points(points)

    def _dijkstra_path(self, a: Location, b: Location, profile: Profile) -> list[Location]:
        """:meth:`path` on the plain query graph (the reference engine)."""
        index = self.network.index(profile)
        snaps = index.snap([a, b], self.max_snap_m)
        query = index.query_graph(snaps)
        source, target = query.first_virtual, query.first_virtual + 1
        _, predecessors = dijkstra(
            query.matrix, directed=True, indices=source, return_predecessors=True
        )
        nodes = [target]
        while nodes[-1] != source:
            previous = int(predecessors[nodes[-1]])
            if previous < 0:
                raise RuntimeError("road engine: unreachable pair inside one component (bug)")
            nodes.append(previous)
        nodes.reverse()
        points = [a]
        for x, y in itertools.pairwise(nodes):
            points.extend(index.piece_geometry(query.piece_of(x, y, index)))
        points.append(b)
        return _dedupe_points(points)


def _best_attachment(
    at: _Attachments, rows: slice, node: Int64Array, cost: Int64Array, wanted: int
) -> int:
    """The attachment (index into ``at``) of ``rows`` at node ``wanted`` with the least cost."""
    candidates = [i for i in range(rows.start, rows.stop) if int(node[i]) == wanted]
    if not candidates:
        raise RuntimeError("road engine: path does not start at its snapped point (bug)")
    return min(candidates, key=lambda i: int(cost[i]))


def _along_pair(
    at: _Attachments, src: slice, dst: slice
) -> tuple[tuple[int, float], tuple[int, float]]:
    """Chain positions of a source and target attachment on one edge, target further on."""
    best: tuple[int, tuple[int, float], tuple[int, float]] | None = None
    for i in range(src.start, src.stop):
        for j in range(dst.start, dst.stop):
            if at.edge[i] != at.edge[j]:
                continue
            if (int(at.elem[j]), float(at.t[j])) < (int(at.elem[i]), float(at.t[i])):
                continue
            cost = int(
                _pack_seconds_metres(
                    np.array([at.pos_time[j] - at.pos_time[i]]),
                    np.array([at.pos_len[j] - at.pos_len[i]]),
                )[0]
            )
            if best is None or cost < best[0]:
                best = (
                    cost,
                    (int(at.elem[i]), float(at.t[i])),
                    (int(at.elem[j]), float(at.t[j])),
                )
    if best is None:
        raise RuntimeError("road engine: no direct way along one street (bug)")
    return best[1], best[2]


def _same_pairs(sources: Sequence[Location], targets: Sequence[Location]) -> BoolArray:
    """Pairs of identical source and target locations: zero travel."""
    slon = np.array([p.lon for p in sources])
    slat = np.array([p.lat for p in sources])
    tlon = np.array([p.lon for p in targets])
    tlat = np.array([p.lat for p in targets])
    result: BoolArray = (slon[:, None] == tlon[None, :]) & (slat[:, None] == tlat[None, :])
    return result


def _dedupe_points(points: list[Location]) -> list[Location]:
    """Drop consecutive repeats (pieces share their end points) but keep both ends."""
    result = [points[0]]
    for p in points[1:-1]:
        if p != result[-1]:
            result.append(p)
    result.append(points[-1])
    return result


def path_length_m(points: Sequence[Location]) -> float:
    """Length of a polyline in metres (haversine legs)."""
    if len(points) < 2:
        return 0.0
    lon = np.array([p.lon for p in points])
    lat = np.array([p.lat for p in points])
    return float(segment_lengths_m(lon[:-1], lat[:-1], lon[1:], lat[1:]).sum())
