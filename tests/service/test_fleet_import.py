"""Vehicles CSV import: the bundled sample as it is, bad rows, dry runs, idempotent re-imports."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from test_fleet import API, create, depot_body, errors_by_field, event_types

import lastmile
from helpers.service import OrgUsers, make_org

SAMPLE = Path(lastmile.__file__).parent / "data" / "sample" / "sample_vehicles.csv"
SAMPLE_IDS = ["BIKE-1", "CAR-1", "VAN-1", "VAN-2", "VAN-3"]


def upload(client: TestClient, org: OrgUsers, data: bytes, *, dry_run: bool = False) -> Any:
    return client.post(
        f"{API}/vehicles/import",
        params={"dry_run": str(dry_run).lower()},
        files={"file": ("vehicles.csv", data, "text/csv")},
        headers=org.dispatcher,
    )


def vehicles(client: TestClient, org: OrgUsers) -> dict[str, dict[str, Any]]:
    items = client.get(f"{API}/vehicles", headers=org.admin).json()["items"]
    return {v["external_id"]: v for v in items}


def test_import_the_sample_as_it_is(client: TestClient) -> None:
    org = make_org(client, "Florist")
    response = upload(client, org, SAMPLE.read_bytes())
    assert response.status_code == 200, response.text
    report = response.json()
    assert (
        report["dry_run"],
        report["total"],
        report["created"],
        report["updated"],
        report["unchanged"],
    ) == (False, 5, 5, 0, 0)
    assert report["dimensions"] == ["parcels", "weight_kg"] and report["unknown_columns"] == []
    assert [(v["row"], v["external_id"], v["action"]) for v in report["vehicles"]] == [
        (2, "VAN-1", "created"),
        (3, "VAN-2", "created"),
        (4, "VAN-3", "created"),
        (5, "CAR-1", "created"),
        (6, "BIKE-1", "created"),
    ]
    stored = vehicles(client, org)
    assert sorted(stored) == SAMPLE_IDS
    assert {v["id"] for v in report["vehicles"]} == {v["id"] for v in stored.values()}
    bike = stored["BIKE-1"]
    assert bike["name"] == "Cargo bike" and bike["profile"] == "cargo_bike"
    assert bike["start"] == {"lon": 9.5218, "lat": 47.1411} and bike["end"] == {
        "lon": 9.5218,
        "lat": 47.1411,
    }
    assert bike["open_end"] is False and bike["shift"] == {"start": "08:00", "end": "16:00"}
    assert bike["capacity"] == {"parcels": 15.0, "weight_kg": 80.0}
    assert (bike["cost_per_km"], bike["cost_per_hour"], bike["fixed_cost"]) == (0.02, 24.0, 5.0)
    assert stored["VAN-1"]["shift"] == {"start": "07:30", "end": "17:30"}
    assert event_types(client, org.org_id) == ["vehicle.created"] * 5


def test_reimport_is_idempotent_and_updates_only_what_changed(client: TestClient) -> None:
    org = make_org(client, "Florist")
    first = upload(client, org, SAMPLE.read_bytes()).json()
    ids = {v["external_id"]: v["id"] for v in first["vehicles"]}

    again = upload(client, org, SAMPLE.read_bytes())
    assert again.status_code == 200
    report = again.json()
    assert (report["created"], report["updated"], report["unchanged"]) == (0, 0, 5)
    assert {v["external_id"]: v["id"] for v in report["vehicles"]} == ids
    assert event_types(client, org.org_id) == ["vehicle.created"] * 5  # a replay records nothing

    # CAR-1 gets a bigger capacity and a later shift end; everything else stays.
    text = SAMPLE.read_text().replace("08:00,14:00,25,150", "08:00,15:00,30,150")
    changed = upload(client, org, text.encode()).json()
    assert (changed["created"], changed["updated"], changed["unchanged"]) == (0, 1, 4)
    (car,) = [v for v in changed["vehicles"] if v["action"] == "updated"]
    assert car["external_id"] == "CAR-1" and car["id"] == ids["CAR-1"]
    assert car["changed"] == ["capacity", "shift_end_s"]
    stored = vehicles(client, org)["CAR-1"]
    assert (
        stored["capacity"] == {"parcels": 30.0, "weight_kg": 150.0}
        and stored["shift"]["end"] == "15:00"
    )
    assert event_types(client, org.org_id)[-1] == "vehicle.updated"
    assert len(vehicles(client, org)) == 5


def test_import_keeps_depot_and_active_flag(client: TestClient) -> None:
    org = make_org(client, "Florist")
    upload(client, org, SAMPLE.read_bytes())
    depot = create(client, org, "depots", depot_body())
    van = vehicles(client, org)["VAN-1"]
    client.patch(
        f"{API}/vehicles/{van['id']}",
        json={"depot_id": depot["id"], "active": False},
        headers=org.admin,
    )
    report = upload(client, org, SAMPLE.read_bytes()).json()
    assert report["unchanged"] == 5
    after = vehicles(client, org)["VAN-1"]
    assert after["depot_id"] == depot["id"] and after["active"] is False


def test_a_bad_row_refuses_the_whole_file(client: TestClient) -> None:
    org = make_org(client, "Florist")
    lines = SAMPLE.read_text().splitlines()
    lines[2] = lines[2].replace("47.1657,9.5087", "forty-seven,9.5087", 1)  # VAN-2: start_lat
    lines[4] = lines[4].replace(",car,", ",hovercraft,")  # CAR-1: profile
    response = upload(client, org, ("\n".join(lines) + "\n").encode())
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    errors = response.json()["errors"]
    # The parser names both bad cells with their row; nothing else is blamed.
    assert {(e["row"], e["field"]) for e in errors} == {(3, "start_lat"), (5, "profile")}
    assert (3, "start_lat", "forty-seven", "is not a number") in [
        (e["row"], e["field"], e["value"], e["message"]) for e in errors
    ]
    assert (5, "profile", "hovercraft") in [(e["row"], e["field"], e["value"]) for e in errors]
    assert "row 3" in response.json()["detail"]
    assert vehicles(client, org) == {}  # all or nothing: the good rows were not written either
    assert event_types(client, org.org_id) == []


def test_a_row_the_api_rules_refuse_is_reported_with_its_row(client: TestClient) -> None:
    """A break outside the shift is accepted by the CSV parser but not by the vehicle rules."""
    org = make_org(client, "Florist")
    text = "id,start_lon,start_lat,shift_start,shift_end,capacity,break_start,break_end,break_min\n"
    text += "OK-1,9.5,47.1,08:00,16:00,10,12:00,13:00,30\n"
    text += "BAD-1,9.5,47.1,08:00,16:00,10,06:00,07:00,30\n"
    response = upload(client, org, text.encode())
    assert response.status_code == 422
    (error,) = response.json()["errors"]
    assert (
        error["row"] == 3 and error["field"] == "break" and "inside the shift" in error["message"]
    )
    assert vehicles(client, org) == {}


def test_dry_run_reports_and_writes_nothing(client: TestClient) -> None:
    org = make_org(client, "Florist")
    report = upload(client, org, SAMPLE.read_bytes(), dry_run=True).json()
    assert report["dry_run"] is True and report["created"] == 5
    assert all(v["id"] is None for v in report["vehicles"])
    assert vehicles(client, org) == {} and event_types(client, org.org_id) == []
    upload(client, org, SAMPLE.read_bytes())
    text = SAMPLE.read_text().replace("Small car", "Tiny car")
    report = upload(client, org, text.encode(), dry_run=True).json()
    assert (report["updated"], report["unchanged"]) == (1, 4)
    assert vehicles(client, org)["CAR-1"]["name"] == "Small car"


def test_count_column_and_open_end(client: TestClient) -> None:
    org = make_org(client, "Florist")
    text = "vehicle_id,depot_lon,depot_lat,end_lon,end_lat,capacity_parcels,count,skills\n"
    text += "RENT,9.5,47.1,anywhere,,40,3,fridge;tail_lift\n"
    report = upload(client, org, text.encode()).json()
    assert [(v["row"], v["external_id"]) for v in report["vehicles"]] == [
        (2, "RENT-1"),
        (2, "RENT-2"),
        (2, "RENT-3"),
    ]
    rent = vehicles(client, org)["RENT-2"]
    assert (
        rent["open_end"] is True
        and rent["end"] is None
        and rent["skills"] == ["fridge", "tail_lift"]
    )
    assert rent["name"] == ""


def test_import_file_problems(client: TestClient) -> None:
    org = make_org(client, "Florist")
    errors = errors_by_field(upload(client, org, "id;start_lon\n".encode("utf-16")))
    assert "UTF-8" in errors["file"]
    response = upload(client, org, b"id,start_lon,start_lat\nX,9.5,47.1\n")
    assert response.status_code == 422 and "capacity" in response.json()["detail"]
    missing = client.post(f"{API}/vehicles/import", headers=org.admin)
    assert missing.status_code == 422 and missing.json()["errors"][0]["field"] == "file"


def test_any_line_ending_is_read(client: TestClient) -> None:
    org = make_org(client, "Florist")
    for ending in ("\r\n", "\r"):
        text = ending.join(SAMPLE.read_text().splitlines()) + ending
        report = upload(client, org, text.encode())
        assert report.status_code == 200, report.text
        assert report.json()["total"] == 5
    assert sorted(vehicles(client, org)) == SAMPLE_IDS


def test_unreadable_csv_is_422(client: TestClient) -> None:
    org = make_org(client, "Florist")
    text = "id,start_lon,start_lat,capacity\n" + '"' + "x" * 200_000 + '",9.5,47.1,3\n'
    response = upload(client, org, text.encode())
    assert response.status_code == 422 and "not readable as CSV" in response.json()["detail"]


def test_imports_are_per_organisation(client: TestClient) -> None:
    org_a = make_org(client, "Florist")
    org_b = make_org(client, "Bakery")
    upload(client, org_a, SAMPLE.read_bytes())
    report = upload(client, org_b, SAMPLE.read_bytes()).json()
    assert report["created"] == 5  # same external ids, other organisation: new vehicles
    ids_a = {v["id"] for v in vehicles(client, org_a).values()}
    ids_b = {v["id"] for v in vehicles(client, org_b).values()}
    assert len(ids_a) == len(ids_b) == 5 and not ids_a & ids_b
