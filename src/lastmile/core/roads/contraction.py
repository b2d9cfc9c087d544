"""Building a contraction hierarchy (the slow step of ``roads build``), compiled with numba.

Nodes are contracted least important first (Geisberger et al. 2008). When a node ``v`` goes,
each pair of neighbours ``u -> v -> x`` gets a shortcut ``u -> x`` unless a *witness search*
(a Dijkstra from ``u`` that avoids ``v``) finds a path at most as heavy. A shortcut remembers
the two arcs it replaces, so every arc unpacks to original edges. The searches themselves
are in :mod:`lastmile.core.roads.witness`.

**Rounds on every core.** Each round takes the nodes that come before all their neighbours
(priority, then a fixed random rank): no two are adjacent, so they are contracted at once,
each thread taking a contiguous share. Exactness: the round stands for contracting its
nodes one after the other in list order. The witness searches of the ``k``-th node avoid
the nodes before it (``gone[y] <= k``; contracted nodes have ``-1``) and may pass through
those after it, which are still there at its turn; every witness is then a path of the
graph the sequential order would see at that turn (which also has the earlier nodes'
shortcuts, so at worst we add a shortcut too many), and one node's shortcuts never touch
another's arcs (they join non-adjacent neighbours). Letting every node avoid all of the
round instead would make 4 % more shortcuts; letting it pass through all of them would be
wrong (two nodes on equally fast parallel paths would each take the other as witness).
Shortcuts are added in list order after the searches, so the hierarchy does not depend on
the number of threads.

**Lazy priorities** (one search per decision): priority = edge difference (shortcuts added,
counted twice, minus arcs removed) + contracted neighbours. The first edge differences are
estimated with short searches; afterwards a node's edge difference is only computed again
when it is a round's candidate, by the very searches that give its shortcuts. A candidate
whose fresh priority no longer comes before its neighbours' waits for a later round (its
searches wasted, like a lazy update in a sequential queue); a neighbour of a contracted node
just gains one contracted neighbour.

The result is an arc store plus, per node, the arcs to higher nodes
(:class:`lastmile.core.roads.hierarchy.Hierarchy`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import numba
import numpy as np
import numpy.typing as npt

from lastmile.core.roads.hierarchy import HIERARCHY_ARRAYS, INF, Hierarchy
from lastmile.core.roads.witness import grow2, list_append, list_remove, shortcuts

Int64Array = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

WITNESS_SETTLE_LIMIT = 500
"""Nodes a witness search may settle when deciding a node's shortcuts."""
SIMULATE_SETTLE_LIMIT = 50
"""The same when only estimating a node's priority (a guess, so cheaper)."""
ROUND_SHORTCUTS = 2_000_000
"""At most this many possible shortcuts (in-degree x out-degree) per round: bounds the
round's buffer (48 MB)."""
ARC_ROOM = 3
"""Arcs (base + shortcuts) made room for per base arc: road graphs end with about 2.6
(doubling a full store instead would cost most of a 2 GiB budget on a 1M city)."""

# --- rounds of independent nodes, each round on every core ----------------------------


@numba.njit(nogil=True, cache=True)
def _adjacency(
    node_count: int, tail: Int64Array, head: Int64Array
) -> tuple[Int64Array, Int64Array, int, Int64Array, Int64Array, int]:
    """Pooled out- and in-lists of the base arcs (``lists`` rows: start, length, capacity)."""
    m = len(tail)
    outs = np.zeros((3, node_count), np.int64)
    ins = np.zeros((3, node_count), np.int64)
    out_pool = np.empty(4 * m + 16, np.int64)
    in_pool = np.empty(4 * m + 16, np.int64)
    out_used = 0
    in_used = 0
    for a in range(m):
        out_pool, out_used = list_append(outs, out_pool, out_used, tail[a], a)
        in_pool, in_used = list_append(ins, in_pool, in_used, head[a], a)
    return outs, out_pool, out_used, ins, in_pool, in_used


@numba.njit(nogil=True, cache=True)
def _count_some(
    nodes: Int64Array,
    lo: int,
    hi: int,
    t: int,
    counts: Int64Array,
    offsets: Int64Array,
    limit: int,
    found: Int64Array,
    outs: Int64Array,
    out_pool: Int64Array,
    ins: Int64Array,
    in_pool: Int64Array,
    arcs: Int64Array,
    gone: Int64Array,
    work: Int64Array,
    touched: Int64Array,
    hp: Int64Array,
) -> None:
    """``counts[k]``: the shortcuts of ``nodes[k]`` for ``lo <= k < hi``, on scratch set
    ``t``; written to ``found`` from ``offsets[k]`` if it has columns (a round's
    candidates, which avoid the candidates before them), else estimates."""
    ranked = found.shape[1] > 0
    for k in range(lo, hi):
        counts[k] = shortcuts(
            nodes[k], limit, found, offsets[k], outs, out_pool, ins, in_pool, arcs[0], arcs[1],
            arcs[2], gone, k if ranked else -1, work[t], touched[t], hp[t],
        )  # fmt: skip


