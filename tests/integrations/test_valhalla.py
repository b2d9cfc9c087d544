"""The Valhalla adapter, against Valhalla's documented wire format (no Valhalla server in CI).

Answers are built in the shapes of the API reference:
https://valhalla.github.io/valhalla/api/matrix/api-reference/ (``sources_to_targets``: one
row per source of ``{"from_index", "to_index", "time", "distance"}``, distance in the
requested ``units``, ``null`` time/distance when there is no route; with ``verbose=false``,
``{"durations": [[...]], "distances": [[...]]}``) and
https://valhalla.github.io/valhalla/api/turn-by-turn/api-reference/ (``trip.legs[].shape``,
an encoded polyline with 6 decimals; errors as HTTP 400 ``{"error_code", "error"}``).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import numpy as np
import pytest

from lastmile.core.model import Location, Profile
from lastmile.core.roads.provider import TravelTimeProvider
from lastmile.integrations.matrix import (
    RoutingServerError,
    RoutingServerUnavailable,
    UnreachableError,
    ValhallaProvider,
)
from lastmile.integrations.matrix.valhalla import decode_polyline

Handler = Callable[[httpx.Request], httpx.Response]


def _line(n: int) -> list[Location]:
    return [Location(round(9.5 + i * 0.001, 6), 47.1) for i in range(n)]


def _verbose(request: httpx.Request) -> httpx.Response:
    """60 s and 1.0004 km per 0.001 degree of longitude, in the verbose format."""
    body = json.loads(request.content)
    rows = [
        [
            {
                "from_index": i,
                "to_index": j,
                "time": round(abs(s["lon"] - t["lon"]) * 60_000),
                "distance": round(abs(s["lon"] - t["lon"]) * 1000.4, 3),
            }
            for j, t in enumerate(body["targets"])
        ]
        for i, s in enumerate(body["sources"])
    ]
    return httpx.Response(
        200,
        json={
            "sources_to_targets": rows,
            "sources": [body["sources"]],
            "targets": [body["targets"]],
            "units": "kilometers",
        },
    )


def _mock(handler: Handler, **kw: Any) -> tuple[ValhallaProvider, list[float]]:
    waits: list[float] = []
    provider = ValhallaProvider(
        "http://valhalla.test", transport=httpx.MockTransport(handler), sleep=waits.append, **kw
    )
    return provider, waits


def test_matrix_in_blocks_from_the_verbose_format() -> None:
    seen: list[dict[str, Any]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        assert request.method == "POST" and request.url.path == "/sources_to_targets"
        seen.append(json.loads(request.content))
        return _verbose(request)

    provider, _ = _mock(handler, max_table_size=4)
    assert isinstance(provider, TravelTimeProvider) and provider.name == "valhalla"
    m = provider.matrix(_line(10), Profile.VAN)
    assert len(seen) == 9
    assert all(b["costing"] == "auto" and b["units"] == "kilometers" for b in seen)
    assert all(len(b["sources"]) <= 4 and len(b["targets"]) <= 4 for b in seen)
    steps = np.abs(np.arange(10)[:, None] - np.arange(10)[None, :])
    np.testing.assert_array_equal(m.durations_s, steps * 60)
    np.testing.assert_array_equal(m.distances_m, np.rint(steps * 1000.4).astype(np.int64))
    assert m.durations_s.dtype == np.int64


def test_matrix_from_the_concise_format() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200,
            json={
                "sources_to_targets": {
                    "durations": [[0, 61.6], [70.2, 0]],
                    "distances": [[0, 1.234], [1.5, 0]],
                },
                "units": "kilometers",
            },
        )

    provider, _ = _mock(handler)
    m = provider.matrix(_line(2), Profile.BICYCLE)
    assert m.durations_s.tolist() == [[0, 62], [70, 0]]
    assert m.distances_m.tolist() == [[0, 1234], [1500, 0]]


def test_costings_and_options_are_sent() -> None:
    seen: list[dict[str, Any]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(json.loads(request.content))
        return _verbose(request)

    options = {"bicycle": {"bicycle_type": "Cross", "cycling_speed": 14}}
    provider, _ = _mock(handler, costing_options=options)
    for profile in (Profile.CARGO_BIKE, Profile.WALKING, Profile.CAR):
        provider.matrix(_line(2), profile)
    assert [b["costing"] for b in seen] == ["bicycle", "pedestrian", "auto"]
    assert seen[0]["costing_options"] == options
    limited, _ = _mock(handler, costing_map={"van": "truck"})
    with pytest.raises(RoutingServerError, match="no costing for 'walking'"):
        limited.matrix(_line(2), Profile.WALKING)


def test_null_entries_are_unreachable_pairs() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        answer = _verbose(request)
        body = answer.json()
        body["sources_to_targets"][0][1].update(time=None, distance=None)
        return httpx.Response(200, json=body)

    provider, _ = _mock(handler)
    with pytest.raises(UnreachableError) as caught:
        provider.matrix(_line(3), Profile.VAN)
    assert caught.value.pairs == [(0, 1)]
    assert "Valhalla at http://valhalla.test has no route for 1 pair(s)" in str(caught.value)


def test_route_shape_is_decoded() -> None:
    # "_p~iF~ps|U_ulLnnqC_mqNvxq`@" is the reference polyline of Google's documentation
    # (5 decimals); with 6 decimals the same characters mean coordinates ten times smaller.
    shape = "_p~iF~ps|U_ulLnnqC_mqNvxq`@"
    five = decode_polyline(shape, precision=5)
    assert [(p.lat, p.lon) for p in five] == [(38.5, -120.2), (40.7, -120.95), (43.252, -126.453)]

    def handler(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        assert request.url.path == "/route"
        assert body["costing"] == "auto" and len(body["locations"]) == 2
        leg = {"shape": shape, "summary": {"time": 900.1, "length": 3.2}}
        trip = {"legs": [leg], "summary": leg["summary"], "status": 0, "units": "kilometers"}
        return httpx.Response(200, json={"trip": trip})

    provider, _ = _mock(handler)
    path = provider.path(*_line(2), Profile.VAN)
    assert [(p.lat, p.lon) for p in path] == [(3.85, -12.02), (4.07, -12.095), (4.3252, -12.6453)]


def test_route_errors() -> None:
    def no_path(request: httpx.Request) -> httpx.Response:
        body = {
            "error_code": 442,
            "error": "No path could be found for input",
            "status_code": 400,
            "status": "Bad Request",
        }
        return httpx.Response(400, json=body)

    provider, _ = _mock(no_path)
    with pytest.raises(UnreachableError):
        provider.path(*_line(2), Profile.VAN)

    def no_edges(request: httpx.Request) -> httpx.Response:
        body = {"error_code": 171, "error": "No suitable edges near location", "status_code": 400}
        return httpx.Response(400, json=body)

    provider, waits = _mock(no_edges)
    with pytest.raises(RoutingServerError, match=r"error 171: No suitable edges near location"):
        provider.matrix(_line(2), Profile.VAN)
    assert waits == []


def test_retries_then_unavailable() -> None:
    provider, waits = _mock(lambda r: httpx.Response(503), retries=2)
    with pytest.raises(
        RoutingServerUnavailable, match=r"Valhalla at http://valhalla.test is not reachable"
    ):
        provider.matrix(_line(2), Profile.VAN)
    assert waits == [0.5, 1.0]


def test_unexpected_shapes_are_reported() -> None:
    provider, _ = _mock(lambda r: httpx.Response(200, json={"sources_to_targets": [[{}]]}))
    with pytest.raises(RoutingServerError, match="unexpected JSON shape"):
        provider.matrix(_line(2), Profile.VAN)
    provider, _ = _mock(
        lambda r: httpx.Response(200, json={"sources_to_targets": [], "units": "miles"})
    )
    with pytest.raises(RoutingServerError, match="'miles'"):
        provider.matrix(_line(2), Profile.VAN)
