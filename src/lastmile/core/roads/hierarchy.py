"""Contraction hierarchy (CH) of one profile's graph: built once, queried many-to-many.

Why our own: we compared the RoutingKit CCH bindings on PyPI (``pyroutingkit``,
``routingkit-cch``) with this module (``docs/roads.md``, "Choosing the hierarchy"). They
offer only 32-bit weights (so no exact "fastest, then shortest" weight that also yields the
distance of the fastest path), no bucket many-to-many and, measured here, nested-dissection
orders that take longer than our whole build. This module is the textbook algorithm
(Geisberger et al. 2008) compiled with numba, a well-kept compiler rather than a routing
library, on 64-bit integer weights ``time_ds << 29 | dist_cm``:

* **Build.** Nodes are contracted one at a time in the order of a lazily updated priority
  (edge difference + contracted neighbours); when a node goes, a shortcut ``u -> x`` is added
  for each pair of neighbours unless a *witness search* (a Dijkstra limited to a few hundred
  settled nodes, avoiding the node) finds a path at most as heavy. A shortcut remembers the
  two arcs it replaces, so any arc unpacks to original edges (the map's geometry).
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
from dataclasses import dataclass

import numba
import numpy as np
import numpy.typing as npt

Int64Array = npt.NDArray[np.int64]
Int32Array = npt.NDArray[np.int32]

INF = np.int64(1 << 62)
"""Larger than any path weight, small enough that adding two never overflows int64."""

WITNESS_SETTLE_LIMIT = 500
"""Nodes a witness search may settle while contracting; a miss only costs a shortcut."""
SIMULATE_SETTLE_LIMIT = 50
"""The same while estimating a node's priority (only a guess, so cheaper)."""
INITIAL_BUCKET_CAP = 1024
"""Search-space entries reserved per target before a retry with more room."""


# --- build ------------------------------------------------------------------------------


@numba.njit(nogil=True, cache=True)
def _grow(arr: Int64Array, need: int) -> Int64Array:
    if need <= len(arr):
        return arr
    bigger = np.empty(max(need, 2 * len(arr)), dtype=arr.dtype)
    bigger[: len(arr)] = arr
    return bigger


@numba.njit(nogil=True, cache=True)
def _list_append(
    start: Int64Array,
    length: Int64Array,
    cap: Int64Array,
    pool: Int64Array,
    used: int,
    node: int,
    value: int,
) -> tuple[Int64Array, int]:
    """Append ``value`` to ``node``'s list in a pooled vector-of-vectors; returns the pool."""
    if length[node] == cap[node]:
        new_cap = max(4, 2 * cap[node])
        pool = _grow(pool, used + new_cap)
        pool[used : used + length[node]] = pool[start[node] : start[node] + length[node]]
        start[node] = used
        cap[node] = new_cap
        used += new_cap
    pool[start[node] + length[node]] = value
    length[node] += 1
    return pool, used


@numba.njit(nogil=True, cache=True)
def _list_remove(
    start: Int64Array, length: Int64Array, pool: Int64Array, node: int, value: int
) -> None:
    """Remove ``value`` from ``node``'s list (swap with the last entry)."""
    s = start[node]
    for i in range(length[node]):
        if pool[s + i] == value:
            pool[s + i] = pool[s + length[node] - 1]
            length[node] -= 1
            return


