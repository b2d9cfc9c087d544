"""Kernels of the hierarchy build (:mod:`lastmile.core.roads.contraction`), compiled with numba.

* an **indexed binary heap** on arrays (decrease-key, no duplicate entries, no allocation per
  search) instead of ``heapq`` on a list of tuples;
* **pooled adjacency lists** that grow as shortcuts are added;
* the **witness search** and :func:`shortcuts`, which decides the shortcuts contracting one
  node needs. Witness searches stop early: when every target is settled, at the bound (the
  heaviest ``u -> v -> x``), or after a limited number of settled nodes (a miss only costs
  a shortcut, never exactness).

Every kernel works on caller-owned scratch arrays (``work``, ``touched``, ``hp``) that it
leaves as it found them, so each thread of a parallel round keeps one set for the whole
build.
"""

from __future__ import annotations

import numba
import numpy as np
import numpy.typing as npt

from lastmile.core.roads.hierarchy import INF

Int64Array = npt.NDArray[np.int64]

# --- an indexed binary heap: hp[0] keys, hp[1] nodes, hp[2][node] = position or -1 --------


@numba.njit(nogil=True, cache=True, inline="always")
def _heap_put(hp: Int64Array, i: int, key: np.int64, node: int) -> None:
    hp[0, i] = key
    hp[1, i] = node
    hp[2, node] = i


@numba.njit(nogil=True, cache=True, inline="always")
def _heap_sift_up(hp: Int64Array, i: int, key: np.int64, node: int) -> None:
    while i > 0:
        parent = (i - 1) >> 1
        if hp[0, parent] <= key:
            break
        _heap_put(hp, i, hp[0, parent], hp[1, parent])
        i = parent
    _heap_put(hp, i, key, node)


@numba.njit(nogil=True, cache=True, inline="always")
def _heap_set(hp: Int64Array, size: int, node: int, key: np.int64) -> int:
    """Insert ``node`` with ``key``, or lower its key; returns the new size."""
    i = hp[2, node]
    if i < 0:
        i = size
        size += 1
    _heap_sift_up(hp, i, key, node)
    return size


@numba.njit(nogil=True, cache=True, inline="always")
def _heap_pop(hp: Int64Array, size: int) -> int:
    """Drop the minimum (read ``hp[0, 0]``, ``hp[1, 0]`` before); returns the new size."""
    hp[2, hp[1, 0]] = -1
    size -= 1
    if size == 0:
        return 0
    key = hp[0, size]
    node = hp[1, size]
    i = 0
    while True:
        child = 2 * i + 1
        if child >= size:
            break
        if child + 1 < size and hp[0, child + 1] < hp[0, child]:
            child += 1
        if hp[0, child] >= key:
            break
        _heap_put(hp, i, hp[0, child], hp[1, child])
        i = child
    _heap_put(hp, i, key, node)
    return size


# --- the graph being contracted: pooled vectors of arcs per node --------------------------


@numba.njit(nogil=True, cache=True)
def grow(arr: Int64Array, need: int) -> Int64Array:
    """``arr`` itself if it holds ``need`` entries, else a copy at least twice as long."""
    if need <= len(arr):
        return arr
    bigger = np.empty(max(need, 2 * len(arr)), dtype=arr.dtype)
    bigger[: len(arr)] = arr
    return bigger


@numba.njit(nogil=True, cache=True)
def grow2(arr: Int64Array, need: int) -> Int64Array:
    """:func:`grow` for the columns of a 2-D array."""
    if need <= arr.shape[1]:
        return arr
    bigger = np.empty((arr.shape[0], max(need, 2 * arr.shape[1])), dtype=arr.dtype)
    bigger[:, : arr.shape[1]] = arr
    return bigger


@numba.njit(nogil=True, cache=True)
def list_append(
    lists: Int64Array, pool: Int64Array, used: int, node: int, value: int
) -> tuple[Int64Array, int]:
    """Append ``value`` to ``node``'s list in a pooled vector of vectors (``lists`` rows:
    start, length, capacity); returns the pool and its used length."""
    if lists[1, node] == lists[2, node]:
        new_cap = max(4, 2 * lists[2, node])
        pool = grow(pool, used + new_cap)
        start = lists[0, node]
        pool[used : used + lists[1, node]] = pool[start : start + lists[1, node]]
        lists[0, node] = used
        lists[2, node] = new_cap
        used += new_cap
    pool[lists[0, node] + lists[1, node]] = value
    lists[1, node] += 1
    return pool, used


