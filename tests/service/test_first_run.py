"""The first-run sign-up (issue 14, item 0): a fresh install creates its organisation and
first admin in the browser; refused input changes nothing; afterwards the page is closed."""

from __future__ import annotations

import threading
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from lastmile.auth import service as auth
from lastmile.auth.models import User
from lastmile.core.errors import LastmileError
from lastmile.notifications import settings as notifications
from lastmile.orgs import service as orgs
from lastmile.orgs.models import Membership, Organisation

GOOD = {
    "organisation": "Blumen Meier",
    "timezone": "Europe/Zurich",
    "language": "de",
    "name": "Anna Meier",
    "email": "Anna@Blumen-Meier.example",
    "password": "tulips and roses",
    "password_again": "tulips and roses",
}


def _sessions(client: TestClient) -> sessionmaker[Session]:
    return client.app.state.sessions  # type: ignore[attr-defined, no-any-return]


def _counts(client: TestClient) -> tuple[int, int]:
    with _sessions(client)() as session:
        return (
            session.scalar(select(func.count()).select_from(Organisation)) or 0,
            session.scalar(select(func.count()).select_from(User)) or 0,
        )


def test_fresh_install_signs_up_its_owner_then_closes(client: TestClient) -> None:
    client.cookies.clear()
    r = client.get("/app/login", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/app/setup"
    r = client.get("/app/setup")
    assert r.status_code == 200 and "Europe/Zurich" in r.text

    # refused input: every problem named, nothing written
    bad = {**GOOD, "email": "not-an-address", "password": "short", "password_again": "short"}
    r = client.post("/app/setup", data=bad, follow_redirects=False)
    assert r.status_code == 422
    assert "E-mail is not an e-mail address" in r.text
    assert "at least 10 characters" in r.text
    assert _counts(client) == (0, 0)
    r = client.post(
        "/app/setup", data={**GOOD, "password_again": "other words"}, follow_redirects=False
    )
    assert r.status_code == 422 and "not the same" in r.text
    r = client.post("/app/setup", data={**GOOD, "timezone": "Mars/Olympus"}, follow_redirects=False)
    assert r.status_code == 422 and "Time zone is not an IANA time zone" in r.text
    assert _counts(client) == (0, 0)

    r = client.post("/app/setup", data=GOOD, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/app/settings?welcome=1"
    assert "lastmile_session" in r.cookies
    r = client.get("/app/settings?welcome=1")
    assert r.status_code == 200 and "Blumen Meier" in r.text and 'id="welcome"' in r.text
    with _sessions(client)() as session:
        org = orgs.get_by_name(session=session, name="Blumen Meier")
        assert org.timezone == "Europe/Zurich"
        user = auth.get_user_by_email(session=session, email="anna@blumen-meier.example")
        assert user.name == "Anna Meier"
        membership = session.scalar(select(Membership).where(Membership.user_id == user.id))
        assert membership is not None and membership.role == "admin"
        settings = notifications.get_settings(session=session, org_id=org.id)
        assert settings.notifications.language == "de"

    # closed: the form is gone and a forged post creates nothing, logged in or not
    client.cookies.clear()
    r = client.get("/app/setup", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/app/login"
    r = client.get("/app/login")
    assert r.status_code == 200 and 'name="password"' in r.text
    r = client.post(
        "/app/setup",
        data={**GOOD, "organisation": "Intruder", "email": "x@intruder.example"},
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == "/app/login"
    assert _counts(client) == (1, 1)


def test_two_simultaneous_sign_ups_make_one_organisation(client: TestClient) -> None:
    """Two owners submitting at the same moment: one organisation, the other is refused."""
    barrier = threading.Barrier(2)
    outcomes: list[Any] = []

    def sign_up(n: int) -> None:
        with _sessions(client)() as session:
            barrier.wait()
            try:
                auth.sign_up_first(
                    session=session,
                    org_name=f"Shop {n}",
                    timezone="Europe/Vaduz",
                    email=f"owner{n}@shop.example",
                    password="long enough password",
                )
                session.commit()
                outcomes.append("created")
            except LastmileError as exc:
                outcomes.append(exc.code)
            except Exception as exc:  # SQLite: the second writer may find the file locked
                outcomes.append(type(exc).__name__)

    threads = [threading.Thread(target=sign_up, args=(n,)) for n in (1, 2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert outcomes.count("created") == 1, outcomes
    orgs_count, users_count = _counts(client)
    assert (orgs_count, users_count) == (1, 1)