@numba.njit(nogil=True, cache=True)
def _witness(
    source: int,
    avoid: int,
    bound: np.int64,
    limit: int,
    out_start: Int64Array,
    out_len: Int64Array,
    out_pool: Int64Array,
    a_head: Int64Array,
    a_w: Int64Array,
    done: npt.NDArray[np.bool_],
    dist: Int64Array,
    touched: Int64Array,
) -> int:
    """Dijkstra from ``source`` among uncontracted nodes except ``avoid``, up to ``bound``.

    Leaves distances in ``dist`` (the caller resets the ``touched`` entries); returns how
    many entries of ``touched`` are set.
    """
    n_touched = 0
    dist[source] = 0
    touched[n_touched] = source
    n_touched += 1
    heap = [(np.int64(0), np.int64(source))]
    settled = 0
    while heap:
        d, x = heapq.heappop(heap)
        if d > dist[x]:
            continue
        if d > bound:
            break
        settled += 1
        if settled > limit:
            break
        s = out_start[x]
        for i in range(out_len[x]):
            arc = out_pool[s + i]
            y = a_head[arc]
            if y == avoid or done[y]:
                continue
            nd = d + a_w[arc]
            if nd < dist[y]:
                if dist[y] == INF:
                    touched[n_touched] = y
                    n_touched += 1
                dist[y] = nd
                heapq.heappush(heap, (nd, np.int64(y)))
    return n_touched


