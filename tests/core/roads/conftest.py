"""Fixtures for the road engine: the Helsinki extract, built once per session.

``helsinki.osm.pbf`` (tests/data/osm, see SOURCES.md) is central Helsinki, 2019: one-way
streets, pedestrian zones and a dense grid in 1.0 x 1.7 km. The graph is built from a
copy in a temporary directory so that its cache never lands in the repository.
"""

from pathlib import Path

import pytest
from roads_data import HELSINKI, copy_extract

from lastmile.core.roads import RoadNetwork, RoadProvider


@pytest.fixture(scope="session")
def helsinki_pbf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return copy_extract(HELSINKI, tmp_path_factory.mktemp("helsinki"))


@pytest.fixture(scope="session")
def helsinki(helsinki_pbf: Path) -> RoadNetwork:
    return RoadNetwork.load(helsinki_pbf)


@pytest.fixture(scope="session")
def provider(helsinki: RoadNetwork) -> RoadProvider:
    return RoadProvider(helsinki)
