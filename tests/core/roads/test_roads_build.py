"""Graph building, access/speed rules and the on-disk cache."""

import os
from pathlib import Path

import numpy as np
import osmium
import pytest
from roads_data import HELSINKI, copy_extract

from lastmile.core.model import Profile
from lastmile.core.roads import RoadNetwork, default_extract, samples
from lastmile.core.roads import build as build_module
from lastmile.core.roads.build import cache_path_for, load_or_build, read_cache
from lastmile.core.roads.compact import pack, unpack
from lastmile.core.roads.profiles import (
    PROFILES,
    RULE_KEYS,
    TOP_SPEED_KMH,
    node_blocks,
    parse_maxspeed,
    rules_fingerprint,
    way_rule,
)


def rule(profile: Profile, **tags: str) -> tuple[float, float]:
    """(forward, backward) speed in km/h of a way with these tags."""
    found = way_rule(tags.get, profile)
    return round(found.forward_ms * 3.6, 3), round(found.backward_ms * 3.6, 3)


# --- rules --------------------------------------------------------------------------------


def test_oneway_tags_close_one_direction_for_vehicles_not_for_walkers() -> None:
    assert rule(Profile.CAR, highway="residential", oneway="yes")[1] == 0
    assert rule(Profile.CAR, highway="residential", oneway="-1")[0] == 0
    assert rule(Profile.CAR, highway="residential", junction="roundabout")[1] == 0
    assert rule(Profile.VAN, highway="motorway")[1] == 0
    assert rule(Profile.VAN, highway="motorway", oneway="no")[1] > 0
    assert rule(Profile.WALKING, highway="residential", oneway="yes")[1] > 0
    assert rule(Profile.BICYCLE, highway="residential", oneway="yes")[1] == 0
    assert (
        rule(Profile.BICYCLE, highway="residential", oneway="yes", **{"oneway:bicycle": "no"})[1]
        > 0
    )


def test_way_rules_read_only_the_keys_a_parse_remembers_them_by() -> None:
    """The parse decides each combination of :data:`RULE_KEYS` values once: a rule that read
    another tag would give two ways that differ only there the same speeds."""
    read: set[str] = set()
    variants = [
        {"highway": h, "oneway": o, "area": a, "junction": j, "cycleway": c, "motorroad": m}
        for h in ("residential", "motorway", "footway", "pedestrian", "steps", "track", "service")
        for o in ("yes", "-1", "no", "reversible")
        for a, j, c, m in (("no", "roundabout", "opposite", "no"), ("yes", "", "", "yes"))
    ]
    extras = [{}, {"access": "no", "motor_vehicle": "delivery"}, {"bicycle": "yes"},
              {"access": "agricultural;forestry"}, {"maxspeed": "30 mph"}, {"foot": "no"},
              {"oneway:bicycle": "no", "oneway:foot": "yes"}, {"access": "permit"}]  # fmt: skip
    ways = osmium.FileProcessor(str(default_extract()), osmium.osm.WAY)
    real = [dict((t.k, t.v) for t in way.tags) for way in ways if "highway" in way.tags]
    for tags in [{**v, **e} for v in variants for e in extras] + real:

        def recording(key: str, tags: dict[str, str] = tags) -> str | None:
            read.add(key)
            return tags.get(key)

        for profile in PROFILES:
            way_rule(recording, profile)
    assert read <= set(RULE_KEYS)
    assert len(read) > 12  # the branches above reach most keys


def test_access_tags_follow_the_transport_mode_hierarchy() -> None:
    assert rule(Profile.VAN, highway="service", access="private") == (0, 0)
    assert rule(Profile.VAN, highway="residential", motor_vehicle="destination")[0] > 0
    assert rule(Profile.VAN, highway="residential", access="no", motor_vehicle="delivery")[0] > 0
    assert rule(Profile.CAR, highway="residential", motor_vehicle="agricultural;forestry") == (0, 0)
    assert rule(Profile.VAN, highway="pedestrian") == (0, 0)
    assert rule(Profile.VAN, highway="pedestrian", motor_vehicle="delivery")[0] > 0
    assert rule(Profile.VAN, highway="footway") == (0, 0)
    assert rule(Profile.WALKING, highway="footway")[0] > 0
    assert rule(Profile.WALKING, highway="residential", foot="no") == (0, 0)
    assert rule(Profile.WALKING, highway="motorway") == (0, 0)
    assert rule(Profile.BICYCLE, highway="steps") == (0, 0)
    assert rule(Profile.CARGO_BIKE, highway="cycleway")[0] > 0
    assert rule(Profile.BICYCLE, highway="footway") == (5.0, 5.0)  # pushed
    assert rule(Profile.BICYCLE, highway="footway", bicycle="yes")[0] == 16.0
    assert rule(Profile.BICYCLE, highway="primary", bicycle="use_sidepath") == (0, 0)


