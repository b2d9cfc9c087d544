"""Which IANA time zone a point is in, offline (timezonefinder ships its own boundary data).

Delivery windows in files are local wall-clock times; the plan needs the zone to write
ISO 8601 date-times. Guessing it from the depot saves every user from having to say it.
"""

from __future__ import annotations

from functools import lru_cache
from zoneinfo import ZoneInfo

from lastmile.core.model import Location


@lru_cache(maxsize=1)
def _finder() -> object:
    from timezonefinder import TimezoneFinder

    # in_memory: no file handles left open at interpreter exit (they warn otherwise).
    return TimezoneFinder(in_memory=True)


def zone_at(location: Location) -> ZoneInfo:
    """The time zone at ``location``; UTC on the open sea."""
    name = _finder().timezone_at(lng=location.lon, lat=location.lat)  # type: ignore[attr-defined]
    return ZoneInfo(name or "UTC")
