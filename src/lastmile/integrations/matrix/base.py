"""What the routing-server adapters share: errors, chunking, a retrying JSON client.

The adapters (:mod:`~lastmile.integrations.matrix.osrm`,
:mod:`~lastmile.integrations.matrix.valhalla`) implement
:class:`lastmile.core.roads.provider.TravelTimeProvider`, the same interface as the built-in
road engine, so the planner never knows which one answered. They follow the same rules:

* integers out: seconds and metres, rounded to the nearest;
* **never an infinite or invented value**: a pair the server cannot route raises
  :class:`UnreachableError` naming the pairs and their coordinates, because a made-up
  "large" travel time would silently turn into a wrong plan or a wrong ETA;
* a server that cannot be reached, times out or answers 5xx (after the retries) raises
  :class:`RoutingServerUnavailable` with the URL and the last failure; a server that answers
  with an error raises :class:`RoutingServerError` with its message.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from types import TracebackType
from typing import Any, Self

import httpx

from lastmile.core.errors import LastmileError
from lastmile.core.model import Location, Profile, TravelMatrix
from lastmile.core.roads.provider import TravelTimeProvider

__all__ = [
    "ClientStats",
    "Closing",
    "HttpJsonClient",
    "ProfileRouter",
    "RoutingServerError",
    "RoutingServerUnavailable",
    "UnreachableError",
    "block_pairs",
    "blocks",
    "describe_pairs",
]


class RoutingServerError(LastmileError):
    """The routing server answered, but not with a usable result (bad request, no segment)."""

    code = "routing_server_error"


class RoutingServerUnavailable(RoutingServerError):
    """The routing server cannot be reached or keeps failing (down, timeouts, 5xx)."""

    code = "routing_server_unavailable"


class UnreachableError(RoutingServerError):
    """Some pairs of locations have no route on the server's network.

    ``pairs`` holds every ``(from_index, to_index)`` into the list given to ``matrix`` (or
    ``(0, 1)`` for ``path``). Usually one location is on a road the profile cannot use, on an
    island of the map, or outside the server's extract; the message names the coordinates.
    """

    code = "unreachable"

    def __init__(self, message: str, pairs: Sequence[tuple[int, int]]) -> None:
        super().__init__(message)
        self.pairs = list(pairs)


def describe_pairs(
    server: str, pairs: Sequence[tuple[int, int]], locations: Sequence[Location], limit: int = 5
) -> str:
    """The message of an :class:`UnreachableError`: the first ``limit`` pairs, and the count."""

    def where(i: int) -> str:
        loc = locations[i]
        return f"#{i} ({loc.lon:.6f}, {loc.lat:.6f})"

    shown = "; ".join(f"{where(a)} -> {where(b)}" for a, b in pairs[:limit])
    more = f" and {len(pairs) - limit} more" if len(pairs) > limit else ""
    counts: dict[int, int] = {}
    for a, b in pairs:
        counts[a] = counts.get(a, 0) + 1
        counts[b] = counts.get(b, 0) + 1
    worst = max(counts, key=lambda i: (counts[i], -i))
    return (
        f"{server} has no route for {len(pairs)} pair(s) of locations (lon, lat): {shown}{more}. "
        f"Location {where(worst)} is in {counts[worst]} of them: is it on a road this profile "
        "may use and inside the server's map?"
    )


def blocks(n: int, size: int) -> list[range]:
    """``range(n)`` cut into consecutive blocks of at most ``size`` indices."""
    if size < 1:
        raise ValueError("block size must be >= 1")
    return [range(start, min(start + size, n)) for start in range(0, n, size)]


def _user_agent() -> str:
    try:
        version = metadata.version("lastmile")
    except metadata.PackageNotFoundError:
        version = "dev"
    return f"lastmile/{version} (open-source last-mile delivery planner)"


@dataclass
class ClientStats:
    """Counters, for tests and for the curious."""

    requests: int = 0
    retries: int = 0


@dataclass
class HttpJsonClient:
    """A JSON-over-HTTP client with timeouts and retries with exponential back-off.

    Timeouts, connection failures, HTTP 429 and 5xx are retried ``retries`` times, waiting
    ``backoff_s``, then twice as long each time; after that :class:`RoutingServerUnavailable`
    names the server and the last failure. Any other answer is returned as it is, for the
    adapter to interpret (OSRM and Valhalla both put their error in a JSON body with 400).
    """

    server: str
    """Name used in messages, e.g. ``"OSRM"``."""
    base_url: str
    timeout_s: float = 30.0
    retries: int = 2
    backoff_s: float = 0.5
    transport: httpx.BaseTransport | None = None
    sleep: Callable[[float], None] = time.sleep
    stats: ClientStats = field(default_factory=ClientStats)

    def __post_init__(self) -> None:
        if self.retries < 0 or self.timeout_s <= 0 or self.backoff_s < 0:
            raise ValueError("retries and backoff_s must be >= 0, timeout_s > 0")
        self.base_url = self.base_url.rstrip("/")
        self._client = httpx.Client(
            base_url=self.base_url,
            headers={"User-Agent": _user_agent(), "Accept": "application/json"},
            timeout=httpx.Timeout(self.timeout_s),
            transport=self.transport,
        )

    def close(self) -> None:
        self._client.close()

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        json: Any = None,
    ) -> tuple[int, Any]:
        """Send one request (retrying as above); answer ``(status, decoded JSON or None)``."""
        failure = ""
        delay = self.backoff_s
        for attempt in range(self.retries + 1):
            if attempt:
                self.stats.retries += 1
                self.sleep(delay)
                delay *= 2
            self.stats.requests += 1
            try:
                response = self._client.request(method, path, params=params, json=json)
            except httpx.TimeoutException:
                failure = f"no answer within {self.timeout_s:g} s (timeout)"
                continue
            except httpx.TransportError as exc:
                failure = f"{type(exc).__name__}: {exc}"
                continue
            status = response.status_code
            if status == 429 or status >= 500:
                failure = f"HTTP {status} {response.reason_phrase} {response.text[:200]}".strip()
                continue
            try:
                body = response.json()
            except ValueError:
                body = None
            return status, body
        raise RoutingServerUnavailable(
            f"{self.server} at {self.base_url} is not reachable: {failure} "
            f"({self.retries + 1} attempt(s)). Is the server running and the URL right?"
        )


class ProfileRouter:
    """One :class:`TravelTimeProvider` per profile, e.g. an OSRM server per profile.

    ``osrm-routed`` serves one profile per process, so a fleet of vans and cargo bikes needs
    two servers; this sends each profile's requests to its own provider (or ``default``).
    """

    def __init__(
        self,
        providers: Mapping[Profile, TravelTimeProvider],
        *,
        default: TravelTimeProvider | None = None,
    ) -> None:
        self.providers = dict(providers)
        self.default = default

    @property
    def name(self) -> str:
        parts = [f"{p.value}={prov.name}" for p, prov in sorted(self.providers.items())]
        if self.default is not None:
            parts.append(f"*={self.default.name}")
        return "by-profile(" + ", ".join(parts) + ")"

    def _for(self, profile: Profile) -> TravelTimeProvider:
        provider = self.providers.get(profile, self.default)
        if provider is None:
            known = ", ".join(p.value for p in sorted(self.providers)) or "none"
            raise RoutingServerError(
                f"no routing provider for profile {profile.value!r} (configured: {known})"
            )
        return provider

    def matrix(self, locations: Sequence[Location], profile: Profile) -> TravelMatrix:
        return self._for(profile).matrix(locations, profile)

    def path(self, a: Location, b: Location, profile: Profile) -> list[Location]:
        return self._for(profile).path(a, b, profile)


class Closing:
    """Context-manager mix-in for adapters holding an :class:`HttpJsonClient`."""

    _http: HttpJsonClient

    def close(self) -> None:
        """Close the HTTP connections."""
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def block_pairs(n: int, size: int) -> Iterator[tuple[range, range]]:
    """Every (sources block, destinations block) pair covering an ``n x n`` matrix."""
    cut = blocks(n, size)
    for rows in cut:
        for cols in cut:
            yield rows, cols