@numba.njit(nogil=True, cache=True, parallel=True)
def _count_all(
    nodes: Int64Array,
    threads: int,
    counts: Int64Array,
    offsets: Int64Array,
    limit: int,
    found: Int64Array,
    outs: Int64Array,
    out_pool: Int64Array,
    ins: Int64Array,
    in_pool: Int64Array,
    arcs: Int64Array,
    gone: Int64Array,
    work: Int64Array,
    touched: Int64Array,
    hp: Int64Array,
) -> None:
    """:func:`_count_some` of every node, one contiguous chunk per thread (so the result
    does not depend on the number of threads)."""
    per = (len(nodes) + threads - 1) // threads
    for t in numba.prange(threads):
        _count_some(
            nodes, t * per, min(len(nodes), (t + 1) * per), t, counts, offsets, limit, found,
            outs, out_pool, ins, in_pool, arcs, gone, work, touched, hp,
        )  # fmt: skip


@numba.njit(nogil=True, cache=True)
def _minima_some(
    nodes: Int64Array,
    lo: int,
    hi: int,
    chosen: BoolArray,
    edge_diff: Int64Array,
    deleted: Int64Array,
    rank: Int64Array,
    outs: Int64Array,
    out_pool: Int64Array,
    ins: Int64Array,
    in_pool: Int64Array,
    arcs: Int64Array,
) -> None:
    """``chosen[k]``: ``nodes[k]`` comes before every neighbour in (priority, rank), priority
    being edge difference + contracted neighbours. No two chosen nodes are adjacent."""
    for k in range(lo, hi):
        v = nodes[k]
        key = edge_diff[v] + deleted[v]
        best = True
        for up in (1, 0):
            lists, pool = (outs, out_pool) if up else (ins, in_pool)
            s = lists[0, v]
            for i in range(lists[1, v]):
                w = arcs[1, pool[s + i]] if up else arcs[0, pool[s + i]]
                other = edge_diff[w] + deleted[w]
                if other < key or (other == key and rank[w] < rank[v]):
                    best = False
                    break
            if not best:
                break
        chosen[k] = best


@numba.njit(nogil=True, cache=True, parallel=True)
def _minima_all(
    nodes: Int64Array,
    threads: int,
    chosen: BoolArray,
    edge_diff: Int64Array,
    deleted: Int64Array,
    rank: Int64Array,
    outs: Int64Array,
    out_pool: Int64Array,
    ins: Int64Array,
    in_pool: Int64Array,
    arcs: Int64Array,
) -> None:
    """:func:`_minima_some` of every node, on ``threads`` cores."""
    per = (len(nodes) + threads - 1) // threads
    for t in numba.prange(threads):
        _minima_some(
            nodes, t * per, min(len(nodes), (t + 1) * per), chosen, edge_diff, deleted, rank,
            outs, out_pool, ins, in_pool, arcs,
        )  # fmt: skip


PARALLEL_FROM = 2000
"""Fewer nodes than this are done on one thread (starting threads would cost more)."""


def _counts(nodes: Int64Array, threads: int, *args: Any) -> Int64Array:
    counts = np.zeros(len(nodes), np.int64)
    if threads > 1 and len(nodes) >= PARALLEL_FROM:
        _count_all(nodes, threads, counts, *args)
    else:
        _count_some(nodes, 0, len(nodes), 0, counts, *args)
    return counts


def _local_minima(nodes: Int64Array, threads: int, *args: Any) -> BoolArray:
    chosen = np.zeros(len(nodes), np.bool_)
    if threads > 1 and len(nodes) >= PARALLEL_FROM:
        _minima_all(nodes, threads, chosen, *args)
    else:
        _minima_some(nodes, 0, len(nodes), chosen, *args)
    return chosen


