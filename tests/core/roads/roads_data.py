"""Road-engine test data: where the extracts are and how to copy them somewhere writable.

A module with a unique name (not ``conftest``) so that test files can import it without
clashing with the other ``conftest.py`` files of the suite.
"""

import shutil
from pathlib import Path

DATA = Path(__file__).parents[2] / "data" / "osm"
HELSINKI = DATA / "helsinki.osm.pbf"
"""Central Helsinki, 2019 (see tests/data/osm/SOURCES.md): one-way streets, pedestrian zones."""


def copy_extract(source: Path, directory: Path) -> Path:
    """A writable copy of an extract (the repository's files are read-only)."""
    target = directory / source.name
    shutil.copyfile(source, target)
    return target
