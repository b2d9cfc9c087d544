"""Matrices, paths and snapping on the Helsinki graph, plus a Liechtenstein run."""

from pathlib import Path

import numpy as np
import osmium
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lastmile.core.geo import haversine_m, haversine_matrix_m
from lastmile.core.model import Location, Profile
from lastmile.core.roads import (
    NoRoadsError,
    RoadNetwork,
    RoadProvider,
    TravelTimeProvider,
    default_extract,
)
from lastmile.core.roads.build import RoadGraph
from lastmile.core.roads.engine import path_length_m, scipy_dijkstra
from lastmile.core.roads.profiles import TOP_SPEED_KMH

# Vilhonkatu (OSM way 35107025): a one-way street, drawn and driven westbound.
VILHONKATU_EAST = Location(24.9472154, 60.1720881)
VILHONKATU_WEST = Location(24.9454761, 60.1720350)
METRES_PER_DEGREE_LAT = 111_195.0


def along(a: Location, b: Location, fraction: float) -> Location:
    return Location(a.lon + fraction * (b.lon - a.lon), a.lat + fraction * (b.lat - a.lat))


def random_points(n: int, seed: int) -> list[Location]:
    """Points inside the Helsinki extract (some in parks or water: that is intended)."""
    rng = np.random.default_rng(seed)
    lon = rng.uniform(24.937, 24.952, n)
    lat = rng.uniform(60.165, 60.178, n)
    return [Location(float(x), float(y)) for x, y in zip(lon, lat, strict=True)]


def test_provider_implements_the_protocol(provider: RoadProvider) -> None:
    assert isinstance(provider, TravelTimeProvider)
    assert provider.name == "roads:helsinki"


@pytest.mark.parametrize("profile", list(Profile))
def test_no_trip_is_faster_than_the_crow_flies_at_top_speed(
    provider: RoadProvider, profile: Profile
) -> None:
    points = random_points(40, seed=1)
    matrix = provider.matrix(points, profile)
    crow = haversine_matrix_m(points)
    top_ms = TOP_SPEED_KMH[profile] / 3.6
    assert matrix.durations_s.dtype == np.int64 and matrix.distances_m.dtype == np.int64
    assert np.all(matrix.durations_s >= np.floor(crow / top_ms) - 1)
    assert np.all(matrix.distances_m >= np.floor(crow) - 1)
    assert np.all(np.diag(matrix.durations_s) == 0) and np.all(np.diag(matrix.distances_m) == 0)
    off = ~np.eye(len(points), dtype=bool)
    assert np.all(matrix.durations_s[off] > 0)


@pytest.mark.parametrize("profile", [Profile.VAN, Profile.BICYCLE, Profile.WALKING])
def test_path_length_equals_the_matrix_distance(provider: RoadProvider, profile: Profile) -> None:
    points = random_points(12, seed=2)
    matrix = provider.matrix(points, profile)
    for i in range(len(points)):
        for j in range(len(points)):
            if i == j:
                continue
            path = provider.path(points[i], points[j], profile)
            assert path[0] == points[i] and path[-1] == points[j]
            assert path_length_m(path) == pytest.approx(matrix.distances_m[i, j], abs=0.6)


def test_a_one_way_street_is_driven_one_way_only(provider: RoadProvider) -> None:
    a = along(VILHONKATU_EAST, VILHONKATU_WEST, 0.25)  # upstream
    b = along(VILHONKATU_EAST, VILHONKATU_WEST, 0.75)  # downstream
    straight = haversine_m(a, b)
    van = provider.matrix([a, b], Profile.VAN)
    assert van.distances_m[0, 1] == pytest.approx(straight, abs=0.6)
    assert van.distances_m[1, 0] > 4 * straight  # around the block
    assert van.durations_s[1, 0] > 4 * van.durations_s[0, 1]
    walking = provider.matrix([a, b], Profile.WALKING)
    assert walking.distances_m[1, 0] == walking.distances_m[0, 1]
    # the path back really goes round: it leaves the street
    back = provider.path(b, a, Profile.VAN)
    assert path_length_m(back) == pytest.approx(van.distances_m[1, 0], abs=0.6)
    assert max(p.lat for p in back) - min(p.lat for p in back) > 0.001


