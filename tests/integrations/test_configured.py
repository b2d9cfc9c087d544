"""The server's travel times and geocoder chosen by settings: built-in by default, or real
OSRM, Valhalla and Nominatim servers on loopback (see conftest.py), reached only through the
outbound policy (``LASTMILE_MAP_SERVERS_ALLOWED_NETWORKS``)."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from importlib import resources
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np
import pytest

from lastmile.common.netguard import use_resolver
from lastmile.config import Settings
from lastmile.core.geo.distance import haversine_m
from lastmile.core.geo.geocoder import Geocoder as OfflineGeocoder
from lastmile.core.geo.geocoder import Verdict
from lastmile.core.model import Location, Profile
from lastmile.core.roads import StraightLineProvider
from lastmile.integrations.configured import geocoder_for, provider_for, road_network_loaded
from lastmile.integrations.geocode import GeocoderUnavailable, NominatimGeocoder
from lastmile.integrations.matrix import (
    OsrmProvider,
    ProfileRouter,
    RoutingServerError,
    RoutingServerUnavailable,
    ValhallaProvider,
)
from lastmile.ops.preflight import ConfigError, check

LOOPBACK = ["127.0.0.1/32"]


def _sample_locations() -> list[Location]:
    path = Path(str(resources.files("lastmile") / "data" / "sample" / "sample_day_orders.csv"))
    with path.open(encoding="utf-8") as fh:
        return [Location(float(r["lon"]), float(r["lat"])) for r in csv.DictReader(fh)]


TWELVE = _sample_locations()[::12][:12]


def _settings(tmp_path: Path, **values: object) -> Settings:
    return Settings(data_dir=tmp_path, **values)  # type: ignore[arg-type]


def test_builtin_engine_and_index_are_the_default(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    assert settings.routing_server == "builtin" and settings.geocoder == "builtin"
    assert isinstance(geocoder_for(settings), OfflineGeocoder)
    straight = _settings(
        tmp_path, use_roads=False, routing_server="osrm", routing_server_url="http://127.0.0.1:9"
    )
    assert isinstance(provider_for(straight), StraightLineProvider)
    assert road_network_loaded(straight)


def test_a_routing_server_needs_its_url(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="LASTMILE_ROUTING_SERVER_URL must be set"):
        _settings(tmp_path, routing_server="valhalla")
    with pytest.raises(ValueError, match="'truck' is not a profile"):
        _settings(tmp_path, routing_server_profile_urls={"truck": "http://10.0.0.1:5000"})
    with pytest.raises(ValueError, match="http:// or https://"):
        _settings(tmp_path, routing_server="osrm", routing_server_url="127.0.0.1:5000")


def test_osrm_from_settings_equals_the_adapter(osrm_url: str, tmp_path: Path) -> None:
    settings = _settings(
        tmp_path,
        routing_server="osrm",
        routing_server_url=osrm_url,
        map_servers_allowed_networks=LOOPBACK,
    )
    check(settings, database=False)  # the start-up check lets it through
    provider = provider_for(settings)
    assert provider is provider_for(settings)  # built once per process
    assert isinstance(provider, OsrmProvider) and provider.base_url == osrm_url
    assert road_network_loaded(settings)
    got = provider.matrix(TWELVE, Profile.VAN)
    with OsrmProvider(osrm_url) as direct:
        want = direct.matrix(TWELVE, Profile.VAN)
    np.testing.assert_array_equal(got.durations_s, want.durations_s)
    np.testing.assert_array_equal(got.distances_m, want.distances_m)
    assert got.durations_s[0, 1] > 0
    with pytest.raises(RoutingServerError, match="cargo_bike"):
        provider.matrix(TWELVE, Profile.CARGO_BIKE)  # never car times for a bike


def test_osrm_per_profile_servers(osrm_url: str, tmp_path: Path) -> None:
    settings = _settings(
        tmp_path,
        routing_server="osrm",
        routing_server_url=osrm_url,
        routing_server_profile_urls={"cargo_bike": osrm_url + "/"},
        map_servers_allowed_networks=LOOPBACK,
    )
    provider = provider_for(settings)
    assert isinstance(provider, ProfileRouter)
    bike = provider.matrix(TWELVE[:3], Profile.CARGO_BIKE)  # the same test server answers
    assert bike.durations_s.shape == (3, 3) and bike.durations_s[0, 1] > 0
    with pytest.raises(RoutingServerError, match="walking"):
        provider.matrix(TWELVE[:3], Profile.WALKING)


def test_loopback_server_is_refused_unless_allowed(osrm_url: str, tmp_path: Path) -> None:
    settings = _settings(tmp_path, routing_server="osrm", routing_server_url=osrm_url)
    with pytest.raises(ConfigError) as refused:
        check(settings, database=False)
    (problem,) = refused.value.problems
    assert problem.startswith(f"LASTMILE_ROUTING_SERVER_URL: {osrm_url} is on 127.0.0.1")
    assert "LASTMILE_MAP_SERVERS_ALLOWED_NETWORKS='[\"127.0.0.1/32\"]'" in problem
    with pytest.raises(RoutingServerUnavailable, match="not a public address"):
        provider_for(settings).matrix(TWELVE[:2], Profile.VAN)


def test_names_are_checked_on_every_request(osrm_url: str, tmp_path: Path) -> None:
    """A name that resolves to loopback passes the start-up check (names can change) but
    every request resolves it through the policy: refused, unless loopback is allowed."""
    port = urlsplit(osrm_url).port
    named = f"http://osrm.example.org:{port}"
    with use_resolver(lambda host, _port: ["127.0.0.1"]):
        refused = _settings(tmp_path, routing_server="osrm", routing_server_url=named)
        check(refused, database=False)
        with pytest.raises(RoutingServerUnavailable, match="not a public address"):
            provider_for(refused).matrix(TWELVE[:2], Profile.VAN)
        allowed = _settings(
            tmp_path,
            routing_server="osrm",
            routing_server_url=named + "/",
            map_servers_allowed_networks=LOOPBACK,
        )
        assert provider_for(allowed).matrix(TWELVE[:2], Profile.VAN).durations_s[0, 1] > 0


def test_valhalla_from_settings(valhalla_url: str, tmp_path: Path) -> None:
    settings = _settings(
        tmp_path,
        routing_server="valhalla",
        routing_server_url=valhalla_url,
        map_servers_allowed_networks=LOOPBACK,
    )
    provider = provider_for(settings)
    assert isinstance(provider, ValhallaProvider)
    van = provider.matrix(TWELVE, Profile.VAN)
    bike = provider.matrix(TWELVE, Profile.CARGO_BIKE)  # one Valhalla serves every profile
    off = ~np.eye(len(TWELVE), dtype=bool)
    assert (van.durations_s[off] > 0).all() and (van.distances_m[off] > 0).all()
    assert np.median(bike.durations_s[off] / van.durations_s[off]) > 1.5  # bikes are slower
    # A road distance is never shorter than the straight line between the road points.
    for i, j in [(0, 1), (3, 7), (11, 2)]:
        assert van.distances_m[i, j] >= 0.9 * haversine_m(TWELVE[i], TWELVE[j])
    line = provider.path(TWELVE[0], TWELVE[5], Profile.VAN)
    assert len(line) > 10
    assert haversine_m(line[0], TWELVE[0]) < 250 and haversine_m(line[-1], TWELVE[5]) < 250


def test_valhalla_blocks_add_up_to_one_request(valhalla_url: str) -> None:
    with (
        ValhallaProvider(valhalla_url) as whole,
        ValhallaProvider(valhalla_url, max_table_size=5) as cut,
    ):
        one = whole.matrix(TWELVE, Profile.VAN)
        nine = cut.matrix(TWELVE, Profile.VAN)  # 3 x 3 blocks
    np.testing.assert_allclose(nine.durations_s, one.durations_s, atol=1)
    np.testing.assert_allclose(nine.distances_m, one.distances_m, atol=2)


def test_nominatim_from_settings(nominatim_url: str, tmp_path: Path) -> None:
    settings = _settings(
        tmp_path,
        geocoder="nominatim",
        nominatim_url=nominatim_url,
        nominatim_min_interval_s=0,
        map_servers_allowed_networks=LOOPBACK,
    )
    check(settings, database=False)
    geocoder = geocoder_for(settings)
    assert isinstance(geocoder, NominatimGeocoder) and geocoder is geocoder_for(settings)
    found = geocoder.geocode("Obere Au 40a, 9495 Triesen")
    assert found.verdict is Verdict.EXACT and found.location is not None
    assert (tmp_path / "nominatim" / "nominatim-cache.sqlite3").is_file()
    refused = _settings(
        tmp_path / "other",
        geocoder="nominatim",
        nominatim_url=nominatim_url,
        nominatim_min_interval_s=0,
    )
    with pytest.raises(ConfigError, match="LASTMILE_NOMINATIM_URL"):
        check(refused, database=False)
    with pytest.raises(GeocoderUnavailable, match="not a public address"):
        geocoder_for(refused).geocode("Obere Au 40a, 9495 Triesen")


def test_admin_check_asks_each_configured_server(
    osrm_url: str, valhalla_url: str, nominatim_url: str, tmp_path: Path
) -> None:
    """``lastmile admin check`` as an owner runs it: every configured server is asked."""

    def check(**env: str) -> subprocess.CompletedProcess[str]:
        clean = {k: v for k, v in os.environ.items() if not k.startswith("LASTMILE_")}
        return subprocess.run(
            [sys.executable, "-m", "lastmile.cli", "admin", "check"],
            env={**clean, "LASTMILE_DATA_DIR": str(tmp_path / "data"), **env},
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=300,
        )

    allowed = '["127.0.0.1/32"]'
    subprocess.run(
        [sys.executable, "-m", "lastmile.cli", "admin", "migrate"],
        env={**os.environ, "LASTMILE_DATA_DIR": str(tmp_path / "data")},
        capture_output=True,
        check=True,
        timeout=300,
    )
    good = check(
        LASTMILE_ROUTING_SERVER="osrm",
        LASTMILE_ROUTING_SERVER_URL=osrm_url,
        LASTMILE_GEOCODER="nominatim",
        LASTMILE_NOMINATIM_URL=nominatim_url,
        LASTMILE_MAP_SERVERS_ALLOWED_NETWORKS=allowed,
    )
    assert good.returncode == 0, good.stdout + good.stderr
    lines = {line.split()[0]: line for line in good.stdout.splitlines() if line.strip()}
    assert lines["routing"].split()[-1] == "ok" and lines["geocoder"].split()[-1] == "ok"
    valhalla = check(
        LASTMILE_ROUTING_SERVER="valhalla",
        LASTMILE_ROUTING_SERVER_URL=valhalla_url,
        LASTMILE_MAP_SERVERS_ALLOWED_NETWORKS=allowed,
    )
    assert valhalla.returncode == 0, valhalla.stdout + valhalla.stderr
    down = check(
        LASTMILE_ROUTING_SERVER="osrm",
        LASTMILE_ROUTING_SERVER_URL="http://127.0.0.1:9",  # nothing listens on port 9
        LASTMILE_MAP_SERVERS_ALLOWED_NETWORKS=allowed,
    )
    assert down.returncode == 1
    assert "osrm at http://127.0.0.1:9 unreachable: ConnectError" in " ".join(down.stdout.split())
