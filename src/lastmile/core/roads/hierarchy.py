"""Contraction hierarchy (CH) of one profile's graph: built once, queried many-to-many.

Why our own: we compared the RoutingKit CCH bindings on PyPI (``pyroutingkit``,
``routingkit-cch``) with this module (``docs/roads.md``, "Choosing the hierarchy"). They
offer only 32-bit weights (so no exact "fastest, then shortest" weight that also yields the
distance of the fastest path), no bucket many-to-many and, measured here, nested-dissection
orders that take longer than our whole build. This module is the textbook algorithm
(Geisberger et al. 2008) compiled with numba, a well-kept compiler rather than a routing
library, on 64-bit integer weights ``time_ds << 29 | dist_cm``:

* **Build** (:mod:`lastmile.core.roads.contraction`). Nodes are contracted one at a time,
  least important first; when a node goes, a shortcut ``u -> x`` is added for each pair of
  neighbours unless a *witness search* finds a path at most as heavy. A shortcut remembers
  the two arcs it replaces, so any arc unpacks to original edges (the map's geometry).
* **Query.** Every shortest path climbs the hierarchy and then descends, so a forward search
  on *upward* arcs from the source and a backward one from the target meet at its top node.
  With stall-on-demand the searches settle a few hundred nodes even on a million-node city.
* **Many-to-many** (Knopp et al. 2007): one backward search per target leaves
  ``(target, distance)`` in a *bucket* at each node it settles; one forward search per
  source scans the buckets of the nodes it settles. Sources and targets run on all cores.

Searches may start from several nodes with initial costs: a snapped stop lies inside an
edge and enters the graph at that edge's end (or is reached from its start).
"""

from __future__ import annotations

import heapq
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numba
import numpy as np
import numpy.typing as npt

Int64Array = npt.NDArray[np.int64]
Int32Array = npt.NDArray[np.int32]

INF = np.int64(1 << 62)
"""Larger than any path weight, small enough that adding two never overflows int64."""

INITIAL_BUCKET_CAP = 1024
"""Search-space entries reserved per target before a retry with more room."""


@dataclass(frozen=True)
class Hierarchy:
    """A contraction hierarchy over nodes ``0..N-1`` of a profile's base graph.

    ``up_*`` is a CSR over nodes: node ``v``'s arcs to higher nodes (``up_head``) in the
    travel direction; ``down_*`` holds, at ``v``, the arcs *from* higher nodes into ``v``
    (``down_head`` is their tail). ``*_arc`` are ids in the arc store: arc ``a`` is either
    original (``arc_first[a] < 0``; ``arc_orig[a]`` is the base edge it stands for) or a
    shortcut for arcs ``arc_first[a]`` then ``arc_second[a]``.
    """

    up_ptr: Int64Array
    up_head: Int32Array
    up_weight: Int64Array
    up_arc: Int32Array
    down_ptr: Int64Array
    down_head: Int32Array
    down_weight: Int64Array
    down_arc: Int32Array
    arc_first: Int32Array
    arc_second: Int32Array
    arc_orig: Int32Array

    @property
    def node_count(self) -> int:
        return len(self.up_ptr) - 1

    @property
    def arc_count(self) -> int:
        return len(self.up_head) + len(self.down_head)

    def arrays(self) -> dict[str, npt.NDArray[np.generic]]:
        """The fields by name (for the cache)."""
        return {name: getattr(self, name) for name in HIERARCHY_ARRAYS}

    def unpack(self, arc: int) -> list[int]:
        """The base edges an arc stands for, in travel order."""
        result: list[int] = []
        stack = [arc]
        first, second, orig = self.arc_first, self.arc_second, self.arc_orig
        while stack:
            a = stack.pop()
            if first[a] < 0:
                result.append(int(orig[a]))
            else:
                stack.append(int(second[a]))
                stack.append(int(first[a]))
        return result


HIERARCHY_ARRAYS = tuple(Hierarchy.__dataclass_fields__)


# --- queries ----------------------------------------------------------------------------