def test_snapping_measures_the_gap_to_the_road(provider: RoadProvider) -> None:
    on_road = along(VILHONKATU_EAST, VILHONKATU_WEST, 0.5)
    offset = Location(on_road.lon, on_road.lat + 15.0 / METRES_PER_DEGREE_LAT)
    snap = provider.snap(offset, Profile.VAN)
    # the street runs 3.5 degrees off east-west, so the perpendicular gap is 15 * cos(3.5)
    assert snap.distance_m == pytest.approx(14.97, abs=0.3)
    assert snap.on_road
    assert snap.snapped.lat == pytest.approx(on_road.lat, abs=2e-5)
    assert VILHONKATU_WEST.lon < snap.snapped.lon < VILHONKATU_EAST.lon
    # the gap is travelled as an access leg at walking-ish speed, both ways
    base = provider.matrix([on_road, VILHONKATU_WEST], Profile.VAN)
    moved = provider.matrix([offset, VILHONKATU_WEST], Profile.VAN)
    assert moved.distances_m[0, 1] - base.distances_m[0, 1] == pytest.approx(15, abs=1.5)
    assert moved.durations_s[0, 1] - base.durations_s[0, 1] == pytest.approx(
        15 / (10 / 3.6), abs=1.5
    )


def test_a_point_far_from_any_road_is_flagged_but_still_routed(provider: RoadProvider) -> None:
    at_sea = Location(24.95, 60.15)  # about 1.6 km south of the extract, in the harbour
    near = along(VILHONKATU_EAST, VILHONKATU_WEST, 0.5)
    snap = provider.snap(at_sea, Profile.VAN)
    assert not snap.on_road and snap.distance_m > 1000
    assert provider.snap(near, Profile.VAN).on_road
    matrix, snaps = provider.matrix_and_snaps([near, at_sea], Profile.VAN)
    assert [s.on_road for s in snaps] == [True, False]
    assert matrix.distances_m[0, 1] >= snap.distance_m
    lenient = RoadProvider(provider.network, max_snap_m=5000)
    assert lenient.snap(at_sea, Profile.VAN).on_road


def test_identical_locations_cost_nothing(provider: RoadProvider) -> None:
    a, b = random_points(2, seed=3)
    matrix = provider.matrix([a, b, a], Profile.CAR)
    assert matrix.durations_s[0, 2] == 0 and matrix.distances_m[2, 0] == 0
    assert matrix.durations_s[0, 1] == matrix.durations_s[2, 1]
    assert provider.path(a, a, Profile.CAR) == [a, a]


def test_empty_matrix(provider: RoadProvider) -> None:
    assert provider.matrix([], Profile.VAN).durations_s.shape == (0, 0)


def test_two_stops_on_one_street_are_not_routed_round_the_block(provider: RoadProvider) -> None:
    a = along(VILHONKATU_EAST, VILHONKATU_WEST, 0.4)
    b = along(VILHONKATU_EAST, VILHONKATU_WEST, 0.6)
    matrix = provider.matrix([a, b], Profile.WALKING)
    assert matrix.distances_m[0, 1] == pytest.approx(haversine_m(a, b), abs=0.6)
    assert matrix.distances_m[1, 0] == pytest.approx(haversine_m(a, b), abs=0.6)


@settings(max_examples=25, deadline=None)
@given(
    st.lists(
        st.tuples(st.floats(24.937, 24.952), st.floats(60.165, 60.178)), min_size=3, max_size=6
    ),
    st.sampled_from(list(Profile)),
)
def test_durations_obey_the_triangle_inequality(
    provider: RoadProvider, coords: list[tuple[float, float]], profile: Profile
) -> None:
    points = [Location(lon, lat) for lon, lat in coords]
    d = provider.matrix(points, profile).durations_s
    via = d[:, :, None] + d[None, :, :]  # via[i, k, j] = d[i, k] + d[k, j]
    assert np.all(d <= via.min(axis=1) + 1)


# --- Liechtenstein: the bundled map ---------------------------------------------------------


def liechtenstein_addresses(n: int, seed: int) -> list[Location]:
    """Random addresses (nodes and buildings) of the bundled extract: realistic stops."""
    found = []
    processor = osmium.FileProcessor(str(default_extract()), osmium.osm.NODE | osmium.osm.WAY)
    for obj in processor.with_locations().with_filter(osmium.filter.KeyFilter("addr:housenumber")):
        if isinstance(obj, osmium.osm.Node):
            found.append(Location(obj.location.lon, obj.location.lat))
        elif isinstance(obj, osmium.osm.Way):  # buildings: the mean of their corners
            corners = [(n.lon, n.lat) for n in obj.nodes if n.location.valid()]
            if corners:
                lon, lat = np.mean(corners, axis=0)
                found.append(Location(float(lon), float(lat)))
    rng = np.random.default_rng(seed)
    return [found[i] for i in rng.choice(len(found), n, replace=False)]


