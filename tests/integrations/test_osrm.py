"""The OSRM adapter: real tables and routes on a loopback ``osrm-routed``, chunking, failures.

Tests taking ``osrm_url`` run against a real OSRM 26.10 (car profile, contraction
hierarchies) over the bundled Liechtenstein extract (see conftest.py), with real sample
addresses. The rest use ``httpx.MockTransport`` with answers in OSRM's documented shape
(http://project-osrm.org/docs/v5.24.0/api/): ``{"code": "Ok", "durations": [[...]],
"distances": [[...]]}``, ``null`` for a pair without a route, ``{"code": "NoSegment",
"message": ...}`` with HTTP 400 for a refused request.
"""

from __future__ import annotations

import csv
import itertools
import socket
from collections.abc import Callable, Iterator
from importlib import resources
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from lastmile.core.geo.distance import haversine_m
from lastmile.core.model import Location, Order, Profile, TimeWindow, Vehicle
from lastmile.core.planning import build_problem, check, solve
from lastmile.core.roads.provider import TravelTimeProvider
from lastmile.integrations.matrix import (
    OsrmProvider,
    ProfileRouter,
    RoutingServerError,
    RoutingServerUnavailable,
    UnreachableError,
)
from lastmile.integrations.matrix.base import blocks

H = 3600


def _sample_locations() -> list[Location]:
    path = Path(str(resources.files("lastmile") / "data" / "sample" / "sample_day_orders.csv"))
    with path.open(encoding="utf-8") as fh:
        return [Location(float(r["lon"]), float(r["lat"])) for r in csv.DictReader(fh)]


SAMPLE = _sample_locations()
TWENTY = SAMPLE[::7][:20]  # spread over the whole sample (all of Liechtenstein's towns)


def _length_m(path: list[Location]) -> float:
    return sum(haversine_m(a, b) for a, b in itertools.pairwise(path))


@pytest.fixture
def osrm(osrm_url: str) -> Iterator[OsrmProvider]:
    with OsrmProvider(osrm_url) as provider:
        yield provider


# --- against the real server -------------------------------------------------------------


def test_is_a_travel_time_provider(osrm: OsrmProvider) -> None:
    assert isinstance(osrm, TravelTimeProvider)
    assert osrm.name == "osrm"


def test_matrix_of_twenty_sample_addresses(osrm: OsrmProvider) -> None:
    assert len(set(TWENTY)) == 20
    m = osrm.matrix(TWENTY, Profile.VAN)
    for a in (m.durations_s, m.distances_m):
        assert a.shape == (20, 20)
        assert a.dtype == np.int64
        assert (np.diag(a) == 0).all()
        off = a[~np.eye(20, dtype=bool)]
        assert (off > 0).all()
    # Liechtenstein is 25 km long: no drive between two towns takes more than an hour or 40 km.
    assert m.durations_s.max() < H
    assert m.distances_m.max() < 40_000
    # Roads are never shorter than the crow flies (less the snapping to the road, < 150 m).
    crow = np.array([[haversine_m(a, b) for b in TWENTY] for a in TWENTY])
    assert (m.distances_m >= crow - 300).all()
    assert osrm.stats.requests == 1


def test_chunked_matrix_equals_one_request(osrm_url: str) -> None:
    with OsrmProvider(osrm_url) as whole, OsrmProvider(osrm_url, max_table_size=7) as chunked:
        one = whole.matrix(TWENTY, Profile.VAN)
        many = chunked.matrix(TWENTY, Profile.VAN)
        assert whole.stats.requests == 1
        assert chunked.stats.requests == 9  # 3 x 3 blocks of 7, 7, 6
    np.testing.assert_array_equal(many.durations_s, one.durations_s)
    np.testing.assert_array_equal(many.distances_m, one.distances_m)


