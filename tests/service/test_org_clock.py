"""A clock per organisation (``lastmile.orgs.clock``): real organisations run on real time and
can never move it; a simulation organisation runs on its own clock (start and speed), which
every business time reads, while logins and token expiry stay on real time."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import time_machine
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from helpers.service import PASSWORD, OrgUsers, make_org
from lastmile.core.errors import Conflict
from lastmile.db import create_db_engine, session_factory
from lastmile.orgs import clock as org_clock
from lastmile.orgs import service as orgs
from lastmile.orgs.models import Organisation, Role

REAL = datetime(2026, 12, 7, 21, 30, tzinfo=UTC)  # 22:30 in Vaduz: a real evening
MORNING = "2026-12-09T07:00:00+01:00"  # the simulation's business time: a morning, 2 days on


def sessions_of(client: TestClient) -> sessionmaker[Session]:
    factory: sessionmaker[Session] = client.app.state.sessions  # type: ignore[attr-defined]
    return factory


def twin_of(client: TestClient, org: OrgUsers) -> tuple[dict[str, Any], dict[str, str]]:
    response = client.post(
        "/api/v1/organisation/simulation",
        json={"drivers": ["driver@" + org.name.lower() + ".example"]},
        headers=org.admin,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    return body, {"X-API-Key": body["api_key"]}


def route_started(at: str) -> dict[str, Any]:
    return {"key": f"k-{at}", "type": "route_started", "occurred_at": at, "route_id": "rte_x"}


def test_a_real_organisation_cannot_move_its_clock(client: TestClient) -> None:
    org = make_org(client, "Florist")
    with time_machine.travel(REAL, tick=False):
        moved = client.put(
            "/api/v1/organisation/clock",
            json={"start": MORNING, "speed": 600},
            headers=org.admin,
        )
        assert moved.status_code == 409, moved.text
        assert "real organisation" in moved.json()["detail"]
        me = client.get("/api/v1/organisation", headers=org.admin).json()
    assert me["simulation"] is False
    assert me["clock"] == {"now": "2026-12-07T21:30:00Z", "speed": 1.0}
    with sessions_of(client)() as session:
        row = session.get(Organisation, org.org_id)
        assert row is not None and row.clock_start is None and row.clock_speed == 1.0


def test_a_simulation_runs_on_its_own_clock_and_business_time_reads_it(
    client: TestClient,
) -> None:
    org = make_org(client, "Bakery")
    with time_machine.travel(REAL, tick=False) as real:
        twin, sim = twin_of(client, org)
        assert twin["created"] and twin["name"] == "Bakery (simulation)"
        again, sim = twin_of(client, org)  # the same one, with a new key; the old one is revoked
        assert again["id"] == twin["id"] and not again["created"]
        assert (
            client.get("/api/v1/organisation", headers={"X-API-Key": twin["api_key"]}).status_code
            == 401
        )
        started = client.put(
            "/api/v1/organisation/clock", json={"start": MORNING, "speed": 600}, headers=sim
        )
        assert started.status_code == 200, started.text
        assert started.json()["clock"]["now"] == "2026-12-09T06:00:00Z"
        real.shift(6)  # six real seconds at 600x: an hour of the simulated day
        me = client.get("/api/v1/organisation", headers=sim).json()
        assert me["simulation"] and me["simulation_of"] == org.org_id
        assert me["clock"] == {"now": "2026-12-09T07:00:00Z", "speed": 600.0}
        # 'Today' of the simulation is its own; the real organisation's is the real one.
        assert client.get("/api/v1/kpis", headers=sim).json()["filters"]["from"] == "2026-12-09"
        assert client.get("/api/v1/kpis", headers=org.admin).json()["filters"]["from"] == (
            "2026-12-07"
        )
        # Orders are created at business time.
        created = client.post(
            "/api/v1/orders",
            json=[{"external_id": "A1", "lon": 9.52, "lat": 47.14}],
            headers=sim,
        ).json()["items"][0]["order"]
        assert created["date"] == "2026-12-09"
        assert created["created_at"].startswith("2026-12-09T07:00:00")
        # Device timestamps are checked against business time: 08:00 on the 9th is in the
        # future for the simulation (an hour ahead), 07:59 of the real evening too far back
        # for nothing; the real organisation refuses the simulation's morning outright.
        driver = client.post(
            "/api/v1/auth/token",
            json={"email": "driver@bakery.example", "password": "correct horse battery",
                  "organisation": twin["id"]},
        )  # fmt: skip
        assert driver.status_code == 200, driver.text
        phone = {"Authorization": f"Bearer {driver.json()['access_token']}"}
        for headers in (sim, org.admin):  # a driver record in each organisation
            made = client.post(
                "/api/v1/drivers",
                json={"name": "Dana", "user_id": org.user_ids[Role.DRIVER]},
                headers=headers,
            )
            assert made.status_code == 201, made.text
        results = []
        for headers in (phone, org.driver):
            sent = client.post(
                "/api/v1/driver/events",
                json={"events": [route_started("2026-12-09T07:59:00+01:00")]},
                headers=headers,
            )
            assert sent.status_code == 200, sent.text
            results.append(sent.json()["results"][0])
        in_sim, in_real = results
        assert in_sim["status"] == "rejected" and "future" not in str(in_sim), in_sim  # no route
        assert in_real["status"] == "rejected" and "future" in str(in_real), in_real
        # Logins and token expiry stay on real time: a month of simulated time later, the
        # token of a real minute ago still works.
        real.shift(60)
        assert client.get("/api/v1/organisation", headers=sim).json()["clock"]["now"] > (
            "2026-12-09T16:00"
        )
        client.put(
            "/api/v1/organisation/clock",
            json={"start": (datetime(2027, 1, 9, tzinfo=UTC)).isoformat(), "speed": 1},
            headers=sim,
        )
        assert client.get("/api/v1/auth/me", headers=phone).status_code == 200


def test_the_clock_refuses_what_a_clock_cannot_be(client: TestClient) -> None:
    org = make_org(client, "Pharmacy")
    _, sim = twin_of(client, org)
    for body, field in (
        ({"start": "2026-12-09T07:00:00", "speed": 10}, "start"),
        ({"start": MORNING, "speed": 0}, "speed"),
        ({"start": MORNING, "speed": 200_000}, "speed"),
    ):
        response = client.put("/api/v1/organisation/clock", json=body, headers=sim)
        assert response.status_code == 422, response.text
        assert field in response.text
    refused = client.post(
        "/api/v1/organisation/simulation",
        json={"drivers": ["nobody@pharmacy.example"]},
        headers=org.admin,
    )
    assert refused.status_code == 422 and "drivers.0" in refused.text
    assert (
        client.post("/api/v1/organisation/simulation", json={}, headers=org.driver).status_code
        == 403
    )


def test_create_org_simulation(tmp_path: Path) -> None:
    env = {**os.environ, "LASTMILE_DATA_DIR": str(tmp_path), "LASTMILE_SECRET_KEY": "cli-test"}
    run = [sys.executable, "-m", "lastmile.cli", "admin", "create-org"]
    for name, more in (("Test Kitchen", ["--simulation"]), ("Real Kitchen", [])):
        created = subprocess.run(
            [*run, name, "--admin-email", f"chef@{name[:4].lower()}.example", "--password",
             "a long kitchen password", "--timezone", "Europe/Vaduz", *more],
            env=env, capture_output=True, text=True,
        )  # fmt: skip
        assert created.returncode == 0, created.stderr
        assert ("simulation organisation" in created.stdout) == bool(more), created.stdout
    engine = create_db_engine(f"sqlite:///{tmp_path / 'lastmile.db'}")
    try:
        with session_factory(engine)() as session:
            sim = orgs.get_by_name(session=session, name="Test Kitchen")
            real = orgs.get_by_name(session=session, name="Real Kitchen")
            assert sim.simulation and sim.simulation_of is None and not real.simulation
            start = datetime(2027, 3, 1, 8, tzinfo=UTC)
            with time_machine.travel(REAL, tick=False):
                org_clock.set_clock(session=session, org_id=sim.id, start=start, speed=60)
                assert org_clock.now(sim) == start
                with pytest.raises(Conflict):
                    org_clock.set_clock(session=session, org_id=real.id, start=start, speed=60)
                assert org_clock.now(real) == REAL
    finally:
        engine.dispose()


def test_waiting_for_a_business_moment_takes_real_seconds_at_the_clocks_speed() -> None:
    """The end of quiet hours is a business moment; the job that sends then waits real time."""
    start = datetime(2026, 12, 9, 6, tzinfo=UTC)
    sim = Organisation(
        name="s", timezone="UTC", simulation=True, clock_start=start, clock_anchor=REAL,
        clock_speed=600.0,
    )  # fmt: skip
    real = Organisation(name="r", timezone="UTC", simulation=False, clock_speed=1.0)
    assert org_clock.real_seconds(sim, timedelta(hours=1)) == 6.0
    assert org_clock.real_seconds(real, timedelta(hours=1)) == 3600.0
    assert org_clock.now(sim, real=REAL + timedelta(seconds=6)) == start + timedelta(hours=1)


def test_the_dashboard_says_where_the_simulated_day_runs_and_what_time_it_is_there(
    client: TestClient,
) -> None:
    """After ``make demo`` the real organisation's live map is empty: the day runs in its
    simulation. Every page of the real one offers the switch; every page of the simulation
    says its business time, so nobody takes its times for real ones."""
    org = make_org(client, "Pastry")
    outsider = make_org(client, "Outsider Pastry")
    with time_machine.travel(REAL, tick=False):
        twin, sim = twin_of(client, org)
        client.put("/api/v1/organisation/clock", json={"start": MORNING, "speed": 600}, headers=sim)
        browser = TestClient(client.app)
        answer = browser.post(
            "/app/login",
            data={"email": "admin@pastry.example", "password": PASSWORD},
            follow_redirects=False,
        )
        assert answer.status_code == 303, answer.text

        def switch_to(org_id: str) -> None:
            csrf = re.search(r'name="csrf-token" content="([^"]+)"', browser.get("/app/kpis").text)
            assert csrf
            switched = browser.post(
                "/app/switch-org",
                data={"org_id": org_id, "csrf": csrf.group(1)},
                follow_redirects=False,
            )
            assert switched.status_code == 303, switched.text

        switch_to(org.org_id)
        page = browser.get("/app/orders").text
        notice = re.search(r'id="simulation-notice"[^>]*>([^<]*)', page)
        assert notice, page[:3000]
        assert "Simulated days run in “Pastry (simulation)”" in notice.group(1)
        assert f'name="org_id" value="{twin["id"]}"' in page
        switch_to(twin["id"])
        inside = browser.get("/app/live").text
        assert "Simulation: business time 2026-12-09 07:00, running at 600x" in inside
        assert "Simulated days run in" not in inside
        stranger = TestClient(client.app)
        stranger.post(
            "/app/login",
            data={"email": "admin@outsider-pastry.example", "password": PASSWORD},
            follow_redirects=False,
        )
        assert outsider.org_id
        assert "simulation-notice" not in stranger.get("/app/orders").text