@numba.njit(nogil=True, cache=True)
def _contract_ch(
    node_count: int,
    tail: Int64Array,
    head: Int64Array,
    weight: Int64Array,
    witness_limit: int,
    simulate_limit: int,
) -> tuple[
    Int64Array, Int64Array, Int64Array, Int64Array, Int64Array, Int64Array, Int64Array, Int64Array
]:
    """Contract every node; returns the arc store and, per node, its upward arcs."""
    m = len(tail)
    cap = max(16, 2 * m)
    a_tail = np.empty(cap, np.int64)
    a_head = np.empty(cap, np.int64)
    a_w = np.empty(cap, np.int64)
    a_first = np.empty(cap, np.int64)
    a_second = np.empty(cap, np.int64)
    a_tail[:m] = tail
    a_head[:m] = head
    a_w[:m] = weight
    a_first[:m] = -1
    a_second[:m] = -1
    n_arcs = m

    out_start = np.zeros(node_count, np.int64)
    out_len = np.zeros(node_count, np.int64)
    out_cap = np.zeros(node_count, np.int64)
    in_start = np.zeros(node_count, np.int64)
    in_len = np.zeros(node_count, np.int64)
    in_cap = np.zeros(node_count, np.int64)
    out_pool = np.empty(4 * m + 16, np.int64)
    in_pool = np.empty(4 * m + 16, np.int64)
    out_used = 0
    in_used = 0
    for a in range(m):
        out_pool, out_used = _list_append(
            out_start, out_len, out_cap, out_pool, out_used, tail[a], a
        )
        in_pool, in_used = _list_append(in_start, in_len, in_cap, in_pool, in_used, head[a], a)

    done = np.zeros(node_count, np.bool_)
    deleted = np.zeros(node_count, np.int64)
    dist = np.full(node_count, INF, np.int64)
    touched = np.empty(node_count, np.int64)
    rank = np.full(node_count, -1, np.int64)

    # the arcs of each node when it is contracted (all lead to higher nodes): the search graph
    up_arcs = np.empty(16, np.int64)
    up_owner = np.empty(16, np.int64)
    n_up = 0
    down_arcs = np.empty(16, np.int64)
    down_owner = np.empty(16, np.int64)
    n_down = 0

    version = np.zeros(node_count, np.int64)
    estimate = np.zeros(node_count, np.int64)
    last_bump = np.full(node_count, -1, np.int64)
    heap = [(np.int64(0), np.int64(0), np.int64(0))]
    heap.pop()
    for node in range(node_count):
        p = (
            _simulate(
                simulate_limit,
                node,
                out_start,
                out_len,
                out_pool,
                in_start,
                in_len,
                in_pool,
                a_tail,
                a_head,
                a_w,
                done,
                dist,
                touched,
            )
            + deleted[node]
        )
        estimate[node] = p
        heapq.heappush(heap, (np.int64(p), np.int64(node), np.int64(0)))
    next_rank = 0
    while heap:
        _, popped, ver = heapq.heappop(heap)
        v = int(popped)
        if done[v] or ver != version[v]:
            continue
        fresh = (
            _simulate(
                simulate_limit,
                v,
                out_start,
                out_len,
                out_pool,
                in_start,
                in_len,
                in_pool,
                a_tail,
                a_head,
                a_w,
                done,
                dist,
                touched,
            )
            + deleted[v]
        )
        while heap and (done[heap[0][1]] or heap[0][2] != version[heap[0][1]]):
            heapq.heappop(heap)  # stale entries must not decide the comparison below
        estimate[v] = fresh
        if heap and fresh > heap[0][0]:
            version[v] += 1
            heapq.heappush(heap, (np.int64(fresh), np.int64(v), version[v]))
            continue
        # contract v: shortcuts between its in- and out-neighbours
        si = in_start[v]
        so = out_start[v]
        for i in range(in_len[v]):
            arc_in = in_pool[si + i]
            u = a_tail[arc_in]
            max_need = np.int64(0)
            for j in range(out_len[v]):
                arc_out = out_pool[so + j]
                x = a_head[arc_out]
                if x != u:
                    need = a_w[arc_in] + a_w[arc_out]
                    if need > max_need:
                        max_need = need
            if max_need == 0:
                continue
            nt = _witness(
                u,
                v,
                max_need,
                witness_limit,
                out_start,
                out_len,
                out_pool,
                a_head,
                a_w,
                done,
                dist,
                touched,
            )
            for j in range(out_len[v]):
                arc_out = out_pool[so + j]
                x = a_head[arc_out]
                if x == u:
                    continue
                need = a_w[arc_in] + a_w[arc_out]
                if dist[x] <= need:
                    continue
                # an existing u -> x arc is improved in place, else a new arc is added
                found = -1
                su = out_start[u]
                for k in range(out_len[u]):
                    cand = out_pool[su + k]
                    if a_head[cand] == x:
                        found = cand
                        break
                if found >= 0:
                    if need < a_w[found]:
                        a_w[found] = need
                        a_first[found] = arc_in
                        a_second[found] = arc_out
                    continue
                if n_arcs == len(a_tail):
                    a_tail = _grow(a_tail, n_arcs + 1)
                    a_head = _grow(a_head, n_arcs + 1)
                    a_w = _grow(a_w, n_arcs + 1)
                    a_first = _grow(a_first, n_arcs + 1)
                    a_second = _grow(a_second, n_arcs + 1)
                a_tail[n_arcs] = u
                a_head[n_arcs] = x
                a_w[n_arcs] = need
                a_first[n_arcs] = arc_in
                a_second[n_arcs] = arc_out
                out_pool, out_used = _list_append(
                    out_start, out_len, out_cap, out_pool, out_used, u, n_arcs
                )
                in_pool, in_used = _list_append(
                    in_start, in_len, in_cap, in_pool, in_used, x, n_arcs
                )
                n_arcs += 1
            for k in range(nt):
                dist[touched[k]] = INF
        # v leaves the graph: its remaining arcs are its upward arcs
        done[v] = True
        rank[v] = next_rank
        next_rank += 1
        up_arcs = _grow(up_arcs, n_up + out_len[v])
        up_owner = _grow(up_owner, n_up + out_len[v])
        for j in range(out_len[v]):
            arc = out_pool[so + j]
            up_arcs[n_up] = arc
            up_owner[n_up] = v
            n_up += 1
            _list_remove(in_start, in_len, in_pool, a_head[arc], arc)
        down_arcs = _grow(down_arcs, n_down + in_len[v])
        down_owner = _grow(down_owner, n_down + in_len[v])
        for i in range(in_len[v]):
            arc = in_pool[si + i]
            down_arcs[n_down] = arc
            down_owner[n_down] = v
            n_down += 1
            _list_remove(out_start, out_len, out_pool, a_tail[arc], arc)
        # neighbours: one more contracted neighbour. Their priority is re-estimated only
        # when they reach the top of the queue (lazy updates), which is what keeps the
        # build linear in practice.
        for j in range(out_len[v]):
            x = a_head[out_pool[so + j]]
            if last_bump[x] != v:
                last_bump[x] = v
                deleted[x] += 1
                estimate[x] += 1
                version[x] += 1
                heapq.heappush(heap, (estimate[x], np.int64(x), version[x]))
        for i in range(in_len[v]):
            u = a_tail[in_pool[si + i]]
            if last_bump[u] != v:
                last_bump[u] = v
                deleted[u] += 1
                estimate[u] += 1
                version[u] += 1
                heapq.heappush(heap, (estimate[u], np.int64(u), version[u]))
    return (
        rank,
        a_first[:n_arcs].copy(),
        a_second[:n_arcs].copy(),
        a_tail[:n_arcs].copy(),
        a_head[:n_arcs].copy(),
        a_w[:n_arcs].copy(),
        np.stack((up_owner[:n_up], up_arcs[:n_up])),
        np.stack((down_owner[:n_down], down_arcs[:n_down])),
    )


