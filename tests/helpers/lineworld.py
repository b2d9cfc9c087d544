"""Tiny problems on a line, where the right answer can be worked out by hand.

Stop ``i`` sits ``i`` km east of the depot (index 0); driving 1 km takes 60 s for every
profile except ``cargo_bike`` (180 s). Distances are exact kilometres.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from lastmile.core.model import Location, Order, Profile, TimeWindow, TravelMatrix, Vehicle
from lastmile.core.planning import build_problem


def at(km: float) -> Location:
    """The point ``km`` kilometres east of the depot on the line."""
    return Location(round(km * 0.01, 6), 0.0)


class LineProvider:
    """Travel along a straight line: |i - j| km, 60 s per km (cargo bikes 180 s)."""

    name = "line"

    def matrix(self, locations: Sequence[Location], profile: Profile) -> TravelMatrix:
        km = np.array([loc.lon / 0.01 for loc in locations])
        dist = np.rint(np.abs(km[:, None] - km[None, :]) * 1000).astype(np.int64)
        per_km = 180 if profile is Profile.CARGO_BIKE else 60
        return TravelMatrix(durations_s=(dist * per_km // 1000).astype(np.int64), distances_m=dist)

    def path(self, a: Location, b: Location, profile: Profile) -> list[Location]:
        return [a, b]


H = 3600


def van(vid: str = "V1", **kw: object) -> Vehicle:
    base: dict[str, object] = {
        "id": vid,
        "start": at(0),
        "end": at(0),
        "shift": TimeWindow(8 * H, 18 * H),
        "capacity": (10.0,),
        "cost_per_km": 1.0,
        "cost_per_hour": 10.0,
    }
    base.update(kw)
    return Vehicle(**base)  # type: ignore[arg-type]


def order(oid: str, km: float, demand: float = 1.0, **kw: object) -> Order:
    base: dict[str, object] = {"id": oid, "location": at(km), "demand": (demand,), "service_s": 60}
    base.update(kw)
    return Order(**base)  # type: ignore[arg-type]


def problem(orders: Sequence[Order], vehicles: Sequence[Vehicle]):  # type: ignore[no-untyped-def]
    return build_problem(orders, vehicles, ("parcels",), LineProvider())