def test_single_location_blocks_need_no_request(osrm_url: str) -> None:
    five = TWENTY[:5]
    with OsrmProvider(osrm_url) as whole, OsrmProvider(osrm_url, max_table_size=2) as chunked:
        one = whole.matrix(five, Profile.CAR)
        many = chunked.matrix(five, Profile.CAR)
        assert chunked.stats.requests == 8  # 3 x 3 blocks, the 1 x 1 diagonal one is 0
    np.testing.assert_array_equal(many.durations_s, one.durations_s)
    np.testing.assert_array_equal(many.distances_m, one.distances_m)


def test_150_addresses_beyond_the_server_table_limit(osrm: OsrmProvider, osrm_url: str) -> None:
    # osrm-routed refuses more than 100 x 100 by default; 150 is cut into 100 + 50 blocks.
    m = osrm.matrix(SAMPLE, Profile.VAN)
    assert m.durations_s.shape == (150, 150)
    assert osrm.stats.requests == 4
    assert (np.diag(m.durations_s) == 0).all()
    with (
        OsrmProvider(osrm_url, max_table_size=150) as too_big,
        pytest.raises(RoutingServerError, match=r"TooBig.*max_table_size"),
    ):
        too_big.matrix(SAMPLE, Profile.VAN)


def test_far_snaps_are_logged(osrm: OsrmProvider, caplog: pytest.LogCaptureFixture) -> None:
    # SMP-0024 "Ober Ställ 36" is reached only by a farm track (motor_vehicle=destination),
    # which OSRM's car.lua never uses: it joins the nearest street, about 500 m away.
    points = [*TWENTY[:3], SAMPLE[23]]
    with caplog.at_level("WARNING", logger="lastmile.integrations.matrix.osrm"):
        osrm.matrix(points, Profile.VAN)
    gaps = osrm.last_snap_distances_m
    assert gaps.shape == (4,) and (gaps[:3] < 150).all() and gaps[3] > 400
    assert "joined 1 location(s) to a road more than 250 m away: #3 (9.545524, 47.176903)" in (
        caplog.text
    )


def test_path_follows_the_matrix(osrm: OsrmProvider) -> None:
    points = TWENTY[:6]
    m = osrm.matrix(points, Profile.VAN)
    for i, a in enumerate(points):
        for j, b in enumerate(points):
            if i == j:
                continue
            path = osrm.path(a, b, Profile.VAN)
            assert len(path) >= 2
            # the geometry starts and ends where the points join the road
            assert haversine_m(path[0], a) < 150
            assert haversine_m(path[-1], b) < 150
            expected = int(m.distances_m[i, j])
            assert _length_m(path) == pytest.approx(expected, rel=0.01, abs=5)


def test_empty_and_single_location(osrm: OsrmProvider) -> None:
    assert osrm.matrix([], Profile.VAN).durations_s.shape == (0, 0)
    one = osrm.matrix(TWENTY[:1], Profile.VAN)
    assert one.durations_s.tolist() == [[0]] and one.distances_m.tolist() == [[0]]
    assert osrm.stats.requests == 0


def test_plan_a_small_day_with_osrm(osrm: OsrmProvider) -> None:
    depot = Location(9.5209, 47.1410)  # Vaduz
    orders = [
        Order(
            id=f"O{i}",
            location=loc,
            demand=(1.0,),
            service_s=120,
            windows=(TimeWindow(8 * H, 17 * H),),
        )
        for i, loc in enumerate(TWENTY[:8])
    ]
    vehicles = [
        Vehicle(
            id=f"V{k}", start=depot, end=depot, shift=TimeWindow(8 * H, 18 * H), capacity=(5.0,)
        )
        for k in (1, 2)
    ]
    problem = build_problem(orders, vehicles, ("parcels",), osrm)
    assert problem.matrices["van"].durations_s.shape == (9, 9)
    plan = solve(problem, time_limit=2, max_iterations=200, seed=1)
    report = check(plan, problem)
    assert report.ok, str(report)
    assert not plan.unassigned
    assert sum(len(r.order_ids) for r in plan.routes) == 8


