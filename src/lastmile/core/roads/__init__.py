"""Travel times and distances: the provider interface and its built-in implementations.

:class:`RoadProvider` is the built-in, offline road engine over an OpenStreetMap extract
(see ``docs/roads.md``); :class:`StraightLineProvider` works with no map at all.
"""

from importlib.resources import as_file, files
from pathlib import Path

from lastmile.core.roads.engine import NoRoadsError, RoadNetwork, RoadProvider, Snap
from lastmile.core.roads.provider import TravelTimeProvider
from lastmile.core.roads.straight import StraightLineProvider

DEFAULT_EXTRACT_NAME = "liechtenstein.osm.pbf"


def default_extract() -> Path:
    """Path of the bundled OSM extract (Liechtenstein, © OpenStreetMap contributors, ODbL).

    The package ships as plain files (no zip import), so the resource is a real path that
    pyosmium can open and next to which the road cache can be written.
    """
    resource = files("lastmile") / "data" / "osm" / DEFAULT_EXTRACT_NAME
    with as_file(resource) as path:
        return Path(path)


__all__ = [
    "NoRoadsError",
    "RoadNetwork",
    "RoadProvider",
    "Snap",
    "StraightLineProvider",
    "TravelTimeProvider",
    "default_extract",
]
