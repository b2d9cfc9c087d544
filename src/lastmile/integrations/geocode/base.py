"""The geocoder Protocol every implementation satisfies, and the errors they raise.

The built-in :class:`lastmile.core.geo.geocoder.Geocoder` (offline, over the address index
of an OpenStreetMap extract) already has this shape, so it needs no adapter; an outside
service (Nominatim) gets one in its own module. Every implementation answers with the same
:class:`GeocodeResult` and the same verdicts, so that callers never need to know which one
answered: only ``exact`` and ``corrected`` carry a location to use without review.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol, runtime_checkable

from lastmile.core.errors import LastmileError
from lastmile.core.geo.geocoder import Address, Candidate, GeocodeResult, Verdict
from lastmile.core.geo.geocoder import Geocoder as OfflineGeocoder
from lastmile.core.model import Location

__all__ = [
    "Address",
    "Candidate",
    "GeocodeResult",
    "Geocoder",
    "GeocoderError",
    "GeocoderUnavailable",
    "Verdict",
    "builtin_geocoder",
]


@runtime_checkable
class Geocoder(Protocol):
    """Turns one typed address into a verdict, a location when sure, and candidates."""

    def geocode(self, text: str, *, hint: Location | None = None) -> GeocodeResult:
        """Look ``text`` up; ``hint`` is the row's own pin, when it has one."""
        ...


class GeocoderError(LastmileError):
    """The geocoding service answered, but not with results (bad request, refused, ...)."""

    code = "geocoder_error"


class GeocoderUnavailable(GeocoderError):
    """The geocoding service cannot be reached or keeps failing (down, timeouts, 5xx)."""

    code = "geocoder_unavailable"


def builtin_geocoder(extract: str | Path, *, cache_path: str | Path | None = None) -> Geocoder:
    """The default geocoder: the offline address index of ``extract`` (see docs/geocoding.md)."""
    from lastmile.core.geo.index import load_index

    return OfflineGeocoder(load_index(extract, cache_path=cache_path))
