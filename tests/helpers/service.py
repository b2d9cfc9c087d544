"""Building blocks for service tests: an app per database backend, organisations with users."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from lastmile.auth import service as auth
from lastmile.config import Settings
from lastmile.orgs import service as orgs
from lastmile.orgs.models import Role

PASSWORD = "correct horse battery"


@dataclass
class OrgUsers:
    """An organisation with one user per role and their bearer headers."""

    org_id: str
    name: str
    headers: dict[Role, dict[str, str]] = field(default_factory=dict)
    user_ids: dict[Role, str] = field(default_factory=dict)

    @property
    def admin(self) -> dict[str, str]:
        return self.headers[Role.ADMIN]

    @property
    def dispatcher(self) -> dict[str, str]:
        return self.headers[Role.DISPATCHER]

    @property
    def driver(self) -> dict[str, str]:
        return self.headers[Role.DRIVER]


def make_org(client: TestClient, name: str, timezone: str = "Europe/Vaduz") -> OrgUsers:
    """Create an organisation with an admin, a dispatcher and a driver, logged in via the API."""
    sessions: sessionmaker[Session] = client.app.state.sessions  # type: ignore[attr-defined]
    slug = name.lower().replace(" ", "-")
    with sessions() as session:
        org = orgs.create(session=session, name=name, timezone=timezone)
        result = OrgUsers(org_id=org.id, name=name)
        for role in Role:
            user = auth.create_user(
                session=session,
                email=f"{role.value}@{slug}.example",
                password=PASSWORD,
                name=f"{role.value} of {name}",
            )
            orgs.add_member(session=session, org_id=org.id, user_id=user.id, role=role)
            result.user_ids[role] = user.id
    for role in Role:
        response = client.post(
            "/api/v1/auth/token",
            json={"email": f"{role.value}@{slug}.example", "password": PASSWORD},
        )
        assert response.status_code == 200, response.text
        result.headers[role] = {"Authorization": f"Bearer {response.json()['access_token']}"}
    return result


def sqlite_settings(data_dir: Path, **overrides: Any) -> Settings:
    """Settings of a test app on its own SQLite database in ``data_dir``: straight-line travel
    times, jobs in process, a fixed secret, one second of solver time (override any)."""
    values: dict[str, Any] = {
        "database_url": f"sqlite:///{data_dir / 'lastmile.db'}",
        "data_dir": data_dir,
        "use_roads": False,
        "jobs": "inline",
        "secret_key": "test-secret",
        "plan_time_limit_s": 1.0,
        **overrides,
    }
    return Settings(**values)
