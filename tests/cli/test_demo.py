"""The demo seed: a usable organisation, and running it twice changes nothing."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select

from lastmile.auth import service as auth
from lastmile.cli.demo import DEMO_PASSWORD, LOGINS, seed
from lastmile.db import create_db_engine, migrate, session_factory
from lastmile.fleet.models import Driver, Vehicle
from lastmile.orders.models import Order


def test_seed_is_complete_and_idempotent(tmp_path: Path) -> None:
    engine = create_db_engine(f"sqlite:///{tmp_path / 'demo.db'}")
    migrate(engine)
    sessions = session_factory(engine)
    with sessions() as session:
        org, count = seed(session)
        assert count == 150
    with sessions() as session:
        again, _ = seed(session)
        assert again.id == org.id
        assert (
            session.scalar(select(func.count()).select_from(Order).where(Order.org_id == org.id))
            == 150
        )
        assert (
            session.scalar(
                select(func.count()).select_from(Vehicle).where(Vehicle.org_id == org.id)
            )
            == 5
        )
        assert (
            session.scalar(select(func.count()).select_from(Driver).where(Driver.org_id == org.id))
            == 5
        )
        demo_driver = session.scalar(
            select(Driver).where(Driver.org_id == org.id, Driver.user_id.is_not(None))
        )
        assert demo_driver is not None
        vehicle = session.get(Vehicle, demo_driver.vehicle_id)
        assert vehicle is not None and vehicle.external_id == "VAN-1"  # a vehicle the plan uses
        for login in LOGINS:
            _user, org_id, role = auth.login(
                session=session,
                email=login.email,
                password=DEMO_PASSWORD,
                client="test",
                org_id=None,
                max_failures=5,
                window_s=60,
            )
            assert org_id == org.id and role is login.role
    engine.dispose()
