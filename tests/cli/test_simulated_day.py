"""#12 'Done means': ``lastmile simulate --speed 600x`` at any hour of the real day gives the
KPIs of a real day, because the day runs in a simulation organisation on its own clock.

The real clock is pinned (time-machine, ticking) at 09:00 and at 23:00 in Vaduz. Before the
per-organisation clock, the same run stamped events with the real clock: at 18:00 the demo
showed 0 % on time, 13-second deliveries and 3,800 stops an hour, and in the evening every
same-day order was refused as hours late.

Whole simulated days: marked ``simday`` (``make test-simday`` runs only these).
"""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import time_machine
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from helpers.live import serve_app
from helpers.service import PASSWORD, make_org
from lastmile.app import create_app
from lastmile.auth import service as auth
from lastmile.cli import app as cli
from lastmile.config import Settings
from lastmile.orgs import clock as org_clock
from lastmile.orgs import service as orgs
from lastmile.orgs.models import Role

VADUZ = ZoneInfo("Europe/Vaduz")
DEPOTS = ((9.5349137, 47.2521241), (9.5229141, 47.1430357), (9.5076534, 47.0675654))

pytestmark = [pytest.mark.slow, pytest.mark.simday]


def _kpis_of_the_simulation(client: TestClient, org_id: str) -> tuple[str, dict[str, object]]:
    sessions: sessionmaker[Session] = client.app.state.sessions  # type: ignore[attr-defined]
    with sessions() as session:
        twin = org_clock.simulation_of(session=session, org_id=org_id)
        assert twin is not None and twin.simulation
        _, key = auth.create_api_key(session=session, org_id=twin.id, name="t", role=Role.ADMIN)
        name = twin.name
    kpis = client.get("/api/v1/kpis", headers={"X-API-Key": key}).json()
    return name, kpis


@pytest.mark.parametrize("hour", [9, 23])
def test_a_600x_day_has_the_kpis_of_a_real_day_at_any_hour(tmp_path: Path, hour: int) -> None:
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'day.db'}",
        data_dir=tmp_path,
        use_roads=False,
        jobs="inline",
        secret_key="test-secret",
        plan_time_limit_s=1.0,
        geocode_imports=False,
    )
    real = datetime(2026, 12, 8, hour, 0, tzinfo=VADUZ)
    with time_machine.travel(real, tick=True), TestClient(create_app(settings)) as client:
        org = make_org(client, f"Shop {hour}")
        sessions: sessionmaker[Session] = client.app.state.sessions  # type: ignore[attr-defined]
        with sessions() as session:
            for n in (2, 3):
                user = auth.create_user(
                    session=session, email=f"d{n}@shop.example", password=PASSWORD, name=f"D{n}"
                )
                orgs.add_member(
                    session=session, org_id=org.org_id, user_id=user.id, role=Role.DRIVER
                )
        for n, (lon, lat) in enumerate(DEPOTS, start=1):
            made = client.post(
                "/api/v1/vehicles",
                json={"external_id": f"VAN-{n}", "start": {"lon": lon, "lat": lat},
                      "shift": {"start": "07:00", "end": "19:00"}, "capacity": {"parcels": 100}},
                headers=org.admin,
            )  # fmt: skip
            assert made.status_code == 201, made.text
        drivers = [f"driver@shop-{hour}.example", "d2@shop.example", "d3@shop.example"]
        with serve_app(client.app) as url:
            result = CliRunner().invoke(
                cli,
                ["simulate", "--server", url, "--email", f"dispatcher@shop-{hour}.example",
                 "--password", PASSWORD, *[f"--driver={d}:{PASSWORD}" for d in drivers],
                 "--drivers", "3", "--orders", "45", "--same-day", "4", "--speed", "600x",
                 "--seed", "11", "--plan-time-limit", "1", "--no-roads"],
                terminal_width=200,
            )  # fmt: skip
        out = " ".join(re.sub(r"[│┃]", " ", result.output).split())
        assert result.exit_code == 0, result.output + repr(result.exception)
        name, kpis = _kpis_of_the_simulation(client, org.org_id)
        # It says where the day ran, and that is where its KPIs are.
        assert f"the day runs in {name}" in out and name == f"Shop {hour} (simulation)", out
        assert client.get("/api/v1/kpis", headers=org.admin).json()["orders"] == 0
        assert kpis["orders"] == 49, out
        report = (
            f"at {hour}:00: {kpis['avg_delivery_time_s']} s, on time {kpis['on_time_rate']}, "
            f"{kpis['stops_per_hour']} stops/h, {kpis['actual_hours']} of "
            f"{kpis['planned_hours']} h\n{result.output}"
        )
        assert kpis["avg_delivery_time_s"] >= 20 * 60, report  # type: ignore[operator]
        assert kpis["on_time_rate"] >= 0.7, report  # type: ignore[operator]
        assert kpis["stops_per_hour"] <= 40, report  # type: ignore[operator]
        ratio = kpis["actual_hours"] / kpis["planned_hours"]  # type: ignore[operator]
        assert 0.5 <= ratio <= 2, report
        refused = re.search(r"same-day not fitting (\d+)", out)
        assert refused is not None and int(refused.group(1)) <= 2, report
        assert re.search(r"events rejected 0\b", out), report
