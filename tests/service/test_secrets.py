"""Secrets are write-only (SQLite and PostgreSQL): SMS/chat provider URLs and webhook
passwords are never read back by any role, through the API or the dashboard, and an edit
that sends the masked value back keeps the stored secret (proved by a real send)."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient
from test_notifications import settled
from test_tracking import seed_day

from helpers.live import Receiver
from helpers.service import make_org
from lastmile.orgs.models import Role

pytestmark = pytest.mark.usefixtures("daytime")

TWILIO = "twilio://AC5ecretSid:T0pSecretToken@+15551234567/{phone}"


def test_provider_urls_are_masked_for_every_role(client: TestClient) -> None:
    org = make_org(client, "Secret Keeper")
    put = client.put(
        "/api/v1/notifications/settings",
        json={"notifications": {"sms_url": TWILIO, "chat_url": TWILIO}},
        headers=org.admin,
    )
    assert put.status_code == 200, put.text
    for response in [put] + [
        client.get("/api/v1/notifications/settings", headers=org.headers[role])
        for role in (Role.ADMIN, Role.DISPATCHER)
    ]:
        assert response.status_code == 200, response.text
        assert "T0pSecret" not in response.text and "5ecretSid" not in response.text
        shown = response.json()["notifications"]
        assert shown["sms_url"] == shown["chat_url"] == "twilio://********"
    driver = client.get("/api/v1/notifications/settings", headers=org.driver)
    assert driver.status_code == 403


def test_a_masked_url_sent_back_keeps_the_stored_one(
    client: TestClient, receiver_secret: Receiver
) -> None:
    gateway = receiver_secret.url.replace("http://", "json://") + "?:to={phone}&:key=Gw5ecret"
    settings = {"notifications": {"chat_url": gateway, "kinds": ["confirmed"]}}

    def edit_without_retyping(day: object) -> None:
        org = day.org  # type: ignore[attr-defined]
        body = client.get("/api/v1/notifications/settings", headers=org.admin).json()
        assert "Gw5ecret" not in json.dumps(body)
        body["notifications"]["language"] = "de"  # an unrelated change, URL left as shown
        saved = client.put("/api/v1/notifications/settings", json=body, headers=org.admin)
        assert saved.status_code == 200, saved.text
        assert saved.json()["notifications"]["language"] == "de"
        assert saved.json()["notifications"]["chat_url"] == "json://********"

    day = seed_day(
        client, "Secret Sender", settings=settings, before_dispatch=edit_without_retyping
    )
    rows = settled(client, day, 4)
    assert {r["status"] for r in rows} == {"sent"}, rows
    receiver_secret.wait_for(4)
    keys = {json.loads(body)["key"] for _, body in receiver_secret.requests}
    assert keys == {"Gw5ecret"}  # the stored URL, with its secret, was used


def test_a_mask_with_nothing_behind_it_is_refused_and_null_clears(client: TestClient) -> None:
    org = make_org(client, "Secret Clearer")
    url = "/api/v1/notifications/settings"
    refused = client.put(
        url, json={"notifications": {"sms_url": "twilio://********"}}, headers=org.admin
    )
    assert refused.status_code == 422, refused.text
    assert "notifications.sms_url" in refused.json()["detail"]
    assert "type the whole value" in refused.json()["detail"]
    client.put(url, json={"notifications": {"sms_url": TWILIO}}, headers=org.admin)
    other_scheme = client.put(
        url, json={"notifications": {"sms_url": "vonage://********"}}, headers=org.admin
    )
    assert other_scheme.status_code == 422  # not the mask of what is stored
    cleared = client.put(url, json={"notifications": {"sms_url": None}}, headers=org.admin)
    assert cleared.status_code == 200 and cleared.json()["notifications"]["sms_url"] is None


def test_webhook_passwords_are_not_read_back(client: TestClient) -> None:
    org = make_org(client, "Secret Hooks")
    created = client.post(
        "/api/v1/webhooks",
        json={"url": "https://shop:Hook5ecret@hooks.example.com/lastmile?x=1"},
        headers=org.admin,
    )
    assert created.status_code == 201, created.text
    assert created.json()["url"] == "https://shop:********@hooks.example.com/lastmile?x=1"
    assert created.json()["secret"]  # the signing key: shown this once
    listed = client.get("/api/v1/webhooks", headers=org.admin)
    assert listed.status_code == 200 and "Hook5ecret" not in listed.text
    assert created.json()["secret"] not in listed.text
    assert listed.json()[0]["url"] == "https://shop:********@hooks.example.com/lastmile?x=1"
    login = client.post(
        "/app/login",
        data={"email": "admin@secret-hooks.example", "password": "correct horse battery"},
        follow_redirects=False,
    )
    assert login.status_code == 303, login.text
    page = client.get("/app/settings")
    assert page.status_code == 200
    assert "hooks.example.com" in page.text and "Hook5ecret" not in page.text
    assert created.json()["secret"] not in page.text
    client.cookies.clear()


@pytest.fixture
def receiver_secret(monkeypatch: pytest.MonkeyPatch) -> object:
    monkeypatch.setenv("LASTMILE_PUBLIC_URL", "https://track.example")
    with Receiver() as r:
        yield r