@numba.njit(nogil=True, cache=True)
def _simulate(
    limit: int,
    v: int,
    out_start: Int64Array,
    out_len: Int64Array,
    out_pool: Int64Array,
    in_start: Int64Array,
    in_len: Int64Array,
    in_pool: Int64Array,
    a_tail: Int64Array,
    a_head: Int64Array,
    a_w: Int64Array,
    done: npt.NDArray[np.bool_],
    dist: Int64Array,
    touched: Int64Array,
) -> int:
    """Edge difference of contracting ``v`` now: shortcuts needed minus arcs removed."""
    shortcuts = 0
    si = in_start[v]
    so = out_start[v]
    for i in range(in_len[v]):
        arc_in = in_pool[si + i]
        u = a_tail[arc_in]
        max_need = np.int64(0)
        for j in range(out_len[v]):
            arc_out = out_pool[so + j]
            if a_head[arc_out] != u:
                need = a_w[arc_in] + a_w[arc_out]
                if need > max_need:
                    max_need = need
        if max_need == 0:
            continue
        nt = _witness(
            u,
            v,
            max_need,
            limit,
            out_start,
            out_len,
            out_pool,
            a_head,
            a_w,
            done,
            dist,
            touched,
        )
        for j in range(out_len[v]):
            arc_out = out_pool[so + j]
            x = a_head[arc_out]
            if x != u and dist[x] > a_w[arc_in] + a_w[arc_out]:
                shortcuts += 1
        for k in range(nt):
            dist[touched[k]] = INF
    return int(2 * shortcuts - in_len[v] - out_len[v])


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


def _csr(
    owner: Int64Array, values: list[Int64Array], node_count: int
) -> tuple[Int64Array, list[Int64Array]]:
    order = np.argsort(owner, kind="stable")
    ptr = np.concatenate([[0], np.cumsum(np.bincount(owner, minlength=node_count))]).astype(
        np.int64
    )
    return ptr, [v[order] for v in values]


