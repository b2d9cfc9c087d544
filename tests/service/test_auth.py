"""Logins, tokens, API keys, roles, rate limiting, CSRF for cookie sessions."""

from __future__ import annotations

from fastapi.testclient import TestClient

from helpers.service import PASSWORD, make_org
from lastmile.auth import service as auth
from lastmile.orgs import service as orgs
from lastmile.orgs.models import Role


def test_token_login_and_me(client: TestClient) -> None:
    org = make_org(client, "Florist")
    me = client.get("/api/v1/auth/me", headers=org.dispatcher)
    assert me.status_code == 200
    body = me.json()
    assert body["organisation_id"] == org.org_id and body["role"] == "dispatcher"
    assert body["email"] == "dispatcher@florist.example"


def test_wrong_password_is_401_problem_json(client: TestClient) -> None:
    make_org(client, "Florist")
    response = client.post(
        "/api/v1/auth/token", json={"email": "admin@florist.example", "password": "nope-nope"}
    )
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["code"] == "unauthorized"
    unknown = client.post(
        "/api/v1/auth/token", json={"email": "ghost@nowhere.example", "password": "whatever1"}
    )
    assert unknown.status_code == 401 and unknown.json()["detail"] == response.json()["detail"]


def test_login_is_rate_limited(client: TestClient) -> None:
    make_org(client, "Florist")
    codes = [
        client.post(
            "/api/v1/auth/token", json={"email": "admin@florist.example", "password": f"bad-{i}"}
        ).status_code
        for i in range(6)
    ]
    assert codes[:5] == [401] * 5 and codes[5] == 429
    # Even the right password is refused while limited.
    blocked = client.post(
        "/api/v1/auth/token", json={"email": "admin@florist.example", "password": PASSWORD}
    )
    assert blocked.status_code == 429 and "Retry-After" in blocked.headers


def test_requests_without_credentials_are_401(client: TestClient) -> None:
    assert client.get("/api/v1/auth/me").status_code == 401
    assert (
        client.get("/api/v1/auth/me", headers={"Authorization": "Bearer lmt_forged"}).status_code
        == 401
    )


def test_api_keys_admin_only_shown_once_and_revocable(client: TestClient) -> None:
    org = make_org(client, "Pharmacy")
    assert (
        client.post("/api/v1/api-keys", json={"name": "shop"}, headers=org.dispatcher).status_code
        == 403
    )
    created = client.post(
        "/api/v1/api-keys", json={"name": "shop", "role": "dispatcher"}, headers=org.admin
    )
    assert created.status_code == 201
    key = created.json()["key"]
    assert key.startswith("lmk_")
    listed = client.get("/api/v1/api-keys", headers=org.admin).json()
    assert "key" not in listed[0] and listed[0]["prefix"] == key[:10]
    me = client.get("/api/v1/auth/me", headers={"X-API-Key": key})
    assert me.status_code == 200 and me.json()["organisation_id"] == org.org_id
    assert (
        client.delete(f"/api/v1/api-keys/{created.json()['id']}", headers=org.admin).status_code
        == 200
    )
    assert client.get("/api/v1/auth/me", headers={"X-API-Key": key}).status_code == 401


def test_user_in_two_organisations_chooses_one(client: TestClient) -> None:
    a = make_org(client, "Alpha")
    b = make_org(client, "Beta")
    sessions = client.app.state.sessions  # type: ignore[attr-defined]
    with sessions() as session:
        user = auth.get_user_by_email(session=session, email="dispatcher@alpha.example")
        orgs.add_member(session=session, org_id=b.org_id, user_id=user.id, role=Role.ADMIN)
    token = client.post(
        "/api/v1/auth/token",
        json={"email": "dispatcher@alpha.example", "password": PASSWORD, "organisation": "Beta"},
    ).json()
    assert token["organisation_id"] == b.org_id and token["role"] == "admin"
    me = client.get(
        "/api/v1/auth/me", headers={"Authorization": f"Bearer {token['access_token']}"}
    ).json()
    assert {o["name"] for o in me["organisations"]} == {"Alpha", "Beta"}
    refused = client.post(
        "/api/v1/auth/token",
        json={"email": "driver@alpha.example", "password": PASSWORD, "organisation": "Beta"},
    )
    assert refused.status_code == 401
    assert a.org_id != b.org_id


def test_cookie_session_needs_csrf_token_for_writes(client: TestClient) -> None:
    from lastmile.auth.deps import csrf_token
    from lastmile.common.web import CSRF_HEADER, SESSION_COOKIE

    org = make_org(client, "Florist")
    sessions = client.app.state.sessions  # type: ignore[attr-defined]
    with sessions() as session:
        token = auth.issue_token(
            session=session,
            user_id=org.user_ids[Role.ADMIN],
            org_id=org.org_id,
            ttl_s=600,
            kind="session",
        )
    cookie = {"Cookie": f"{SESSION_COOKIE}={token}"}
    assert client.get("/api/v1/auth/me", headers=cookie).status_code == 200
    no_csrf = client.post("/api/v1/api-keys", json={"name": "x"}, headers=cookie)
    assert no_csrf.status_code == 403 and "CSRF" in no_csrf.json()["detail"]
    wrong = client.post(
        "/api/v1/api-keys", json={"name": "x"}, headers={**cookie, CSRF_HEADER: "forged"}
    )
    assert wrong.status_code == 403
    good = csrf_token(client.app.state.settings, token)  # type: ignore[attr-defined]
    ok = client.post("/api/v1/api-keys", json={"name": "x"}, headers={**cookie, CSRF_HEADER: good})
    assert ok.status_code == 201
