"""The hourly round of standing orders runs by itself in the embedded server: a server
started after the organisation's days moved on makes the orders now due without anybody
asking (the job runner's periodic timer, ``jobs.registry.PERIODIC``)."""

from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient

from helpers.service import make_org, sqlite_settings
from lastmile.app import create_app
from lastmile.jobs import runner
from lastmile.orgs import clock as org_clock
from lastmile.orgs.models import Organisation

VADUZ = ZoneInfo("Europe/Vaduz")


def test_a_restarted_server_makes_the_orders_now_due_by_itself(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = sqlite_settings(tmp_path, geocode_imports=False)
    with TestClient(create_app(settings)) as client:
        org = make_org(client, "Bakery")
        with client.app.state.sessions() as session:  # type: ignore[attr-defined]
            session.get(Organisation, org.org_id).simulation = True  # type: ignore[union-attr]
            session.commit()
            org_clock.set_clock(
                session=session,
                org_id=org.org_id,
                start=datetime(2027, 3, 22, 10, tzinfo=VADUZ),
                speed=1.0,
            )
        customer = client.post(
            "/api/v1/customers",
            json={
                "name": "Anna",
                "addresses": [{"address": "Städtle 1", "lon": 9.52, "lat": 47.14}],
            },
            headers=org.dispatcher,
        ).json()
        r = client.post(
            f"/api/v1/customers/{customer['id']}/standing-orders",
            json={"weekdays": ["tue"]},
            headers=org.dispatcher,
        )
        assert r.status_code == 201, r.text
        # Two weeks pass while the server is down.
        with client.app.state.sessions() as session:  # type: ignore[attr-defined]
            org_clock.set_clock(
                session=session,
                org_id=org.org_id,
                start=datetime(2027, 4, 5, 10, tzinfo=VADUZ),
                speed=1.0,
            )
        headers = org.dispatcher
        assert dates(client, headers) == ["2027-03-23", "2027-03-30"]  # as the server left them

    monkeypatch.setattr(runner, "PERIODIC_FIRST_S", 0.2)
    with TestClient(create_app(settings)) as client:
        deadline = time.monotonic() + 30
        while "2027-04-13" not in dates(client, headers) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert dates(client, headers) == [
            "2027-03-23", "2027-03-30", "2027-04-06", "2027-04-13",
        ]  # fmt: skip


def dates(client: TestClient, headers: dict[str, str]) -> list[str]:
    r = client.get("/api/v1/orders", params={"limit": 100}, headers=headers)
    assert r.status_code == 200, r.text
    return sorted(o["date"] for o in r.json()["items"])
