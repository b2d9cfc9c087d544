"""Fixtures for the road engine: the Helsinki extract, built once per session.

``helsinki.osm.pbf`` (tests/data/osm, see SOURCES.md) is central Helsinki, 2019: one-way
streets, pedestrian zones and a dense grid in 1.0 x 1.7 km. The graph is built from a
copy in a temporary directory so that its cache never lands in the repository.
"""

import shutil
from pathlib import Path

import pytest

from lastmile.core.roads import RoadNetwork, RoadProvider

DATA = Path(__file__).parents[2] / "data" / "osm"
HELSINKI = DATA / "helsinki.osm.pbf"


def copy_extract(source: Path, directory: Path) -> Path:
    """A writable copy of an extract (the repository's files are read-only)."""
    target = directory / source.name
    shutil.copyfile(source, target)
    return target


@pytest.fixture(scope="session")
def helsinki_pbf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return copy_extract(HELSINKI, tmp_path_factory.mktemp("helsinki"))


@pytest.fixture(scope="session")
def helsinki(helsinki_pbf: Path) -> RoadNetwork:
    return RoadNetwork.load(helsinki_pbf)


@pytest.fixture(scope="session")
def provider(helsinki: RoadNetwork) -> RoadProvider:
    return RoadProvider(helsinki)
