"""Turn restrictions change routes, in every vehicle profile, and nothing else.

The city is generated twice from the same seed, with and without its restriction
relations, so both graphs have the same streets and only the restrictions differ.
"""

import osmium
import pytest

from lastmile.core.model import Location, Profile
from lastmile.core.roads import RoadNetwork, RoadProvider
from lastmile.core.roads.engine import path_length_m, scipy_dijkstra
from lastmile.core.roads.restrictions import read_restriction
from lastmile.core.roads.synthetic import generate_city

SIZE = 45


def node_id(r: int, c: int) -> int:
    return 1 + r * SIZE + c


@pytest.fixture(scope="module")
def cities(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[RoadNetwork, RoadNetwork, dict[int, Location]]:
    directory = tmp_path_factory.mktemp("cities")
    restricted = directory / "restricted.osm.pbf"
    free = directory / "free.osm.pbf"
    stats = generate_city(restricted, SIZE, seed=5)
    generate_city(free, SIZE, seed=5, restrictions=False)
    kinds = {(r.kind, r.via_node) for r in stats.restrictions}
    assert ("no_left_turn", node_id(10, 10)) in kinds
    assert ("only_straight_on", node_id(10, 40)) in kinds
    locations = {
        n.id: Location(n.location.lon, n.location.lat)
        for n in osmium.FileProcessor(str(free), osmium.osm.NODE)
    }
    profiles = [Profile.VAN, Profile.CAR, Profile.BICYCLE, Profile.CARGO_BIKE, Profile.WALKING]
    return (
        RoadNetwork.load(restricted, profiles=profiles),
        RoadNetwork.load(free, profiles=profiles),
        locations,
    )


def between(locations: dict[int, Location], a: int, b: int) -> Location:
    pa, pb = locations[a], locations[b]
    return Location((pa.lon + pb.lon) / 2, (pa.lat + pb.lat) / 2)


@pytest.mark.parametrize("profile", [Profile.VAN, Profile.CAR, Profile.BICYCLE, Profile.CARGO_BIKE])
def test_a_forbidden_left_turn_is_not_taken(
    cities: tuple[RoadNetwork, RoadNetwork, dict[int, Location]], profile: Profile
) -> None:
    restricted, free, at = cities
    # eastbound on row 10 into crossing (10, 10), then left: north on column 10
    start = between(at, node_id(10, 9), node_id(10, 10))
    end = between(at, node_id(10, 10), node_id(11, 10))
    with_rule = RoadProvider(restricted).matrix([start, end], profile)
    without = RoadProvider(free).matrix([start, end], profile)
    assert with_rule.durations_s[0, 1] > without.durations_s[0, 1] + 5
    # the way back (a right turn from column 10 into row 10 westbound) is not restricted
    # (within a second: split nodes change where partial edges are rounded)
    assert abs(with_rule.durations_s[1, 0] - without.durations_s[1, 0]) <= 1
    # the path shows the detour, and it is the matrix's path
    path = RoadProvider(restricted).path(start, end, profile)
    assert path_length_m(path) == pytest.approx(with_rule.distances_m[0, 1], abs=1.0)
    assert path_length_m(path) > path_length_m(RoadProvider(free).path(start, end, profile)) + 50


def test_only_straight_on_forbids_both_turns(
    cities: tuple[RoadNetwork, RoadNetwork, dict[int, Location]],
) -> None:
    restricted, free, at = cities
    start = between(at, node_id(10, 39), node_id(10, 40))
    north = between(at, node_id(10, 40), node_id(11, 40))
    south = between(at, node_id(10, 40), node_id(9, 40))
    ahead = between(at, node_id(10, 40), node_id(10, 41))
    points = [start, north, south, ahead]
    with_rule = RoadProvider(restricted).matrix(points, Profile.VAN)
    without = RoadProvider(free).matrix(points, Profile.VAN)
    assert with_rule.durations_s[0, 1] > without.durations_s[0, 1] + 5
    assert with_rule.durations_s[0, 2] > without.durations_s[0, 2] + 5
    assert abs(with_rule.durations_s[0, 3] - without.durations_s[0, 3]) <= 1


def test_walkers_ignore_turn_restrictions(
    cities: tuple[RoadNetwork, RoadNetwork, dict[int, Location]],
) -> None:
    restricted, free, at = cities
    start = between(at, node_id(10, 8), node_id(10, 9))
    end = between(at, node_id(11, 10), node_id(12, 10))
    with_rule = RoadProvider(restricted).matrix([start, end], Profile.WALKING)
    without = RoadProvider(free).matrix([start, end], Profile.WALKING)
    assert abs(with_rule.durations_s[0, 1] - without.durations_s[0, 1]) <= 1


def test_the_dijkstra_reference_sees_the_same_restrictions(
    cities: tuple[RoadNetwork, RoadNetwork, dict[int, Location]],
) -> None:
    restricted, _, at = cities
    points = [
        between(at, node_id(10, 8), node_id(10, 9)),
        between(at, node_id(11, 10), node_id(12, 10)),
        between(at, node_id(10, 38), node_id(10, 39)),
        between(at, node_id(11, 40), node_id(12, 40)),
    ]
    fast = RoadProvider(restricted).matrix(points, Profile.VAN)
    slow = RoadProvider(restricted, distances=scipy_dijkstra).matrix(points, Profile.VAN)
    assert abs(fast.durations_s - slow.durations_s).max() <= 1


@pytest.mark.parametrize(
    ("tags", "profiles"),
    [
        (
            {"type": "restriction", "restriction": "no_left_turn"},
            {"car", "van", "bicycle", "cargo_bike"},
        ),
        (
            {"type": "restriction", "restriction": "no_u_turn", "except": "bicycle"},
            {"car", "van"},
        ),
        ({"type": "restriction", "restriction:goods": "only_right_turn"}, {"van"}),
        ({"type": "restriction", "restriction": "give_way"}, None),
        ({"type": "multipolygon", "restriction": "no_left_turn"}, None),
    ],
)
def test_which_profiles_a_restriction_binds(
    tags: dict[str, str], profiles: set[str] | None
) -> None:
    members = [("w", 1, "from"), ("n", 2, "via"), ("w", 3, "to")]
    found = read_restriction(tags, members)
    if profiles is None:
        assert found is None
    else:
        assert found is not None
        assert {p.value for p in found.profiles} == profiles


def test_a_restriction_via_a_way_is_skipped() -> None:
    members = [("w", 1, "from"), ("w", 2, "via"), ("w", 3, "to")]
    assert read_restriction({"type": "restriction", "restriction": "no_left_turn"}, members) is None
