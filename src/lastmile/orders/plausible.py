"""Values that parse but cannot be meant, refused with the field and what is wrong.

A delivery in the year 9999 or in year 1 is a typo (a swapped day and year, a spreadsheet's
serial date); a demand of 1e308 parcels, or more than the largest vehicle carries, can never
be planned and would only surface later as "unassigned" with no reason. These are refused
where orders are written (API, CSV import, dashboard, shops), measured against the
organisation's own business date and fleet. Coordinates outside the map area are only
warned about: an order may really lie outside it, but lon and lat given the wrong way round
is the usual cause ("swapped?").
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy.orm import Session

from lastmile.core.units import EARLIEST_DATE
from lastmile.fleet.capacity import largest_capacity

MAX_DAYS_AHEAD = 365
"""A delivery date may be at most this many days after the organisation's today."""

Bounds = tuple[float, float, float, float]
"""min_lon, min_lat, max_lon, max_lat of the map area."""


@dataclass(frozen=True)
class Limits:
    """What an organisation's orders are checked against: its business date and, per
    capacity dimension, the most one of its active vehicles carries (no vehicles yet: no
    demand limit, so orders can be imported before the fleet)."""

    today: date
    largest: dict[str, float]

    @classmethod
    def of(cls, *, session: Session, org_id: str, today: date) -> Limits:
        return cls(today=today, largest=largest_capacity(session=session, org_id=org_id))

    def date_issue(self, day: date) -> str | None:
        latest = self.today + timedelta(days=MAX_DAYS_AHEAD)
        if day > latest:
            return (
                f"is more than a year after today ({self.today.isoformat()}): check the year "
                f"(the latest date taken is {latest.isoformat()})"
            )
        if day < EARLIEST_DATE:
            return f"is before {EARLIEST_DATE.isoformat()}: check the year"
        return None

    def demand_issues(self, demand: dict[str, float]) -> list[tuple[str, str]]:
        """(dimension, why) for each amount no vehicle of the fleet can carry."""
        return [
            (
                dim,
                f"{amount:g} is more than the largest vehicle carries ({self.largest[dim]:g}); "
                "split the order or add a bigger vehicle",
            )
            for dim, amount in sorted(demand.items())
            if dim in self.largest and amount > self.largest[dim]
        ]

    def issues(self, day: date | None, demand: dict[str, float] | None) -> list[tuple[str, str]]:
        """(field, why) for a date and a demand (``demand.<dim>``); None: not checked."""
        found = []
        problem = self.date_issue(day) if day is not None else None
        if problem:
            found.append(("date", problem))
        found += [(f"demand.{d}", why) for d, why in self.demand_issues(demand or {})]
        return found


def outside_hint(lon: float, lat: float, bounds: Bounds | None) -> str | None:
    """Why a point looks wrong for the map area (None: inside, or no area known)."""
    if bounds is None:
        return None

    def inside(x: float, y: float) -> bool:
        return bounds[0] <= x <= bounds[2] and bounds[1] <= y <= bounds[3]

    if inside(lon, lat):
        return None
    if inside(lat, lon):
        return f"lon {lon:g}, lat {lat:g} is outside the map area; lon and lat swapped?"
    return f"lon {lon:g}, lat {lat:g} is outside the map area"