def test_server_down_is_a_clear_error() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    waits: list[float] = []
    with (
        OsrmProvider(f"http://127.0.0.1:{port}", retries=1, sleep=waits.append) as down,
        pytest.raises(RoutingServerUnavailable) as caught,
    ):
        down.matrix(TWENTY[:3], Profile.VAN)
    message = str(caught.value)
    assert f"OSRM at http://127.0.0.1:{port} is not reachable" in message
    assert "2 attempt(s)" in message
    assert caught.value.code == "routing_server_unavailable"
    assert waits == [0.5]


# --- with a mock transport ---------------------------------------------------------------


Handler = Callable[[httpx.Request], httpx.Response]


def _table_answer(request: httpx.Request) -> httpx.Response:
    """A well-formed table: 60 s and 1000 m per index step."""
    coords = request.url.path.rsplit("/", 1)[1].split(";")
    sources = request.url.params.get("sources")
    dests = request.url.params.get("destinations")
    rows = [int(x) for x in sources.split(";")] if sources else list(range(len(coords)))
    cols = [int(x) for x in dests.split(";")] if dests else list(range(len(coords)))
    lons = [float(c.split(",")[0]) for c in coords]
    step = [[abs(lons[i] - lons[j]) * 1000 for j in cols] for i in rows]
    return httpx.Response(
        200,
        json={
            "code": "Ok",
            "durations": [[s * 60.04 for s in row] for row in step],
            "distances": [[s * 1000.4 for s in row] for row in step],
        },
    )


def _line(n: int) -> list[Location]:
    return [Location(round(9.5 + i * 0.001, 6), 47.1) for i in range(n)]


def _mock(handler: Handler, **kw: Any) -> tuple[OsrmProvider, list[float]]:
    waits: list[float] = []
    provider = OsrmProvider(
        "http://osrm.test/prefix", transport=httpx.MockTransport(handler), sleep=waits.append, **kw
    )
    return provider, waits


def test_blocks() -> None:
    assert blocks(0, 3) == []
    assert blocks(7, 3) == [range(0, 3), range(3, 6), range(6, 7)]
    with pytest.raises(ValueError):
        blocks(3, 0)


def test_chunk_requests_send_only_their_block() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return _table_answer(request)

    provider, _ = _mock(handler, max_table_size=4)
    m = provider.matrix(_line(10), Profile.VAN)
    assert len(seen) == 9
    assert all(r.url.path.startswith("/prefix/table/v1/driving/") for r in seen)
    assert all(r.url.params["annotations"] == "duration,distance" for r in seen)
    for r in seen:
        n_coords = len(r.url.path.rsplit("/", 1)[1].split(";"))
        if "sources" in r.url.params:
            assert n_coords <= 8
            assert len(r.url.params["sources"].split(";")) <= 4
        else:
            assert n_coords <= 4
    expected = np.abs(np.arange(10)[:, None] - np.arange(10)[None, :])
    np.testing.assert_array_equal(m.durations_s, np.rint(expected * 60.04).astype(np.int64))
    np.testing.assert_array_equal(m.distances_m, np.rint(expected * 1000.4).astype(np.int64))


def test_retries_on_5xx_then_succeeds() -> None:
    answers = iter([503, 502])

    def handler(request: httpx.Request) -> httpx.Response:
        status = next(answers, 200)
        if status != 200:
            return httpx.Response(status, text="busy")
        return _table_answer(request)

    provider, waits = _mock(handler, retries=2, backoff_s=0.25)
    m = provider.matrix(_line(3), Profile.VAN)
    assert m.durations_s[0, 2] == 120
    assert provider.stats.requests == 3 and provider.stats.retries == 2
    assert waits == [0.25, 0.5]


