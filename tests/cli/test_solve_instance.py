"""``lastmile solve-instance`` end to end on a real Solomon instance."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.core import TyperGroup
from typer.testing import CliRunner, Result

from lastmile.cli import app
from lastmile.core.formats.instance_check import verify_routes
from lastmile.core.formats.instances import read_instance

DATA = Path(__file__).resolve().parents[1] / "data" / "instances"
C101_BKS = 827.3  # dimacs_trunc1_distance, from shared/benchmarks/bks.csv


def invoke(*args: str) -> Result:
    """Run the command through the real ``lastmile`` app.

    While ``solve-instance`` is the app's only command, Typer runs it without the command
    name; as soon as there are several, the name is required. Support both.
    """
    command = typer.main.get_command(app)
    prefix = ["solve-instance"] if isinstance(command, TyperGroup) else []
    return CliRunner().invoke(app, [*prefix, *args])


@pytest.mark.slow
def test_solves_c101_close_to_bks_and_feasible() -> None:
    path = DATA / "C101.txt"
    result = invoke(str(path), "--time-limit", "2", "--seed", "1")
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert {"instance", "cost", "vehicles", "feasible", "runtime_s", "routes"} <= set(payload)
    assert payload["instance"] == "C101"
    assert payload["feasible"] is True, payload.get("violations")
    assert payload["cost"] <= C101_BKS * 1.01
    assert payload["cost"] >= C101_BKS - 1e-9  # BKS is optimal for C101: nothing can beat it
    assert payload["vehicles"] == len(payload["routes"]) <= 25
    served = sorted(c for route in payload["routes"] for c in route)
    assert served == list(range(1, 101))
    assert 1.5 <= payload["runtime_s"] < 30
    # The printed cost is the file-based recomputation, not the solver's say-so.
    instance = read_instance(path.read_text(encoding="utf-8"), "C101")
    assert verify_routes(instance, payload["routes"]).cost == payload["cost"]


def test_malformed_file_exits_with_the_line(tmp_path: Path) -> None:
    lines = (DATA / "C101.txt").read_text(encoding="utf-8").splitlines()
    lines[11] = "2 45 70 thirty 825 870 90"
    bad = tmp_path / "BAD.txt"
    bad.write_text("\n".join(lines), encoding="utf-8")
    result = invoke(str(bad), "--time-limit", "1")
    assert result.exit_code == 1  # as for every input error (docs/cli.md)
    assert "line 12" in result.output
    assert "DEMAND" in result.output
    assert result.stdout.strip() == ""  # no half-made JSON on stdout
