"""Units and the one place where they become solver integers.

Everything in ``lastmile.core`` speaks seconds (int), metres (int) and WGS84 ``[lon, lat]``.
Times of day are seconds since local midnight of the plan's date: the core has no clock and
no time zone; the edges (CLI, API) turn them into ISO 8601 date-times.

The solver works on integers only. Money is scaled by :data:`COST_SCALE` (1 unit =
1/100 000 of the currency) so that per-metre and per-second rates stay exact enough:
0.35/km becomes 35 per metre-unit, 28/h becomes 778 per second-unit (0.03 % rounding).
"""

from __future__ import annotations

import math
import re
from datetime import date

COST_SCALE = 100_000
"""Solver cost units per currency unit."""

SECONDS_PER_HOUR = 3600
METRES_PER_KM = 1000


def cost_per_metre(cost_per_km: float) -> int:
    """Solver cost of one metre for a currency rate per kilometre."""
    return round(cost_per_km * COST_SCALE / METRES_PER_KM)


def cost_per_second(cost_per_hour: float) -> int:
    """Solver cost of one second for a currency rate per hour."""
    return round(cost_per_hour * COST_SCALE / SECONDS_PER_HOUR)


def money_to_int(amount: float) -> int:
    """A currency amount in solver cost units."""
    return round(amount * COST_SCALE)


def int_to_money(amount: int | float) -> float:
    """Solver cost units back to currency, rounded to the cent."""
    return round(amount / COST_SCALE, 2)


def parse_clock(text: str) -> int:
    """``"08:30"`` or ``"8:30:15"`` -> seconds since midnight: the API's strict format.

    Raises ``ValueError`` with a readable message on anything else. ``24:00`` is allowed
    (end of day). Spreadsheets use :func:`read_clock`, which accepts what people type.
    """
    parts = text.strip().split(":")
    if len(parts) not in (2, 3) or not all(p.isdigit() for p in parts):
        raise ValueError(f"not a time of day (expected HH:MM): {text!r}")
    return _seconds(text, int(parts[0]), int(parts[1]), int(parts[2]) if len(parts) == 3 else 0)


_CLOCK = re.compile(
    r"(?P<h>\d{1,2})(?:(?:[:.h](?P<m>\d{2}))(?::(?P<s>\d{2}))?|h)?"
    r"\s*(?P<ampm>[ap]\.?m\.?)?(?:\s*uhr)?"
)


def read_clock(text: str) -> int:
    """A time of day as people type it in a spreadsheet -> seconds since midnight.

    ``08:30``, ``8:30:15``, ``8.30``, ``8h30``, ``8h``, ``8`` (hours only), ``8:30 pm``,
    ``9am``, ``9 Uhr``. Raises ``ValueError`` with a readable message on anything else.
    """
    match = _CLOCK.fullmatch(text.strip().lower())
    if match is None:
        raise ValueError(f"not a time of day (expected HH:MM): {text!r}")
    hours = int(match["h"])
    if match["ampm"]:
        if not 1 <= hours <= 12:
            raise ValueError(f"not a time of day (expected HH:MM): {text!r}")
        hours = hours % 12 + (12 if match["ampm"].startswith("p") else 0)
    return _seconds(text, hours, int(match["m"] or 0), int(match["s"] or 0))


def _seconds(text: str, hours: int, minutes: int, seconds: int) -> int:
    if minutes > 59 or seconds > 59 or hours > 24 or (hours == 24 and (minutes or seconds)):
        raise ValueError(f"not a time of day (expected HH:MM): {text!r}")
    return hours * 3600 + minutes * 60 + seconds


def format_clock(seconds: int) -> str:
    """Seconds since midnight -> ``"HH:MM"`` (hours may exceed 24 for overnight routes)."""
    seconds = max(0, int(seconds))
    return f"{seconds // 3600:02d}:{(seconds % 3600) // 60:02d}"


def format_minutes(seconds: int) -> str:
    """A duration as a shop owner says it: ``"10 min"``, never less than ``"1 min"``; an hour
    or more as ``"1 h 05 min"``."""
    minutes = max(1, round(seconds / 60))
    if minutes < 60:
        return f"{minutes} min"
    return f"{minutes // 60} h {minutes % 60:02d} min"


def minutes_to_seconds(minutes: float) -> int:
    """Service times arrive in minutes in most files."""
    if math.isnan(minutes) or minutes < 0:
        raise ValueError(f"not a duration in minutes: {minutes!r}")
    return round(minutes * 60)


DEMAND_SCALE = 1000
"""Solver load units per user unit (parcels, kg, litres): three decimals are kept."""


def demand_to_int(amount: float) -> int:
    """A demand or capacity in solver load units."""
    return round(amount * DEMAND_SCALE)


EARLIEST_DATE = date(2000, 1, 1)
LATEST_DATE = date(2099, 12, 31)
"""Dates a delivery business can mean: queries and reports outside them are refused with a
message (at year 9999 a week's or a month's end would not even exist)."""


def plausible_date_issue(value: date) -> str | None:
    """Why ``value`` is refused as a date to report on, or None if it is fine."""
    if EARLIEST_DATE <= value <= LATEST_DATE:
        return None
    return f"must be between {EARLIEST_DATE.isoformat()} and {LATEST_DATE.isoformat()}"
