"""The offline geocoder the service uses, loaded once per process from the configured extract."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from lastmile.config import Settings
from lastmile.core.geo.geocoder import Geocoder
from lastmile.core.geo.index import load_index
from lastmile.core.roads import default_extract


def geocoder_for(settings: Settings) -> Geocoder:
    """The built-in geocoder on ``settings.roads_extract`` (default: the bundled extract)."""
    return _geocoder(settings.roads_extract or default_extract())


@lru_cache(maxsize=4)
def _geocoder(extract: Path) -> Geocoder:
    return Geocoder(load_index(extract))
