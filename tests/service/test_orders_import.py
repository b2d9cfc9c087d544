"""Orders CSV import: the sample day, per-row reports, dry runs, skipping invalid rows."""

from __future__ import annotations

from importlib import resources
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from helpers.service import OrgUsers, make_org
from lastmile.events.models import Event
from lastmile.orders import service
from lastmile.orders.models import Order

IMPORT = "/api/v1/orders/import"
ORDERS = "/api/v1/orders"

GOOD_AND_BAD = """id,address,lon,lat,window_start,window_end,service_min,parcels,date
G-1,"Städtle 1, 9490 Vaduz",9.5209,47.1410,08:00,12:00,2,1,2026-11-24
G-2,"Landstrasse 5, 9494 Schaan",,,,,3,2,
B-3,"Nowhere 1",200,47.1,08:00,12:00,2,1,2026-11-24
B-4,"Somewhere 2",9.5,47.1,8 o'clock,12:00,2,1,2026-11-24
B-5,"Else 3",9.5,47.1,08:00,12:00,2,-4,24.11.2026
"""


def _sample() -> bytes:
    return (resources.files("lastmile") / "data/sample/sample_day_orders.csv").read_bytes()


def _import(client: TestClient, org: OrgUsers, data: bytes | str, **params: Any) -> Any:
    content = data.encode() if isinstance(data, str) else data
    return client.post(
        IMPORT,
        files={"file": ("orders.csv", content, "text/csv")},
        params=params,
        headers=org.dispatcher,
    )


def _count(client: TestClient, org_id: str, model: type[Any] = Order) -> int:
    sessions: sessionmaker[Session] = client.app.state.sessions  # type: ignore[attr-defined]
    with sessions() as session:
        return int(
            session.scalar(select(func.count()).select_from(model).where(model.org_id == org_id))
            or 0
        )


def test_the_sample_day_imports_as_it_is(client: TestClient) -> None:
    org = make_org(client, "Sample Co")
    response = _import(client, org, _sample(), date="2026-11-24")
    assert response.status_code == 200, response.text[:2000]
    report = response.json()
    assert (report["created"], report["updated"], report["unchanged"], report["invalid"]) == (
        150,
        0,
        0,
        0,
    )
    assert report["applied"] is True and report["dry_run"] is False
    assert [r["row"] for r in report["rows"]] == list(range(2, 152))
    assert all(r["status"] == "created" and r["order_id"] for r in report["rows"])

    page = client.get(
        ORDERS,
        params={"date": "2026-11-24", "status": "ready", "limit": 500},
        headers=org.dispatcher,
    ).json()
    assert page["total"] == 150
    first = next(o for o in page["items"] if o["external_id"] == "SMP-0001")
    assert first["address"] == "Fürst-Johann-Strasse 7, 9495 Triesen"
    assert (first["lon"], first["lat"], first["address_verdict"]) == (
        9.5265427,
        47.1196385,
        "given",
    )
    assert first["windows"] == [{"start": "08:00", "end": "17:00"}]
    assert first["service_s"] == 120
    assert first["demand"] == {"parcels": 1.0, "weight_kg": 17.2}
    assert _count(client, org.org_id, Event) == 150

    again = _import(client, org, _sample(), date="2026-11-24").json()
    assert (again["created"], again["unchanged"]) == (0, 150)
    assert _count(client, org.org_id) == 150
    assert _count(client, org.org_id, Event) == 150


def test_invalid_rows_are_reported_precisely_and_nothing_is_written(client: TestClient) -> None:
    org = make_org(client, "Bad Rows Co")
    response = _import(client, org, GOOD_AND_BAD, date="2026-11-25")
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    report = response.json()
    assert report["applied"] is False and report["code"] == "invalid_rows"
    by_row = {r["row"]: r for r in report["rows"]}
    assert [by_row[n]["status"] for n in range(2, 7)] == [
        "created",
        "created",
        "invalid",
        "invalid",
        "invalid",
    ]
    assert by_row[4]["external_id"] == "B-3"
    assert by_row[4]["errors"] == [
        {"field": "lon", "value": "200", "message": "must be between -180 and 180"}
    ]
    assert by_row[5]["errors"] == [
        {"field": "window_start", "value": "8 o'clock", "message": "is not a time of day (HH:MM)"}
    ]
    b5 = {(e["field"], e["value"]) for e in by_row[6]["errors"]}
    assert b5 == {("parcels", "-4"), ("date", "24.11.2026")}
    assert report["invalid"] == 3
    assert _count(client, org.org_id) == 0
    assert _count(client, org.org_id, Event) == 0


