"""``lastmile roads build`` and ``lastmile roads matrix`` through the real Typer app."""

import json
from pathlib import Path

import pytest
import typer.main
from roads_data import HELSINKI, copy_extract
from typer.testing import CliRunner

from lastmile.cli import app
from lastmile.core.roads.build import cache_path_for

runner = CliRunner()

POINTS = "name,lon,lat\nmuseum,24.9385,60.1712\nstation,24.9414,60.1710\nmarket,24.9500,60.1675\n"


@pytest.fixture
def extract(tmp_path: Path) -> Path:
    return copy_extract(HELSINKI, tmp_path)


def test_build_reports_size_time_and_cache(extract: Path) -> None:
    result = runner.invoke(app, ["roads", "build", str(extract)])
    assert result.exit_code == 0, result.output
    assert cache_path_for(extract).exists()
    assert "walking" in result.output and "built in" in result.output
    assert "helsinki.osm.roads.npz" in result.output
    assert "OpenStreetMap contributors" in result.output
    again = runner.invoke(app, ["roads", "build", str(extract), "--profile", "van"])
    assert again.exit_code == 0 and "loaded from cache" in again.output


def test_build_one_profile(extract: Path) -> None:
    result = runner.invoke(app, ["roads", "build", str(extract), "-p", "cargo_bike"])
    assert result.exit_code == 0, result.output
    assert "cargo_bike" in result.output and "walking" not in result.output


def test_build_of_a_missing_or_broken_file_fails(tmp_path: Path) -> None:
    missing = runner.invoke(app, ["roads", "build", str(tmp_path / "nope.osm.pbf")])
    assert missing.exit_code != 0 and "no such file" in missing.output
    broken = tmp_path / "broken.osm.pbf"
    broken.write_bytes(b"this is not a pbf")
    result = runner.invoke(app, ["roads", "build", str(broken)])
    assert result.exit_code != 0 and "cannot build" in result.output


def test_matrix_writes_durations_distances_and_snaps(extract: Path, tmp_path: Path) -> None:
    points = tmp_path / "points.csv"
    points.write_text(POINTS)
    out = tmp_path / "matrix.json"
    result = runner.invoke(
        app,
        [
            "roads",
            "matrix",
            "--roads",
            str(extract),
            str(points),
            "--profile",
            "bicycle",
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "3x3 bicycle matrix" in result.output
    data = json.loads(out.read_text())
    assert len(data["durations_s"]) == 3 and all(len(row) == 3 for row in data["durations_s"])
    assert len(data["distances_m"]) == 3 and len(data["snap_distance_m"]) == 3
    assert data["durations_s"][0][0] == 0 and data["durations_s"][0][1] > 0
    assert all(isinstance(v, int) for row in data["distances_m"] for v in row)
    assert "OpenStreetMap" in data["attribution"]


def test_matrix_warns_about_points_far_from_roads(extract: Path, tmp_path: Path) -> None:
    points = tmp_path / "points.csv"
    points.write_text("lon,lat\n24.9385,60.1712\n24.95,60.15\n")
    out = tmp_path / "matrix.json"
    result = runner.invoke(
        app, ["roads", "matrix", "--roads", str(extract), str(points), "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert "1 point(s) more than 250 m" in result.output and "rows 2" in result.output
    assert json.loads(out.read_text())["snap_distance_m"][1] > 1000


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("lon,lat\n24.94,60.17\n24.94,north\n", "row 2, column 'lat': not a number"),
        ("lon,lat\n240,60.17\n", "row 1, column 'lon': outside -180..180"),
        ("x,y\n24.94,60.17\n", "missing column(s) lon, lat"),
        ("lon,lat\n", "no points"),
    ],
)
def test_matrix_rejects_a_bad_csv_and_writes_nothing(
    extract: Path, tmp_path: Path, content: str, expected: str
) -> None:
    points = tmp_path / "points.csv"
    points.write_text(content)
    out = tmp_path / "matrix.json"
    result = runner.invoke(
        app, ["roads", "matrix", "--roads", str(extract), str(points), "--out", str(out)]
    )
    assert result.exit_code == 1
    assert expected in result.output
    assert not out.exists()
    assert not cache_path_for(extract).exists()  # failed before touching the map


def test_every_roads_option_is_documented() -> None:
    """Docs are a contract: each option of `lastmile roads ...` appears in docs/roads.md."""
    text = (Path(__file__).parents[3] / "docs" / "roads.md").read_text()
    group = typer.main.get_command(app)
    roads = group.commands["roads"]  # type: ignore[attr-defined]
    for name, command in roads.commands.items():
        assert f"lastmile roads {name}" in text
        options = [o for p in command.params for o in p.opts if o.startswith("--")]
        missing = [o for o in options if o not in text and o != "--help"]
        assert not missing, f"roads {name}: options missing from docs/roads.md: {missing}"
