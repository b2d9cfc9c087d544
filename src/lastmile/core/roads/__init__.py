"""Travel times and distances: the provider interface and its built-in implementations."""

from lastmile.core.roads.provider import TravelTimeProvider
from lastmile.core.roads.straight import StraightLineProvider

__all__ = ["StraightLineProvider", "TravelTimeProvider"]
