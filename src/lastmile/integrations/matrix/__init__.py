"""Routing servers behind the travel-time Protocol: OSRM and Valhalla (opt-in).

The built-in road engine (``lastmile.core.roads.RoadProvider``) stays the default; these
adapters are for users who run a routing server (docs/routing-servers.md).

>>> from lastmile.integrations.matrix import OsrmProvider
>>> roads = OsrmProvider("http://127.0.0.1:5000")  # doctest: +SKIP
"""

from lastmile.integrations.matrix.base import (
    ProfileRouter,
    RoutingServerError,
    RoutingServerUnavailable,
    UnreachableError,
)
from lastmile.integrations.matrix.osrm import OsrmProvider
from lastmile.integrations.matrix.valhalla import ValhallaProvider

__all__ = [
    "OsrmProvider",
    "ProfileRouter",
    "RoutingServerError",
    "RoutingServerUnavailable",
    "UnreachableError",
    "ValhallaProvider",
]