@pytest.mark.slow
def test_liechtenstein_matrix_is_consistent(tmp_path: Path) -> None:
    network = RoadNetwork.load(default_extract(), cache=tmp_path / "li.roads.npz")
    assert network.graph.profiles[Profile.VAN].node_count > 3000
    provider = RoadProvider(network)
    points = liechtenstein_addresses(150, seed=7)
    matrix, snaps = provider.matrix_and_snaps(points, Profile.VAN)
    assert sum(s.on_road for s in snaps) >= 145
    crow = haversine_matrix_m(points)
    assert np.all(matrix.durations_s >= np.floor(crow / (TOP_SPEED_KMH[Profile.VAN] / 3.6)) - 1)
    # a long trip: north (Ruggell) to south (Balzers) is between 20 and 60 minutes by van
    north = int(np.argmax([p.lat for p in points]))
    south = int(np.argmin([p.lat for p in points]))
    assert 20 * 60 < matrix.durations_s[north, south] < 60 * 60
    path = provider.path(points[north], points[south], Profile.VAN)
    assert path_length_m(path) == pytest.approx(matrix.distances_m[north, south], abs=0.6)


@pytest.mark.parametrize("profile", [Profile.VAN, Profile.WALKING])
def test_pruning_dead_end_branches_changes_nothing(
    provider: RoadProvider, profile: Profile
) -> None:
    """The matrix on the pruned query graph equals the one on the whole graph."""
    points = random_points(60, seed=4)
    index = provider.network.index(profile)
    assert not index.core.all()  # there are branches to prune
    snaps = index.snap(points, provider.max_snap_m)
    origins = np.arange(len(points)) + index.pg.node_count
    pruned = index.query_graph(snaps, prune=True)
    full = index.query_graph(snaps, prune=False)
    assert pruned.matrix.nnz < full.matrix.nnz
    assert np.array_equal(
        scipy_dijkstra(pruned.matrix, origins, origins),
        scipy_dijkstra(full.matrix, origins, origins),
    )


@pytest.mark.parametrize("profile", [Profile.VAN, Profile.WALKING])
def test_snapping_finds_the_nearest_segment(provider: RoadProvider, profile: Profile) -> None:
    """The KD-tree search agrees with a brute-force scan over every usable segment."""
    index = provider.network.index(profile)
    graph = provider.network.graph
    segments = np.unique(index.pg.chain // 2)
    ux, uy = index.project(
        graph.node_lon[graph.seg_u[segments]], graph.node_lat[graph.seg_u[segments]]
    )
    vx, vy = index.project(
        graph.node_lon[graph.seg_v[segments]], graph.node_lat[graph.seg_v[segments]]
    )
    points = random_points(150, seed=5)
    for snap in provider.snap_many(points, profile):
        px, py = index.project(np.array([snap.location.lon]), np.array([snap.location.lat]))
        dx, dy = vx - ux, vy - uy
        t = np.clip(((px - ux) * dx + (py - uy) * dy) / np.maximum(dx * dx + dy * dy, 1e-12), 0, 1)
        brute = np.hypot(ux + t * dx - px, uy + t * dy - py).min()
        sx, sy = index.project(np.array([snap.snapped.lon]), np.array([snap.snapped.lat]))
        found = float(np.hypot(sx - px, sy - py)[0])
        assert found == pytest.approx(brute, abs=0.01)
        assert snap.distance_m == pytest.approx(found, rel=0.01, abs=0.05)


def test_a_map_without_usable_roads_is_a_domain_error() -> None:
    empty_i = np.zeros(0, dtype=np.int64)
    empty_f = np.zeros(0)
    speeds = np.zeros((len(Profile), 0), dtype=np.float32)
    graph = RoadGraph("empty", empty_f, empty_f, empty_i, empty_i, empty_f, speeds, speeds, empty_i)
    provider = RoadProvider(RoadNetwork(graph))
    assert provider.matrix([], Profile.VAN).durations_s.shape == (0, 0)
    with pytest.raises(NoRoadsError, match="no roads usable by the van profile"):
        provider.matrix([Location(9.5, 47.1)], Profile.VAN)