def build_hierarchy(
    node_count: int, tail: Int64Array, head: Int64Array, weight: Int64Array
) -> Hierarchy:
    """Contract the graph ``tail[i] -> head[i]`` (weights > 0, no parallel arcs, no loops).

    Base edge ``i`` is arc ``i`` of the store, so unpacked paths name base edges.
    """
    if node_count == 0:
        zero = np.zeros(1, np.int64)
        e32 = np.zeros(0, np.int32)
        e64 = np.zeros(0, np.int64)
        return Hierarchy(zero, e32, e64, e32, zero.copy(), e32, e64, e32, e32, e32, e32)
    _, first, second, a_tail, a_head, a_w, up, down = _contract_ch(
        node_count,
        np.ascontiguousarray(tail, np.int64),
        np.ascontiguousarray(head, np.int64),
        np.ascontiguousarray(weight, np.int64),
        int(os.environ.get("LASTMILE_CH_WITNESS", WITNESS_SETTLE_LIMIT)),
        int(os.environ.get("LASTMILE_CH_SIMULATE", SIMULATE_SETTLE_LIMIT)),
    )
    m = len(tail)
    orig = np.full(len(first), -1, np.int32)
    orig[:m] = np.arange(m, dtype=np.int32)
    up_ptr, (up_arc,) = _csr(up[0], [up[1]], node_count)
    down_ptr, (down_arc,) = _csr(down[0], [down[1]], node_count)
    return Hierarchy(
        up_ptr=up_ptr,
        up_head=a_head[up_arc].astype(np.int32),
        up_weight=a_w[up_arc],
        up_arc=up_arc.astype(np.int32),
        down_ptr=down_ptr,
        down_head=a_tail[down_arc].astype(np.int32),
        down_weight=a_w[down_arc],
        down_arc=down_arc.astype(np.int32),
        arc_first=first.astype(np.int32),
        arc_second=second.astype(np.int32),
        arc_orig=orig,
    )


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
def _backward_all(
    h_ptr: Int64Array,
    h_head: Int32Array,
    h_weight: Int64Array,
    s_ptr: Int64Array,
    s_head: Int32Array,
    s_weight: Int64Array,
    t_ptr: Int64Array,
    t_nodes: Int64Array,
    t_cost: Int64Array,
    cap: int,
    threads: int,
) -> tuple[Int64Array, Int64Array, Int64Array, bool]:
    """Search spaces of every target: ``(node, dist)`` rows of ``cap`` entries each."""
    n = len(t_ptr) - 1
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
        for t in range(chunk * per, min(n, (chunk + 1) * per)):
            counts[t] = _upward(
                h_ptr,
                h_head,
                h_weight,
                s_ptr,
                s_head,
                s_weight,
                t_nodes[t_ptr[t] : t_ptr[t + 1]],
                t_cost[t_ptr[t] : t_ptr[t + 1]],
                dist,
                parent,
                touched,
                nodes[t],
                dists[t],
                scratch,
            )
    overflow = False
    for t in range(n):
        if counts[t] < 0:
            overflow = True
    return nodes, dists, counts, overflow


