"""``lastmile geocode`` end to end: JSON per row, CSV out, table summary, clean failures."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from lastmile.cli import app
from lastmile.core.geo.index import load_index

runner = CliRunner()
ROOT = Path(__file__).parents[2]
LIECHTENSTEIN = ROOT / "src" / "lastmile" / "data" / "osm" / "liechtenstein.osm.pbf"
HELSINKI = ROOT / "tests" / "data" / "osm" / "helsinki.osm.pbf"


@pytest.fixture(scope="session")
def li_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bundled extract's address index, built once into a temporary cache file."""
    cache = tmp_path_factory.mktemp("geocode-cli") / "liechtenstein.osm.addr.json.gz"
    load_index(LIECHTENSTEIN, cache_path=cache)
    return cache


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


ORDERS = """id,full_address,lng,latitude
A1,"Landstrasse 19, 9490 Vaduz",9.51743,47.14346
A2,"Schaan, Torkelgass 4",,
A3,"Landstrasse 999, 9490 Vaduz",,
A4,"Bahnhofstrasse 1, 8001 Zürich",,
A5,"Haldenweg 5, Triesen",9.5265,47.1200
"""


def test_json_has_one_object_per_row(tmp_path: Path, li_cache: Path) -> None:
    orders = _write(tmp_path / "orders.csv", ORDERS)
    result = runner.invoke(app, ["geocode", str(orders), "--json", "--cache", str(li_cache)])
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    assert [d["row"] for d in lines] == [1, 2, 3, 4, 5]
    for doc in lines:
        assert {
            "row",
            "input",
            "verdict",
            "address",
            "lon",
            "lat",
            "confidence",
            "candidates",
        } <= set(doc)
    first, second, third, fourth, fifth = lines
    assert first["verdict"] == "exact" and first["address"] == "Landstrasse 19, 9490 Vaduz"
    assert abs(first["lon"] - 9.51743) < 1e-3 and first["flags"] == []
    assert second["verdict"] == "corrected" and second["changes"] == ["postcode added"]
    assert third["verdict"] == "ambiguous" and third["lon"] is None
    assert third["candidates"] and {"address", "lon", "lat", "score"} <= set(third["candidates"][0])
    assert fourth["verdict"] == "outside_area"
    assert fifth["verdict"] == "corrected" and "pin_mismatch" in fifth["flags"]
    assert fifth["pin_distance_m"] > 150


def test_out_csv_keeps_input_and_adds_verdict_columns(tmp_path: Path, li_cache: Path) -> None:
    orders = _write(tmp_path / "orders.csv", ORDERS)
    out = tmp_path / "validated.csv"
    result = runner.invoke(
        app, ["geocode", str(orders), "--out", str(out), "--cache", str(li_cache)]
    )
    assert result.exit_code == 0, result.output
    assert "exact: 1" in result.output and "corrected: 2" in result.output
    assert "OpenStreetMap contributors" in result.output
    with out.open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 5
    assert list(rows[0])[:4] == ["id", "full_address", "lng", "latitude"]
    for column in ("verdict", "matched_address", "lon", "lat", "confidence", "changes"):
        assert column in rows[0]
    assert rows[0]["verdict"] == "exact" and rows[0]["lng"] == "9.51743"
    assert rows[1]["matched_address"] == "Torkelgass 4, 9494 Schaan"
    assert rows[2]["lon"] == "" and "no number 999" in rows[2]["changes"]
    assert "pin_mismatch" in rows[4]["flags"]


def test_separate_columns_and_semicolons(tmp_path: Path, li_cache: Path) -> None:
    orders = _write(
        tmp_path / "parts.csv",
        "street;house_number;postcode;city\nLandstrasse;19;9490;Vaduz\nGagoz;39;;Balzers\n",
    )
    result = runner.invoke(app, ["geocode", str(orders), "--json", "--cache", str(li_cache)])
    assert result.exit_code == 0, result.output
    docs = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    assert [d["verdict"] for d in docs] == ["exact", "corrected"]


def test_other_extract_with_roads(tmp_path: Path) -> None:
    orders = _write(tmp_path / "hel.csv", 'address\n"Alexandersgatan 52, Helsingfors"\n')
    result = runner.invoke(
        app,
        [
            "geocode",
            str(orders),
            "--roads",
            str(HELSINKI),
            "--cache",
            str(tmp_path / "hel.addr.json.gz"),
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout.splitlines()[0])
    assert doc["verdict"] == "corrected" and doc["address"].startswith("Aleksanterinkatu 52")


def test_missing_address_column_fails_and_writes_nothing(tmp_path: Path, li_cache: Path) -> None:
    orders = _write(tmp_path / "bad.csv", "id,name\n1,Hans\n")
    out = tmp_path / "validated.csv"
    result = runner.invoke(
        app, ["geocode", str(orders), "--out", str(out), "--cache", str(li_cache)]
    )
    assert result.exit_code == 1
    assert "address" in result.output and "full_address" in result.output
    assert not out.exists()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "file not found"),
        ("", "empty"),
        ('address,lon\n"Landstrasse 19, Vaduz",9.5\n', "lat"),
        ('address,lon,lat\n"Landstrasse 19, Vaduz",east,47.1\n', "not a lon/lat pair"),
    ],
)
def test_bad_input_is_a_clear_error(
    tmp_path: Path, li_cache: Path, content: str | None, message: str
) -> None:
    orders = tmp_path / "orders.csv"
    if content is not None:
        _write(orders, content)
    out = tmp_path / "validated.csv"
    result = runner.invoke(
        app, ["geocode", str(orders), "--out", str(out), "--cache", str(li_cache)]
    )
    assert result.exit_code == 1
    assert message in result.output
    assert not out.exists()


def test_missing_extract_is_a_clear_error(tmp_path: Path) -> None:
    orders = _write(tmp_path / "orders.csv", ORDERS)
    result = runner.invoke(app, ["geocode", str(orders), "--roads", str(tmp_path / "x.osm.pbf")])
    assert result.exit_code == 1
    assert "--roads" in result.output and "not found" in result.output