@numba.njit(nogil=True, cache=True)
def _upward(
    ptr: Int64Array,
    head: Int32Array,
    weight: Int64Array,
    stall_ptr: Int64Array,
    stall_head: Int32Array,
    stall_weight: Int64Array,
    starts: Int64Array,
    start_cost: Int64Array,
    dist: Int64Array,
    parent: Int64Array,
    touched: Int64Array,
    out_node: Int64Array,
    out_dist: Int64Array,
    out_parent: Int64Array,
) -> int:
    """Dijkstra on upward arcs from several start nodes, with stall-on-demand.

    Writes the settled, unstalled nodes with their distance and parent arc (the index into
    ``head``, -1 at a start) to ``out_*`` and returns their count, or ``-1`` if ``out_*``
    were too small. ``dist``/``parent`` must be all-INF/-1 and are restored on return.
    """
    n_touched = 0
    heap = [(np.int64(0), np.int64(0))]
    heap.pop()
    for i in range(len(starts)):
        s = starts[i]
        c = start_cost[i]
        if c < dist[s]:
            if dist[s] == INF:
                touched[n_touched] = s
                n_touched += 1
            dist[s] = c
            parent[s] = -1
            heapq.heappush(heap, (c, s))
    count = 0
    overflow = False
    while heap:
        d, x = heapq.heappop(heap)
        if d > dist[x]:
            continue
        stalled = False
        for k in range(stall_ptr[x], stall_ptr[x + 1]):
            w = stall_head[k]
            if dist[w] + stall_weight[k] < d:
                stalled = True
                break
        if stalled:
            continue
        if count < len(out_node):
            out_node[count] = x
            out_dist[count] = d
            out_parent[count] = parent[x]
        else:
            overflow = True
        count += 1
        for k in range(ptr[x], ptr[x + 1]):
            y = head[k]
            nd = d + weight[k]
            if nd < dist[y]:
                if dist[y] == INF:
                    touched[n_touched] = y
                    n_touched += 1
                dist[y] = nd
                parent[y] = k
                heapq.heappush(heap, (nd, np.int64(y)))
    for k in range(n_touched):
        dist[touched[k]] = INF
        parent[touched[k]] = -1
    return -1 if overflow else count


@numba.njit(nogil=True, cache=True, parallel=True)
def _search_spaces(
    h_ptr: Int64Array,
    h_head: Int32Array,
    h_weight: Int64Array,
    s_ptr: Int64Array,
    s_head: Int32Array,
    s_weight: Int64Array,
    q_ptr: Int64Array,
    q_nodes: Int64Array,
    q_cost: Int64Array,
    cap: int,
    threads: int,
) -> tuple[Int64Array, Int64Array, Int64Array, bool]:
    """One upward search per query (forward from sources on ``up``, backward from targets
    on ``down``): rows of ``cap`` settled ``(node, dist)`` each, their counts, and whether
    some row overflowed (then the caller retries with more room)."""
    n = len(q_ptr) - 1
    nodes = np.full((n, cap), -1, np.int64)
    dists = np.empty((n, cap), np.int64)
    counts = np.zeros(n, np.int64)
    node_count = len(h_ptr) - 1
    per = (n + threads - 1) // threads
    for chunk in numba.prange(threads):
        dist = np.full(node_count, INF, np.int64)
        parent = np.full(node_count, -1, np.int64)
        touched = np.empty(node_count, np.int64)
        scratch = np.empty(cap, np.int64)
        for q in range(chunk * per, min(n, (chunk + 1) * per)):
            counts[q] = _upward(
                h_ptr,
                h_head,
                h_weight,
                s_ptr,
                s_head,
                s_weight,
                q_nodes[q_ptr[q] : q_ptr[q + 1]],
                q_cost[q_ptr[q] : q_ptr[q + 1]],
                dist,
                parent,
                touched,
                nodes[q],
                dists[q],
                scratch,
            )
    return nodes, dists, counts, bool((counts < 0).any())