def test_gives_up_after_the_retries() -> None:
    provider, waits = _mock(lambda r: httpx.Response(500, text="boom"), retries=3)
    with pytest.raises(
        RoutingServerUnavailable,
        match=r"OSRM at http://osrm.test/prefix is not reachable: HTTP 500.*4 attempt",
    ):
        provider.matrix(_line(3), Profile.VAN)
    assert waits == [0.5, 1.0, 2.0]


def test_timeouts_are_retried() -> None:
    calls: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        if len(calls) == 1:
            raise httpx.ReadTimeout("slow", request=request)
        return _table_answer(request)

    provider, waits = _mock(handler)
    assert provider.matrix(_line(2), Profile.VAN).durations_s[0, 1] == 60
    assert waits == [0.5]


def test_4xx_is_not_retried_and_names_the_location() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        body = {
            "code": "NoSegment",
            "message": "Could not find a matching segment for coordinate 1",
        }
        return httpx.Response(400, json=body)

    provider, waits = _mock(handler)
    with pytest.raises(
        RoutingServerError, match=r"NoSegment.*location #1 \(9\.501000, 47\.100000\)"
    ):
        provider.matrix(_line(3), Profile.VAN)
    assert waits == [] and provider.stats.requests == 1


def test_unreachable_pairs_raise_instead_of_a_number() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        # location 2 is on an island: nothing reaches it, it reaches nothing
        return httpx.Response(
            200,
            json={
                "code": "Ok",
                "durations": [[0, 10, None], [10, 0, None], [None, None, 0]],
                "distances": [[0, 100, None], [100, 0, None], [None, None, 0]],
            },
        )

    provider, _ = _mock(handler)
    with pytest.raises(UnreachableError) as caught:
        provider.matrix(_line(3), Profile.VAN)
    assert caught.value.pairs == [(0, 2), (1, 2), (2, 0), (2, 1)]
    assert "no route for 4 pair(s)" in str(caught.value)
    assert "Location #2 (9.502000, 47.100000) is in 4 of them" in str(caught.value)
    assert caught.value.code == "unreachable"


def test_no_route_for_a_path() -> None:
    provider, _ = _mock(
        lambda r: httpx.Response(400, json={"code": "NoRoute", "message": "Impossible route"})
    )
    with pytest.raises(UnreachableError):
        provider.path(*_line(2), Profile.VAN)


def test_wrong_shape_is_reported() -> None:
    provider, _ = _mock(lambda r: httpx.Response(200, json={"code": "Ok", "durations": [[0]]}))
    with pytest.raises(RoutingServerError, match="without usable durations and distances"):
        provider.matrix(_line(2), Profile.VAN)


def test_profiles_outside_the_map_are_refused() -> None:
    provider, _ = _mock(_table_answer)
    with pytest.raises(RoutingServerError, match="no OSRM profile for 'cargo_bike'"):
        provider.matrix(_line(2), Profile.CARGO_BIKE)
    bikes, _ = _mock(_table_answer, profile_map={"cargo_bike": "bike"})
    assert bikes.matrix(_line(2), Profile.CARGO_BIKE).durations_s[0, 1] == 60


def test_profile_router_sends_each_profile_to_its_server() -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.host)
        return _table_answer(request)

    vans = OsrmProvider("http://vans.test", transport=httpx.MockTransport(handler))
    bikes = OsrmProvider(
        "http://bikes.test",
        profile_map={Profile.CARGO_BIKE: "bike"},
        transport=httpx.MockTransport(handler),
    )
    router = ProfileRouter({Profile.VAN: vans, Profile.CARGO_BIKE: bikes})
    assert isinstance(router, TravelTimeProvider)
    router.matrix(_line(2), Profile.VAN)
    router.matrix(_line(2), Profile.CARGO_BIKE)
    assert seen == ["vans.test", "bikes.test"]
    with pytest.raises(RoutingServerError, match="no routing provider for profile 'walking'"):
        router.matrix(_line(2), Profile.WALKING)
