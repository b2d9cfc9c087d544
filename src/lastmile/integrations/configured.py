"""The travel-time provider and the geocoder this process uses, chosen by the settings.

One place decides, for the server, the worker, the planning process and the CLI alike:

* travel times: the built-in road engine on ``roads_extract`` (the default), straight lines
  (``use_roads=false``), or an OSRM / Valhalla server (``routing_server``);
* geocoding: the built-in offline index of ``roads_extract`` (the default) or a Nominatim
  server (``geocoder``).

Each is built once per process and configuration (the app builds it at start, so the first
plan does not wait) and handed to the code that needs it. Routing and geocoding servers are
reached only through the outbound policy of :mod:`lastmile.common.netguard`: public
addresses, plus the private networks the owner lists in ``map_servers_allowed_networks``
(a self-hosted OSRM on this machine needs ``["127.0.0.1/32"]``).
"""

from __future__ import annotations

import ipaddress
from functools import cache, lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from lastmile.common.netguard import BLOCKED, GuardedTransport, Policy, ip_literal
from lastmile.config import Settings
from lastmile.core.model import Profile
from lastmile.core.roads import (
    RoadNetwork,
    RoadProvider,
    StraightLineProvider,
    TravelTimeProvider,
    default_extract,
)
from lastmile.integrations.geocode.base import Geocoder
from lastmile.integrations.matrix import OsrmProvider, ProfileRouter, ValhallaProvider

__all__ = [
    "geocoder_for",
    "map_area",
    "provider_for",
    "road_network_loaded",
    "server_url_problems",
]

OSRM_PROFILE_NAMES = {
    Profile.VAN: "driving",
    Profile.CAR: "driving",
    Profile.CARGO_BIKE: "cycling",
    Profile.BICYCLE: "cycling",
    Profile.WALKING: "walking",
}
"""The profile name sent in OSRM's URLs (``osrm-routed`` ignores it: one profile per server)."""

_ServerKey = tuple[str, str, tuple[tuple[str, str], ...], tuple[str, ...]]


def provider_for(settings: Settings) -> TravelTimeProvider:
    """This process's travel times for ``settings`` (built on the first call, then reused)."""
    if not settings.use_roads:
        return StraightLineProvider()
    if settings.routing_server == "builtin":
        return _road_provider(settings.roads_extract or default_extract())
    assert settings.routing_server_url is not None  # the settings refuse it otherwise
    key: _ServerKey = (
        settings.routing_server,
        settings.routing_server_url,
        tuple(sorted(settings.routing_server_profile_urls.items())),
        tuple(settings.map_servers_allowed_networks),
    )
    return _server_provider(key)


@lru_cache(maxsize=4)
def _road_provider(extract: Path) -> TravelTimeProvider:
    provider = RoadProvider(RoadNetwork.load(extract))
    _loaded.add(extract)
    return provider


@cache  # providers live as long as the process: never dropped unclosed
def _server_provider(key: _ServerKey) -> TravelTimeProvider:
    kind, url, profile_urls, networks = key
    policy = _policy(networks)
    if kind == "valhalla":
        return ValhallaProvider(url, transport=GuardedTransport(policy))
    main = OsrmProvider(url, transport=GuardedTransport(policy))
    if not profile_urls:
        return main
    by_profile: dict[Profile, TravelTimeProvider] = {Profile.VAN: main, Profile.CAR: main}
    for name, profile_url in profile_urls:
        profile = Profile(name)
        by_profile[profile] = OsrmProvider(
            profile_url,
            profile_map={profile: OSRM_PROFILE_NAMES[profile]},
            transport=GuardedTransport(policy),
        )
    return ProfileRouter(by_profile)


def road_network_loaded(settings: Settings) -> bool:
    """Whether this process has its road network in memory (``/readyz``); a routing server
    or straight lines need none."""
    if not settings.use_roads or settings.routing_server != "builtin":
        return True
    extract = settings.roads_extract or default_extract()
    return extract in _loaded


_loaded: set[Path] = set()


def geocoder_for(settings: Settings) -> Geocoder:
    """This process's geocoder for ``settings`` (built on the first call, then reused)."""
    if settings.geocoder == "nominatim":
        return _nominatim(
            settings.nominatim_url,
            settings.data_dir.resolve() / "nominatim",
            settings.nominatim_min_interval_s,
            settings.nominatim_email,
            settings.nominatim_countrycodes,
            tuple(settings.map_servers_allowed_networks),
        )
    return _builtin_geocoder(settings.roads_extract or default_extract())


@lru_cache(maxsize=4)
def _builtin_geocoder(extract: Path) -> Geocoder:
    from lastmile.core.geo.geocoder import Geocoder as OfflineGeocoder
    from lastmile.core.geo.index import load_index

    return OfflineGeocoder(load_index(extract))


