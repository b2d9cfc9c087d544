"""A driver's login from the settings (issue 14, item 1): a one-time link and its QR code,
the same invitation as the members', linked to the driver on the driver app's first call."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from helpers.service import make_org

NEW_PASSWORD = "vans at dawn 2026"


def _link(client: TestClient, headers: dict[str, str], driver_id: str, email: str) -> dict:  # type: ignore[type-arg]
    r = client.post(f"/api/v1/drivers/{driver_id}/login", json={"email": email}, headers=headers)
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


def test_a_new_driver_gets_a_login_link_and_the_app_links_it(client: TestClient) -> None:
    shop = make_org(client, "Login Co")
    other = make_org(client, "Other Login Co")
    r = client.post("/api/v1/drivers", json={"name": "Dana"}, headers=shop.dispatcher)
    driver = r.json()
    assert driver["login_invited"] is False and driver["user_id"] is None
    url = f"/api/v1/drivers/{driver['id']}/login"
    assert (
        client.post(url, json={"email": "dana@x.example"}, headers=shop.dispatcher).status_code
        == 403
    )
    assert (
        client.post(url, json={"email": "dana@x.example"}, headers=other.admin).status_code == 404
    )
    r = client.post(url, json={"email": "not an address"}, headers=shop.admin)
    assert r.status_code == 422 and "email" in r.text

    login = _link(client, shop.admin, driver["id"], "Dana@Shop.example")
    assert login["email"] == "dana@shop.example"
    path = login["accept_url"].split("://", 1)[1].split("/", 1)[1]
    assert path.startswith("app/invite/")
    assert login["qr_svg"].startswith("<svg") and "<path" in login["qr_svg"]
    assert login["emailed"] is False  # this server sends no mail
    shown = client.get(f"/api/v1/drivers/{driver['id']}", headers=shop.dispatcher).json()
    assert shown["login_invited"] is True

    # the driver opens the link on the phone and sets a password: a driver of this shop
    client.cookies.clear()
    r = client.post(
        f"/{path}",
        data={"password": NEW_PASSWORD, "repeat_password": NEW_PASSWORD, "name": "Dana"},
    )
    assert r.status_code == 200, r.text
    client.cookies.clear()
    token = client.post(
        "/api/v1/auth/token", json={"email": "dana@shop.example", "password": NEW_PASSWORD}
    ).json()["access_token"]
    phone = {"Authorization": f"Bearer {token}"}
    r = client.get("/api/v1/driver/route", headers=phone)
    assert r.status_code == 200, r.text  # linked on the first call: no "ask a dispatcher"
    assert r.json()["route"] is None
    linked = client.get(f"/api/v1/drivers/{driver['id']}", headers=shop.dispatcher).json()
    assert linked["user_id"] is not None and linked["login_invited"] is False
    # a driver who has a login gets no second one
    r = client.post(url, json={"email": "dana2@shop.example"}, headers=shop.admin)
    assert r.status_code == 409


def test_an_unused_link_links_nobody(client: TestClient) -> None:
    """A driver login that accepted some other invitation is not linked to this driver."""
    shop = make_org(client, "Unused Co")
    driver = client.post("/api/v1/drivers", json={"name": "Eli"}, headers=shop.admin).json()
    _link(client, shop.admin, driver["id"], "eli@shop.example")
    # the organisation's own driver login (a member, not invited for Eli) is not linked to Eli
    r = client.get("/api/v1/driver/route", headers=shop.driver)
    assert r.status_code == 403 and "Settings" in r.text
    shown = client.get(f"/api/v1/drivers/{driver['id']}", headers=shop.admin).json()
    assert shown["user_id"] is None and shown["login_invited"] is True


def test_a_german_shops_driver_reads_the_login_page_in_german(client: TestClient) -> None:
    """The link opens on the driver's phone before the driver app does: in the organisation's
    language, with the name the owner typed, the password rules' refusals in German too."""
    from sqlalchemy.orm import Session, sessionmaker

    from lastmile.common.i18n import missing
    from lastmile.orgs.models import Organisation
    from lastmile.web.invite_texts import TEXT

    assert missing(TEXT) == {}

    shop = make_org(client, "Blumen Link")
    sessions: sessionmaker[Session] = client.app.state.sessions  # type: ignore[attr-defined]
    with sessions() as session:
        org = session.get(Organisation, shop.org_id)
        assert org is not None
        org.settings = {**(org.settings or {}), "notifications": {"language": "de"}}
        session.commit()
    driver = client.post("/api/v1/drivers", json={"name": "Dana Marxer"}, headers=shop.admin)
    login = _link(client, shop.admin, driver.json()["id"], "dana@blumen.example")
    path = "/" + login["accept_url"].split("://", 1)[1].split("/", 1)[1]
    client.cookies.clear()
    page = client.get(path).text
    assert "Willkommen bei Blumen Link" in page and "Fahrerin oder Fahrer" in page
    assert 'value="Dana Marxer"' in page and "Konto anlegen und beitreten" in page
    assert "Choose a password" not in page
    r = client.post(path, data={"password": "password123", "repeat_password": "password123"})
    assert r.status_code == 422 and "eines der häufigsten" in r.text
    r = client.post(path, data={"password": NEW_PASSWORD, "repeat_password": "other words 1"})
    assert r.status_code == 422 and "nicht gleich" in r.text
    r = client.post(path, data={"password": NEW_PASSWORD, "repeat_password": NEW_PASSWORD})
    assert r.status_code == 200 and "ist gesetzt" in r.text and "Anmelden" in r.text
    # staff invitations stay in the dashboard's English
    r = client.post(
        "/api/v1/members",
        json={"email": "otto@blumen.example", "role": "dispatcher"},
        headers=shop.admin,
    )
    assert r.status_code == 202, r.text
    staff = "/" + r.json()["accept_url"].split("://", 1)[1].split("/", 1)[1]
    assert "Join Blumen Link" in client.get(staff).text


def test_the_apps_first_calls_at_once_both_find_the_driver(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The driver app's first calls (its route and its live stream) come together: the one
    that finds the login not linked yet while the other links it must not answer 403 (seen in
    the owner's first-day test as a 403 of /driver/stream)."""
    from sqlalchemy.orm import Session, sessionmaker

    from lastmile.fleet import service as fleet

    shop = make_org(client, "Race Co")
    driver = client.post("/api/v1/drivers", json={"name": "Rita"}, headers=shop.admin).json()
    login = _link(client, shop.admin, driver["id"], "rita@race.example")
    path = "/" + login["accept_url"].split("://", 1)[1].split("/", 1)[1]
    client.cookies.clear()
    r = client.post(path, data={"password": NEW_PASSWORD, "repeat_password": NEW_PASSWORD})
    assert r.status_code == 200, r.text
    client.cookies.clear()
    token = client.post(
        "/api/v1/auth/token", json={"email": "rita@race.example", "password": NEW_PASSWORD}
    ).json()["access_token"]
    sessions: sessionmaker[Session] = client.app.state.sessions  # type: ignore[attr-defined]
    link = fleet.link_invited

    def the_other_call_links_it_first(**kwargs: Any) -> None:
        with sessions() as other:
            assert link(**{**kwargs, "session": other}) is not None
        return None  # this call finds nothing left to link

    monkeypatch.setattr(fleet, "link_invited", the_other_call_links_it_first)
    r = client.get("/api/v1/driver/route", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200, r.text
