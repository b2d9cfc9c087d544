"""Travel times from an OSRM server (``osrm-routed``): ``/table`` for matrices, ``/route`` for paths.

Why and when
------------
The built-in road engine (``lastmile.core.roads``) is the default and needs no server. OSRM
is for users who already run one, or whose area is too large for the built-in engine (a
country or a continent: contraction hierarchies answer a 1000 x 1000 table in about a
second), and it brings turn restrictions and turn costs that the built-in engine does not
model. See docs/routing-servers.md.

How
---
* ``matrix`` asks ``GET /table/v1/{profile}/{coordinates}?annotations=duration,distance``.
  ``osrm-routed`` refuses tables with more than ``--max-table-size`` sources x destinations
  (100 x 100 by default), so a bigger matrix is cut into blocks of at most
  ``max_table_size`` sources by ``max_table_size`` destinations, each one request with only
  the coordinates of that block (``sources=`` / ``destinations=`` select the rows and
  columns). Each entry is an independent shortest path, so the blocks add up to exactly the
  matrix one request would give.
* ``path`` asks ``GET /route/v1/{profile}/{a};{b}?overview=full&geometries=geojson`` and
  returns the route's geometry as OSRM draws it: from the point where ``a`` joins the road to
  the point where ``b`` does (OSRM's durations and distances are measured between those same
  points, so the geometry's length matches the matrix distance).
* Durations (s) and distances (m) are rounded to integers. OSRM answers ``null`` for a pair
  it cannot route (an island, a road closed to the profile): lastmile raises
  :class:`~lastmile.integrations.matrix.base.UnreachableError` naming the pairs instead of
  inventing a number, as the built-in engine never returns one either.
* ``osrm-routed`` serves **one profile per process** and ignores the profile name in the
  URL; ``profile_map`` only maps lastmile's profiles to the name sent (``van`` and ``car`` to
  ``driving`` by default). A profile missing from the map is refused, so that a cargo-bike
  plan is never computed with car times by accident; use one provider per server and a
  :class:`~lastmile.integrations.matrix.base.ProfileRouter` for mixed fleets.
* OSRM joins every location to the nearest road its profile may use, however far (it does
  not add that gap to durations or distances). ``matrix`` keeps the gaps of its last call in
  ``last_snap_distances_m`` and logs a warning naming the locations further than
  ``max_snap_m`` (250 m, as the built-in engine), which are usually a wrong address or a door
  reached only by a road the profile may not use (a farm track for ``car.lua``).
* Timeouts, connection failures, 429 and 5xx are retried with exponential back-off, then
  reported as :class:`~lastmile.integrations.matrix.base.RoutingServerUnavailable`
  ("OSRM at URL is not reachable: ...").

Map data © OpenStreetMap contributors (ODbL 1.0), whichever server answers.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import httpx
import numpy as np
import numpy.typing as npt

from lastmile.core.model import Location, Profile, TravelMatrix
from lastmile.integrations.matrix.base import (
    ClientStats,
    Closing,
    HttpJsonClient,
    RoutingServerError,
    UnreachableError,
    block_pairs,
    describe_pairs,
)

__all__ = ["DEFAULT_PROFILE_MAP", "OsrmProvider"]

log = logging.getLogger(__name__)

DEFAULT_PROFILE_MAP: Mapping[Profile, str] = {Profile.VAN: "driving", Profile.CAR: "driving"}
"""lastmile profile -> OSRM profile name in the URL; only motor vehicles by default."""


def _coordinates(locations: Sequence[Location]) -> str:
    # 6 decimals is about 0.1 m, finer than any snapping.
    return ";".join(f"{loc.lon:.6f},{loc.lat:.6f}" for loc in locations)


def _indices(start: int, stop: int) -> str:
    return ";".join(str(i) for i in range(start, stop))


class OsrmProvider(Closing):
    """A :class:`~lastmile.core.roads.provider.TravelTimeProvider` backed by ``osrm-routed``.

    Parameters
    ----------
    base_url
        The server, e.g. ``http://127.0.0.1:5000`` (a path prefix such as
        ``https://host/osrm`` is kept).
    profile_map
        lastmile profile (or its name) -> OSRM profile name in the URL. Profiles not in the
        map are refused with an error.
    max_table_size
        Most sources, and most destinations, per ``/table`` request; keep it at or below the
        server's ``--max-table-size`` (100 by default).
    max_snap_m
        Locations further than this from the road OSRM joined them to are logged as a warning
        after ``matrix`` (see ``last_snap_distances_m``).
    timeout_s
        Per-request timeout (connect and read).
    retries, backoff_s
        Extra attempts after a timeout, a connection failure, 429 or 5xx, and the first wait
        (doubled each time).
    transport, sleep
        Injectable for tests (an ``httpx.MockTransport``, a fake sleep).
    """

    def __init__(
        self,
        base_url: str,
        *,
        profile_map: Mapping[Profile | str, str] | None = None,
        max_table_size: int = 100,
        max_snap_m: float = 250.0,
        timeout_s: float = 30.0,
        retries: int = 2,
        backoff_s: float = 0.5,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if max_table_size < 1:
            raise ValueError("max_table_size must be >= 1")
        given = DEFAULT_PROFILE_MAP if profile_map is None else profile_map
        self.profile_map: dict[Profile, str] = {Profile(k): v for k, v in given.items()}
        self.max_table_size = max_table_size
        self.max_snap_m = max_snap_m
        self.last_snap_distances_m: npt.NDArray[np.float64] = np.zeros(0)
        """Metres from each location of the last ``matrix`` call to where OSRM joined the road
        (NaN where the server did not say)."""
        self._http = HttpJsonClient(
            "OSRM",
            base_url,
            timeout_s=timeout_s,
            retries=retries,
            backoff_s=backoff_s,
            transport=transport,
            sleep=sleep,
        )

    @property
    def name(self) -> str:
        return "osrm"

    @property
    def base_url(self) -> str:
        return self._http.base_url

    @property
    def stats(self) -> ClientStats:
        """Requests sent and retries made so far."""
        return self._http.stats

    # --- TravelTimeProvider ------------------------------------------------------------

    def matrix(self, locations: Sequence[Location], profile: Profile) -> TravelMatrix:
        """Durations (s) and distances (m) between all pairs, in blocks of ``max_table_size``."""
        n = len(locations)
        osrm_profile = self._profile(profile)
        durations = np.zeros((n, n), dtype=np.int64)
        distances = np.zeros((n, n), dtype=np.int64)
        unreachable: list[tuple[int, int]] = []
        snap_m = np.full(n, np.nan)
        for rows, cols in block_pairs(n, self.max_table_size):
            if rows == cols and len(rows) == 1:
                continue  # a location to itself: 0 s, 0 m, no request needed
            dur, dist, snapped = self._table(osrm_profile, locations, rows, cols)
            for i, gap in snapped.items():
                snap_m[i] = gap
            bad = np.isnan(dur) | np.isnan(dist)
            for i, j in zip(*np.nonzero(bad), strict=True):
                unreachable.append((rows[int(i)], cols[int(j)]))
            durations[rows.start : rows.stop, cols.start : cols.stop] = np.rint(
                np.nan_to_num(dur)
            ).astype(np.int64)
            distances[rows.start : rows.stop, cols.start : cols.stop] = np.rint(
                np.nan_to_num(dist)
            ).astype(np.int64)
        self.last_snap_distances_m = snap_m
        far = [i for i in range(n) if snap_m[i] > self.max_snap_m]
        if far:
            shown = ", ".join(
                f"#{i} ({locations[i].lon:.6f}, {locations[i].lat:.6f}) {snap_m[i]:.0f} m"
                for i in far[:10]
            )
            log.warning(
                "OSRM at %s joined %d location(s) to a road more than %.0f m away: %s%s",
                self.base_url,
                len(far),
                self.max_snap_m,
                shown,
                " ..." if len(far) > 10 else "",
            )
        if unreachable:
            raise UnreachableError(
                describe_pairs(f"OSRM at {self.base_url}", sorted(unreachable), locations),
                sorted(unreachable),
            )
        np.fill_diagonal(durations, 0)
        np.fill_diagonal(distances, 0)
        return TravelMatrix(durations_s=durations, distances_m=distances)

    def path(self, a: Location, b: Location, profile: Profile) -> list[Location]:
        """OSRM's route geometry from where ``a`` joins the road to where ``b`` does."""
        osrm_profile = self._profile(profile)
        status, body = self._http.request(
            "GET",
            f"/route/v1/{osrm_profile}/{_coordinates([a, b])}",
            params={
                "overview": "full",
                "geometries": "geojson",
                "steps": "false",
                "alternatives": "false",
                "generate_hints": "false",
            },
        )
        code = body.get("code") if isinstance(body, dict) else None
        if code == "NoRoute":
            raise UnreachableError(
                describe_pairs(f"OSRM at {self.base_url}", [(0, 1)], [a, b]), [(0, 1)]
            )
        if status != 200 or code != "Ok":
            raise self._refused("route", status, body, [a, b])
        try:
            coords = body["routes"][0]["geometry"]["coordinates"]
            return [Location(float(lon), float(lat)) for lon, lat in coords]
        except (KeyError, IndexError, TypeError, ValueError) as exc:
            raise RoutingServerError(
                f"OSRM at {self.base_url} answered the route request with an unexpected JSON "
                f"shape ({type(exc).__name__}: {exc})"
            ) from exc

    # --- helpers -----------------------------------------------------------------------

    def _profile(self, profile: Profile) -> str:
        try:
            return self.profile_map[Profile(profile)]
        except KeyError:
            known = ", ".join(p.value for p in sorted(self.profile_map)) or "none"
            raise RoutingServerError(
                f"OsrmProvider has no OSRM profile for {Profile(profile).value!r} "
                f"(configured: {known}); pass profile_map={{...}} naming the server that "
                "serves it (osrm-routed serves one profile per process)"
            ) from None

    def _table(
        self, osrm_profile: str, locations: Sequence[Location], rows: range, cols: range
    ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], dict[int, float]]:
        """Durations and distances of one block, and the snap gaps (global index -> m)."""
        params = {"annotations": "duration,distance", "generate_hints": "false"}
        if rows == cols:
            sent = [locations[i] for i in rows]
            index = list(rows)
        else:
            sent = [locations[i] for i in rows] + [locations[j] for j in cols]
            index = list(rows) + list(cols)
            params["sources"] = _indices(0, len(rows))
            params["destinations"] = _indices(len(rows), len(rows) + len(cols))
        status, body = self._http.request(
            "GET", f"/table/v1/{osrm_profile}/{_coordinates(sent)}", params=params
        )
        if status != 200 or not isinstance(body, dict) or body.get("code") != "Ok":
            raise self._refused("table", status, body, [locations[i] for i in index], index)
        shape = (len(rows), len(cols))
        try:
            dur = np.array(body["durations"], dtype=np.float64)
            dist = np.array(body["distances"], dtype=np.float64)
        except (KeyError, TypeError, ValueError) as exc:
            raise RoutingServerError(
                f"OSRM at {self.base_url} answered the table request without usable "
                f"durations and distances ({type(exc).__name__}: {exc}); does the server "
                "support annotations=duration,distance (OSRM 5.18 or later)?"
            ) from exc
        if dur.shape != shape or dist.shape != shape:
            raise RoutingServerError(
                f"OSRM at {self.base_url} answered a {shape[0]} x {shape[1]} table request "
                f"with {dur.shape} durations and {dist.shape} distances"
            )
        snapped: dict[int, float] = {}
        for key, where in (("sources", rows), ("destinations", cols)):
            waypoints = body.get(key)
            if isinstance(waypoints, list) and len(waypoints) == len(where):
                for i, waypoint in zip(where, waypoints, strict=True):
                    gap = waypoint.get("distance") if isinstance(waypoint, dict) else None
                    if isinstance(gap, int | float):
                        snapped[i] = float(gap)
        return dur, dist, snapped

    def _refused(
        self,
        service: str,
        status: int,
        body: Any,
        sent: Sequence[Location],
        index: Sequence[int] | None = None,
    ) -> RoutingServerError:
        code = message = ""
        if isinstance(body, dict):
            code = str(body.get("code", ""))
            message = str(body.get("message", ""))
        text = f"OSRM at {self.base_url} refused the {service} request: HTTP {status}"
        if code or message:
            text += f" {code}: {message}".rstrip(": ")
        found = re.search(r"coordinate (\d+)", message)
        if code == "NoSegment" and found and int(found.group(1)) < len(sent):
            k = int(found.group(1))
            loc = sent[k]
            which = f"location #{index[k]}" if index is not None else "a location"
            text += (
                f". {which} ({loc.lon:.6f}, {loc.lat:.6f}) is not near any road of the "
                "server's map: is it inside the extract the server was built from?"
            )
        elif code == "TooBig":
            text += (
                f". Lower max_table_size (now {self.max_table_size}) to at most the "
                "server's --max-table-size"
            )
        return RoutingServerError(text)
