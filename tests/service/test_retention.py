"""Retention (#17): GPS positions and proof files past the settings are deleted by the
worker's job; recent ones stay; the KPIs of the old day (driven distance, its cost, proof
compliance) are what they were. SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update
from test_driver_api import JPEG, plan_day
from test_kpis import TRACK_KM, drive, kpis

from lastmile.common.clock import utcnow
from lastmile.common.jobs import JobContext
from lastmile.config import Settings
from lastmile.drivers import retention
from lastmile.drivers.models import Position, ProofOfDelivery
from lastmile.jobs.registry import registry
from lastmile.jobs.retention import apply_retention
from lastmile.routes.models import Route


def _context(client: TestClient) -> JobContext:
    state = client.app.state  # type: ignore[attr-defined]
    return JobContext(state.settings, state.sessions, lambda *a, **k: None)


def _photo(client: TestClient, headers: dict[str, str], event_key: str, data: bytes) -> str:
    response = client.post(
        "/api/v1/driver/pod",
        data={"kind": "photo", "event_key": event_key},
        files={"file": ("p.jpg", data, "image/jpeg")},
        headers=headers,
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def test_old_positions_and_photos_go_and_the_kpis_stay(client: TestClient) -> None:
    settings: Settings = client.app.state.settings  # type: ignore[attr-defined]
    assert (settings.retention_positions_days, settings.retention_pod_days) == (30, 180)
    assert "apply_retention" in registry()
    day = plan_day(client)
    drive(client, day)
    old_photo = _photo(client, day.org.driver, "del-00001", JPEG)
    new_photo = _photo(client, day.org.driver, "del-10000", JPEG)
    before = kpis(client, day)
    assert before["actual_km"] == pytest.approx(TRACK_KM, rel=1e-3)
    assert before["pod_compliance"] is not None and before["pod_compliance"] > 0
    now = utcnow()
    with day.sessions() as session:
        ids = sorted(session.scalars(select(Position.id).where(Position.org_id == day.org.org_id)))
        assert len(ids) == 3
        # The first two points arrived 31 and 30.5 days ago; the third is recent.
        session.execute(
            update(Position)
            .where(Position.id == ids[0])
            .values(created_at=now - timedelta(days=31))
        )
        session.execute(
            update(Position)
            .where(Position.id == ids[1])
            .values(created_at=now - timedelta(days=30, hours=12))
        )
        session.execute(
            update(ProofOfDelivery)
            .where(ProofOfDelivery.id == old_photo)
            .values(created_at=now - timedelta(days=181))
        )
        session.commit()
        old_key = session.get(ProofOfDelivery, old_photo).storage_key  # type: ignore[union-attr]
    old_file = settings.data_dir / "pod" / Path(*old_key.split("/"))
    assert old_file.exists()

    done = apply_retention(_context(client))
    assert done["positions"] >= 2 and done["pod_files"] >= 1, done

    with day.sessions() as session:
        left = list(session.scalars(select(Position.id).where(Position.org_id == day.org.org_id)))
        assert left == [ids[2]]
        route = session.get(Route, day.route["id"])
        assert route is not None
        # The old points' path and the leg to the point that stays: the whole track so far.
        assert route.track_removed_m == pytest.approx(TRACK_KM * 1000, rel=1e-3)
        rows = session.scalar(
            select(func.count())
            .select_from(ProofOfDelivery)
            .where(ProofOfDelivery.org_id == day.org.org_id)
        )
        assert rows == 2  # the proof row stays: the delivery still had a proof
    assert not old_file.exists()
    gone = client.get(f"/api/v1/pod/{old_photo}/file", headers=day.org.dispatcher)
    assert gone.status_code == 404 and "retention" in gone.json()["detail"]
    kept = client.get(f"/api/v1/pod/{new_photo}/file", headers=day.org.dispatcher)
    assert kept.status_code == 200 and kept.content == JPEG

    after = kpis(client, day)
    for key in ("actual_km", "pod_compliance", "cost", "delivered", "orders"):
        assert after[key] == before[key], key
    # Run again: nothing more to delete, nothing counted twice.
    again = apply_retention(_context(client))
    assert (again["positions"], again["pod_files"]) == (0, 0)
    assert kpis(client, day)["actual_km"] == before["actual_km"]


def test_the_boundary_search_finds_the_last_old_point(client: TestClient) -> None:
    day = plan_day(client, "Boundary Co")
    now = utcnow()
    with day.sessions() as session:
        for minute in range(40):  # arrivals one minute apart, oldest first
            session.add(
                Position(
                    org_id=day.org.org_id,
                    driver_id=day.driver_id,
                    lon=9.5,
                    lat=47.1,
                    recorded_at=now,
                    created_at=now - timedelta(minutes=40 - minute),
                )
            )
        session.commit()
        ids = sorted(session.scalars(select(Position.id)))
        assert retention.last_id_before(session, now - timedelta(minutes=41)) is None
        assert retention.last_id_before(session, now - timedelta(minutes=40)) is None
        for cut in (1, 2, 17, 39, 40):
            cutoff = now - timedelta(minutes=41 - cut) + timedelta(seconds=1)
            assert retention.last_id_before(session, cutoff) == ids[cut - 1], cut
        assert retention.last_id_before(session, now) == ids[-1]
