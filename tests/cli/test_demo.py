"""The demo: a usable organisation (running the seed twice changes nothing), and the simulated
day it starts in the background against the real server on loopback."""

from __future__ import annotations

import io
import threading
import time
from pathlib import Path

import httpx
from fastapi.testclient import TestClient
from rich.console import Console
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from helpers.live import serve_app
from lastmile.app import create_app
from lastmile.auth import service as auth
from lastmile.cli.demo import (
    DEMO_DRIVERS,
    DEMO_PASSWORD,
    DRIVER_LOGINS,
    LOGINS,
    seed,
    simulate_today,
)
from lastmile.common.samples import sample_path
from lastmile.config import Settings
from lastmile.db import create_db_engine, migrate, session_factory
from lastmile.drivers.models import Position
from lastmile.fleet.models import Driver, Vehicle
from lastmile.orders.models import Order
from lastmile.routes.models import Route


def test_seed_is_complete_and_idempotent(tmp_path: Path) -> None:
    engine = create_db_engine(f"sqlite:///{tmp_path / 'demo.db'}")
    migrate(engine)
    sessions = session_factory(engine)
    with sessions() as session:
        org, count = seed(session)
        assert count == 150
        # A database seeded by an older demo linked only the first driver: seeding links all.
        session.execute(
            update(Driver)
            .where(Driver.org_id == org.id, Driver.name != "Driver 1")
            .values(user_id=None)
        )
        session.commit()
    with sessions() as session:
        again, _ = seed(session)
        assert again.id == org.id
        assert (
            session.scalar(select(func.count()).select_from(Order).where(Order.org_id == org.id))
            == 150
        )
        vehicles = sample_path("sample_vehicles.csv").read_text().strip().count("\n")
        assert vehicles == DEMO_DRIVERS == len(DRIVER_LOGINS) == 5
        assert (
            session.scalar(
                select(func.count()).select_from(Vehicle).where(Vehicle.org_id == org.id)
            )
            == 5
        )
        drivers = list(session.scalars(select(Driver).where(Driver.org_id == org.id)))
        assert len(drivers) == 5
        # Every vehicle's driver has its own login; driver@… drives Van 1 (the plan uses it).
        users = {
            login.email: auth.get_user_by_email(session=session, email=login.email).id
            for login in DRIVER_LOGINS
        }
        assert sorted(d.user_id or "" for d in drivers) == sorted(users.values())
        demo_driver = next(d for d in drivers if d.user_id == users["driver@demo.lastmile.test"])
        vehicle = session.get(Vehicle, demo_driver.vehicle_id)
        assert vehicle is not None and vehicle.external_id == "VAN-1"
        assert len({d.vehicle_id for d in drivers}) == 5
        for login in LOGINS:
            _user, org_id, role = auth.login(
                session=session,
                email=login.email,
                password=DEMO_PASSWORD,
                client="test",
                org_id=None,
                limits=auth.LoginLimits(per_account=5, per_address=20, window_s=60),
            )
            assert org_id == org.id and role is login.role
    engine.dispose()


def _settings(tmp_path: Path) -> Settings:
    return Settings(
        database_url=f"sqlite:///{tmp_path / 'demo.db'}",
        data_dir=tmp_path,
        use_roads=False,
        jobs="inline",
        secret_key="test-secret",
        geocode_imports=False,
    )


def test_the_demo_day_moves_vehicles_within_seconds_and_resumes(tmp_path: Path) -> None:
    """The background simulation plans today's 150 orders and vans start moving; stopped
    (Ctrl+C), the next run of the day drives on to the end; the one after says it was driven."""
    with TestClient(create_app(_settings(tmp_path))) as client:
        sessions: sessionmaker[Session] = client.app.state.sessions  # type: ignore[attr-defined]
        with sessions() as session:
            seed(session)
        out = io.StringIO()
        stop = threading.Event()
        with serve_app(client.app) as url:
            began = time.monotonic()
            thread = simulate_today(
                url, speed=600, plan_time_limit=1.0, stop=stop, out=Console(file=out, width=200)
            )
            moved = {}
            while time.monotonic() - began < 45 and not moved:
                time.sleep(0.5)
                with sessions() as session:
                    rows = session.execute(select(Position.driver_id, Position.lon, Position.lat))
                    seen: dict[str, set[tuple[float, float]]] = {}
                    for driver_id, lon, lat in rows:
                        seen.setdefault(driver_id, set()).add((round(lon, 4), round(lat, 4)))
                    moved = {d: len(p) for d, p in seen.items() if len(p) >= 3}
            took = time.monotonic() - began
            stop.set()
            thread.join(timeout=30)
            assert not thread.is_alive()
            assert moved, out.getvalue()
            assert took < 45, out.getvalue()
            text = out.getvalue()
            assert "planning 150 orders on 5 vehicles" in text
            assert "driving" in text and "same-day orders" in text
            # Interrupted (Ctrl+C), the next demo of the day drives on the unfinished routes.
            out2 = io.StringIO()
            again = simulate_today(url, speed=20_000, out=Console(file=out2, width=200))
            again.join(timeout=45)
            assert not again.is_alive()
            second = " ".join(out2.getvalue().split())
            assert "resuming" in second and "the simulated day is over" in second, second
            assert "KPIs of" in second
            with sessions() as session:
                assert set(session.scalars(select(Route.status))) == {"finished"}
                statuses = set(session.scalars(select(Order.status)))
                assert statuses <= {"delivered", "failed", "ready"}, statuses  # ready: same-day
            # Run once more the same day: it was driven, and the demo says so.
            out3 = io.StringIO()
            third = simulate_today(url, speed=20_000, out=Console(file=out3, width=200))
            third.join(timeout=30)
        text = " ".join(out3.getvalue().split())
        assert "today's orders were already driven" in text, text
        assert "routes of" in text and "are finished" in text, text


def test_a_day_already_driven_is_reported_and_nothing_breaks(tmp_path: Path) -> None:
    with TestClient(create_app(_settings(tmp_path))) as client:
        sessions: sessionmaker[Session] = client.app.state.sessions  # type: ignore[attr-defined]
        with sessions() as session:
            seed(session)
            session.execute(update(Order).values(status="delivered"))
            session.commit()
        out = io.StringIO()
        with serve_app(client.app) as url:
            thread = simulate_today(url, speed=600, out=Console(file=out, width=200))
            thread.join(timeout=30)
            assert not thread.is_alive()
            assert httpx.get(f"{url}/api/v1/auth/me").status_code == 401  # still serving
        text = " ".join(out.getvalue().split())
        assert "today's orders were already driven" in text, text
        assert "The server keeps running" in text
