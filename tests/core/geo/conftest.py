"""Fixtures for the geocoder: both real extracts, each address index built once per session.

``liechtenstein.osm.pbf`` (the bundled map, src/lastmile/data/osm/SOURCES.md) holds about
12,500 addresses in 13 towns; ``helsinki.osm.pbf`` (tests/data/osm/SOURCES.md) is central
Helsinki in 2019 with Finnish street names and Swedish ``name:sv``. The extracts are copied
into a temporary directory so that their caches never land in the repository.
``sample_noisy_addresses.csv`` (tests/data) holds 100 noisy real Liechtenstein addresses
with the true address and location of each.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from lastmile.core.geo.geocoder import Geocoder
from lastmile.core.geo.index import AddressIndex, load_index

ROOT = Path(__file__).parents[3]
LIECHTENSTEIN = ROOT / "src" / "lastmile" / "data" / "osm" / "liechtenstein.osm.pbf"
HELSINKI = ROOT / "tests" / "data" / "osm" / "helsinki.osm.pbf"
NOISY = ROOT / "tests" / "data" / "sample_noisy_addresses.csv"


def copy_extract(source: Path, directory: Path) -> Path:
    """A writable copy of an extract (the repository's files are read-only)."""
    target = directory / source.name
    shutil.copyfile(source, target)
    return target


@pytest.fixture(scope="session")
def li_index(tmp_path_factory: pytest.TempPathFactory) -> AddressIndex:
    pbf = copy_extract(LIECHTENSTEIN, tmp_path_factory.mktemp("li"))
    return load_index(pbf)


@pytest.fixture(scope="session")
def li(li_index: AddressIndex) -> Geocoder:
    return Geocoder(li_index)


@pytest.fixture(scope="session")
def helsinki_index(tmp_path_factory: pytest.TempPathFactory) -> AddressIndex:
    pbf = copy_extract(HELSINKI, tmp_path_factory.mktemp("helsinki"))
    return load_index(pbf)


@pytest.fixture(scope="session")
def helsinki(helsinki_index: AddressIndex) -> Geocoder:
    return Geocoder(helsinki_index)