@numba.njit(nogil=True, cache=True)
def list_remove(lists: Int64Array, pool: Int64Array, node: int, value: int) -> None:
    """Remove ``value`` from ``node``'s list (swap with the last entry)."""
    s = lists[0, node]
    for i in range(lists[1, node]):
        if pool[s + i] == value:
            pool[s + i] = pool[s + lists[1, node] - 1]
            lists[1, node] -= 1
            return


# --- witness searches ---------------------------------------------------------------------


@numba.njit(nogil=True, cache=True)
def _witness(
    source: int,
    avoid: int,
    bound: np.int64,
    limit: int,
    targets: int,
    stamp: int,
    outs: Int64Array,
    out_pool: Int64Array,
    a_head: Int64Array,
    a_w: Int64Array,
    gone: Int64Array,
    position: int,
    work: Int64Array,
    touched: Int64Array,
    hp: Int64Array,
) -> int:
    """Dijkstra from ``source`` among nodes other than ``avoid`` with ``gone > position``.

    ``work[0]`` holds tentative distances, ``work[1][x] == stamp`` marks the ``targets``
    nodes: the search stops once all are settled, beyond ``bound`` or after ``limit``
    settled nodes. Leaves distances in ``work[0]`` (the caller resets the returned number
    of ``touched`` entries).
    """
    dist = work[0]
    n_touched = 1
    dist[source] = 0
    touched[0] = source
    size = _heap_set(hp, 0, source, np.int64(0))
    settled = 0
    while size > 0:
        d = hp[0, 0]
        x = hp[1, 0]
        size = _heap_pop(hp, size)
        if d > bound:
            break
        if work[1, x] == stamp:
            targets -= 1
            if targets == 0:
                break
        settled += 1
        if settled > limit:
            break
        s = outs[0, x]
        for i in range(outs[1, x]):
            arc = out_pool[s + i]
            y = a_head[arc]
            if y == avoid or gone[y] <= position:
                continue
            nd = d + a_w[arc]
            if nd < dist[y]:
                if dist[y] == INF:
                    touched[n_touched] = y
                    n_touched += 1
                dist[y] = nd
                size = _heap_set(hp, size, y, nd)
    for i in range(size):
        hp[2, hp[1, i]] = -1
    return n_touched


@numba.njit(nogil=True, cache=True)
def shortcuts(
    v: int,
    limit: int,
    found: Int64Array,
    offset: int,
    outs: Int64Array,
    out_pool: Int64Array,
    ins: Int64Array,
    in_pool: Int64Array,
    a_tail: Int64Array,
    a_head: Int64Array,
    a_w: Int64Array,
    gone: Int64Array,
    position: int,
    work: Int64Array,
    touched: Int64Array,
    hp: Int64Array,
) -> int:
    """How many shortcuts contracting ``v`` needs, with ``v`` and every node whose ``gone``
    is at most ``position`` out of the graph (see :mod:`lastmile.core.roads.contraction`). If ``found`` has columns (at least in-degree x out-degree from
    ``offset``), they are written there as ``(arc in, arc out, weight)``. ``work[1]`` stamps
    are unique per search: ``work[2, 0]`` counts them."""
    record = found.shape[1] > 0
    count = 0
    si = ins[0, v]
    so = outs[0, v]
    for i in range(ins[1, v]):
        arc_in = in_pool[si + i]
        u = a_tail[arc_in]
        work[2, 0] += 1
        stamp = work[2, 0]
        targets = 0
        bound = np.int64(0)
        for j in range(outs[1, v]):
            arc_out = out_pool[so + j]
            x = a_head[arc_out]
            if x != u:
                need = a_w[arc_in] + a_w[arc_out]
                bound = max(bound, need)
                if work[1, x] != stamp:
                    work[1, x] = stamp
                    targets += 1
        if targets == 0:
            continue
        n_touched = _witness(
            u, v, bound, limit, targets, stamp, outs, out_pool, a_head, a_w, gone, position,
            work, touched, hp,
        )  # fmt: skip
        for j in range(outs[1, v]):
            arc_out = out_pool[so + j]
            x = a_head[arc_out]
            need = a_w[arc_in] + a_w[arc_out]
            if x != u and work[0, x] > need:
                if record:
                    found[0, offset + count] = arc_in
                    found[1, offset + count] = arc_out
                    found[2, offset + count] = need
                count += 1
        for k in range(n_touched):
            work[0, touched[k]] = INF
    return count
