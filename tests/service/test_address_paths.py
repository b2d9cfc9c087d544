"""One CSV geocodes the same way in ``lastmile geocode``, ``lastmile plan`` and the server's
import (the address line is built by ``core.formats.addresses.address_line`` everywhere).

``Landstrasse 19`` exists in three towns of Liechtenstein: without the file's postcode and
town columns it is ambiguous, with them it is one house in Vaduz. A path that dropped those
columns (as the server's import once did) would leave the order unresolved here.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from helpers.service import make_org
from lastmile.cli import app as cli
from lastmile.common.jobs import JobContext
from lastmile.core.geo.index import load_index
from lastmile.core.roads import default_extract
from lastmile.orders.jobs import geocode_orders

DAY = "2026-11-25"

FILES = {
    "town columns": (
        "id,address,zip,town,parcels\n"
        "P1,Landstrasse 19,9490,Vaduz,1\n"
        "P2,Landstr. 185,,Triesen,1\n"
        'P3,"Bergstrasse 5, 9497 Triesenberg",9497,Triesenberg,1\n'
        "P4,Nirgendwostrasse 999,9490,Vaduz,1\n"
    ),
    "address parts": (
        "id;street;house_number;postcode;city;parcels\n"
        "P1;Landstrasse;19;9490;Vaduz;1\n"
        "P2;Landstr.;185;;Triesen;1\n"
        "P3;Bergstrasse;5;9497;Triesenberg;1\n"
        "P4;Nirgendwostrasse;999;9490;Vaduz;1\n"
    ),
}

runner = CliRunner()


@pytest.fixture(scope="module")
def address_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    cache = tmp_path_factory.mktemp("addr") / "liechtenstein.addr.json.gz"
    load_index(default_extract(), cache_path=cache)
    return cache


def _cli_geocode(path: Path, cache: Path) -> dict[str, tuple[str, Any]]:
    result = runner.invoke(cli, ["geocode", str(path), "--json", "--cache", str(cache)])
    assert result.exit_code == 0, result.output
    answers = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    ids = [f"P{k}" for k in range(1, 5)]
    return {
        i: (a["verdict"], (round(a["lon"], 6), round(a["lat"], 6)) if a["lon"] else None)
        for i, a in zip(ids, answers, strict=True)
    }


def _cli_plan(path: Path, cache: Path, tmp: Path) -> dict[str, Any]:
    out = tmp / "plan.json"
    args = ["plan", str(path), "--vehicles", "1", "--capacity", "50", "--depot", "9.52,47.14"]
    args += ["--iterations", "50", "--workers", "1", "--date", DAY, "--skip-unresolved"]
    args += ["--address-cache", str(cache), "--out", str(out)]
    result = runner.invoke(cli, args, terminal_width=200)
    assert result.exit_code == 0, result.output
    doc = json.loads(out.read_text())
    found: dict[str, Any] = {
        s["order_id"]: (round(s["lon"], 6), round(s["lat"], 6))
        for r in doc["routes"]
        for s in r["stops"]
        if s["kind"] == "order"
    }
    found.update({u["order_id"]: None for u in doc["unassigned"]})
    return found


def _server(client: TestClient, text: str) -> dict[str, tuple[str, Any]]:
    org = make_org(client, "Bakery")
    r = client.post(
        f"/api/v1/orders/import?date={DAY}",
        files={"file": ("o.csv", text.encode())},
        headers=org.dispatcher,
    )
    assert r.status_code == 200, r.text
    application = client.app
    context = JobContext(
        application.state.settings,  # type: ignore[attr-defined]
        application.state.sessions,  # type: ignore[attr-defined]
        lambda *a, **k: None,
    )
    geocode_orders(context, org_id=org.org_id)
    items = client.get(f"/api/v1/orders?date={DAY}", headers=org.dispatcher).json()["items"]
    return {
        o["external_id"]: (
            o["address_verdict"],
            (round(o["lon"], 6), round(o["lat"], 6)) if o["lon"] is not None else None,
        )
        for o in items
    }


@pytest.mark.parametrize("layout", sorted(FILES))
def test_one_file_geocodes_the_same_in_cli_plan_and_server(
    layout: str, client: TestClient, tmp_path: Path, address_cache: Path
) -> None:
    path = tmp_path / "orders.csv"
    path.write_text(FILES[layout], encoding="utf-8")
    geocoded = _cli_geocode(path, address_cache)
    planned = _cli_plan(path, address_cache, tmp_path)
    served = _server(client, FILES[layout])
    # The town columns decide: P1 is one house in Vaduz, P2 the Landstrasse of Triesen.
    assert geocoded["P1"][0] == "exact" and geocoded["P2"][0] == "corrected"
    assert geocoded["P3"][0] == "exact" and geocoded["P4"][0] == "not_found"
    assert served == geocoded
    assert planned == {k: location for k, (_, location) in geocoded.items()}
