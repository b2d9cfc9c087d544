"""Members of an organisation: admins list, invite, change roles and remove; nobody else can."""

from __future__ import annotations

from fastapi.testclient import TestClient

from helpers.service import make_org


def test_admin_manages_members(client: TestClient) -> None:
    org = make_org(client, "Alpha")
    listed = client.get("/api/v1/members", headers=org.admin)
    assert listed.status_code == 200
    assert {(m["email"], m["role"]) for m in listed.json()} == {
        ("admin@alpha.example", "admin"),
        ("dispatcher@alpha.example", "dispatcher"),
        ("driver@alpha.example", "driver"),
    }
    invited = client.post(
        "/api/v1/members", json={"email": "new@alpha.example", "role": "driver"}, headers=org.admin
    )
    assert invited.status_code == 202
    token = invited.json()["accept_url"].rsplit("/", 1)[1]
    accepted = client.post(
        "/api/v1/invitations/accept", json={"token": token, "password": "a-new-password"}
    )
    assert accepted.status_code == 200, accepted.text
    login = client.post(
        "/api/v1/auth/token", json={"email": "new@alpha.example", "password": "a-new-password"}
    )
    assert login.status_code == 200 and login.json()["role"] == "driver"
    promoted = client.post(
        "/api/v1/members",
        json={"email": "new@alpha.example", "role": "dispatcher"},
        headers=org.admin,
    )
    assert promoted.status_code == 200 and promoted.json()["role"] == "dispatcher"
    roles = {m["email"]: m["role"] for m in client.get("/api/v1/members", headers=org.admin).json()}
    assert roles["new@alpha.example"] == "dispatcher"
    assert (
        client.delete(f"/api/v1/members/{promoted.json()['id']}", headers=org.admin).status_code
        == 204
    )
    assert "new@alpha.example" not in {
        m["email"] for m in client.get("/api/v1/members", headers=org.admin).json()
    }
    me = next(
        m
        for m in client.get("/api/v1/members", headers=org.admin).json()
        if m["email"] == "admin@alpha.example"
    )
    assert client.delete(f"/api/v1/members/{me['id']}", headers=org.admin).status_code == 409


def test_members_are_admin_only_and_private(client: TestClient) -> None:
    a = make_org(client, "Alpha")
    b = make_org(client, "Beta")
    assert client.get("/api/v1/members", headers=a.dispatcher).status_code == 403
    assert (
        client.post(
            "/api/v1/members",
            json={"email": "x@alpha.example", "role": "admin"},
            headers=a.driver,
        ).status_code
        == 403
    )
    theirs = client.get("/api/v1/members", headers=a.admin).json()[0]["id"]
    assert client.delete(f"/api/v1/members/{theirs}", headers=b.admin).status_code == 404
    assert {m["email"] for m in client.get("/api/v1/members", headers=b.admin).json()} == {
        "admin@beta.example",
        "dispatcher@beta.example",
        "driver@beta.example",
    }