@numba.njit(nogil=True, cache=True, parallel=True)
def _forward_all(
    h_ptr: Int64Array,
    h_head: Int32Array,
    h_weight: Int64Array,
    s_ptr: Int64Array,
    s_head: Int32Array,
    s_weight: Int64Array,
    src_ptr: Int64Array,
    src_nodes: Int64Array,
    src_cost: Int64Array,
    bucket_ptr: Int64Array,
    bucket_target: Int64Array,
    bucket_dist: Int64Array,
    n_targets: int,
    cap: int,
    threads: int,
) -> tuple[Int64Array, bool]:
    """Forward search per source, scanning the buckets of settled nodes."""
    n = len(src_ptr) - 1
    result = np.full((n, n_targets), INF, np.int64)
    node_count = len(h_ptr) - 1
    per = (n + threads - 1) // threads
    bad = np.zeros(n, np.bool_)
    for chunk in numba.prange(threads):
        dist = np.full(node_count, INF, np.int64)
        parent = np.full(node_count, -1, np.int64)
        touched = np.empty(node_count, np.int64)
        out_node = np.empty(cap, np.int64)
        out_dist = np.empty(cap, np.int64)
        scratch = np.empty(cap, np.int64)
        for s in range(chunk * per, min(n, (chunk + 1) * per)):
            count = _upward(
                h_ptr,
                h_head,
                h_weight,
                s_ptr,
                s_head,
                s_weight,
                src_nodes[src_ptr[s] : src_ptr[s + 1]],
                src_cost[src_ptr[s] : src_ptr[s + 1]],
                dist,
                parent,
                touched,
                out_node,
                out_dist,
                scratch,
            )
            if count < 0:
                bad[s] = True
                continue
            row = result[s]
            for i in range(count):
                x = out_node[i]
                d = out_dist[i]
                for k in range(bucket_ptr[x], bucket_ptr[x + 1]):
                    total = d + bucket_dist[k]
                    t = bucket_target[k]
                    if total < row[t]:
                        row[t] = total
    return result, bool(bad.any())


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
    cap = INITIAL_BUCKET_CAP
    while True:
        nodes, dists, _, overflow = _backward_all(
            ch.down_ptr,
            ch.down_head,
            ch.down_weight,
            ch.up_ptr,
            ch.up_head,
            ch.up_weight,
            dst_ptr,
            dst_nodes,
            dst_cost,
            cap,
            min(threads, n_dst),
        )
        if not overflow:
            break
        cap *= 4
    keep = nodes >= 0
    targets = np.broadcast_to(np.arange(n_dst, dtype=np.int64)[:, None], nodes.shape)[keep]
    flat_nodes, flat_dists = nodes[keep], dists[keep]
    order = np.argsort(flat_nodes, kind="stable")
    bucket_ptr = np.concatenate(
        [[0], np.cumsum(np.bincount(flat_nodes, minlength=ch.node_count))]
    ).astype(np.int64)
    while True:
        result, bad = _forward_all(
            ch.up_ptr,
            ch.up_head,
            ch.up_weight,
            ch.down_ptr,
            ch.down_head,
            ch.down_weight,
            src_ptr,
            src_nodes,
            src_cost,
            bucket_ptr,
            targets[order],
            flat_dists[order],
            n_dst,
            cap,
            min(threads, n_src),  # one source (an insertion): no thread hand-off
        )
        if not bad:
            return result
        cap *= 4


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
    n = ch.node_count
    cap = max(INITIAL_BUCKET_CAP, 64)
    while True:
        f = _search_with_parents(
            ch.up_ptr,
            ch.up_head,
            ch.up_weight,
            ch.down_ptr,
            ch.down_head,
            ch.down_weight,
            src_nodes,
            src_cost,
            n,
            cap,
        )
        b = _search_with_parents(
            ch.down_ptr,
            ch.down_head,
            ch.down_weight,
            ch.up_ptr,
            ch.up_head,
            ch.up_weight,
            dst_nodes,
            dst_cost,
            n,
            cap,
        )
        if f is not None and b is not None:
            break
        cap *= 4
    f_node, f_dist, f_parent = f
    b_node, b_dist, b_parent = b
    common, fi, bi = np.intersect1d(f_node, b_node, assume_unique=True, return_indices=True)
    if len(common) == 0:
        raise RuntimeError("road engine: no path between two points of one component (bug)")
    total = f_dist[fi] + b_dist[bi]
    best = int(np.argmin(total))
    meet = int(common[best])
    # forward half: climb parents from the meeting node back to a start
    f_parent_of = dict(zip(f_node.tolist(), f_parent.tolist(), strict=True))
    b_parent_of = dict(zip(b_node.tolist(), b_parent.tolist(), strict=True))
    up_arcs: list[int] = []
    x = meet
    while f_parent_of[x] >= 0:
        k = f_parent_of[x]
        up_arcs.append(int(ch.up_arc[k]))
        x = int(_tail_of(ch.up_ptr, k))
    first_node = x
    up_arcs.reverse()
    down_arcs: list[int] = []
    x = meet
    while b_parent_of[x] >= 0:
        k = b_parent_of[x]
        down_arcs.append(int(ch.down_arc[k]))
        x = int(_tail_of(ch.down_ptr, k))
    last_node = x
    edges: list[int] = []
    for arc in up_arcs + down_arcs:
        edges.extend(ch.unpack(arc))
    return int(total[best]), first_node, last_node, edges


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
