"""``lastmile plan`` geocodes rows without coordinates and refuses to guess unresolved ones.

The addresses are real ones of the bundled Liechtenstein extract (taken from
``src/lastmile/data/sample/sample_day_orders.csv``), some with typos, ASCII umlauts or an
abbreviation. The address index is built once per session into a temporary cache file
(``--address-cache``), so nothing is written next to the bundled extract.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from lastmile.cli import app
from lastmile.core.geo.index import load_index
from lastmile.core.roads import default_extract

runner = CliRunner()

GOOD = """id,address,window_start,window_end,parcels
A1,"Fürst-Johann-Strasse 7, 9495 Triesen",08:00,17:00,1
A2,"Foppastrase 3, 9497 Triesenberg",08:00,12:00,3
A3,"Hoefle 30, 9496 Balzers",12:00,17:00,2
A4,"Peter-Kaiser-Str. 88, 9493 Mauren",08:00,17:00,1
A5,"Bergstrasse 5, 9497 Triesenberg",08:00,17:00,1
A6,"Alte Churerstrasse 31, Balzers",08:00,17:00,2
A7,"Elgagass 12, 9496 Balzers",08:00,17:00,1
A8,"Landstrasse 185, 9495 Triesen",08:00,17:00,1
"""

# Row 3 (A2) does not exist; A3 has coordinates and a nonsense address: it is planned as given.
ONE_BAD = """id,address,lon,lat,parcels
A1,"Fürst-Johann-Strasse 7, 9495 Triesen",,,1
A2,"Nirgendwostrasse 99, 9490 Vaduz",,,1
A3,"not an address at all",9.5265427,47.1196385,1
A4,"Bergstrasse 5, 9497 Triesenberg",,,1
"""


@pytest.fixture(scope="session")
def address_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    cache = tmp_path_factory.mktemp("addr") / "liechtenstein.addr.json.gz"
    load_index(default_extract(), cache_path=cache)
    return cache


def _plan(tmp_path: Path, cache: Path, csv: str, *extra: str) -> tuple[int, str, Path]:
    orders = tmp_path / "orders.csv"
    orders.write_text(csv, encoding="utf-8")
    out = tmp_path / "out" / "plan.json"
    result = runner.invoke(
        app,
        [
            "plan",
            str(orders),
            "--vehicles",
            "2",
            "--capacity",
            "50",
            "--depot",
            "9.52,47.14",
            "--iterations",
            "200",
            "--workers",
            "1",
            "--date",
            "2026-03-30",
            "--address-cache",
            str(cache),
            "--out",
            str(out),
            *extra,
        ],
        terminal_width=200,
    )
    # Rich wraps long lines at the console width: compare the text with spaces collapsed.
    return result.exit_code, " ".join(result.output.split()), out


def test_real_addresses_without_coordinates_are_geocoded_and_planned(
    tmp_path: Path, address_cache: Path
) -> None:
    geojson = tmp_path / "out" / "plan.geojson"
    code, output, out = _plan(tmp_path, address_cache, GOOD, "--geojson", str(geojson))
    assert code == 0, output
    doc = json.loads(out.read_text())
    routed = {s["order_id"]: s for r in doc["routes"] for s in r["stops"] if s["kind"] == "order"}
    assert sorted(routed) == [f"A{k}" for k in range(1, 9)]
    assert doc["unassigned"] == []
    # Höfle 30, Balzers (sample row SMP-0003) lands where the sample file puts it.
    assert routed["A3"]["lon"] == pytest.approx(9.5076534, abs=3e-4)
    assert routed["A3"]["lat"] == pytest.approx(47.0675654, abs=3e-4)
    # The corrections are shown: what was typed and what it became.
    assert (
        "row 3 (A2): 'Foppastrase 3, 9497 Triesenberg' -> 'Foppastrasse 3, 9497 Triesenberg' "
        "(street 'Foppastrase' -> 'Foppastrasse')" in output
    )
    assert "row 7 (A6)" in output and "(postcode added)" in output
    assert "Geocoded 8 of 8" in output


def test_one_unknown_address_stops_the_plan_and_names_the_row(
    tmp_path: Path, address_cache: Path
) -> None:
    code, output, out = _plan(tmp_path, address_cache, ONE_BAD, "--map", str(tmp_path / "m.html"))
    assert code == 1
    assert "not_found" in output
    assert "row 3, column 'address': address is not_found" in output
    assert "(value 'Nirgendwostrasse 99, 9490 Vaduz')" in output
    assert "--skip-unresolved" in output
    assert "Nothing was written." in output
    assert not out.exists() and not (tmp_path / "m.html").exists()
    assert not (tmp_path / "out").exists()


def test_skip_unresolved_plans_the_rest_and_lists_the_order_as_address_unresolved(
    tmp_path: Path, address_cache: Path
) -> None:
    geojson = tmp_path / "out" / "plan.geojson"
    code, output, out = _plan(
        tmp_path,
        address_cache,
        ONE_BAD,
        "--skip-unresolved",
        "--geojson",
        str(geojson),
        "--map",
        str(tmp_path / "out" / "plan.html"),
    )
    assert code == 0, output
    doc = json.loads(out.read_text())
    routed = {s["order_id"]: s for r in doc["routes"] for s in r["stops"] if s["kind"] == "order"}
    assert sorted(routed) == ["A1", "A3", "A4"]
    # The row with coordinates is planned where it says, not re-geocoded.
    assert (routed["A3"]["lon"], routed["A3"]["lat"]) == (9.5265427, 47.1196385)
    (missing,) = doc["unassigned"]
    assert missing["order_id"] == "A2" and missing["reason"] == "address_unresolved"
    assert "Nirgendwostrasse 99" in missing["message"]
    assert doc["totals"]["orders"] == 4 and doc["totals"]["unassigned"] == 1
    # No location: neither the GeoJSON nor the map places it at (0, 0).
    features = json.loads(geojson.read_text())["features"]
    assert all(f["properties"].get("order_id") != "A2" for f in features)
    assert "address_unresolved" in output


def test_a_row_with_neither_coordinates_nor_address_is_an_input_error(
    tmp_path: Path, address_cache: Path
) -> None:
    csv = 'id,address,lon,lat,parcels\nA1,"Bergstrasse 5, 9497 Triesenberg",,,1\nA2,,,,1\n'
    code, output, out = _plan(tmp_path, address_cache, csv)
    assert code == 1
    assert "row 3" in output and "neither coordinates" in output
    assert not out.exists()
