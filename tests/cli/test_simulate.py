"""``lastmile simulate`` against the real app served by uvicorn on loopback: a tiny day."""

from __future__ import annotations

import random
import re
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from helpers.live import serve_app
from helpers.service import PASSWORD, make_org
from lastmile.app import create_app
from lastmile.auth import service as auth
from lastmile.cli import app as cli
from lastmile.cli.simulate import make_orders, parse_speed
from lastmile.config import Settings
from lastmile.drivers.models import Position
from lastmile.orgs import service as orgs
from lastmile.orgs.models import Role
from lastmile.plans.models import Route


def test_speed_and_orders_are_parsed_and_seeded() -> None:
    assert parse_speed("600x") == 600 and parse_speed("0.5") == 0.5
    with pytest.raises(ValueError):
        parse_speed("0x")
    day = __import__("datetime").date(2026, 11, 24)
    a = make_orders(day, 5, random.Random(3))
    assert a == make_orders(day, 5, random.Random(3))
    assert a != make_orders(day, 5, random.Random(4))
    assert [o["external_id"] for o in a][:2] == ["SIM-2026-11-24-0001", "SIM-2026-11-24-0002"]
    assert all(9.4 < o["lon"] < 9.7 and 47.0 < o["lat"] < 47.3 for o in a)


def test_missing_driver_logins_are_explained() -> None:
    result = CliRunner().invoke(
        cli, ["simulate", "--server", "http://127.0.0.1:9", "--api-key", "k", "--drivers", "2"]
    )
    assert result.exit_code == 2
    assert "lastmile admin create-user --role driver" in " ".join(result.output.split())


def test_simulate_a_tiny_day(tmp_path: Path) -> None:
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'sim.db'}",
        data_dir=tmp_path,
        use_roads=False,
        jobs="inline",
        secret_key="test-secret",
        plan_time_limit_s=1.0,
        geocode_imports=False,
    )
    with TestClient(create_app(settings)) as client:
        org = make_org(client, "Sim")
        sessions: sessionmaker[Session] = client.app.state.sessions  # type: ignore[attr-defined]
        with sessions() as session:
            second = auth.create_user(
                session=session, email="driver2@sim.example", password=PASSWORD, name="Two"
            )
            orgs.add_member(session=session, org_id=org.org_id, user_id=second.id, role=Role.DRIVER)
        key = client.post(
            "/api/v1/api-keys", json={"name": "sim", "role": "dispatcher"}, headers=org.admin
        )
        assert key.status_code == 201, key.text
        with serve_app(client.app) as url:
            began = time.monotonic()
            result = CliRunner().invoke(
                cli,
                [
                    "simulate",
                    "--server", url,
                    "--api-key", key.json()["key"],
                    "--driver", f"driver@sim.example:{PASSWORD}",
                    "--driver", f"driver2@sim.example:{PASSWORD}",
                    "--drivers", "2",
                    "--orders", "10",
                    "--speed", "600x",
                    "--seed", "7",
                    "--plan-time-limit", "0.5",
                ],
            )  # fmt: skip
            took = time.monotonic() - began
        assert result.exit_code == 0, result.output + repr(result.exception)
        assert took < 60, f"the simulation took {took:.0f} s"

        kpis = client.get("/api/v1/kpis", headers=org.dispatcher).json()
        assert kpis["orders"] == 10
        # Every order was tried exactly once; what was printed is what the API says.
        assert kpis["delivered"] + kpis["failed_attempts"] == 10
        assert set(kpis["failure_reasons"]) <= {"not_home"}
        out = " ".join(re.sub(r"[│┃]", " ", result.output).split())
        assert re.search(rf"\bdelivered {kpis['delivered']}\b", out), out
        assert re.search(rf"\bfailed attempts {kpis['failed_attempts']}\b", out), out
        assert kpis["actual_km"] > 1 and kpis["planned_km"] > 1
        cards = kpis["drivers"]
        assert sum(c["stops"] for c in cards) == 10
        assert all(c["avg_distance_from_stop_m"] < 1 for c in cards if c["delivered"])
        # A second run of the same day has nothing left to plan, and says so.
        with serve_app(client.app) as url:
            again = CliRunner().invoke(
                cli,
                [
                    "simulate", "--server", url,
                    "--email", "dispatcher@sim.example", "--password", PASSWORD,
                    "--driver", f"driver@sim.example:{PASSWORD}",
                    "--orders", "10", "--seed", "7",
                ],
            )  # fmt: skip
        assert again.exit_code == 1, again.output
        assert "none of the 10 orders" in " ".join(again.output.split())
        with sessions() as session:
            routes = list(session.scalars(select(Route).where(Route.org_id == org.org_id)))
            assert len(routes) == 2 and all(r.status == "finished" for r in routes)
            assert (session.scalar(select(func.count()).select_from(Position)) or 0) > 10