@numba.njit(nogil=True, cache=True)
def _apply_round(
    selected: Int64Array,
    offsets: Int64Array,
    counts: Int64Array,
    found: Int64Array,
    arcs: Int64Array,
    n_arcs: int,
    outs: Int64Array,
    out_pool: Int64Array,
    out_used: int,
    ins: Int64Array,
    in_pool: Int64Array,
    in_used: int,
    sides: Int64Array,
    n_sides: int,
    deleted: Int64Array,
    mark: Int64Array,
) -> tuple[Int64Array, int, Int64Array, int, Int64Array, int, Int64Array, int]:
    """Add the round's shortcuts in node order (an existing ``u -> x`` arc is improved in
    place), take the contracted nodes out of their neighbours' lists and record each of
    their arcs at them (``sides`` rows: owner, arc, up); each neighbour gains a contracted
    neighbour. Returns the grown stores."""
    for k in range(len(selected)):
        for j in range(offsets[k], offsets[k] + counts[k]):
            arc_in, arc_out, need = found[0, j], found[1, j], found[2, j]
            u, x = arcs[0, arc_in], arcs[1, arc_out]
            existing = -1
            su = outs[0, u]
            for i in range(outs[1, u]):
                if arcs[1, out_pool[su + i]] == x:
                    existing = out_pool[su + i]
                    break
            if existing >= 0:
                if need < arcs[2, existing]:
                    arcs[2, existing] = need
                    arcs[3, existing] = arc_in
                    arcs[4, existing] = arc_out
                continue
            arcs = grow2(arcs, n_arcs + 1)
            arcs[0, n_arcs] = u
            arcs[1, n_arcs] = x
            arcs[2, n_arcs] = need
            arcs[3, n_arcs] = arc_in
            arcs[4, n_arcs] = arc_out
            out_pool, out_used = list_append(outs, out_pool, out_used, u, n_arcs)
            in_pool, in_used = list_append(ins, in_pool, in_used, x, n_arcs)
            n_arcs += 1
    degrees = 0
    for v in selected:
        degrees += outs[1, v] + ins[1, v]
    sides = grow2(sides, n_sides + degrees)
    for v in selected:
        for up in (1, 0):
            lists, pool = (outs, out_pool) if up else (ins, in_pool)
            other_lists, other_pool = (ins, in_pool) if up else (outs, out_pool)
            s = lists[0, v]
            for i in range(lists[1, v]):
                arc = pool[s + i]
                sides[0, n_sides] = v
                sides[1, n_sides] = arc
                sides[2, n_sides] = up
                n_sides += 1
                w = arcs[1, arc] if up else arcs[0, arc]
                list_remove(other_lists, other_pool, w, arc)
                if mark[w] != v:  # one more contracted neighbour, counted once per node
                    mark[w] = v
                    deleted[w] += 1
    return arcs, n_arcs, out_pool, out_used, in_pool, in_used, sides, n_sides


def _contract_ch(
    node_count: int,
    tail: Int64Array,
    head: Int64Array,
    weight: Int64Array,
    witness_limit: int,
    simulate_limit: int,
    threads: int,
) -> tuple[Int64Array, Int64Array]:
    """Contract every node, in rounds. Returns the arc store (rows tail, head, weight,
    first, second; ``first < 0``: an original arc) and ``sides``: rows ``(owner, arc, up)``,
    each arc once, at the lower of its two end nodes (``up = 1``: it leaves the owner)."""
    m = len(tail)
    arcs = np.empty((5, max(16, ARC_ROOM * m)), np.int64)
    arcs[0, :m], arcs[1, :m], arcs[2, :m], arcs[3:, :m] = tail, head, weight, -1
    n_arcs = m
    outs, out_pool, out_used, ins, in_pool, in_used = _adjacency(node_count, tail, head)
    gone = np.full(node_count, node_count, np.int64)  # -1: contracted (see the module doc)
    work = np.full((threads, 3, node_count), INF, np.int64)
    work[:, 2, 0] = 0
    touched = np.empty((threads, node_count), np.int64)
    hp = np.full((threads, 3, node_count), -1, np.int64)
    rank = np.random.default_rng(0).permutation(node_count).astype(np.int64)
    deleted = np.zeros(node_count, np.int64)
    mark = np.full(node_count, -1, np.int64)
    sides = np.empty((3, max(16, ARC_ROOM * m)), np.int64)  # every arc once
    n_sides = 0
    remaining = np.arange(node_count, dtype=np.int64)
    scratch = (gone, work, touched, hp)
    lists = (outs, out_pool, ins, in_pool)
    none, zeros = np.empty((3, 0), np.int64), np.zeros(node_count, np.int64)
    counts = _counts(remaining, threads, zeros, simulate_limit, none, *lists, arcs, *scratch)
    edge_diff = 2 * counts - ins[1] - outs[1]
    while len(remaining):
        lists = (outs, out_pool, ins, in_pool)
        order = (edge_diff, deleted, rank, *lists, arcs)
        candidates = remaining[_local_minima(remaining, threads, *order)]
        bound = np.cumsum(ins[1, candidates] * outs[1, candidates])
        candidates = candidates[: max(1, int(np.searchsorted(bound, ROUND_SHORTCUTS, "right")))]
        offsets = np.concatenate([[0], bound[: len(candidates) - 1]]).astype(np.int64)
        gone[candidates] = np.arange(len(candidates))
        found = np.empty((3, bound[len(candidates) - 1]), np.int64)
        counts = _counts(candidates, threads, offsets, witness_limit, found, *lists, arcs, *scratch)
        # a candidate whose fresh priority no longer comes first waits (lazy updates)
        edge_diff[candidates] = 2 * counts - ins[1, candidates] - outs[1, candidates]
        gone[candidates] = node_count
        accept = _local_minima(candidates, threads, *order)
        if not accept.any():
            accept[:] = True
        selected = candidates[accept]
        gone[selected] = -1
        arcs, n_arcs, out_pool, out_used, in_pool, in_used, sides, n_sides = _apply_round(
            selected, offsets[accept], counts[accept], found, arcs, n_arcs, outs, out_pool,
            out_used, ins, in_pool, in_used, sides, n_sides, deleted, mark,
        )  # fmt: skip
        del found
        remaining = remaining[gone[remaining] >= 0]
    return arcs[:, :n_arcs], sides[:, :n_sides]


