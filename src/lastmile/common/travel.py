"""The travel-time provider the service uses, loaded once per process."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from lastmile.config import Settings
from lastmile.core.roads import (
    RoadNetwork,
    RoadProvider,
    StraightLineProvider,
    TravelTimeProvider,
    default_extract,
)


def provider_for(settings: Settings) -> TravelTimeProvider:
    """Road travel times on the configured extract (bundled by default), or straight-line."""
    if not settings.use_roads:
        return StraightLineProvider()
    return _road_provider(settings.roads_extract or default_extract())


@lru_cache(maxsize=4)
def _road_provider(extract: Path) -> TravelTimeProvider:
    provider = RoadProvider(RoadNetwork.load(extract))
    _loaded.add(extract)
    return provider


def road_network_loaded(settings: Settings) -> bool:
    """Whether this process has the configured road network in memory (``/readyz``)."""
    if not settings.use_roads:
        return True
    extract = settings.roads_extract or default_extract()
    return any(extract == key for key in _loaded)


_loaded: set[Path] = set()
