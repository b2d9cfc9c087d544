"""The offline basemap's vector tiles: cut by tilemaker from a real extract, read back, checked
against the extract itself (a named street of the OSM file is in the tile that covers it)."""

from __future__ import annotations

import gzip
import math
import os
import shutil
from pathlib import Path

import mapbox_vector_tile
import osmium
import pytest

from lastmile.core.roads import default_extract
from lastmile.tiles import build as tiles_build
from lastmile.tiles.build import (
    TilesError,
    build_tiles,
    built_recipe,
    recipe_version,
    tiles_path_for,
)
from lastmile.tiles.store import TileStore

HELSINKI = Path(__file__).parents[1] / "data" / "osm" / "helsinki.osm.pbf"

needs_tilemaker = pytest.mark.skipif(
    shutil.which("tilemaker") is None and os.environ.get("CI") != "true",
    reason="Debian's tilemaker is not installed (.ci/run installs it)",
)


def tile_of(lon: float, lat: float, z: int) -> tuple[int, int]:
    """XYZ tile of a point (the web-mercator formula, independent of the code under test)."""
    n = 1 << z
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return x, y


def named_streets(extract: Path, limit: int = 30) -> list[tuple[str, float, float]]:
    """(name, lon, lat of a middle node) of named residential streets, read with pyosmium."""
    found: list[tuple[str, float, float]] = []
    for way in osmium.FileProcessor(str(extract)).with_locations():
        if not way.is_way():
            continue
        if way.tags.get("highway") in ("residential", "tertiary") and "name" in way.tags:
            nodes = list(way.nodes)
            mid = nodes[len(nodes) // 2]
            if mid.location.valid():
                found.append((way.tags["name"], mid.location.lon, mid.location.lat))
        if len(found) >= limit:
            break
    return found


def decode(store: TileStore, z: int, x: int, y: int) -> dict[str, list[dict[str, object]]]:
    data = store.tile(z, x, y)
    assert data is not None, f"no tile {z}/{x}/{y}"
    layers = mapbox_vector_tile.decode(gzip.decompress(data))
    return {name: layer["features"] for name, layer in layers.items()}


@needs_tilemaker
def test_tiles_carry_the_extracts_street_names_and_house_numbers(tmp_path: Path) -> None:
    target = build_tiles(HELSINKI, output=tmp_path / "helsinki.mbtiles")
    assert built_recipe(target) == recipe_version()
    store = TileStore(target)
    meta = store.metadata()
    assert meta["maxzoom"] == 14 and {"road", "housenumber", "water"} <= set(meta["layers"])
    streets = named_streets(HELSINKI)
    assert len(streets) >= 10
    missing = []
    numbers = 0
    for name, lon, lat in streets:
        x, y = tile_of(lon, lat, 14)
        layers = decode(store, 14, x, y)
        names = {f["properties"].get("name") for f in layers.get("road", [])}
        if name not in names:
            missing.append(name)
        numbers += len(layers.get("housenumber", []))
    assert not missing, f"streets missing from their tiles: {missing}"
    assert numbers > 0, "no house numbers in the tiles of named streets"
    # XYZ rows, not TMS: the tile south of a street's tile is another tile
    x, y = tile_of(streets[0][1], streets[0][2], 14)
    assert store.tile(14, x, (1 << 14) - 1 - y) != store.tile(14, x, y)


def test_the_shipped_basemap_is_built_by_the_current_recipe() -> None:
    """The bundled extract's tiles ship with the package (users may have no tilemaker): a
    change to the layers must come with rebuilt tiles (`lastmile tiles build --rebuild`)."""
    shipped = tiles_path_for(default_extract())
    assert shipped.exists(), "run `lastmile tiles build` on the bundled extract"
    assert built_recipe(shipped) == recipe_version()


def test_without_tilemaker_the_error_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(tiles_build.shutil, "which", lambda _: None)
    with pytest.raises(TilesError, match="apt-get install tilemaker"):
        build_tiles(HELSINKI, output=tmp_path / "x.mbtiles")
    assert not (tmp_path / "x.mbtiles").exists()


@needs_tilemaker
def test_a_broken_extract_is_an_error_and_leaves_no_file(tmp_path: Path) -> None:
    broken = tmp_path / "broken.osm.pbf"
    broken.write_bytes(b"this is not a protobuf file")
    with pytest.raises(TilesError, match=r"broken\.osm\.pbf"):
        build_tiles(broken)
    assert list(tmp_path.iterdir()) == [broken]