def test_dry_run_reports_and_writes_nothing(client: TestClient) -> None:
    org = make_org(client, "Dry Co")
    response = _import(client, org, GOOD_AND_BAD, dry_run="true", date="2026-11-25")
    assert response.status_code == 200
    report = response.json()
    assert (report["dry_run"], report["applied"]) == (True, False)
    assert (report["created"], report["invalid"]) == (2, 3)
    assert _count(client, org.org_id) == 0

    clean = _import(client, org, _sample(), dry_run="true").json()
    assert (clean["created"], clean["applied"]) == (150, False)
    assert all(r["order_id"] is None for r in clean["rows"])
    assert _count(client, org.org_id) == 0
    assert _count(client, org.org_id, Event) == 0


def test_skip_invalid_applies_only_the_valid_rows(client: TestClient) -> None:
    org = make_org(client, "Skip Co")
    response = _import(client, org, GOOD_AND_BAD, skip_invalid="true", date="2026-11-25")
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["applied"] is True
    assert (report["created"], report["invalid"]) == (2, 3)
    orders = {
        o["external_id"]: o for o in client.get(ORDERS, headers=org.dispatcher).json()["items"]
    }
    assert set(orders) == {"G-1", "G-2"}
    assert (orders["G-1"]["status"], orders["G-1"]["date"]) == (
        "ready",
        "2026-11-24",
    )  # its date column
    assert (orders["G-2"]["status"], orders["G-2"]["date"]) == (
        "new",
        "2026-11-25",
    )  # the parameter
    assert orders["G-2"]["lon"] is None


def test_default_date_is_today_in_the_organisation(client: TestClient) -> None:
    org = make_org(client, "Import Today Co", timezone="America/Los_Angeles")
    report = _import(client, org, "id,address\nT-1,Somewhere 1\n").json()
    sessions: sessionmaker[Session] = client.app.state.sessions  # type: ignore[attr-defined]
    with sessions() as session:
        today = service.org_today(session=session, org_id=org.org_id)
    assert report["date"] == today.isoformat()
    assert (
        client.get(ORDERS, headers=org.dispatcher).json()["items"][0]["date"] == today.isoformat()
    )


def test_rows_that_conflict_with_planned_orders_are_invalid(client: TestClient) -> None:
    org = make_org(client, "Import Conflict Co")
    _import(
        client,
        org,
        "id,address,lon,lat,service_min\nC-1,Street 1,9.5,47.1,2\nC-2,Street 2,9.5,47.1,2\n",
        date="2026-11-24",
    )
    c1 = client.get(ORDERS, params={"q": "C-1"}, headers=org.dispatcher).json()["items"][0]
    assert (
        client.post(
            f"{ORDERS}/{c1['id']}/transitions", json={"to": "planned"}, headers=org.dispatcher
        ).status_code
        == 200
    )
    text = "id,address,lon,lat,service_min\nC-1,Street 1,9.5,47.1,9\nC-2,Street 2,9.5,47.1,5\n"
    refused = _import(client, org, text, date="2026-11-24")
    assert refused.status_code == 422
    rows = {r["external_id"]: r for r in refused.json()["rows"]}
    assert rows["C-1"]["status"] == "invalid"
    assert (
        rows["C-1"]["errors"][0]["field"] == "id"
        and "planned" in rows["C-1"]["errors"][0]["message"]
    )
    assert rows["C-2"]["status"] == "updated"
    skipped = _import(client, org, text, date="2026-11-24", skip_invalid="true").json()
    assert (skipped["updated"], skipped["invalid"]) == (1, 1)
    services = {
        o["external_id"]: o["service_s"]
        for o in client.get(ORDERS, headers=org.dispatcher).json()["items"]
    }
    assert services == {"C-1": 120, "C-2": 300}


