"""Travel times from a Valhalla server: ``/sources_to_targets`` for matrices, ``/route`` for paths.

Tested against a real ``valhalla_service`` 3.9.1 (the programs of the PyPI wheel
``pyvalhalla``, over the bundled extract; ``scripts/valhalla-test-server.sh``) in
tests/integrations/test_configured.py, and against answers in the shapes of Valhalla's API
reference (https://valhalla.github.io/valhalla/api/matrix/api-reference/ and
https://valhalla.github.io/valhalla/api/turn-by-turn/api-reference/) through an
``httpx.MockTransport`` for errors and edge cases a real server rarely gives.

How
---
* ``matrix`` POSTs ``{"sources": [...], "targets": [...], "costing": ..., "units":
  "kilometers"}`` to ``/sources_to_targets``. Valhalla limits the number of pairs per request
  (``service_limits.<costing>.max_matrix_location_pairs``, 2500 by default), so a bigger
  matrix is cut into blocks of at most ``max_table_size`` sources x ``max_table_size``
  targets (50 x 50 by default). Both the verbose answer (a row of ``{"from_index",
  "to_index", "time", "distance"}`` objects per source) and the concise one
  (``verbose=false``: ``{"durations": [[...]], "distances": [[...]]}``) are read.
* ``path`` POSTs two locations to ``/route`` and decodes the leg's ``shape`` (an encoded
  polyline with 6 decimals): the geometry from where ``a`` joins the road to where ``b`` does.
* Time (s) and distance (km, converted to m) are rounded to integers. A pair without a time
  raises :class:`~lastmile.integrations.matrix.base.UnreachableError`, never a made-up
  number; error 442 ("No path could be found") does the same for ``path``.
* ``costing_map`` maps lastmile's profiles to Valhalla costings (one server serves all of
  them): van and car -> ``auto``, bicycle and cargo bike -> ``bicycle``, walking ->
  ``pedestrian``. ``costing_options`` are passed through (e.g. ``{"auto": {"top_speed": 90}}``).
* Timeouts, connection failures, 429 and 5xx are retried with back-off, then reported as
  :class:`~lastmile.integrations.matrix.base.RoutingServerUnavailable`.

Map data © OpenStreetMap contributors (ODbL 1.0), whichever server answers.
"""

from __future__ import annotations

import math
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

__all__ = ["DEFAULT_COSTING_MAP", "ValhallaProvider", "decode_polyline"]

DEFAULT_COSTING_MAP: Mapping[Profile, str] = {
    Profile.VAN: "auto",
    Profile.CAR: "auto",
    Profile.BICYCLE: "bicycle",
    Profile.CARGO_BIKE: "bicycle",
    Profile.WALKING: "pedestrian",
}
"""lastmile profile -> Valhalla costing model."""

NO_PATH_CODES = frozenset({170, 442, 443})
"""Valhalla error codes meaning "these locations are not connected" (unconnected regions,
no path found, exact route match failed)."""


def decode_polyline(encoded: str, precision: int = 6) -> list[Location]:
    """Decode an encoded polyline (Google's algorithm; Valhalla uses 6 decimals)."""
    factor = 10.0**precision
    points: list[Location] = []
    index = lat = lon = 0
    length = len(encoded)
    while index < length:
        deltas = []
        for _ in range(2):
            shift = result = 0
            while True:
                if index >= length:
                    raise ValueError("truncated polyline")
                byte = ord(encoded[index]) - 63
                index += 1
                result |= (byte & 0x1F) << shift
                shift += 5
                if byte < 0x20:
                    break
            deltas.append(~(result >> 1) if result & 1 else result >> 1)
        lat += deltas[0]
        lon += deltas[1]
        points.append(Location(lon / factor, lat / factor))
    return points


def _point(loc: Location) -> dict[str, float]:
    return {"lon": loc.lon, "lat": loc.lat}


