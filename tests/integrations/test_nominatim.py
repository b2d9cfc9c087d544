"""The Nominatim adapter: real lookups on a loopback server, cache, rate limit, failures, mapping.

Tests taking ``nominatim_url`` run against a real Nominatim 5.3 over the bundled
Liechtenstein extract (see conftest.py). The rest use ``httpx.MockTransport`` or call
:func:`map_results` directly with results in Nominatim's documented ``jsonv2`` shape
(https://nominatim.org/release-docs/latest/api/Output/): ``lat``/``lon`` as strings,
``place_rank``, ``category``, ``type``, ``display_name`` and, with ``addressdetails=1``, an
``address`` object (``house_number``, ``road``, ``village``/``town``/``city``, ``postcode``,
``country``, ``country_code``).
"""

from __future__ import annotations

import csv
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from lastmile.core.geo.distance import haversine_m
from lastmile.core.geo.geocoder import Verdict
from lastmile.core.model import Location
from lastmile.core.roads import default_extract
from lastmile.integrations.geocode import (
    Geocoder,
    GeocoderError,
    GeocoderUnavailable,
    NominatimGeocoder,
    RateLimiter,
    builtin_geocoder,
)
from lastmile.integrations.geocode.nominatim import map_results, normalise_query

NOISY = Path(__file__).parents[1] / "data" / "sample_noisy_addresses.csv"


class CountingTransport(httpx.BaseTransport):
    """Passes requests on to a real transport and records each one (and when it started)."""

    def __init__(self, inner: httpx.BaseTransport | None = None) -> None:
        self.inner = inner or httpx.HTTPTransport()
        self.requests: list[httpx.Request] = []
        self.started: list[float] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        self.started.append(time.monotonic())
        return self.inner.handle_request(request)

    def close(self) -> None:
        self.inner.close()


def _noisy(ids: set[str]) -> dict[str, dict[str, str]]:
    with NOISY.open(encoding="utf-8") as fh:
        return {row["id"]: row for row in csv.DictReader(fh) if row["id"] in ids}


# --- against the real server ------------------------------------------------------------


@pytest.mark.long  # a real Nominatim: its import takes minutes (make test-long)
def test_real_lookups_of_sample_addresses(nominatim_url: str, tmp_path: Path) -> None:
    rows = _noisy({"S000", "S002", "S003"})
    with NominatimGeocoder(nominatim_url, cache_dir=tmp_path, min_interval_s=0) as nominatim:
        for row in rows.values():
            result = nominatim.geocode(row["address"])
            assert result.verdict.resolved, (row, result)
            assert result.location is not None
            truth = Location(float(row["true_lon"]), float(row["true_lat"]))
            assert haversine_m(result.location, truth) < 30, (row, result)
        torkel = nominatim.geocode(rows["S002"]["address"])  # "Schaan, Torkelgass 4"
        assert torkel.verdict is Verdict.CORRECTED and "postcode added" in torkel.changes
        assert torkel.address is not None and torkel.address.format() == (
            "Torkelgass 4, 9494 Schaan"
        )
        exact = nominatim.geocode("Obere Au 40a, 9495 Triesen")
        assert exact.verdict is Verdict.EXACT and exact.confidence == 1.0
        # Landstrasse 19 exists in Schaan, Vaduz and Ruggell: never pick one.
        three = nominatim.geocode("Landstrasse 19")
        assert three.verdict is Verdict.AMBIGUOUS and three.location is None
        assert len(three.candidates) >= 3
        assert nominatim.geocode("Nirgendwostrasse 99, 9490 Vaduz").verdict is Verdict.NOT_FOUND