@numba.njit(nogil=True, cache=True, parallel=True)
def _scan_buckets(
    nodes: Int64Array,
    dists: Int64Array,
    counts: Int64Array,
    bucket_ptr: Int64Array,
    bucket_target: Int64Array,
    bucket_dist: Int64Array,
    n_targets: int,
    threads: int,
) -> Int64Array:
    """Each source's row: the best meeting of its search space with the targets' buckets."""
    n = len(counts)
    result = np.full((n, n_targets), INF, np.int64)
    per = (n + threads - 1) // threads
    for chunk in numba.prange(threads):
        for s in range(chunk * per, min(n, (chunk + 1) * per)):
            row = result[s]
            for i in range(counts[s]):
                x = nodes[s, i]
                d = dists[s, i]
                for k in range(bucket_ptr[x], bucket_ptr[x + 1]):
                    total = d + bucket_dist[k]
                    t = bucket_target[k]
                    if total < row[t]:
                        row[t] = total
    return result


def _all_search_spaces(
    ch: Hierarchy,
    up: bool,
    q_ptr: Int64Array,
    q_nodes: Int64Array,
    q_cost: Int64Array,
    threads: int,
) -> tuple[Int64Array, Int64Array, Int64Array]:
    """:func:`_search_spaces` on the upward (sources) or downward (targets) graph, with as
    much room per row as the largest search space needs."""
    graph = (ch.up_ptr, ch.up_head, ch.up_weight, ch.down_ptr, ch.down_head, ch.down_weight)
    if not up:
        graph = graph[3:] + graph[:3]
    cap = INITIAL_BUCKET_CAP
    team = team_size(threads, len(q_ptr) - 1)
    while True:
        with _team(team):
            nodes, dists, counts, overflow = _search_spaces(
                *graph, q_ptr, q_nodes, q_cost, cap, team
            )
        if not overflow:
            return nodes, dists, counts
        cap *= 4


PARALLEL_MIN_QUERIES = 64
"""Fewer searches than this run on the calling thread alone. A parallel region ends at a
barrier that waits for every thread of the team: on a busy machine (a server beside its
worker, a solver, other tenants) the second thread may wait a whole scheduler slice for a
core, and a 1 x 8 insertion query measured 165 ms p50 instead of 1.3 ms at load 18 on two
cores (docs/benchmarks.md, Live operations). Small queries gain nothing from a second thread
anyway; matrices of hundreds of rows still use every core."""


def team_size(threads: int, queries: int) -> int:
    """Threads worth waking for ``queries`` independent searches."""
    return 1 if queries < PARALLEL_MIN_QUERIES else max(1, min(threads, queries))


@contextmanager
def _team(size: int) -> Iterator[None]:
    """Parallel regions launched from this thread use ``size`` threads (numba's setting is
    per calling thread, so concurrent requests do not disturb each other)."""
    before = numba.get_num_threads()
    numba.set_num_threads(max(1, min(size, int(numba.config.NUMBA_NUM_THREADS))))  # type: ignore[attr-defined]
    try:
        yield
    finally:
        numba.set_num_threads(before)


def default_threads() -> int:
    """Threads for queries: every core this process may use."""
    return max(1, min(int(numba.get_num_threads()), len(os.sched_getaffinity(0))))


def many_to_many(
    ch: Hierarchy,
    src_ptr: Int64Array,
    src_nodes: Int64Array,
    src_cost: Int64Array,
    dst_ptr: Int64Array,
    dst_nodes: Int64Array,
    dst_cost: Int64Array,
    *,
    threads: int | None = None,
) -> Int64Array:
    """Shortest weights from every source to every target (``INF`` if unreachable).

    Source ``i`` starts at nodes ``src_nodes[src_ptr[i]:src_ptr[i+1]]`` with the given
    initial costs; target ``j`` ends at ``dst_nodes[...]`` with its costs added.
    """
    threads = threads or default_threads()
    n_src, n_dst = len(src_ptr) - 1, len(dst_ptr) - 1
    if n_src == 0 or n_dst == 0:
        return np.zeros((n_src, n_dst), np.int64)
    nodes, dists, _ = _all_search_spaces(ch, False, dst_ptr, dst_nodes, dst_cost, threads)
    keep = nodes >= 0
    targets = np.broadcast_to(np.arange(n_dst, dtype=np.int64)[:, None], nodes.shape)[keep]
    flat_nodes, flat_dists = nodes[keep], dists[keep]
    order = np.argsort(flat_nodes, kind="stable")
    bucket_ptr = np.concatenate(
        [[0], np.cumsum(np.bincount(flat_nodes, minlength=ch.node_count))]
    ).astype(np.int64)
    s_nodes, s_dists, s_counts = _all_search_spaces(ch, True, src_ptr, src_nodes, src_cost, threads)
    team = team_size(threads, n_src)  # one source (an insertion): no thread hand-off
    with _team(team):
        return _scan_buckets(
            s_nodes, s_dists, s_counts, bucket_ptr, targets[order], flat_dists[order], n_dst, team
        )