def _csr(owner: Int64Array, node_count: int) -> tuple[Int64Array, Int64Array]:
    """Row pointers over nodes and the stable order that groups entries by ``owner``."""
    order = np.argsort(owner, kind="stable")
    ptr = np.concatenate([[0], np.cumsum(np.bincount(owner, minlength=node_count))])
    return ptr.astype(np.int64), order


def _threads() -> int:
    return max(1, min(int(numba.get_num_threads()), len(os.sched_getaffinity(0))))


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
    store, sides = _contract_ch(
        node_count,
        np.ascontiguousarray(tail, np.int64),
        np.ascontiguousarray(head, np.int64),
        np.ascontiguousarray(weight, np.int64),
        int(os.environ.get("LASTMILE_CH_WITNESS", WITNESS_SETTLE_LIMIT)),
        int(os.environ.get("LASTMILE_CH_SIMULATE", SIMULATE_SETTLE_LIMIT)),
        _threads(),
    )
    a_tail, a_head, a_w, first, second = store
    m = len(tail)
    orig = np.full(len(first), -1, np.int32)
    orig[:m] = np.arange(m, dtype=np.int32)
    parts = {}
    for name, up in (("up", 1), ("down", 0)):
        owner, arcs = sides[0][sides[2] == up], sides[1][sides[2] == up]
        ptr, order = _csr(owner, node_count)
        arc = arcs[order]
        parts[name] = (ptr, (a_head if up else a_tail)[arc].astype(np.int32), a_w[arc], arc)
    return Hierarchy(
        up_ptr=parts["up"][0],
        up_head=parts["up"][1],
        up_weight=parts["up"][2],
        up_arc=parts["up"][3].astype(np.int32),
        down_ptr=parts["down"][0],
        down_head=parts["down"][1],
        down_weight=parts["down"][2],
        down_arc=parts["down"][3].astype(np.int32),
        arc_first=first.astype(np.int32),
        arc_second=second.astype(np.int32),
        arc_orig=orig,
    )


# --- the cache keeps no weights: they follow from the base arcs -------------------------

CACHED_ARRAYS = tuple(name for name in HIERARCHY_ARRAYS if not name.endswith("_weight"))
"""The arrays a cache stores; the weights (a quarter of a hierarchy) are summed at load."""


@numba.njit(nogil=True, cache=True)
def _arc_weights(first: Int64Array, second: Int64Array, base_weight: Int64Array) -> Int64Array:
    """Every arc's weight: a base arc's own, a shortcut's the sum of its two arcs' (exact:
    an arc's two halves never change after it is made or improved)."""
    weight = np.full(len(first), -1, np.int64)
    stack = np.empty(len(first) + 1, np.int64)
    for a in range(len(first)):
        top = 0
        stack[0] = a
        while top >= 0:
            x = stack[top]
            if weight[x] >= 0:
                top -= 1
            elif first[x] < 0:
                weight[x] = base_weight[x]
                top -= 1
            elif weight[first[x]] < 0:
                top += 1
                stack[top] = first[x]
            elif weight[second[x]] < 0:
                top += 1
                stack[top] = second[x]
            else:
                weight[x] = weight[first[x]] + weight[second[x]]
                top -= 1
    return weight


def with_weights(arrays: Mapping[str, Any], base_weight: Int64Array) -> Hierarchy:
    """The hierarchy from its :data:`CACHED_ARRAYS` and the weights of its base arcs."""
    weight = _arc_weights(
        np.asarray(arrays["arc_first"], np.int64),
        np.asarray(arrays["arc_second"], np.int64),
        np.ascontiguousarray(base_weight, np.int64),
    )
    return Hierarchy(
        **{name: arrays[name] for name in CACHED_ARRAYS},
        up_weight=weight[arrays["up_arc"]],
        down_weight=weight[arrays["down_arc"]],
    )
