"""The address book through the API, on SQLite and PostgreSQL: an address is geocoded once,
confirmed or moved by a person, and every order for it reuses that location; search; one
organisation never reaches another's customers or addresses."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from helpers.service import OrgUsers, make_org

DAY = "2026-11-27"


def _customer(client: TestClient, org: OrgUsers, **body: Any) -> dict[str, Any]:
    r = client.post("/api/v1/customers", json=body, headers=org.dispatcher)
    assert r.status_code == 201, r.text
    data: dict[str, Any] = r.json()
    return data


def _order(client: TestClient, org: OrgUsers, customer_id: str, **body: Any) -> dict[str, Any]:
    r = client.post(
        f"/api/v1/customers/{customer_id}/orders",
        json={"date": DAY, **body},
        headers=org.dispatcher,
    )
    assert r.status_code == 201, r.text
    data: dict[str, Any] = r.json()["order"]
    return data


def test_an_address_is_geocoded_once_confirmed_and_reused_by_every_order(
    client: TestClient,
) -> None:
    org = make_org(client, "Bakery")
    anna = _customer(
        client,
        org,
        name="Anna Beck",
        phone="+423 111 11 11",
        email="anna@example.li",
        preferred_windows=[{"start": "08:00", "end": "10:00"}],
        addresses=[
            {"address": "Landstr. 19, 9490 Vaduz", "label": "home", "instructions": "ring twice"}
        ],
    )
    (home,) = anna["addresses"]
    assert home["verdict"] == "corrected" and home["lon"] is not None
    assert home["geocoded_at"] is not None and home["confirmed"] is False
    looked_up = home["geocoded_at"]
    base = f"/api/v1/customers/{anna['id']}/addresses/{home['id']}"

    # The owner drags the pin to the back door: that spot is the customer's from now on.
    door = {"lon": 9.51801, "lat": 47.14377}
    r = client.patch(base, json=door, headers=org.dispatcher)
    assert r.status_code == 200, r.text
    assert r.json()["confirmed"] is True and r.json()["verdict"] == "given"

    first = _order(client, org, anna["id"], description="bread basket")
    second = _order(client, org, anna["id"], address_id=home["id"], windows=[])
    for order in (first, second):
        assert (order["lon"], order["lat"]) == (door["lon"], door["lat"])
        assert order["address_verdict"] == "given" and order["status"] == "ready"
        assert order["customer"] == "Anna Beck" and order["phone"] == "+423 111 11 11"
        assert order["email"] == "anna@example.li" and order["notes"].startswith("ring twice")
    assert first["windows"] == [{"start": "08:00", "end": "10:00"}]  # her preferred window
    assert second["windows"] == []  # said otherwise
    assert first["external_id"] != second["external_id"]

    again = client.get(f"/api/v1/customers/{anna['id']}", headers=org.dispatcher).json()
    assert again["addresses"][0]["geocoded_at"] == looked_up  # never looked up again
    assert again["orders"] == 2
    listed = client.get(f"/api/v1/customers/{anna['id']}/orders", headers=org.dispatcher).json()
    assert {o["id"] for o in listed} == {first["id"], second["id"]}

    # A spelling change keeps the pin; another street is looked up again and needs confirming.
    r = client.patch(base, json={"address": "landstr 19  9490 VADUZ"}, headers=org.dispatcher)
    assert r.json()["confirmed"] is True and r.json()["lon"] == door["lon"]
    r = client.patch(
        base, json={"address": "Foppastrasse 3, 9497 Triesenberg"}, headers=org.dispatcher
    )
    moved = r.json()
    assert moved["confirmed"] is False and moved["verdict"] == "exact"
    assert moved["lon"] != door["lon"] and moved["geocoded_at"] != looked_up
    r = client.patch(base, json={"confirmed": True}, headers=org.dispatcher)
    assert r.status_code == 200 and r.json()["confirmed"] is True


def test_an_address_the_map_cannot_place_needs_its_pin_before_an_order(client: TestClient) -> None:
    org = make_org(client, "Florist")
    fritz = _customer(
        client, org, name="Fritz Nigg", addresses=[{"address": "Nirgendwostrasse 999, 9490 Vaduz"}]
    )
    (nowhere,) = fritz["addresses"]
    assert nowhere["lon"] is None and nowhere["verdict"] in ("not_found", "ambiguous")
    r = client.post(
        f"/api/v1/customers/{fritz['id']}/orders", json={"date": DAY}, headers=org.dispatcher
    )
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "address_id"
    assert "not on the map" in r.json()["errors"][0]["message"]
    base = f"/api/v1/customers/{fritz['id']}/addresses/{nowhere['id']}"
    r = client.patch(base, json={"confirmed": True}, headers=org.dispatcher)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "confirmed"
    client.patch(base, json={"lon": 9.52, "lat": 47.14}, headers=org.dispatcher)
    order = _order(client, org, fritz["id"])
    assert (order["lon"], order["lat"]) == (9.52, 47.14)
    # An address sent with coordinates is not looked up at all.
    r = client.post(
        f"/api/v1/customers/{fritz['id']}/addresses",
        json={"address": "Office, Vaduz", "lon": 9.5, "lat": 47.1},
        headers=org.dispatcher,
    )
    assert r.status_code == 201 and r.json()["geocoded_at"] is None and r.json()["confirmed"]


def test_search_by_name_phone_email_and_street(client: TestClient) -> None:
    org = make_org(client, "Pharmacy")
    _customer(client, org, name="Clara Marxer", phone="+423 333 44 55", addresses=[
        {"address": "Foppastrasse 3, 9497 Triesenberg"}])  # fmt: skip
    _customer(client, org, name="Bruno Frick", email="bruno@frick.li")
    _customer(client, org, name="Dora Vogt")

    def names(q: str) -> list[str]:
        r = client.get("/api/v1/customers", params={"q": q}, headers=org.dispatcher)
        assert r.status_code == 200, r.text
        return [c["name"] for c in r.json()["items"]]

    assert names("") == ["Bruno Frick", "Clara Marxer", "Dora Vogt"]
    assert names("marx") == ["Clara Marxer"]
    assert names("3334455") == ["Clara Marxer"]
    assert names("foppa") == ["Clara Marxer"]
    assert names("FRICK.LI") == ["Bruno Frick"]
    assert names("100%_") == []
    page = client.get("/api/v1/customers?limit=2&offset=2", headers=org.dispatcher).json()
    assert page["total"] == 3 and [c["name"] for c in page["items"]] == ["Dora Vogt"]


def test_validation_names_the_field(client: TestClient) -> None:
    org = make_org(client, "Shop")
    r = client.post(
        "/api/v1/customers",
        json={"name": "X", "preferred_windows": [{"start": "12:00", "end": "09:00"}]},
        headers=org.dispatcher,
    )
    assert r.status_code == 422 and "preferred_windows" in r.text
    r = client.post(
        "/api/v1/customers",
        json={"name": "X", "addresses": [{"address": "Somewhere", "lon": 9.5}]},
        headers=org.dispatcher,
    )
    assert r.status_code == 422 and "lon and lat" in r.text


def test_one_organisation_never_reaches_another_ones_customers(client: TestClient) -> None:
    mine, theirs = make_org(client, "Mine"), make_org(client, "Theirs")
    secret = _customer(
        client,
        theirs,
        name="Their Customer",
        addresses=[{"address": "X 1", "lon": 9.5, "lat": 47.1}],
    )
    own = _customer(
        client, mine, name="Mine", addresses=[{"address": "Y 2", "lon": 9.5, "lat": 47.1}]
    )
    cid, aid = secret["id"], secret["addresses"][0]["id"]
    h = mine.dispatcher
    calls = [
        ("GET", f"/api/v1/customers/{cid}", None),
        ("PATCH", f"/api/v1/customers/{cid}", {"name": "taken"}),
        ("DELETE", f"/api/v1/customers/{cid}", None),
        ("POST", f"/api/v1/customers/{cid}/addresses", {"address": "Z 3", "lon": 9.5, "lat": 47.1}),
        ("PATCH", f"/api/v1/customers/{cid}/addresses/{aid}", {"confirmed": True}),
        ("DELETE", f"/api/v1/customers/{cid}/addresses/{aid}", None),
        ("GET", f"/api/v1/customers/{cid}/orders", None),
        ("POST", f"/api/v1/customers/{cid}/orders", {"date": DAY}),
        # their address under my customer is not found either
        ("PATCH", f"/api/v1/customers/{own['id']}/addresses/{aid}", {"confirmed": True}),
        ("POST", f"/api/v1/customers/{own['id']}/orders", {"address_id": aid, "date": DAY}),
    ]
    for method, url, body in calls:
        r = client.request(method, url, json=body, headers=h)
        assert r.status_code == 404, (method, url, r.status_code, r.text)
    assert [c["name"] for c in client.get("/api/v1/customers", headers=h).json()["items"]] == [
        "Mine"
    ]
    assert client.get("/api/v1/customers?q=their", headers=h).json()["total"] == 0
    after = client.get(f"/api/v1/customers/{cid}", headers=theirs.dispatcher).json()
    assert after["name"] == "Their Customer" and len(after["addresses"]) == 1
    assert client.get("/api/v1/customers", headers=mine.driver).status_code == 403
    r = client.delete(f"/api/v1/customers/{own['id']}", headers=h)
    assert r.status_code == 204
    assert client.get(f"/api/v1/customers/{own['id']}", headers=h).status_code == 404


def test_forgetting_a_customer_removes_them_from_the_address_book(client: TestClient) -> None:
    org = make_org(client, "Forgetful")
    gone = _customer(
        client, org, name="Erin Erase", email="erin@example.li",
        addresses=[{"address": "Landstrasse 19, 9490 Vaduz"}],
    )  # fmt: skip
    kept = _customer(
        client, org, name="Kim Keep", addresses=[{"address": "X 1", "lon": 9.5, "lat": 47.1}]
    )
    order = _order(client, org, gone["id"])
    _order(client, org, kept["id"])
    r = client.post("/api/v1/customers/erase", json={"email": "erin@example.li"}, headers=org.admin)
    assert r.status_code == 200 and r.json()["order_ids"] == [order["id"]], r.text
    assert client.get(f"/api/v1/customers/{gone['id']}", headers=org.dispatcher).status_code == 404
    names = [
        c["name"] for c in client.get("/api/v1/customers", headers=org.dispatcher).json()["items"]
    ]
    assert names == ["Kim Keep"]
    assert (
        client.get(f"/api/v1/orders/{order['id']}", headers=org.dispatcher).json()["customer"]
        == "(erased)"
    )


def test_imported_orders_for_a_known_address_take_its_pin_not_the_geocoder(
    client: TestClient,
) -> None:
    from lastmile.common.jobs import JobContext
    from lastmile.jobs.registry import run

    org = make_org(client, "Importer")
    anna = _customer(
        client, org, name="Anna Beck", addresses=[{"address": "Landstr. 19, 9490 Vaduz"}]
    )
    door = {"lon": 9.51801, "lat": 47.14377}
    client.patch(
        f"/api/v1/customers/{anna['id']}/addresses/{anna['addresses'][0]['id']}",
        json=door,
        headers=org.dispatcher,
    )
    csv = (
        "id,address,customer\n"
        'I1,"landstrasse 19, 9490 VADUZ",Anna Beck\n'  # her door, typed otherwise
        'I2,"Landstrasse 19, 9490 Vaduz",Somebody Else\n'  # same door, not her
        'I3,"Foppastrasse 3, 9497 Triesenberg",Bruno\n'  # not in the book: geocoded
    )
    r = client.post(
        f"/api/v1/orders/import?date={DAY}",
        files={"file": ("o.csv", csv.encode())},
        headers=org.dispatcher,
    )
    assert r.status_code == 200, r.text
    app = client.app
    context = JobContext(app.state.settings, app.state.sessions, lambda *a, **k: None)  # type: ignore[attr-defined]
    run(context, "geocode_orders", {"org_id": org.org_id})
    items = client.get(f"/api/v1/orders?date={DAY}", headers=org.dispatcher).json()["items"]
    got = {o["external_id"]: o for o in items}
    for known in ("I1", "I2"):
        assert (got[known]["lon"], got[known]["lat"]) == (door["lon"], door["lat"])
        assert got[known]["address_verdict"] == "given" and got[known]["status"] == "ready"
    assert got["I3"]["address_verdict"] == "exact" and got["I3"]["lon"] != door["lon"]
    linked = client.get(f"/api/v1/customers/{anna['id']}/orders", headers=org.dispatcher).json()
    assert [o["external_id"] for o in linked] == ["I1"]
