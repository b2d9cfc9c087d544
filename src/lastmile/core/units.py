"""Units and the one place where they become solver integers.

Everything in ``lastmile.core`` speaks seconds (int), metres (int) and WGS84 ``[lon, lat]``.
Times of day are seconds since local midnight of the plan's date; every conversion of times
(clock strings, date-times, time zones) is :mod:`lastmile.core.times`.

The solver works on integers only. Money is scaled by :data:`COST_SCALE` (1 unit =
1/100 000 of the currency) so that per-metre and per-second rates stay exact enough:
0.35/km becomes 35 per metre-unit, 28/h becomes 778 per second-unit (0.03 % rounding).
"""

from __future__ import annotations

import math
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