class ValhallaProvider(Closing):
    """A :class:`~lastmile.core.roads.provider.TravelTimeProvider` backed by Valhalla.

    Parameters
    ----------
    base_url
        The server, e.g. ``http://127.0.0.1:8002``.
    costing_map
        lastmile profile (or its name) -> Valhalla costing; profiles not in it are refused.
    costing_options
        Passed through as ``costing_options`` in every request.
    max_table_size
        Most sources, and most targets, per ``/sources_to_targets`` request (``50`` keeps
        50 x 50 = 2500 pairs, Valhalla's default ``max_matrix_location_pairs``).
    timeout_s, retries, backoff_s, transport, sleep
        As for :class:`~lastmile.integrations.matrix.osrm.OsrmProvider`.
    """

    def __init__(
        self,
        base_url: str,
        *,
        costing_map: Mapping[Profile | str, str] | None = None,
        costing_options: Mapping[str, Any] | None = None,
        max_table_size: int = 50,
        timeout_s: float = 60.0,
        retries: int = 2,
        backoff_s: float = 0.5,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if max_table_size < 1:
            raise ValueError("max_table_size must be >= 1")
        given = DEFAULT_COSTING_MAP if costing_map is None else costing_map
        self.costing_map: dict[Profile, str] = {Profile(k): v for k, v in given.items()}
        self.costing_options = dict(costing_options or {})
        self.max_table_size = max_table_size
        self._http = HttpJsonClient(
            "Valhalla",
            base_url,
            timeout_s=timeout_s,
            retries=retries,
            backoff_s=backoff_s,
            transport=transport,
            sleep=sleep,
        )

    @property
    def name(self) -> str:
        return "valhalla"

    @property
    def base_url(self) -> str:
        return self._http.base_url

    @property
    def stats(self) -> ClientStats:
        return self._http.stats

    # --- TravelTimeProvider ------------------------------------------------------------

    def matrix(self, locations: Sequence[Location], profile: Profile) -> TravelMatrix:
        """Durations (s) and distances (m) between all pairs, in blocks of ``max_table_size``."""
        n = len(locations)
        costing = self._costing(profile)
        durations = np.zeros((n, n), dtype=np.int64)
        distances = np.zeros((n, n), dtype=np.int64)
        unreachable: list[tuple[int, int]] = []
        for rows, cols in block_pairs(n, self.max_table_size):
            if rows == cols and len(rows) == 1:
                continue
            dur, dist = self._block(costing, locations, rows, cols)
            bad = np.isnan(dur) | np.isnan(dist)
            for i, j in zip(*np.nonzero(bad), strict=True):
                unreachable.append((rows[int(i)], cols[int(j)]))
            block = (slice(rows.start, rows.stop), slice(cols.start, cols.stop))
            durations[block] = np.rint(np.nan_to_num(dur)).astype(np.int64)
            distances[block] = np.rint(np.nan_to_num(dist) * 1000.0).astype(np.int64)
        if unreachable:
            pairs = sorted(unreachable)
            raise UnreachableError(
                describe_pairs(f"Valhalla at {self.base_url}", pairs, locations), pairs
            )
        np.fill_diagonal(durations, 0)
        np.fill_diagonal(distances, 0)
        return TravelMatrix(durations_s=durations, distances_m=distances)

    def path(self, a: Location, b: Location, profile: Profile) -> list[Location]:
        """Valhalla's route shape from where ``a`` joins the road to where ``b`` does."""
        request: dict[str, Any] = {
            "locations": [_point(a), _point(b)],
            "costing": self._costing(profile),
            "units": "kilometers",
            "directions_type": "none",
        }
        if self.costing_options:
            request["costing_options"] = self.costing_options
        status, body = self._http.request("POST", "/route", json=request)
        if isinstance(body, dict) and body.get("error_code") in NO_PATH_CODES:
            raise UnreachableError(
                describe_pairs(f"Valhalla at {self.base_url}", [(0, 1)], [a, b]), [(0, 1)]
            )
        if status != 200 or not isinstance(body, dict) or "trip" not in body:
            raise self._refused("route", status, body)
        try:
            shape: list[Location] = []
            for leg in body["trip"]["legs"]:
                points = decode_polyline(str(leg["shape"]))
                shape.extend(points[1:] if shape and points and points[0] == shape[-1] else points)
        except (KeyError, TypeError, ValueError) as exc:
            raise RoutingServerError(
                f"Valhalla at {self.base_url} answered the route request with an unexpected "
                f"JSON shape ({type(exc).__name__}: {exc})"
            ) from exc
        if len(shape) == 1:
            shape.append(shape[0])
        if not shape:
            raise RoutingServerError(f"Valhalla at {self.base_url} answered an empty route")
        return shape

    # --- helpers -----------------------------------------------------------------------

    def _costing(self, profile: Profile) -> str:
        try:
            return self.costing_map[Profile(profile)]
        except KeyError:
            known = ", ".join(p.value for p in sorted(self.costing_map)) or "none"
            raise RoutingServerError(
                f"ValhallaProvider has no costing for {Profile(profile).value!r} "
                f"(configured: {known}); pass costing_map={{...}}"
            ) from None

    def _block(
        self, costing: str, locations: Sequence[Location], rows: range, cols: range
    ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        request: dict[str, Any] = {
            "sources": [_point(locations[i]) for i in rows],
            "targets": [_point(locations[j]) for j in cols],
            "costing": costing,
            "units": "kilometers",
        }
        if self.costing_options:
            request["costing_options"] = self.costing_options
        status, body = self._http.request("POST", "/sources_to_targets", json=request)
        if status != 200 or not isinstance(body, dict) or "sources_to_targets" not in body:
            raise self._refused("matrix", status, body)
        units = body.get("units", "kilometers")
        if units not in ("kilometers", "km"):
            raise RoutingServerError(
                f"Valhalla at {self.base_url} answered in {units!r}; lastmile asks for kilometers"
            )
        shape = (len(rows), len(cols))
        try:
            dur, dist = _read_matrix(body["sources_to_targets"], shape)
        except (KeyError, IndexError, TypeError, ValueError) as exc:
            raise RoutingServerError(
                f"Valhalla at {self.base_url} answered the matrix request with an unexpected "
                f"JSON shape ({type(exc).__name__}: {exc})"
            ) from exc
        return dur, dist

    def _refused(self, service: str, status: int, body: Any) -> RoutingServerError:
        text = f"Valhalla at {self.base_url} refused the {service} request: HTTP {status}"
        if isinstance(body, dict) and ("error" in body or "error_code" in body):
            text += f" error {body.get('error_code', '?')}: {body.get('error', '')}".rstrip(": ")
            if body.get("error_code") == 171:
                text += " (a location is not near any road of the server's tiles)"
        elif body is not None:
            text += " (the answer has no matrix or trip)"
        return RoutingServerError(text)


def _number(value: Any) -> float:
    if value is None:
        return math.nan
    number = float(value)
    return number if math.isfinite(number) else math.nan


def _read_matrix(
    raw: Any, shape: tuple[int, int]
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Durations (s) and distances (km) from either of Valhalla's matrix formats; NaN = none."""
    dur = np.full(shape, np.nan)
    dist = np.full(shape, np.nan)
    if isinstance(raw, dict):  # concise (verbose=false): two row-major arrays
        for target, key in ((dur, "durations"), (dist, "distances")):
            values = np.array([[_number(v) for v in row] for row in raw[key]], dtype=np.float64)
            if values.shape != shape:
                raise ValueError(f"{key} has shape {values.shape}, expected {shape}")
            target[:] = values
        return dur, dist
    if not isinstance(raw, list) or len(raw) != shape[0]:
        raise ValueError(f"expected {shape[0]} rows of sources_to_targets")
    for i, row in enumerate(raw):
        if not isinstance(row, list) or len(row) != shape[1]:
            raise ValueError(f"row {i} does not have {shape[1]} entries")
        for j, cell in enumerate(row):
            r = int(cell.get("from_index", i))
            c = int(cell.get("to_index", j))
            dur[r, c] = _number(cell.get("time"))
            dist[r, c] = _number(cell.get("distance"))
    return dur, dist
