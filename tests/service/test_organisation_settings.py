"""The organisation's own settings (issue 14, item 7): name, time zone and the default time
at each stop, which orders created without a service time get (API, CSV import)."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from helpers.service import make_org

ORG = "/api/v1/organisation"


def _order(external_id: str, **fields: Any) -> dict[str, Any]:
    return {
        "external_id": external_id,
        "date": "2026-11-24",
        "address": "Städtle 1, 9490 Vaduz",
        "lon": 9.5209,
        "lat": 47.1410,
        **fields,
    }


def _service(client: TestClient, headers: dict[str, str]) -> dict[str, int]:
    r = client.get("/api/v1/orders?date=2026-11-24&limit=100", headers=headers)
    assert r.status_code == 200, r.text
    return {o["external_id"]: o["service_s"] for o in r.json()["items"]}


def test_default_service_time_applies_to_new_orders_only(client: TestClient) -> None:
    shop = make_org(client, "Service Co")
    other = make_org(client, "Other Co")
    assert client.get(ORG, headers=shop.dispatcher).json()["default_service_s"] == 0
    client.post("/api/v1/orders", json=_order("OLD"), headers=shop.dispatcher)

    r = client.patch(ORG, json={"default_service_s": 240}, headers=shop.dispatcher)
    assert r.status_code == 403
    r = client.patch(ORG, json={"default_service_s": 240}, headers=shop.admin)
    assert r.status_code == 200, r.text
    assert r.json()["default_service_s"] == 240 and r.json()["timezone"] == "Europe/Vaduz"

    r = client.post(
        "/api/v1/orders",
        json=[_order("NEW"), _order("ZERO", service_s=0), _order("OWN", service_s=90)],
        headers=shop.dispatcher,
    )
    assert r.status_code == 201, r.text
    csv = (
        "id,address,lon,lat,service_min\n"
        "CSV-EMPTY,Städtle 1 Vaduz,9.5209,47.1410,\n"
        "CSV-FIVE,Städtle 1 Vaduz,9.5209,47.1410,5\n"
    )
    no_column = "id,address,lon,lat\nCSV-NONE,Städtle 1 Vaduz,9.5209,47.1410\n"
    for text in (csv, no_column):
        r = client.post(
            "/api/v1/orders/import?date=2026-11-24",
            files={"file": ("o.csv", text.encode(), "text/csv")},
            headers=shop.dispatcher,
        )
        assert r.status_code in (200, 201), r.text
    # a re-sent order without a service time keeps its own
    client.post("/api/v1/orders", json=_order("OWN"), headers=shop.dispatcher)
    assert _service(client, shop.dispatcher) == {
        "OLD": 0,
        "NEW": 240,
        "ZERO": 0,
        "OWN": 90,
        "CSV-EMPTY": 240,
        "CSV-FIVE": 300,
        "CSV-NONE": 240,
    }
    # another organisation is untouched
    client.post("/api/v1/orders", json=_order("THEIRS"), headers=other.dispatcher)
    assert _service(client, other.dispatcher) == {"THEIRS": 0}


def test_organisation_name_and_time_zone(client: TestClient) -> None:
    shop = make_org(client, "Rename Co")
    make_org(client, "Taken Co")
    r = client.patch(ORG, json={"timezone": "Mars/Olympus"}, headers=shop.admin)
    assert r.status_code == 422 and "timezone" in r.text
    r = client.patch(ORG, json={"default_service_s": -5}, headers=shop.admin)
    assert r.status_code == 422 and "default_service_s" in r.text
    r = client.patch(ORG, json={"name": "Taken Co"}, headers=shop.admin)
    assert r.status_code == 409
    r = client.patch(
        ORG, json={"name": "Bakery Rename", "timezone": "Europe/Berlin"}, headers=shop.admin
    )
    assert r.status_code == 200, r.text
    me = client.get(ORG, headers=shop.driver).json()
    assert me.pop("clock")["speed"] == 1.0  # a real organisation: real time
    assert me == {
        "id": shop.org_id,
        "name": "Bakery Rename",
        "timezone": "Europe/Berlin",
        "default_service_s": 0,
        "pod_policy": ["signature"],
        "phone": "",
        "simulation": False,
        "simulation_of": None,
    }


def test_the_shops_phone_is_checked_and_kept_per_organisation(client: TestClient) -> None:
    shop = make_org(client, "Phone Co")
    other = make_org(client, "Other Phone Co")
    assert client.get(ORG, headers=shop.driver).json()["phone"] == ""
    for bad in ("call me", "+", "12", "+41 " + "1" * 40, "<b>1234</b>"):
        r = client.patch(ORG, json={"phone": bad}, headers=shop.admin)
        assert r.status_code == 422, (bad, r.text)
        assert "phone" in r.text
    r = client.patch(ORG, json={"phone": " +423  234 56 78 "}, headers=shop.admin)
    assert r.status_code == 200, r.text
    assert r.json()["phone"] == "+423 234 56 78"
    assert client.get(ORG, headers=other.admin).json()["phone"] == ""
    r = client.patch(ORG, json={"name": "Phone Co Renamed"}, headers=shop.admin)
    assert r.json()["phone"] == "+423 234 56 78"  # omitted: kept
    r = client.patch(ORG, json={"phone": ""}, headers=shop.admin)
    assert r.json()["phone"] == ""