def test_a_pickup_whose_delivery_is_invalid_is_skipped_too(client: TestClient) -> None:
    org = make_org(client, "Pair Co")
    text = "id,address,lon,lat,kind,deliver_to\nP-1,Shop 1,9.5,47.1,pickup,D-1\nD-1,Home 2,9.5,95,delivery,\nD-2,Home 3,9.5,47.1,,\n"
    report = _import(client, org, text, skip_invalid="true", date="2026-11-24").json()
    status = {r["row"]: r["status"] for r in report["rows"]}
    assert status == {2: "invalid", 3: "invalid", 4: "created"}
    pickup = next(r for r in report["rows"] if r["row"] == 2)
    assert pickup["errors"][0]["field"] == "deliver_to"
    assert [
        o["external_id"] for o in client.get(ORDERS, headers=org.dispatcher).json()["items"]
    ] == ["D-2"]


def test_whole_file_problems_are_422_with_the_reason(client: TestClient) -> None:
    org = make_org(client, "File Co")
    no_id = _import(client, org, "address,lon,lat\nStreet 1,9.5,47.1\n")
    assert no_id.status_code == 422
    assert "no order id column" in no_id.json()["detail"]
    empty = _import(client, org, "")
    assert empty.status_code == 422 and "empty" in empty.json()["detail"]
    binary = _import(client, org, b"\x81\x8d\x8f\x90\x9d" * 10)
    assert binary.status_code == 422
    huge_cell = _import(client, org, 'id,address\nH-1,"' + "x" * 200_000 + '"\n')
    assert huge_cell.status_code == 422 and "readable as CSV" in huge_cell.json()["detail"]
    missing = client.post(IMPORT, headers=org.dispatcher)
    assert missing.status_code == 422
    assert _count(client, org.org_id) == 0


def test_excel_exports_semicolons_and_windows_1252(client: TestClient) -> None:
    org = make_org(client, "Excel Co")
    text = "Order ID;Delivery Address;Longitude;Latitude;Time Window\nE-1;Fürst-Johann-Strasse 7, Triesen;9,5265;47,1196;08:00-10:00; 14:00-16:00\n"
    text = text.replace("08:00-10:00; 14:00-16:00", '"08:00-10:00; 14:00-16:00"')
    report = _import(client, org, text.encode("cp1252"), date="2026-11-24")
    assert report.status_code == 200, report.text
    order = client.get(ORDERS, headers=org.dispatcher).json()["items"][0]
    assert order["address"] == "Fürst-Johann-Strasse 7, Triesen"
    assert (order["lon"], order["lat"]) == (9.5265, 47.1196)
    assert order["windows"] == [
        {"start": "08:00", "end": "10:00"},
        {"start": "14:00", "end": "16:00"},
    ]


def test_rows_the_api_would_refuse_name_their_column(client: TestClient) -> None:
    org = make_org(client, "Column Co")
    text = "id,address,lon,lat,window_start,window_end\nW-1,Street 1,9.5,47.1,10:00,10:00\nW-2,,,,,\nW-3,Street 3,9.5,47.1,,\n"
    report = _import(client, org, text, date="2026-11-24").json()
    rows = {r["row"]: r for r in report["rows"]}
    assert rows[2]["status"] == "invalid" and rows[2]["errors"][0]["field"] == "window_start"
    assert "before or when it starts" in rows[2]["errors"][0]["message"]
    assert rows[3]["status"] == "invalid" and rows[3]["errors"][0]["field"] == "address"
    assert rows[4]["status"] == "created"
    assert _count(client, org.org_id) == 0


def test_an_unclosed_quote_is_refused_naming_its_row(client: TestClient) -> None:
    """The audit's file: 6 rows, row 3 opens a quote it never closes. Before, 1 order was
    created whose address held the other rows; now nothing is written, the row is named."""
    org = make_org(client, "Quote Co")
    rows = [f"Q-{i},Street {i},9.5,47.1" for i in range(1, 7)]
    rows[1] = 'Q-2,"Street 2,9.5,47.1'
    for skip in ("false", "true"):
        text = "id,address,lon,lat\n" + "\n".join(rows) + "\n"
        answer = _import(client, org, text, skip_invalid=skip)
        assert answer.status_code == 422, answer.text
        assert "row 3" in answer.json()["detail"] and "quote" in answer.json()["detail"]
    assert _count(client, org.org_id) == 0
