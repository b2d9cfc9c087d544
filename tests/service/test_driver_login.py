"""A driver's login from the settings (issue 14, item 1): a one-time link and its QR code,
the same invitation as the members', linked to the driver on the driver app's first call."""

from __future__ import annotations

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