def shortest_path(
    ch: Hierarchy,
    src_nodes: Int64Array,
    src_cost: Int64Array,
    dst_nodes: Int64Array,
    dst_cost: Int64Array,
) -> tuple[int, int, int, list[int]]:
    """Point-to-point query: ``(weight, first node, last node, base edges in order)``.

    The first/last node are the start and end nodes the path used (the caller knows which
    partial edge leads there). Raises ``RuntimeError`` if no path exists.
    """
    up = (ch.up_ptr, ch.up_head, ch.up_weight)
    down = (ch.down_ptr, ch.down_head, ch.down_weight)
    cap = max(INITIAL_BUCKET_CAP, 64)
    while True:
        f = _search_with_parents(*up, *down, src_nodes, src_cost, ch.node_count, cap)
        b = _search_with_parents(*down, *up, dst_nodes, dst_cost, ch.node_count, cap)
        if f is not None and b is not None:
            break
        cap *= 4
    common, fi, bi = np.intersect1d(f[0], b[0], assume_unique=True, return_indices=True)
    if len(common) == 0:
        raise RuntimeError("road engine: no path between two points of one component (bug)")
    total = f[1][fi] + b[1][bi]
    best = int(np.argmin(total))
    meet = int(common[best])
    # each half: climb parents from the meeting node back to where its search started
    up_arcs, first_node = _climb(f, meet, ch.up_arc, ch.up_ptr)
    down_arcs, last_node = _climb(b, meet, ch.down_arc, ch.down_ptr)
    edges: list[int] = []
    for arc in up_arcs[::-1] + down_arcs:
        edges.extend(ch.unpack(arc))
    return int(total[best]), first_node, last_node, edges


def _climb(
    space: tuple[Int64Array, Int64Array, Int64Array], meet: int, arcs: Int32Array, ptr: Int64Array
) -> tuple[list[int], int]:
    """The arcs from ``meet`` back to a start of one half's search space, and that start."""
    parent_of = dict(zip(space[0].tolist(), space[2].tolist(), strict=True))
    climbed: list[int] = []
    x = meet
    while parent_of[x] >= 0:
        k = parent_of[x]
        climbed.append(int(arcs[k]))
        x = _tail_of(ptr, k)
    return climbed, x


def _tail_of(ptr: Int64Array, k: int) -> int:
    """The node whose CSR row holds entry ``k``."""
    return int(np.searchsorted(ptr, k, side="right")) - 1


def _search_with_parents(
    ptr: Int64Array,
    head: Int32Array,
    weight: Int64Array,
    s_ptr: Int64Array,
    s_head: Int32Array,
    s_weight: Int64Array,
    starts: Int64Array,
    cost: Int64Array,
    node_count: int,
    cap: int,
) -> tuple[Int64Array, Int64Array, Int64Array] | None:
    dist = np.full(node_count, INF, np.int64)
    parent = np.full(node_count, -1, np.int64)
    touched = np.empty(node_count, np.int64)
    out_node = np.empty(cap, np.int64)
    out_dist = np.empty(cap, np.int64)
    out_parent = np.empty(cap, np.int64)
    count = _upward(
        ptr,
        head,
        weight,
        s_ptr,
        s_head,
        s_weight,
        np.ascontiguousarray(starts, np.int64),
        np.ascontiguousarray(cost, np.int64),
        dist,
        parent,
        touched,
        out_node,
        out_dist,
        out_parent,
    )
    if count < 0:
        return None
    return out_node[:count], out_dist[:count], out_parent[:count]