def test_speeds_use_maxspeed_and_stay_under_the_profile_top_speed() -> None:
    assert rule(Profile.CAR, highway="residential", maxspeed="30")[0] == 24.0
    assert rule(Profile.CAR, highway="primary", maxspeed="CH:urban")[0] == 40.0
    assert rule(Profile.VAN, highway="motorway", maxspeed="130")[0] == TOP_SPEED_KMH[Profile.VAN]
    assert rule(Profile.VAN, highway="primary")[0] < rule(Profile.CAR, highway="primary")[0]
    assert rule(Profile.WALKING, highway="steps")[0] < rule(Profile.WALKING, highway="footway")[0]
    assert parse_maxspeed("30 mph") == pytest.approx(48.28, abs=0.01)
    assert parse_maxspeed("walk") == 7.0
    assert parse_maxspeed("none") is None
    assert parse_maxspeed("signals") is None


# --- the graph ------------------------------------------------------------------------------


def test_graph_keeps_coordinates_and_prepares_every_profile(helsinki: RoadNetwork) -> None:
    graph = helsinki.graph
    assert set(graph.profiles) == set(PROFILES)
    assert graph.node_lon.min() > 24.93 and graph.node_lon.max() < 24.96
    assert graph.node_lat.min() > 60.16 and graph.node_lat.max() < 60.18
    assert np.all(graph.seg_len_m > 0)
    van, walking = graph.profiles[Profile.VAN], graph.profiles[Profile.WALKING]
    assert 100 < van.node_count < walking.node_count
    # every contracted edge starts and ends at graph nodes and stands for >= 1 segment
    assert np.all(np.diff(van.chain_ptr) >= 1)
    assert van.edge_from.max() < van.node_count and van.edge_to.max() < van.node_count
    # contracted lengths are the sums of the segment lengths
    lengths = graph.seg_len_m[van.chain // 2]
    sums = np.add.reduceat(lengths, van.chain_ptr[:-1])
    assert np.allclose(van.edge_dist / 100, sums, atol=0.006)


def test_progress_is_reported_from_zero_to_one(tmp_path: Path) -> None:
    seen: list[tuple[float, str]] = []
    RoadNetwork.load(copy_extract(HELSINKI, tmp_path), on_progress=lambda f, m: seen.append((f, m)))
    fractions = [f for f, _ in seen]
    assert fractions[0] == 0.0 and fractions[-1] == 1.0
    assert fractions == sorted(fractions)
    assert all(isinstance(m, str) and m for _, m in seen)


# --- cache ----------------------------------------------------------------------------------


def test_cache_path_sits_next_to_the_extract() -> None:
    assert cache_path_for(Path("/x/liechtenstein.osm.pbf")) == Path(
        "/x/liechtenstein.osm.roads.npz"
    )


def test_cache_is_written_reused_and_rebuilt_when_stale(tmp_path: Path) -> None:
    extract = copy_extract(HELSINKI, tmp_path)
    cache = cache_path_for(extract)
    first = RoadNetwork.load(extract)
    assert not first.from_cache and cache.exists()
    second = RoadNetwork.load(extract)
    assert second.from_cache
    assert np.array_equal(first.graph.node_lon, second.graph.node_lon)
    for profile in PROFILES:
        assert np.array_equal(
            first.graph.profiles[profile].edge_time, second.graph.profiles[profile].edge_time
        )
    # the extract changes (new mtime): the cache is stale and rebuilt
    stat = extract.stat()
    os.utime(extract, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    assert not RoadNetwork.load(extract).from_cache
    assert RoadNetwork.load(extract).from_cache


def test_broken_or_old_caches_are_rebuilt(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    extract = copy_extract(HELSINKI, tmp_path)
    cache = cache_path_for(extract)
    cache.write_bytes(b"not a zip file")
    assert not RoadNetwork.load(extract).from_cache
    assert RoadNetwork.load(extract).from_cache
    monkeypatch.setattr(build_module, "CACHE_FORMAT_VERSION", build_module.CACHE_FORMAT_VERSION + 1)
    assert read_cache(cache, None) is None
    assert not RoadNetwork.load(extract).from_cache
    assert rules_fingerprint() == rules_fingerprint()


def test_cache_holds_only_requested_profiles_and_grows_on_demand(tmp_path: Path) -> None:
    extract = copy_extract(HELSINKI, tmp_path)
    graph, from_cache = load_or_build(extract, profiles=[Profile.VAN])
    assert not from_cache and set(graph.profiles) == {Profile.VAN}
    graph, from_cache = load_or_build(extract, profiles=[Profile.WALKING])
    assert from_cache and set(graph.profiles) == {Profile.VAN, Profile.WALKING}
    cached = read_cache(cache_path_for(extract), None)
    assert cached is not None and set(cached.profiles) == {Profile.VAN, Profile.WALKING}


def test_a_cache_file_can_be_loaded_on_its_own(tmp_path: Path) -> None:
    extract = copy_extract(HELSINKI, tmp_path)
    cache = tmp_path / "elsewhere" / "helsinki.osm.roads.npz"
    cache.parent.mkdir()
    RoadNetwork.load(extract, cache=cache)
    extract.unlink()
    network = RoadNetwork.load(cache)
    assert network.from_cache and network.name == "helsinki"


def test_missing_extract_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"nowhere\.osm\.pbf"):
        RoadNetwork.load(tmp_path / "nowhere.osm.pbf")


def test_default_extract_is_the_bundled_liechtenstein_map() -> None:
    path = default_extract()
    assert path.name == "liechtenstein.osm.pbf" and path.is_file()


def test_barrier_nodes_stop_the_profiles_they_block() -> None:
    def blocks(profile: Profile, **tags: str) -> bool:
        return node_blocks(tags.get, profile)

    assert blocks(Profile.VAN, barrier="bollard") and not blocks(Profile.BICYCLE, barrier="bollard")
    assert not blocks(Profile.VAN, barrier="lift_gate")
    assert blocks(Profile.VAN, barrier="gate", access="private")
    assert not blocks(Profile.VAN, barrier="bollard", motor_vehicle="delivery")
    assert blocks(Profile.CARGO_BIKE, barrier="cycle_barrier")
    assert not blocks(Profile.BICYCLE, barrier="cycle_barrier")
    assert blocks(Profile.WALKING, barrier="fence") and not blocks(Profile.WALKING, barrier="stile")
    assert not blocks(Profile.CAR, highway="crossing")


def test_no_van_segment_passes_a_bollard(helsinki: RoadNetwork) -> None:
    bollards = [
        (obj.location.lon, obj.location.lat)
        for obj in osmium.FileProcessor(str(HELSINKI), osmium.osm.NODE).with_filter(
            osmium.filter.TagFilter(("barrier", "bollard"))
        )
        if isinstance(obj, osmium.osm.Node) and not obj.tags.get("motor_vehicle")
    ]
    graph = helsinki.graph
    coords = {
        (float(x), float(y)): i
        for i, (x, y) in enumerate(zip(graph.node_lon, graph.node_lat, strict=True))
    }
    on_roads = [coords[b] for b in bollards if b in coords]
    assert len(on_roads) >= 10  # the others stand beside the ways, not on them
    van = graph.profiles[Profile.VAN]
    used = graph.seg_u[van.chain // 2], graph.seg_v[van.chain // 2]
    assert not set(on_roads) & (set(used[0].tolist()) | set(used[1].tolist()))
    walking = graph.profiles[Profile.WALKING]
    walked = set(graph.seg_u[walking.chain // 2].tolist())
    assert set(on_roads) & walked  # walkers pass them


def test_compact_forms_give_every_array_back_exactly() -> None:
    rng = np.random.default_rng(3)
    arrays = {
        "ptr": np.cumsum(rng.integers(0, 200, 5000)).astype(np.int64),
        "small": rng.integers(-100, 30000, 5000).astype(np.int64),
        "wide": rng.integers(-(2**40), 2**40, 5000).astype(np.int64),
        "speeds": rng.choice(np.array([3.5, 8.3, 13.9], np.float32), (3, 5000)),
        "orig": np.concatenate([np.arange(4000), np.full(1000, -1)]).astype(np.int32),
        "lengths": rng.random(5000),
        "scalar": np.array(4),
    }
    packed = pack(arrays)
    assert set(packed) == {
        "ptr__steps", "ptr__steps_dtype", "small__narrow", "wide", "speeds__palette",
        "speeds__codes", "orig__arange", "lengths", "scalar",
    }  # fmt: skip
    assert packed["small__narrow"].dtype == np.int16
    back = unpack(packed)
    assert set(back) == set(arrays)
    for name, array in arrays.items():
        assert back[name].dtype == array.dtype and np.array_equal(back[name], array), name


def test_samples_in_chunks_equal_one_go(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(8)
    ux, uy, vx, vy = (rng.uniform(0, 500, 300) for _ in range(4))
    segments = np.sort(rng.choice(10_000, 300, replace=False)).astype(np.int64)
    counts = np.ceil(np.hypot(vx - ux, vy - uy) / 20.0).astype(np.int64) + 1
    owner = np.repeat(np.arange(300), counts)
    first = np.repeat(np.cumsum(counts) - counts, counts)
    t = (np.arange(len(owner)) - first) / np.maximum(counts[owner] - 1, 1)
    expected = np.column_stack([ux[owner] + t * (vx - ux)[owner], uy[owner] + t * (vy - uy)[owner]])
    monkeypatch.setattr(samples, "CHUNK", 7)
    points, owners = samples.sample_segments(ux, uy, vx, vy, segments, 20.0)
    assert np.array_equal(points, expected)
    assert np.array_equal(owners, segments[owner]) and owners.dtype == np.int32
    assert len(points) > 2 * 300  # segments of up to 700 m: several samples each
