"""Straight-line travel times: great-circle distance x circuity / profile speed.

Used when no road network is configured. The circuity factor (road distance over
straight-line distance) of 1.3 is the usual urban figure; speeds are door-to-door averages
including junctions, not speed limits.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from lastmile.core.geo.distance import haversine_matrix_m
from lastmile.core.model import Location, Profile, TravelMatrix

DEFAULT_SPEEDS_KMH: Mapping[Profile, float] = {
    Profile.VAN: 35.0,
    Profile.CAR: 40.0,
    Profile.CARGO_BIKE: 15.0,
    Profile.BICYCLE: 16.0,
    Profile.WALKING: 5.0,
}


@dataclass(frozen=True)
class StraightLineProvider:
    """Travel times from straight-line distance; no road data needed."""

    circuity: float = 1.3
    speeds_kmh: Mapping[Profile, float] = field(default_factory=lambda: dict(DEFAULT_SPEEDS_KMH))
    name: str = "straight-line"

    def matrix(self, locations: Sequence[Location], profile: Profile) -> TravelMatrix:
        if not locations:
            empty = np.zeros((0, 0), dtype=np.int64)
            return TravelMatrix(durations_s=empty, distances_m=empty.copy())
        distances = haversine_matrix_m(locations) * self.circuity
        speed_ms = self.speeds_kmh[profile] / 3.6
        durations = np.rint(distances / speed_ms).astype(np.int64)
        return TravelMatrix(durations_s=durations, distances_m=np.rint(distances).astype(np.int64))

    def path(self, a: Location, b: Location, profile: Profile) -> list[Location]:
        return [a, b]
