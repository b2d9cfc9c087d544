"""Invitations instead of adding other organisations' users (#13 item 4), and passwords:
change, admin reset, log out everywhere, the offline policy (#13 item 9)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker
from test_notifications import Inbox, inbox  # noqa: F401 (the fixture)

from helpers.service import PASSWORD, make_org
from lastmile.auth import passwords
from lastmile.auth import service as auth
from lastmile.common.web import SESSION_COOKIE
from lastmile.orgs.models import Role


def _invite(client: TestClient, headers: dict[str, str], email: str, role: str) -> httpx.Response:
    return client.post("/api/v1/members", json={"email": email, "role": role}, headers=headers)


def _token_of(response: httpx.Response) -> str:
    return str(response.json()["accept_url"]).rsplit("/", 1)[1]


def _bearer(client: TestClient, email: str, password: str) -> dict[str, str]:
    response = client.post("/api/v1/auth/token", json={"email": email, "password": password})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def test_inviting_reveals_nothing_and_adds_nobody_without_consent(client: TestClient) -> None:
    a = make_org(client, "Alpha")
    make_org(client, "Beta")
    existing = _invite(client, a.admin, "dispatcher@beta.example", "driver")
    unknown = _invite(client, a.admin, "nobody@beta.example", "driver")
    assert existing.status_code == unknown.status_code == 202
    # Same shape, no user id or name of the other organisation's user.
    assert existing.json().keys() == unknown.json().keys()
    assert "user_id" not in existing.json() and "name" not in existing.json()
    assert "dispatcher of Beta" not in existing.text
    # Beta's dispatcher is not a member of Alpha until they accept.
    emails = {m["email"] for m in client.get("/api/v1/members", headers=a.admin).json()}
    assert "dispatcher@beta.example" not in emails
    pending = client.get("/api/v1/invitations", headers=a.admin).json()
    assert {p["email"] for p in pending} == {"dispatcher@beta.example", "nobody@beta.example"}


def test_an_existing_user_accepts_only_when_logged_in(client: TestClient) -> None:
    a = make_org(client, "Alpha")
    b = make_org(client, "Beta")
    token = _token_of(_invite(client, a.admin, "dispatcher@beta.example", "driver"))
    # The link alone (e.g. the admin who made it) cannot take over or join the account.
    grab = client.post("/api/v1/invitations/accept", json={"token": token, "password": "x" * 12})
    assert grab.status_code == 401
    someone_else = client.post("/api/v1/invitations/accept", json={"token": token}, headers=b.admin)
    assert someone_else.status_code == 401
    ok = client.post("/api/v1/invitations/accept", json={"token": token}, headers=b.dispatcher)
    assert ok.status_code == 200 and ok.json()["organisation_id"] == a.org_id
    roles = {m["email"]: m["role"] for m in client.get("/api/v1/members", headers=a.admin).json()}
    assert roles["dispatcher@beta.example"] == "driver"
    # Their password still works; the link is used up.
    _bearer(client, "dispatcher@beta.example", PASSWORD)
    again = client.post("/api/v1/invitations/accept", json={"token": token}, headers=b.dispatcher)
    assert again.status_code == 404


def test_a_new_user_sets_a_password_and_withdrawn_links_die(client: TestClient) -> None:
    a = make_org(client, "Alpha")
    first = _token_of(_invite(client, a.admin, "new@alpha.example", "driver"))
    second = _invite(client, a.admin, "new@alpha.example", "dispatcher")
    # The newer invitation replaces the older one.
    assert (
        client.post(
            "/api/v1/invitations/accept", json={"token": first, "password": "a-long-secret-1"}
        ).status_code
        == 404
    )
    weak = client.post(
        "/api/v1/invitations/accept", json={"token": _token_of(second), "password": "password123"}
    )
    assert weak.status_code == 422 and weak.json()["errors"][0]["field"] == "password"
    done = client.post(
        "/api/v1/invitations/accept",
        json={"token": _token_of(second), "password": "a-long-secret-1", "name": "Nina"},
    )
    assert done.status_code == 200 and done.json()["role"] == "dispatcher"
    _bearer(client, "new@alpha.example", "a-long-secret-1")
    withdrawn = _invite(client, a.admin, "other@alpha.example", "driver")
    assert (
        client.delete(f"/api/v1/invitations/{withdrawn.json()['id']}", headers=a.admin).status_code
        == 204
    )
    assert (
        client.post(
            "/api/v1/invitations/accept",
            json={"token": _token_of(withdrawn), "password": "a-long-secret-1"},
        ).status_code
        == 404
    )


def test_invitations_are_admin_only_and_private(client: TestClient) -> None:
    a = make_org(client, "Alpha")
    b = make_org(client, "Beta")
    assert _invite(client, a.dispatcher, "x@alpha.example", "admin").status_code == 403
    mine = _invite(client, a.admin, "x@alpha.example", "driver").json()["id"]
    assert client.get("/api/v1/invitations", headers=b.admin).json() == []
    assert client.delete(f"/api/v1/invitations/{mine}", headers=b.admin).status_code == 404


@pytest.mark.parametrize(
    ("password", "problem"),
    [
        ("short-1", "at least 10"),
        ("admin@alpha.example", "e-mail"),
        ("Password123", "common"),
        ("qwertyuiop", "common"),
    ],
)
def test_password_policy(password: str, problem: str) -> None:
    found = passwords.problems(password, "admin@alpha.example")
    assert any(problem in p for p in found), found
    assert passwords.problems("lilac van at dawn", "admin@alpha.example") == []
    assert len(passwords.common_passwords()) > 19000


def test_change_password_keeps_this_session_and_ends_the_others(client: TestClient) -> None:
    org = make_org(client, "Alpha")
    email = "dispatcher@alpha.example"
    other = _bearer(client, email, PASSWORD)
    wrong = client.post(
        "/api/v1/auth/password",
        json={"current_password": "not-it-at-all", "new_password": "a-brand-new-one"},
        headers=org.dispatcher,
    )
    assert wrong.status_code == 422 and wrong.json()["errors"][0]["field"] == "current_password"
    weak = client.post(
        "/api/v1/auth/password",
        json={"current_password": PASSWORD, "new_password": "iloveyou123"},
        headers=org.dispatcher,
    )
    assert weak.status_code == 422 and weak.json()["errors"][0]["field"] == "new_password"
    changed = client.post(
        "/api/v1/auth/password",
        json={"current_password": PASSWORD, "new_password": "a-brand-new-one"},
        headers=org.dispatcher,
    )
    assert changed.status_code == 204, changed.text
    assert client.get("/api/v1/auth/me", headers=org.dispatcher).status_code == 200
    assert client.get("/api/v1/auth/me", headers=other).status_code == 401
    client.cookies.clear()
    assert (
        client.post("/api/v1/auth/token", json={"email": email, "password": PASSWORD}).status_code
        == 401
    )
    _bearer(client, email, "a-brand-new-one")


def test_logout_everywhere_revokes_sessions_and_bearer_tokens(client: TestClient) -> None:
    org = make_org(client, "Alpha")
    email = "driver@alpha.example"
    second = _bearer(client, email, PASSWORD)
    sessions: sessionmaker[Session] = client.app.state.sessions  # type: ignore[attr-defined]
    with sessions() as session:
        browser = auth.issue_token(
            session=session,
            user_id=org.user_ids[Role.DRIVER],
            org_id=org.org_id,
            ttl_s=600,
            kind="session",
        )
    client.cookies.clear()
    client.cookies.set(SESSION_COOKIE, browser)
    assert client.get("/api/v1/auth/me").status_code == 200
    client.cookies.clear()
    assert client.post("/api/v1/auth/logout-everywhere", headers=second).status_code == 204
    for headers in (org.driver, second):
        assert client.get("/api/v1/auth/me", headers=headers).status_code == 401
    client.cookies.set(SESSION_COOKIE, browser)
    assert client.get("/api/v1/auth/me").status_code == 401
    client.cookies.clear()
    # Other users are untouched.
    assert client.get("/api/v1/auth/me", headers=org.admin).status_code == 200


def test_admin_reset_logs_out_and_gives_a_one_time_link(client: TestClient) -> None:
    a = make_org(client, "Alpha")
    b = make_org(client, "Beta")
    members = {m["email"]: m["id"] for m in client.get("/api/v1/members", headers=a.admin).json()}
    reset = client.post(
        f"/api/v1/members/{members['driver@alpha.example']}/password-reset", headers=a.admin
    )
    assert reset.status_code == 201
    assert client.get("/api/v1/auth/me", headers=a.driver).status_code == 401
    token = _token_of(reset)
    used = client.post(
        "/api/v1/invitations/accept", json={"token": token, "password": "fresh-driver-secret"}
    )
    assert used.status_code == 200
    _bearer(client, "driver@alpha.example", "fresh-driver-secret")
    assert (
        client.post(
            "/api/v1/invitations/accept", json={"token": token, "password": "another-secret-9"}
        ).status_code
        == 404
    )
    # Another organisation's admin cannot reset Alpha's members.
    assert (
        client.post(
            f"/api/v1/members/{members['dispatcher@alpha.example']}/password-reset",
            headers=b.admin,
        ).status_code
        == 404
    )
    # An account that another organisation also uses is not Alpha's to reset.
    token = _token_of(_invite(client, a.admin, "dispatcher@beta.example", "driver"))
    client.post("/api/v1/invitations/accept", json={"token": token}, headers=b.dispatcher)
    shared = {m["email"]: m["id"] for m in client.get("/api/v1/members", headers=a.admin).json()}
    refused = client.post(
        f"/api/v1/members/{shared['dispatcher@beta.example']}/password-reset", headers=a.admin
    )
    assert refused.status_code == 409
    assert client.get("/api/v1/auth/me", headers=b.dispatcher).status_code == 200


def test_cli_create_user_on_an_existing_account(tmp_path: Path) -> None:
    """Before: it printed success and silently kept the old password."""
    env = {
        **os.environ,
        "LASTMILE_DATA_DIR": str(tmp_path),
        "LASTMILE_SECRET_KEY": "cli-test",
        "LASTMILE_USE_ROADS": "false",
    }
    run = [sys.executable, "-m", "lastmile.cli", "admin"]
    created = subprocess.run(
        [*run, "create-org", "Shop", "--admin-email", "o@shop.example", "--password", PASSWORD],
        env=env,
        capture_output=True,
        text=True,
    )
    assert created.returncode == 0, created.stderr
    args = [*run, "create-user", "--org", "Shop", "--email", "o@shop.example", "--role", "admin"]
    refused = subprocess.run(
        [*args, "--password", "other-long-secret"], env=env, capture_output=True, text=True
    )
    assert refused.returncode == 1 and "--update-password" in refused.stderr
    weak = subprocess.run(
        [*args, "--password", "password1", "--update-password"],
        env=env,
        capture_output=True,
        text=True,
    )
    assert weak.returncode == 1 and "password" in weak.stderr
    updated = subprocess.run(
        [*args, "--password", "other-long-secret", "--update-password"],
        env=env,
        capture_output=True,
        text=True,
    )
    assert updated.returncode == 0 and "password updated" in updated.stdout
    from lastmile.auth.security import verify_password
    from lastmile.db import create_db_engine, session_factory

    engine = create_db_engine(f"sqlite:///{tmp_path / 'lastmile.db'}")
    with session_factory(engine)() as session:
        user = auth.get_user_by_email(session=session, email="o@shop.example")
        assert verify_password(user.password_hash, "other-long-secret")
    engine.dispose()


def _csrf(page: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found, page[:500]
    return found.group(1)


def test_dashboard_invitation_and_account_pages(client: TestClient) -> None:
    a = make_org(client, "Alpha")
    client.cookies.clear()
    token = _token_of(_invite(client, a.admin, "courier@alpha.example", "driver"))
    page = client.get(f"/app/invite/{token}")
    assert page.status_code == 200 and "Join Alpha" in page.text and "driver" in page.text
    differ = client.post(
        f"/app/invite/{token}",
        data={"password": "a-long-secret-1", "repeat_password": "a-long-secret-2"},
    )
    assert differ.status_code == 422 and "differ" in differ.text
    done = client.post(
        f"/app/invite/{token}",
        data={"password": "a-long-secret-1", "repeat_password": "a-long-secret-1", "name": "Cy"},
    )
    assert done.status_code == 200 and "Your password is set" in done.text
    assert client.get(f"/app/invite/{token}").status_code == 404
    # The new member changes the password on the Account page, then logs out everywhere.
    login = client.post(
        "/app/login",
        data={"email": "dispatcher@alpha.example", "password": PASSWORD},
        follow_redirects=False,
    )
    assert login.status_code == 303, login.text
    account = client.get("/app/account")
    assert account.status_code == 200 and "Change password" in account.text
    csrf = _csrf(account.text)
    changed = client.post(
        "/app/account/password",
        data={
            "csrf": csrf,
            "current_password": PASSWORD,
            "new_password": "dispatcher-new-secret",
            "repeat_password": "dispatcher-new-secret",
        },
        follow_redirects=False,
    )
    assert changed.status_code == 303 and changed.headers["location"].endswith("done=password")
    assert client.get("/api/v1/auth/me", headers=a.dispatcher).status_code == 401
    assert client.get("/app/account").status_code == 200  # this session stays
    out = client.post("/app/account/logout-everywhere", data={"csrf": csrf}, follow_redirects=False)
    assert out.status_code == 303
    assert client.get("/app/account", follow_redirects=False).status_code == 303
    client.cookies.clear()


def test_the_invitation_is_emailed_when_the_server_sends_mail(
    client: TestClient,
    inbox: Inbox,  # noqa: F811 (the fixture imported above)
) -> None:
    a = make_org(client, "Alpha")
    invited = _invite(client, a.admin, "anna@alpha.example", "driver")
    assert invited.status_code == 202 and invited.json()["emailed"] is True
    [mail] = inbox.to("anna@alpha.example")
    assert "Alpha" in mail["Subject"]
    assert invited.json()["accept_url"] in mail.get_content()
