"""Where a phone drives: the leg from one stop to the next, along the roads.

The server plans with its own travel times; the phone needs the shape of each leg to send
GPS points that follow the streets. :class:`Roads` computes legs client-side with the
package's road engine (or straight lines) and caches them.
"""

from __future__ import annotations

import bisect
import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

from lastmile.core.geo.distance import haversine_m
from lastmile.core.model import Location, Profile
from lastmile.core.roads import NoRoadsError, RoadProvider, StraightLineProvider


def bearing(a: Location, b: Location) -> float:
    """Heading from ``a`` to ``b``, degrees clockwise from north (0 to 360)."""
    dx = (b.lon - a.lon) * math.cos(math.radians((a.lat + b.lat) / 2))
    dy = b.lat - a.lat
    return math.degrees(math.atan2(dx, dy)) % 360.0


@dataclass(frozen=True)
class Leg:
    """The way from one stop to the next: a polyline, its length and its travel time."""

    points: tuple[Location, ...]
    cumulative_m: tuple[float, ...]
    duration_s: float
    on_roads: bool

    @classmethod
    def of(cls, points: Sequence[Location], duration_s: float, on_roads: bool) -> Leg:
        cumulative = [0.0]
        for a, b in itertools.pairwise(points):
            cumulative.append(cumulative[-1] + haversine_m(a, b))
        return cls(tuple(points), tuple(cumulative), max(0.0, duration_s), on_roads)

    @property
    def distance_m(self) -> float:
        return self.cumulative_m[-1]

    def at(self, metres: float) -> tuple[Location, float]:
        """The point ``metres`` along the leg and the heading there."""
        if len(self.points) == 1:
            return self.points[0], 0.0
        i = min(max(bisect.bisect_right(self.cumulative_m, metres), 1), len(self.points) - 1)
        a, b = self.points[i - 1], self.points[i]
        piece = self.cumulative_m[i] - self.cumulative_m[i - 1]
        f = 0.0 if piece <= 0 else min(1.0, max(0.0, (metres - self.cumulative_m[i - 1]) / piece))
        return Location(a.lon + (b.lon - a.lon) * f, a.lat + (b.lat - a.lat) * f), bearing(a, b)


class Roads:
    """The phone's map: fastest paths on a road network (the package's own engine, run
    client-side), or straight lines. A leg whose ends are not near the network's roads
    (further than the engine's snapping distance) is a straight line."""

    def __init__(self, provider: RoadProvider | None) -> None:
        self.provider = provider
        self.straight = StraightLineProvider()
        self.fallbacks = 0
        self._legs: dict[tuple[Location, Location, Profile], Leg] = {}

    @property
    def name(self) -> str:
        return self.provider.name if self.provider is not None else "straight lines"

    def leg(self, a: Location, b: Location, profile: Profile) -> Leg:
        key = (a, b, profile)
        found = self._legs.get(key)
        if found is None:
            found = self._road_leg(a, b, profile)
            if found is None:
                if self.provider is not None:
                    self.fallbacks += 1
                matrix = self.straight.matrix([a, b], profile)
                found = Leg.of([a, b], float(matrix.durations_s[0, 1]), False)
            if len(self._legs) > 10_000:
                self._legs.clear()
            self._legs[key] = found
        return found

    def _road_leg(self, a: Location, b: Location, profile: Profile) -> Leg | None:
        if self.provider is None:
            return None
        try:
            if not all(s.on_road for s in self.provider.snap_many([a, b], profile)):
                return None
            path = self.provider.path(a, b, profile)
            matrix = self.provider.matrix([a, b], profile)
        except NoRoadsError:
            return None
        return Leg.of(path, float(matrix.durations_s[0, 1]), True)
