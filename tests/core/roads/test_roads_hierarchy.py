"""The contraction hierarchy answers exactly what plain Dijkstra answers.

The reference is the pre-hierarchy engine (one scipy Dijkstra per origin on the query
graph, ``RoadProvider(distances=scipy_dijkstra)``), run on the same snapped points.
"""

import itertools
from pathlib import Path

import numpy as np
import pytest
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra
from test_roads_engine import random_points

from lastmile.core.model import Location, Profile
from lastmile.core.roads import RoadNetwork, RoadProvider
from lastmile.core.roads.contraction import CACHED_ARRAYS, build_hierarchy, with_weights
from lastmile.core.roads.engine import path_length_m, scipy_dijkstra
from lastmile.core.roads.hierarchy import INF, many_to_many, shortest_path
from lastmile.core.roads.synthetic import generate_city


def _random_graph(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A random sparse directed graph with parallel-free arcs and some one-way ones."""
    rng = np.random.default_rng(seed)
    tail = rng.integers(0, n, 4 * n)
    head = (tail + rng.integers(1, 12, 4 * n)) % n
    pairs = np.unique(np.column_stack([tail, head]), axis=0)
    weight = rng.integers(1, 1000, len(pairs))
    return pairs[:, 0], pairs[:, 1], weight


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_many_to_many_equals_dijkstra_on_random_graphs(seed: int) -> None:
    n = 400
    tail, head, weight = _random_graph(n, seed)
    ch = build_hierarchy(n, tail, head, weight)
    starts = np.arange(n, dtype=np.int64)
    ptr = np.arange(n + 1, dtype=np.int64)
    zero = np.zeros(n, dtype=np.int64)
    found = many_to_many(ch, ptr, starts, zero, ptr, starts, zero)
    graph = csr_matrix((weight.astype(float), (tail, head)), shape=(n, n))
    expected = dijkstra(graph, directed=True)
    reachable = np.isfinite(expected)
    assert np.array_equal(found[reachable], expected[reachable].astype(np.int64))
    assert np.all(found[~reachable] >= INF)


def test_paths_unpack_to_original_arcs_of_the_found_weight() -> None:
    n = 300
    tail, head, weight = _random_graph(n, 7)
    ch = build_hierarchy(n, tail, head, weight)
    graph = csr_matrix((weight.astype(float), (tail, head)), shape=(n, n))
    expected = dijkstra(graph, directed=True, indices=[0, 5, 9])
    for row, source in enumerate([0, 5, 9]):
        for target in (17, 150, 299):
            if not np.isfinite(expected[row, target]) or source == target:
                continue
            total, first, last, arcs = shortest_path(
                ch, np.array([source]), np.array([0]), np.array([target]), np.array([0])
            )
            assert total == expected[row, target]
            assert (first, last) == (source, target)
            assert int(weight[arcs].sum()) == total
            assert tail[arcs[0]] == source and head[arcs[-1]] == target
            assert all(head[a] == tail[b] for a, b in itertools.pairwise(arcs))


@pytest.mark.parametrize("profile", [Profile.VAN, Profile.BICYCLE, Profile.WALKING])
def test_matrix_equals_the_dijkstra_engine(provider: RoadProvider, profile: Profile) -> None:
    points = random_points(80, seed=11)
    reference = RoadProvider(provider.network, distances=scipy_dijkstra)
    fast = provider.matrix(points, profile)
    slow = reference.matrix(points, profile)
    # both round partial edges to deciseconds/centimetres, at slightly different places
    assert np.abs(fast.durations_s - slow.durations_s).max() <= 1
    assert np.abs(fast.distances_m - slow.distances_m).max() <= 1
    assert np.mean(fast.durations_s == slow.durations_s) > 0.97


def test_one_to_many_is_the_matrix_row(provider: RoadProvider) -> None:
    points = random_points(40, seed=12)
    matrix = provider.matrix(points, Profile.VAN)
    row = provider.one_to_many(points[3], points, Profile.VAN)
    assert row.durations_s.shape == (1, 40)
    assert np.array_equal(row.durations_s[0], matrix.durations_s[3])
    assert np.array_equal(row.distances_m[0], matrix.distances_m[3])
    table = provider.table(points[:5], points[10:], Profile.VAN)
    assert np.array_equal(table.durations_s, matrix.durations_s[:5, 10:])


def test_path_from_the_hierarchy_matches_its_matrix_entry(provider: RoadProvider) -> None:
    points = random_points(12, seed=13)
    matrix = provider.matrix(points, Profile.VAN)
    reference = RoadProvider(provider.network, distances=scipy_dijkstra)
    for a, b in itertools.pairwise(points):
        path = provider.path(a, b, Profile.VAN)
        i, j = points.index(a), points.index(b)
        assert path_length_m(path) == pytest.approx(matrix.distances_m[i, j], abs=1.0)
        assert path_length_m(path) == pytest.approx(
            path_length_m(reference.path(a, b, Profile.VAN)), abs=1.0
        )


def test_generated_city_is_routed_like_dijkstra(tmp_path: Path) -> None:
    """A 40 x 40 synthetic city (one-way streets, a river with bridges, parks)."""
    pbf = tmp_path / "city.osm.pbf"
    generate_city(pbf, 40, restrictions=False)
    network = RoadNetwork.load(pbf, profiles=[Profile.VAN])
    rng = np.random.default_rng(2)
    lon = network.graph.node_lon
    lat = network.graph.node_lat
    points = [
        Location(float(rng.uniform(lon.min(), lon.max())), float(rng.uniform(lat.min(), lat.max())))
        for _ in range(60)
    ]
    fast = RoadProvider(network).matrix(points, Profile.VAN)
    slow = RoadProvider(network, distances=scipy_dijkstra).matrix(points, Profile.VAN)
    assert np.abs(fast.durations_s - slow.durations_s).max() <= 1
    assert np.abs(fast.distances_m - slow.distances_m).max() <= 1


def test_two_equally_fast_detours_contracted_in_one_round_keep_their_shortcut() -> None:
    """x -> c1 -> y and x -> c2 -> y weigh the same and c1, c2 go in the same round: each
    is the other's witness, so if both trusted that, x could no longer reach y at 2."""
    x, y, c1, c2, a, b, d, e = range(8)
    arcs = [(x, c1, 1), (c1, y, 1), (x, c2, 1), (c2, y, 1)]
    arcs += [(p, q, 5) for leaf, hub in ((a, x), (b, x), (d, y), (e, y)) for p, q in ((leaf, hub), (hub, leaf))]  # fmt: skip
    tail, head, weight = (np.array(column) for column in zip(*arcs, strict=True))
    ch = build_hierarchy(8, tail, head, weight)
    starts = np.arange(8, dtype=np.int64)
    ptr = np.arange(9, dtype=np.int64)
    zero = np.zeros(8, dtype=np.int64)
    found = many_to_many(ch, ptr, starts, zero, ptr, starts, zero)
    assert found[x, y] == 2
    expected = dijkstra(csr_matrix((weight.astype(float), (tail, head)), shape=(8, 8)))
    reachable = np.isfinite(expected)
    assert np.array_equal(found[reachable], expected[reachable].astype(np.int64))


@pytest.mark.parametrize("seed", [8, 9])
def test_contraction_on_several_threads_is_exact_and_thread_independent(
    seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rounds of independent nodes, each thread contracting a share (forced on a small graph
    by lowering the size from which threads are used): Dijkstra's answers, and the very same
    hierarchy as on one thread."""
    from lastmile.core.roads import contraction

    monkeypatch.setattr(contraction, "PARALLEL_FROM", 1)
    n = 600
    tail, head, weight = _random_graph(n, seed)
    built = {
        threads: contraction._contract_ch(n, tail, head, weight, 500, 50, threads)
        for threads in (1, 2, 3)
    }
    for threads in (2, 3):
        assert all(np.array_equal(a, b) for a, b in zip(built[1], built[threads], strict=True))
    store, sides = built[2]
    assert store.shape[1] > len(tail)  # shortcuts were made
    assert sorted(sides[1].tolist()) == list(range(store.shape[1]))  # each arc at one node
    monkeypatch.setattr(contraction, "_threads", lambda: 2)
    ch = build_hierarchy(n, tail, head, weight)
    starts = np.arange(n, dtype=np.int64)
    ptr = np.arange(n + 1, dtype=np.int64)
    zero = np.zeros(n, dtype=np.int64)
    found = many_to_many(ch, ptr, starts, zero, ptr, starts, zero)
    expected = dijkstra(csr_matrix((weight.astype(float), (tail, head)), shape=(n, n)))
    reachable = np.isfinite(expected)
    assert np.array_equal(found[reachable], expected[reachable].astype(np.int64))


@pytest.mark.parametrize("seed", [4, 5])
def test_weights_summed_from_base_arcs_equal_the_built_ones(seed: int) -> None:
    """The cache keeps no weights: summing each shortcut's halves gives them back exactly."""
    n = 500
    tail, head, weight = _random_graph(n, seed)
    ch = build_hierarchy(n, tail, head, weight)
    kept = {name: getattr(ch, name) for name in CACHED_ARRAYS}
    restored = with_weights(kept, weight)
    assert np.array_equal(restored.up_weight, ch.up_weight)
    assert np.array_equal(restored.down_weight, ch.down_weight)
    assert (ch.arc_first >= 0).sum() > n  # there are shortcuts to sum
    wrong = with_weights(kept, weight + 1)
    assert not np.array_equal(wrong.up_weight, ch.up_weight)


def test_small_queries_stay_on_the_calling_thread_and_the_team_is_restored() -> None:
    """A 1 x 8 insertion query must not wait at a barrier for a second thread (on a busy
    machine that cost 100x); big matrices still use every core; numba's per-thread setting
    is put back after each region."""
    import numba

    from lastmile.core.roads import hierarchy

    assert hierarchy.team_size(2, 1) == 1
    assert hierarchy.team_size(2, 8) == 1
    assert hierarchy.team_size(2, hierarchy.PARALLEL_MIN_QUERIES) == 2
    assert hierarchy.team_size(4, 1000) == 4
    before = numba.get_num_threads()
    with hierarchy._team(1):
        assert numba.get_num_threads() == 1
    assert numba.get_num_threads() == before
