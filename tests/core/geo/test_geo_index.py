"""The offline address index: what it reads from an extract, and its cache on disk."""

from __future__ import annotations

import gzip
import json
import os
import shutil
from pathlib import Path

import pytest

from lastmile.core.errors import InputError
from lastmile.core.geo.index import (
    CACHE_VERSION,
    AddressIndex,
    build_index,
    cache_path_for,
    load_index,
)
from lastmile.core.geo.normalize import street_key
from lastmile.core.model import Location

HELSINKI = Path(__file__).parents[2] / "data" / "osm" / "helsinki.osm.pbf"


def copy_extract(source: Path, directory: Path) -> Path:
    target = directory / source.name
    shutil.copyfile(source, target)
    return target


def test_liechtenstein_index_holds_every_addressed_object(li_index: AddressIndex) -> None:
    # SOURCES.md: 12,491 objects with addr:street/addr:place and addr:housenumber.
    assert 12_400 <= len(li_index.addresses) <= 12_600
    assert {"9490", "9494", "9496", "9497", "6800"} <= set(li_index.postcodes)
    assert li_index.postcodes["9490"].most_common(1)[0][0] == "Vaduz"
    assert "landstrasse" in li_index.by_street
    assert li_index.contains(Location(9.5209, 47.1410))  # Vaduz
    assert not li_index.contains(Location(8.54, 47.37))  # Zürich


def test_way_addresses_sit_at_their_building(li_index: AddressIndex) -> None:
    [point] = [
        a
        for a in li_index.addresses
        if a.street == "Gagoz" and a.housenumber == "39" and a.postcode == "9496"
    ]
    # true location from tests/data/sample_noisy_addresses.csv
    assert abs(point.lon - 9.5032402) < 2e-4 and abs(point.lat - 47.0704267) < 2e-4


def test_missing_postcode_and_town_are_filled_from_neighbours(
    helsinki_index: AddressIndex,
) -> None:
    # About 450 Helsinki addresses carry no postcode in OSM; neighbours supply it.
    without = [a for a in helsinki_index.addresses if not a.postcode]
    assert len(without) < 50


def test_streets_carry_other_names(helsinki_index: AddressIndex) -> None:
    assert street_key("Aleksanterinkatu") in helsinki_index.aliases[street_key("Alexandersgatan")]
    assert helsinki_index.place_aliases["helsingfors"] == "Helsinki"
    names = {s.name for s in helsinki_index.streets}
    assert {"Mannerheimintie", "Aleksanterinkatu", "Pohjoisesplanadi"} <= names


def test_cache_is_written_next_to_the_extract_and_reused(tmp_path: Path) -> None:
    pbf = copy_extract(HELSINKI, tmp_path)
    messages: list[str] = []
    first = load_index(pbf, on_progress=lambda _f, m: messages.append(m))
    cache = cache_path_for(pbf)
    assert cache == tmp_path / "helsinki.osm.addr.json.gz"
    assert cache.is_file()
    assert not any("loaded from" in m for m in messages)

    messages.clear()
    second = load_index(pbf, on_progress=lambda _f, m: messages.append(m))
    assert any("loaded from" in m for m in messages)
    assert second.addresses == first.addresses
    assert second.bounds == first.bounds
    assert second.aliases == first.aliases


def test_stale_cache_is_rebuilt(tmp_path: Path) -> None:
    pbf = copy_extract(HELSINKI, tmp_path)
    load_index(pbf)
    cache = cache_path_for(pbf)
    stat = pbf.stat()
    os.utime(pbf, ns=(stat.st_atime_ns, stat.st_mtime_ns + 5_000_000_000))
    messages: list[str] = []
    load_index(pbf, on_progress=lambda _f, m: messages.append(m))
    assert any("stale" in m for m in messages)
    with gzip.open(cache, "rt", encoding="utf-8") as fh:
        assert json.load(fh)["source"]["mtime_ns"] == pbf.stat().st_mtime_ns


def test_cache_of_another_version_or_broken_is_rebuilt(tmp_path: Path) -> None:
    pbf = copy_extract(HELSINKI, tmp_path)
    cache = tmp_path / "elsewhere.addr.json.gz"
    load_index(pbf, cache_path=cache)
    with gzip.open(cache, "rt", encoding="utf-8") as fh:
        data = json.load(fh)
    data["version"] = CACHE_VERSION - 1
    with gzip.open(cache, "wt", encoding="utf-8") as fh:
        json.dump(data, fh)
    messages: list[str] = []
    load_index(pbf, cache_path=cache, on_progress=lambda _f, m: messages.append(m))
    assert any("stale" in m for m in messages)

    cache.write_bytes(b"not gzip at all")
    messages.clear()
    index = load_index(pbf, cache_path=cache, on_progress=lambda _f, m: messages.append(m))
    assert any("unreadable" in m for m in messages)
    assert len(index.addresses) > 1000


def test_progress_is_reported_from_zero_to_one(tmp_path: Path) -> None:
    pbf = copy_extract(HELSINKI, tmp_path)
    fractions: list[float] = []
    build_index(pbf, on_progress=lambda f, _m: fractions.append(f))
    assert fractions[0] == 0.0 and fractions[-1] == 1.0
    assert fractions == sorted(fractions)


def test_missing_or_broken_extract_is_a_clear_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not found"):
        load_index(tmp_path / "nope.osm.pbf")
    broken = tmp_path / "broken.osm.pbf"
    broken.write_bytes(b"this is not a pbf")
    with pytest.raises(InputError, match="not a readable OSM extract"):
        load_index(broken, use_cache=False)
