"""Values that parse but cannot be meant (SQLite and PostgreSQL): delivery dates a year out or
in year 1, a demand no vehicle carries, NaN/Infinity/1e999 anywhere in JSON, are refused
naming the field (or row and column); coordinates outside the map are warned about."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient

from helpers.service import OrgUsers, make_org
from lastmile.core.errors import InputError
from lastmile.orders import service as orders

ORDERS = "/api/v1/orders"
VEHICLES = (
    "id,name,profile,start_lon,start_lat,shift_start,shift_end,capacity_parcels\n"
    "VAN-1,Van 1,van,9.5087,47.1657,07:00,19:00,12\n"
    "VAN-2,Van 2,van,9.5087,47.1657,07:00,19:00,30\n"
)


def today() -> date:
    return datetime.now(ZoneInfo("Europe/Vaduz")).date()


def order(external_id: str, **more: Any) -> dict[str, Any]:
    return {
        "external_id": external_id,
        "address": "Städtle 1 Vaduz",
        "lon": 9.52,
        "lat": 47.14,
        **more,
    }


def refused(response: Any, field: str, words: str) -> None:
    assert response.status_code == 422, response.text
    assert field in response.text and words in response.json()["detail"], response.text


def with_fleet(client: TestClient, name: str) -> OrgUsers:
    org = make_org(client, name)
    r = client.post(
        "/api/v1/vehicles/import",
        files={"file": ("v.csv", VEHICLES.encode(), "text/csv")},
        headers=org.dispatcher,
    )
    assert r.status_code in (200, 201), r.text
    return org


def test_delivery_dates_more_than_a_year_out_or_before_2000_are_refused(client: TestClient) -> None:
    org = make_org(client, "Plausible Dates")
    year_out = today() + timedelta(days=366)
    for bad in (year_out, date(9999, 12, 31), date(1, 1, 1)):
        refused(
            client.post(ORDERS, json=order("D1", date=bad.isoformat()), headers=org.dispatcher),
            "date",
            "check the year",
        )
    ok = client.post(
        ORDERS,
        json=order("D1", date=(today() + timedelta(days=365)).isoformat()),
        headers=org.dispatcher,
    )
    assert ok.status_code == 201, ok.text
    moved = client.patch(
        f"{ORDERS}/{ok.json()['items'][0]['order']['id']}",
        json={"date": "9999-01-01"},
        headers=org.dispatcher,
    )
    refused(moved, "date", "more than a year after today")
    csv = f"id,address,lon,lat,date\nC1,Street 1,9.52,47.14,{today().isoformat()}\nC2,Street 2,9.52,47.14,2962-03-04\n"
    imported = client.post(
        ORDERS + "/import", files={"file": ("o.csv", csv.encode())}, headers=org.dispatcher
    )
    assert imported.status_code == 422, imported.text
    rows = {r["row"]: r for r in imported.json()["rows"]}
    assert rows[3]["status"] == "invalid" and rows[3]["errors"][0]["field"] == "date"
    assert "check the year" in rows[3]["errors"][0]["message"]
    assert client.get(ORDERS, params={"q": "C1"}, headers=org.dispatcher).json()["items"] == []
    sessions = client.app.state.sessions  # type: ignore[attr-defined]
    with sessions() as session, pytest.raises(InputError) as caught:
        orders.transition_many(
            session=session,
            org_id=org.org_id,
            order_ids=[ok.json()["items"][0]["order"]["id"]],
            to_status="rescheduled",
            actor="test",
            new_date=today() + timedelta(days=400),
        )
    assert caught.value.issues[0].field == "date"


def test_a_demand_no_vehicle_carries_is_refused(client: TestClient) -> None:
    bare = make_org(client, "Plausible No Fleet")
    early = client.post(ORDERS, json=order("E1", demand={"parcels": 500}), headers=bare.dispatcher)
    assert early.status_code == 201, early.text  # no vehicles yet: orders may come first
    org = with_fleet(client, "Plausible Fleet")
    fits = client.post(ORDERS, json=order("F1", demand={"parcels": 30}), headers=org.dispatcher)
    assert fits.status_code == 201, fits.text
    for amount in (31, 1e308):
        refused(
            client.post(
                ORDERS, json=order("F2", demand={"parcels": amount}), headers=org.dispatcher
            ),
            "demand.parcels",
            "more than the largest vehicle carries (30)",
        )
    grown = client.patch(
        f"{ORDERS}/{fits.json()['items'][0]['order']['id']}",
        json={"demand": {"parcels": 99}},
        headers=org.dispatcher,
    )
    refused(grown, "demand.parcels", "split the order")
    csv = "id,address,lon,lat,parcels\nP1,Street 1,9.52,47.14,2\nP2,Street 2,9.52,47.14,40\n"
    imported = client.post(
        ORDERS + "/import", files={"file": ("o.csv", csv.encode())}, headers=org.dispatcher
    )
    assert imported.status_code == 422, imported.text
    bad = next(r for r in imported.json()["rows"] if r["row"] == 3)
    assert (
        bad["errors"][0]["field"] == "parcels" and "largest vehicle" in bad["errors"][0]["message"]
    )


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity", "1e999"])
def test_non_finite_numbers_are_refused_everywhere(client: TestClient, number: str) -> None:
    org = with_fleet(client, f"Plausible {number}")
    body = '{"external_id": "N1", "lon": 9.52, "lat": 47.14, "value": NUMBER}'.replace(
        "NUMBER", number
    )
    sent = client.post(
        ORDERS, content=body, headers={**org.dispatcher, "Content-Type": "application/json"}
    )
    refused(sent, "value", "not a finite number")
    cap = '{"notifications": {"monthly_cap": NUMBER}}'.replace("NUMBER", number)
    settings = client.put(
        "/api/v1/notifications/settings",
        content=cap,
        headers={**org.admin, "Content-Type": "application/json"},
    )
    refused(settings, "notifications.monthly_cap", "not a finite number")
    text = client.post(
        ORDERS, json=order("N2", notes=f"{number} in a text is fine"), headers=org.dispatcher
    )
    assert text.status_code == 201, text.text


def test_coordinates_outside_the_map_are_warned_about(client: TestClient) -> None:
    org = make_org(client, "Plausible Swapped")
    csv = (
        "id,address,lon,lat\n"
        "S1,Städtle 1 Vaduz,9.5215,47.1410\n"
        "S2,Landstrasse 10 Schaan,47.1650,9.5095\n"
        "S3,Somewhere else,2.35,48.85\n"
    )
    imported = client.post(
        ORDERS + "/import", files={"file": ("o.csv", csv.encode())}, headers=org.dispatcher
    )
    assert imported.status_code in (200, 201), imported.text
    warnings = imported.json()["warnings"]
    assert any(w.startswith("row 3:") and "swapped?" in w for w in warnings), warnings
    assert any(
        w.startswith("row 4:") and "outside the map area" in w and "swapped" not in w
        for w in warnings
    ), warnings
    assert not any(w.startswith("row 2:") for w in warnings), warnings
