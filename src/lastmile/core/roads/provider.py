"""The travel-time provider interface every routing backend implements.

The planner asks for one matrix per vehicle profile over the problem's locations, and the
map asks for path geometry. Implementations: :class:`StraightLineProvider` (always there),
the built-in road engine (``lastmile.core.roads``) and HTTP adapters (OSRM, Valhalla) in
``lastmile.integrations.matrix``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from lastmile.core.model import Location, Profile, TravelMatrix


@runtime_checkable
class TravelTimeProvider(Protocol):
    """Computes travel matrices and paths for one road network (or none)."""

    @property
    def name(self) -> str:
        """Short name shown to users (``"straight-line"``, ``"roads:liechtenstein"``, ``"osrm"``)."""
        ...

    def matrix(self, locations: Sequence[Location], profile: Profile) -> TravelMatrix:
        """Durations (s) and distances (m) between all pairs of ``locations``."""
        ...

    def path(self, a: Location, b: Location, profile: Profile) -> list[Location]:
        """The geometry travelled from ``a`` to ``b`` (at least the two end points)."""
        ...
