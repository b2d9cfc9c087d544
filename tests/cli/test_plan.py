"""``lastmile plan`` end to end: files written, every order accounted for, clean failures."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

from typer.testing import CliRunner

from lastmile.cli import app

runner = CliRunner()
SAMPLE = Path(__file__).parents[2] / "src" / "lastmile" / "data" / "sample"


def _plan(tmp_path: Path, *args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["plan", *args])
    return result.exit_code, result.output


def test_sample_day_plans_every_order_and_writes_all_outputs(tmp_path: Path) -> None:
    out, html, geo = tmp_path / "plan.json", tmp_path / "plan.html", tmp_path / "plan.geojson"
    code, output = _plan(
        tmp_path,
        str(SAMPLE / "sample_day_orders.csv"),
        "--vehicles",
        str(SAMPLE / "sample_vehicles.csv"),
        "--out",
        str(out),
        "--map",
        str(html),
        "--geojson",
        str(geo),
        "--time-limit",
        "2",
        "--date",
        "2026-03-30",
        "--workers",
        "1",
    )
    assert code == 0, output
    doc = json.loads(out.read_text())
    routed = [s["order_id"] for r in doc["routes"] for s in r["stops"] if s["kind"] == "order"]
    unassigned = [u["order_id"] for u in doc["unassigned"]]
    ids = [
        line.split(",")[0]
        for line in (SAMPLE / "sample_day_orders.csv").read_text().splitlines()[1:]
    ]
    assert sorted(routed + unassigned) == sorted(ids)
    assert doc["timezone"] == "Europe/Vaduz"
    first = datetime.fromisoformat(doc["routes"][0]["stops"][0]["arrival"])
    assert first.utcoffset() is not None and first.date().isoformat() == "2026-03-30"
    # 2026-03-30 is after the switch to summer time: 08:00 local is UTC+2.
    assert first.utcoffset().total_seconds() == 7200  # type: ignore[union-attr]
    for key in ("vehicle_id", "stops", "distance_m", "duration_s", "cost"):
        assert key in doc["routes"][0]
    assert doc["totals"]["routed"] == len(routed)
    assert "Totals:" in output and "Routes" in output
    page = html.read_text()
    assert "L.map(" in page and "unpkg" not in page and "cdn" not in page.lower()
    features = json.loads(geo.read_text())["features"]
    assert sum(1 for f in features if f["properties"]["kind"] == "route") == len(doc["routes"])


def test_quick_fleet_from_the_command_line(tmp_path: Path) -> None:
    orders = tmp_path / "o.csv"
    orders.write_text(
        "order_id,lng,lat,qty,time_window\nA,9.52,47.14,2,08:00-12:00\nB,9.53,47.15,3,\n"
    )
    out = tmp_path / "plan.json"
    code, output = _plan(
        tmp_path,
        str(orders),
        "--vehicles",
        "2",
        "--capacity",
        "10",
        "--depot",
        "9.51,47.16",
        "--out",
        str(out),
        "--time-limit",
        "1",
        "--workers",
        "1",
    )
    assert code == 0, output
    doc = json.loads(out.read_text())
    assert doc["totals"]["routed"] == 2 and doc["dimensions"] == ["parcels"]


def test_bad_row_is_reported_and_nothing_is_written(tmp_path: Path) -> None:
    orders = tmp_path / "o.csv"
    orders.write_text("id,lon,lat,parcels\nA,9.52,47.14,1\nB,9.53,north,1\n")
    out = tmp_path / "plan.json"
    code, output = _plan(
        tmp_path,
        str(orders),
        "--vehicles",
        str(SAMPLE / "sample_vehicles.csv"),
        "--out",
        str(out),
        "--time-limit",
        "1",
    )
    assert code == 1
    assert "row 3" in output and "'lat'" in output and "north" in output
    assert not out.exists()
    assert list(tmp_path.iterdir()) == [orders]


def test_missing_column_is_named(tmp_path: Path) -> None:
    vehicles = tmp_path / "v.csv"
    vehicles.write_text("id,start_lon,capacity_parcels\nV,9.5,10\n")
    code, output = _plan(
        tmp_path,
        str(SAMPLE / "sample_day_orders.csv"),
        "--vehicles",
        str(vehicles),
        "--out",
        str(tmp_path / "p.json"),
    )
    assert code == 1 and "start_lat" in output


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    code, output = _plan(
        tmp_path,
        str(tmp_path / "nope.csv"),
        "--vehicles",
        "1",
        "--capacity",
        "5",
        "--depot",
        "9.5,47.1",
    )
    assert code == 1 and "file not found" in output