@pytest.mark.long  # a real Nominatim: its import takes minutes (make test-long)
def test_second_lookup_makes_no_http_request_even_in_a_new_process(
    nominatim_url: str, tmp_path: Path
) -> None:
    first = CountingTransport()
    with NominatimGeocoder(
        nominatim_url, cache_dir=tmp_path, min_interval_s=0, transport=first
    ) as nominatim:
        a = nominatim.geocode("Landstrasse 19, 9490 Vaduz")
        b = nominatim.geocode("  landstrasse 19 ,9490   VADUZ ")  # same query, normalised
        assert len(first.requests) == 1 and nominatim.stats.cache_hits == 1
        assert a.location == b.location and a.verdict is Verdict.EXACT
        request = first.requests[0]
        assert request.url.path == "/search"
        assert dict(request.url.params) == {
            "q": "Landstrasse 19, 9490 Vaduz",
            "format": "jsonv2",
            "addressdetails": "1",
            "limit": "5",
        }
        assert request.headers["User-Agent"].startswith("lastmile/")
    # A later run (new object, same cache folder) asks the server nothing.
    second = CountingTransport()
    with NominatimGeocoder(
        nominatim_url, cache_dir=tmp_path, min_interval_s=0, transport=second
    ) as nominatim:
        again = nominatim.geocode("Landstrasse 19, 9490 Vaduz")
    assert second.requests == [] and again == a
    assert (tmp_path / "nominatim-cache.sqlite3").is_file()


@pytest.mark.long  # a real Nominatim: its import takes minutes (make test-long)
def test_rate_limit_spaces_real_requests(nominatim_url: str, tmp_path: Path) -> None:
    transport = CountingTransport()
    with NominatimGeocoder(
        nominatim_url, cache_dir=tmp_path, min_interval_s=0.25, transport=transport
    ) as nominatim:
        for text in ("Gagoz 39, 9496 Balzers", "Torkelgass 4, Schaan", "Im Gamander 14"):
            nominatim.geocode(text)
    gaps = [b - a for a, b in zip(transport.started, transport.started[1:], strict=False)]
    assert len(gaps) == 2 and min(gaps) >= 0.245, gaps


def test_server_down_is_a_clear_error(tmp_path: Path) -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    with (
        NominatimGeocoder(
            url, cache_dir=tmp_path, min_interval_s=0, retries=1, backoff_s=0.01, timeout_s=2
        ) as nominatim,
        pytest.raises(GeocoderUnavailable) as caught,
    ):
        nominatim.geocode("Landstrasse 19, 9490 Vaduz")
    message = str(caught.value)
    assert url in message and "cannot connect" in message and "2 attempt(s)" in message
    assert "Is the server running" in message
    assert caught.value.code == "geocoder_unavailable"


def test_both_geocoders_satisfy_the_protocol(tmp_path: Path) -> None:
    builtin = builtin_geocoder(default_extract(), cache_path=tmp_path / "li.addr.json.gz")
    assert isinstance(builtin, Geocoder)
    with NominatimGeocoder("http://127.0.0.1:9", min_interval_s=0) as nominatim:
        assert isinstance(nominatim, Geocoder)


# --- HTTP behaviour with a mock transport --------------------------------------------------


def _mock(handler: Callable[[httpx.Request], httpx.Response]) -> httpx.MockTransport:
    return httpx.MockTransport(handler)


def _geocoder(transport: httpx.BaseTransport, **kw: Any) -> NominatimGeocoder:
    options: dict[str, Any] = {"min_interval_s": 0, "backoff_s": 0.0, "retries": 2}
    options.update(kw)
    return NominatimGeocoder("http://nominatim.test", transport=transport, **options)


def test_5xx_and_timeouts_are_retried_then_succeed() -> None:
    answers: list[Callable[[httpx.Request], httpx.Response]] = [
        lambda r: httpx.Response(503, text="overloaded"),
        lambda r: (_ for _ in ()).throw(httpx.ReadTimeout("slow", request=r)),
        lambda r: httpx.Response(200, json=[_house("Landstrasse", "19", "Vaduz", "9490")]),
    ]
    calls = iter(answers)
    with _geocoder(_mock(lambda r: next(calls)(r))) as nominatim:
        result = nominatim.geocode("Landstrasse 19, 9490 Vaduz")
    assert result.verdict is Verdict.EXACT
    assert nominatim.stats.requests == 3 and nominatim.stats.retries == 2


def test_persistent_5xx_is_unavailable_and_not_cached(tmp_path: Path) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(502, text="bad gateway")

    with _geocoder(_mock(handler), cache_dir=tmp_path, retries=1) as nominatim:
        for _ in range(2):
            with pytest.raises(GeocoderUnavailable, match="HTTP 502"):
                nominatim.geocode("Landstrasse 19, 9490 Vaduz")
    assert len(seen) == 4  # two attempts per call: a failure is never cached