@cache
def _nominatim(
    url: str,
    cache_dir: Path,
    min_interval_s: float,
    email: str | None,
    countrycodes: str | None,
    networks: tuple[str, ...],
) -> Geocoder:
    from lastmile.integrations.geocode.nominatim import NominatimGeocoder

    return NominatimGeocoder(
        url,
        cache_dir=cache_dir,
        min_interval_s=min_interval_s,
        email=email,
        countrycodes=countrycodes,
        transport=GuardedTransport(_policy(networks)),
    )


def _policy(networks: tuple[str, ...]) -> Policy:
    from lastmile.common.netguard import default_resolver

    return Policy(
        allowed_networks=tuple(ipaddress.ip_network(n, strict=False) for n in networks),
        resolver=default_resolver(),
    )


def server_url_problems(settings: Settings) -> list[str]:
    """The configured server URLs that the outbound policy would refuse, one line each (for
    the start-up check). Names are looked up again on every request; here only addresses
    written as numbers and ``localhost`` are judged, so that a DNS hiccup stops nothing."""
    urls: list[tuple[str, str]] = []
    if settings.use_roads and settings.routing_server != "builtin" and settings.routing_server_url:
        urls.append(("LASTMILE_ROUTING_SERVER_URL", settings.routing_server_url))
        if settings.routing_server == "osrm":
            urls += [
                ("LASTMILE_ROUTING_SERVER_PROFILE_URLS", url)
                for url in settings.routing_server_profile_urls.values()
            ]
    if settings.geocoder == "nominatim":
        urls.append(("LASTMILE_NOMINATIM_URL", settings.nominatim_url))
    policy = _policy(tuple(settings.map_servers_allowed_networks))
    problems = []
    for variable, url in urls:
        host = (urlsplit(url).hostname or "").rstrip(".").lower()
        if host == "localhost" or host.endswith(".localhost"):
            addresses = [ipaddress.ip_address("127.0.0.1"), ipaddress.ip_address("::1")]
        else:
            literal = ip_literal(host)
            addresses = [] if literal is None else [literal]
        refused = [str(a) for a in addresses if not policy.permits(a)]
        if refused:
            allow = ", ".join(f'"{a}/{32 if ":" not in a else 128}"' for a in refused)
            problems.append(
                f"{variable}: {url} is on {' and '.join(refused)}, which "
                + BLOCKED.replace(
                    "LASTMILE_OUTBOUND_ALLOWED_NETWORKS",
                    f"LASTMILE_MAP_SERVERS_ALLOWED_NETWORKS='[{allow}]'",
                )
            )
    return problems


def map_area(settings: Settings) -> tuple[float, float, float, float] | None:
    """The map area (min_lon, min_lat, max_lon, max_lat) of the built-in geocoder's extract,
    to tell an order's coordinates that lie outside it; None with Nominatim (no fixed area)."""
    if settings.geocoder == "nominatim":
        return None
    geocoder: Any = _builtin_geocoder(settings.roads_extract or default_extract())
    bounds: tuple[float, float, float, float] = geocoder.index.bounds
    return bounds


def server_checks(settings: Settings, *, timeout_s: float = 5.0) -> dict[str, str]:
    """Whether each configured routing or geocoding server answers (``lastmile admin
    check``): ``ok`` or what went wrong. Not part of ``/readyz``: a routing server that is
    down must not take every lastmile server out of a load balancer (tracking pages and the
    driver app do not need it)."""
    probes: dict[str, tuple[str, str, str]] = {}
    if settings.use_roads and settings.routing_server != "builtin" and settings.routing_server_url:
        path = "/status" if settings.routing_server == "valhalla" else "/nearest/v1/driving/0,0"
        probes["routing"] = (settings.routing_server, settings.routing_server_url, path)
        for name, url in sorted(settings.routing_server_profile_urls.items()):
            if settings.routing_server == "osrm":
                probes[f"routing {name}"] = ("osrm", url, "/nearest/v1/driving/0,0")
    if settings.geocoder == "nominatim":
        probes["geocoder"] = ("nominatim", settings.nominatim_url, "/status?format=json")
    policy = _policy(tuple(settings.map_servers_allowed_networks))
    checks: dict[str, str] = {}
    for check, (kind, url, path) in probes.items():
        try:
            with httpx.Client(transport=GuardedTransport(policy), timeout=timeout_s) as client:
                answer = client.get(url + path)
            answer.json()  # OSRM answers its errors as JSON too: the server is there
        except httpx.HTTPError as exc:
            checks[check] = f"{kind} at {url} unreachable: {type(exc).__name__}: {exc}"
            continue
        except ValueError:
            checks[check] = f"{kind} at {url} answered HTTP {answer.status_code}, not JSON"
            continue
        checks[check] = "ok" if answer.status_code < 500 else f"{kind} HTTP {answer.status_code}"
    return checks