def test_client_errors_are_not_retried() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(403, text="Access blocked")

    with _geocoder(_mock(handler)) as nominatim, pytest.raises(GeocoderError, match="HTTP 403"):
        nominatim.geocode("Landstrasse 19, 9490 Vaduz")
    assert len(seen) == 1


def test_an_error_object_is_reported() -> None:
    with (
        _geocoder(_mock(lambda r: httpx.Response(200, json={"error": "Bad format"}))) as nm,
        pytest.raises(GeocoderError, match="Bad format"),
    ):
        nm.geocode("Landstrasse 19, 9490 Vaduz")


def test_public_server_policy_is_enforced() -> None:
    with pytest.raises(ValueError, match="one request per second"):
        NominatimGeocoder(min_interval_s=0.5, cache_dir="unused")
    with pytest.raises(ValueError, match="cached"):
        NominatimGeocoder()


def test_rate_limiter_spacing_with_a_fake_clock() -> None:
    now = [100.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    limiter = RateLimiter(1.0, clock=lambda: now[0], sleep=sleep)
    assert limiter.wait() == 0.0  # the first request goes at once
    now[0] += 0.3
    assert limiter.wait() == pytest.approx(0.7)
    now[0] += 5.0  # a long pause: no waiting
    assert limiter.wait() == 0.0
    assert limiter.wait() == pytest.approx(1.0)
    assert slept == [pytest.approx(0.7), pytest.approx(1.0)]


def test_query_normalisation_for_the_cache() -> None:
    assert normalise_query("  Landstrasse 19 ,9490   VADUZ. ") == "landstrasse 19, 9490 vaduz"
    assert normalise_query("Höfle 30") != normalise_query("Hofle 30")


# --- mapping Nominatim's jsonv2 results to verdicts ----------------------------------------


def _house(
    road: str,
    number: str | None,
    town: str,
    postcode: str,
    *,
    lon: float = 9.5174195,
    lat: float = 47.1434713,
    category: str = "building",
    kind: str = "yes",
    rank: int = 30,
    town_key: str = "town",
) -> dict[str, Any]:
    """One result as Nominatim's jsonv2 format writes it (strings for lat/lon)."""
    address: dict[str, str] = {}
    if number is not None:
        address["house_number"] = number
    address |= {
        "road": road,
        town_key: town,
        "county": "Oberland",
        "postcode": postcode,
        "country": "Liechtenstein",
        "country_code": "li",
    }
    parts = [p for p in (number, road, town, "Oberland", postcode, "Liechtenstein") if p]
    return {
        "place_id": 111460,
        "licence": "Data © OpenStreetMap contributors, ODbL 1.0. http://osm.org/copyright",
        "osm_type": "way",
        "osm_id": 364552339,
        "lat": f"{lat:.7f}",
        "lon": f"{lon:.7f}",
        "category": category,
        "type": kind,
        "place_rank": rank,
        "importance": 9.99999999995449e-06,
        "addresstype": category,
        "name": "",
        "display_name": ", ".join(parts),
        "address": address,
        "boundingbox": [
            f"{lat - 1e-4:.7f}",
            f"{lat + 1e-4:.7f}",
            f"{lon - 1e-4:.7f}",
            f"{lon + 1e-4:.7f}",
        ],
    }


def test_one_house_matching_everything_is_exact() -> None:
    result = map_results(
        "Landstrasse 19, 9490 Vaduz", [_house("Landstrasse", "19", "Vaduz", "9490")]
    )
    assert result.verdict is Verdict.EXACT and result.confidence == 1.0
    assert result.location == Location(9.5174195, 47.1434713)
    assert result.address is not None and result.address.format() == "Landstrasse 19, 9490 Vaduz"


def test_abbreviation_and_missing_postcode_are_corrected_with_changes() -> None:
    result = map_results("Landstr. 19, Vaduz", [_house("Landstrasse", "19", "Vaduz", "9490")])
    assert result.verdict is Verdict.CORRECTED
    assert result.changes == ("street 'Landstr.' -> 'Landstrasse'", "postcode added")
    assert 0.5 < result.confidence < 1.0


def test_copies_of_one_house_are_one_answer_at_their_mean() -> None:
    building = _house("Landstrasse", "19", "Vaduz", "9490", lon=9.51740, lat=47.14340)
    shop = _house("Landstrasse", "19", "Vaduz", "9490", lon=9.51760, lat=47.14350, category="shop")
    result = map_results("Landstrasse 19, 9490 Vaduz", [shop, building])
    assert result.verdict is Verdict.EXACT
    assert result.location is not None
    assert (result.location.lon, result.location.lat) == pytest.approx((9.5175, 47.14345))


def test_same_number_in_two_towns_without_a_town_is_ambiguous() -> None:
    results = [
        _house("Landstrasse", "19", "Vaduz", "9490"),
        _house("Landstrasse", "19", "Schaan", "9494", lon=9.5088, lat=47.1650),
    ]
    result = map_results("Landstrasse 19", results)
    assert result.verdict is Verdict.AMBIGUOUS and result.location is None
    assert {c.address.city for c in result.candidates} == {"Vaduz", "Schaan"}
    # With the town typed, the other town's house falls behind: one clear answer.
    assert map_results("Landstrasse 19, Vaduz", results).verdict is Verdict.CORRECTED


def test_a_street_without_the_number_is_never_an_answer() -> None:
    street = _house("Landstrasse", None, "Vaduz", "9490", category="highway", kind="primary")
    street["place_rank"] = 26
    other = _house("Landstrasse", "21", "Vaduz", "9490")
    result = map_results("Landstrasse 19, 9490 Vaduz", [street, other])
    assert result.verdict is Verdict.AMBIGUOUS and result.location is None
    assert "no house number 19" in result.reason and len(result.candidates) == 2


def test_nothing_found_and_no_number_typed() -> None:
    assert map_results("Nirgendwo 1, 9490 Vaduz", []).verdict is Verdict.NOT_FOUND
    no_number = map_results("Landstrasse, Vaduz", [_house("Landstrasse", "19", "Vaduz", "9490")])
    assert no_number.verdict is Verdict.AMBIGUOUS and no_number.location is None


def test_a_single_hit_in_another_town_or_street_is_not_taken() -> None:
    other_town = map_results(
        "Landstrasse 19, 9494 Schaan", [_house("Landstrasse", "19", "Vaduz", "9490")]
    )
    assert other_town.verdict is Verdict.AMBIGUOUS and other_town.location is None
    assert "not in 'Schaan'" in other_town.reason
    other_street = map_results(
        "Lindenweg 19, 9490 Vaduz", [_house("Landstrasse", "19", "Vaduz", "9490")]
    )
    assert other_street.verdict is Verdict.AMBIGUOUS
    assert "not the typed 'Lindenweg'" in other_street.reason


def test_a_town_named_only_in_display_name_counts() -> None:
    # Nominatim leaves Balzers out of "address" for a house in its village Mäls.
    hit = _house("Höfle", "30", "Mäls", "9496", town_key="village")
    hit["display_name"] = "30, Höfle, Mäls, Balzers, Oberland, 9496, Liechtenstein"
    result = map_results("Hoefle 30, 9496 Balzers", [hit])
    assert result.verdict is Verdict.CORRECTED
    assert result.address is not None and result.address.format() == "Höfle 30, 9496 Balzers"
    assert result.changes == ("street 'Hoefle' -> 'Höfle'",)


def test_pin_far_from_the_answer_is_flagged() -> None:
    result = map_results(
        "Landstrasse 19, 9490 Vaduz",
        [_house("Landstrasse", "19", "Vaduz", "9490")],
        hint=Location(9.53, 47.15),
    )
    assert result.verdict is Verdict.EXACT and result.pin_mismatch
    assert result.pin_distance_m is not None and result.pin_distance_m > 150


def test_a_double_town_name_made_of_the_hits_areas_counts() -> None:
    hit = _house("Plattagass", "7", "Bendern", "9487", town_key="village")
    hit["display_name"] = "7, Plattagass, Bendern, Gamprin, Unterland, 9487, Liechtenstein"
    result = map_results("Plattagass 7, 9487 Gamprin-Bendern", [hit])
    assert result.verdict is Verdict.EXACT
    assert result.address is not None and result.address.city == "Gamprin-Bendern"
    # A name only partly made of the hit's areas, or another town, is a different town.
    assert map_results("Plattagass 7, 9487 Gamprin-Ruggell", [hit]).verdict is Verdict.AMBIGUOUS
    assert map_results("Plattagass 7, 9487 Schaan", [hit]).verdict is Verdict.AMBIGUOUS
