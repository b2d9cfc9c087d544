"""Fleet API: depots, vehicles, drivers — round trips, validation, roles, isolation, events."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from helpers.service import OrgUsers, make_org
from lastmile.drivers.models import Position
from lastmile.events import service as events
from lastmile.orgs.models import Role
from lastmile.plans.models import Plan
from lastmile.routes.models import Route

API = "/api/v1"


def vehicle_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "external_id": "VAN-1",
        "name": "Van 1",
        "profile": "van",
        "start": {"lon": 9.5087, "lat": 47.1657},
        "shift": {"start": "07:30", "end": "17:30"},
        "capacity": {"parcels": 90, "weight_kg": 600},
        "skills": ["tail_lift", "fridge"],
        "cost_per_km": 0.35,
        "cost_per_hour": 28,
        "fixed_cost": 20,
    }
    body.update(overrides)
    return body


def depot_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": "Vaduz hub",
        "address": "Industriestrasse 1, Vaduz",
        "lon": 9.52,
        "lat": 47.14,
    }
    body.update(overrides)
    return body


def sessions_of(client: TestClient) -> sessionmaker[Session]:
    factory: sessionmaker[Session] = client.app.state.sessions  # type: ignore[attr-defined]
    return factory


def event_types(client: TestClient, org_id: str) -> list[str]:
    with sessions_of(client)() as session:
        return [e.type for e in events.since(session=session, org_id=org_id, after_id=0)]


def create(client: TestClient, org: OrgUsers, kind: str, body: dict[str, Any]) -> dict[str, Any]:
    response = client.post(f"{API}/{kind}", json=body, headers=org.dispatcher)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


def errors_by_field(response: Any) -> dict[str, str]:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["code"] == "invalid_input"
    return {e["field"]: e["message"] for e in body["errors"]}


# --- depots -----------------------------------------------------------------------------


def test_depot_crud_round_trip(client: TestClient) -> None:
    org = make_org(client, "Florist")
    depot = create(client, org, "depots", depot_body())
    assert depot["id"].startswith("dep_")
    assert (depot["name"], depot["lon"], depot["lat"]) == ("Vaduz hub", 9.52, 47.14)

    got = client.get(f"{API}/depots/{depot['id']}", headers=org.admin)
    assert got.status_code == 200 and got.json() == depot

    patched = client.patch(
        f"{API}/depots/{depot['id']}", json={"name": "Schaan hub"}, headers=org.dispatcher
    )
    assert patched.status_code == 200
    assert patched.json()["name"] == "Schaan hub" and patched.json()["lon"] == 9.52

    listed = client.get(f"{API}/depots", headers=org.dispatcher).json()
    assert listed["total"] == 1 and [d["name"] for d in listed["items"]] == ["Schaan hub"]

    assert client.delete(f"{API}/depots/{depot['id']}", headers=org.admin).status_code == 204
    assert client.get(f"{API}/depots/{depot['id']}", headers=org.admin).status_code == 404
    assert event_types(client, org.org_id) == ["depot.created", "depot.updated", "depot.deleted"]


def test_depot_validation_names_fields(client: TestClient) -> None:
    org = make_org(client, "Florist")
    response = client.post(
        f"{API}/depots",
        json={"name": "", "lon": 181, "lat": -91, "colour": "red"},
        headers=org.admin,
    )
    errors = errors_by_field(response)
    assert set(errors) == {"name", "lon", "lat", "colour"}
    assert "180" in errors["lon"] and "-90" in errors["lat"]
    # PATCH: the same ranges, and null for a required field is refused.
    depot = create(client, org, "depots", depot_body())
    errors = errors_by_field(
        client.patch(f"{API}/depots/{depot['id']}", json={"lat": 95}, headers=org.admin)
    )
    assert set(errors) == {"lat"}
    errors = errors_by_field(
        client.patch(f"{API}/depots/{depot['id']}", json={"name": None}, headers=org.admin)
    )
    assert set(errors) == {"name"}
    assert (
        client.get(f"{API}/depots/{depot['id']}", headers=org.admin).json()["name"] == "Vaduz hub"
    )


def test_deleting_a_depot_keeps_its_vehicles_where_they_are(client: TestClient) -> None:
    org = make_org(client, "Florist")
    depot = create(client, org, "depots", depot_body())
    vehicle = create(client, org, "vehicles", vehicle_body(depot_id=depot["id"], start=None))
    assert vehicle["start"] == {"lon": 9.52, "lat": 47.14}  # copied from the depot
    assert client.delete(f"{API}/depots/{depot['id']}", headers=org.admin).status_code == 204
    after = client.get(f"{API}/vehicles/{vehicle['id']}", headers=org.admin).json()
    assert after["depot_id"] is None and after["start"] == {"lon": 9.52, "lat": 47.14}
    # The vehicle's change is on the record like any other.
    assert event_types(client, org.org_id)[-2:] == ["vehicle.updated", "depot.deleted"]


def test_deleting_a_vehicle_clears_it_from_its_drivers(client: TestClient) -> None:
    org = make_org(client, "Florist")
    vehicle = create(client, org, "vehicles", vehicle_body())
    driver = create(client, org, "drivers", {"name": "Anna", "vehicle_id": vehicle["id"]})
    assert client.delete(f"{API}/vehicles/{vehicle['id']}", headers=org.admin).status_code == 204
    assert (
        client.get(f"{API}/drivers/{driver['id']}", headers=org.admin).json()["vehicle_id"] is None
    )
    assert event_types(client, org.org_id)[-2:] == ["driver.updated", "vehicle.deleted"]


def test_nul_characters_and_huge_numbers_are_refused_not_crashing(client: TestClient) -> None:
    """PostgreSQL refuses NUL in text and SQLite integers beyond 64 bits: both must be 4xx."""
    org = make_org(client, "Florist")
    errors = errors_by_field(
        client.post(f"{API}/depots", json=depot_body(name="Hub\x00"), headers=org.admin)
    )
    assert set(errors) == {"name"} and "NUL" in errors["name"]
    errors = errors_by_field(
        client.post(f"{API}/vehicles", json=vehicle_body(skills=["a\x00"]), headers=org.admin)
    )
    assert set(errors) == {"skills.0"}  # the NUL guard names the list item
    # A NUL in the path or query: the NUL guard answers 422 before any lookup (never a 500).
    for kind in ("depots", "vehicles", "drivers"):
        assert client.get(f"{API}/{kind}/dep_%00", headers=org.admin).status_code in (404, 422)
    listed = client.get(f"{API}/vehicles", params={"depot_id": "dep\x00"}, headers=org.admin)
    assert listed.status_code == 422 and "depot_id" in listed.text
    assert (
        client.get(f"{API}/depots", params={"offset": 2**63}, headers=org.admin).status_code == 422
    )


# --- vehicles ---------------------------------------------------------------------------


def test_vehicle_crud_round_trip(client: TestClient) -> None:
    org = make_org(client, "Florist")
    body = vehicle_body(
        **{"break": {"start": "12:00", "end": "13:30", "minutes": 30}}, max_duration_s=9 * 3600
    )
    vehicle = create(client, org, "vehicles", body)
    assert vehicle["id"].startswith("veh_")
    expected = {
        "external_id": "VAN-1",
        "name": "Van 1",
        "profile": "van",
        "depot_id": None,
        "start": {"lon": 9.5087, "lat": 47.1657},
        "end": None,
        "open_end": False,
        "shift": {"start": "07:30", "end": "17:30"},
        "capacity": {"parcels": 90.0, "weight_kg": 600.0},
        "skills": ["fridge", "tail_lift"],
        "cost_per_km": 0.35,
        "cost_per_hour": 28.0,
        "fixed_cost": 20.0,
        "speed_factor": 1.0,
        "max_duration_s": 9 * 3600,
        "break": {"start": "12:00", "end": "13:30", "minutes": 30.0},
        "max_overtime_s": 0,
        "overtime_cost_per_hour": 0.0,
        "active": True,
    }
    assert {k: vehicle[k] for k in expected} == expected

    assert client.get(f"{API}/vehicles/{vehicle['id']}", headers=org.dispatcher).json() == vehicle

    patch = {
        "shift": {"start": "06:00", "end": "14:00"},
        "break": None,
        "open_end": True,
        "end": {"lon": 9.5, "lat": 47.2},
    }
    patched = client.patch(f"{API}/vehicles/{vehicle['id']}", json=patch, headers=org.dispatcher)
    assert patched.status_code == 200, patched.text
    after = patched.json()
    assert after["shift"] == {"start": "06:00", "end": "14:00"} and after["break"] is None
    assert after["open_end"] is True and after["end"] == {"lon": 9.5, "lat": 47.2}
    assert after["capacity"] == vehicle["capacity"] and after["external_id"] == "VAN-1"

    listed = client.get(f"{API}/vehicles", headers=org.dispatcher).json()
    assert [v["id"] for v in listed["items"]] == [vehicle["id"]]

    assert client.delete(f"{API}/vehicles/{vehicle['id']}", headers=org.admin).status_code == 204
    assert client.get(f"{API}/vehicles/{vehicle['id']}", headers=org.admin).status_code == 404
    assert event_types(client, org.org_id) == [
        "vehicle.created",
        "vehicle.updated",
        "vehicle.deleted",
    ]


def test_vehicle_patch_without_changes_records_no_event(client: TestClient) -> None:
    org = make_org(client, "Florist")
    vehicle = create(client, org, "vehicles", vehicle_body())
    same = client.patch(
        f"{API}/vehicles/{vehicle['id']}",
        json={"name": "Van 1", "capacity": {"parcels": 90, "weight_kg": 600}},
        headers=org.admin,
    )
    assert same.status_code == 200 and same.json() == vehicle
    assert event_types(client, org.org_id) == ["vehicle.created"]


def test_vehicle_validation_errors_have_field_paths(client: TestClient) -> None:
    org = make_org(client, "Florist")
    bad = vehicle_body(
        external_id="  ",
        profile="hovercraft",
        start={"lon": 200, "lat": 47},
        shift={"start": "7h30", "end": "17:30"},
        capacity={"parcels": -1},
        speed_factor=0,
        cost_per_km=-0.1,
        open_end="maybe",
        skills=[""],
        wheels=4,
    )
    errors = errors_by_field(client.post(f"{API}/vehicles", json=bad, headers=org.admin))
    assert set(errors) == {
        "external_id",
        "profile",
        "start.lon",
        "shift.start",
        "capacity.parcels",
        "speed_factor",
        "cost_per_km",
        "open_end",
        "skills.0",
        "wheels",
    }
    assert "HH:MM" in errors["shift.start"]
    assert "cargo_bike" in errors["profile"]


@pytest.mark.parametrize(
    ("overrides", "field", "words"),
    [
        ({"capacity": {}}, "capacity", "at least 1"),
        ({"capacity": {"Weight": 1}}, "capacity.Weight.[key]", "should match pattern"),
        ({"shift": {"start": "18:00", "end": "08:00"}}, "shift.end", "before the shift start"),
        ({"shift": {"start": "08:00", "end": "49:00"}}, "shift.end", "48:00"),
        ({"break": {"start": "06:00", "end": "07:00", "minutes": 30}}, "break", "inside the shift"),
        (
            {"break": {"start": "13:00", "end": "12:00", "minutes": 30}},
            "break.end",
            "before the break start",
        ),
        (
            {"break": {"start": "12:00", "end": "13:00", "minutes": 0}},
            "break.minutes",
            "greater than 0",
        ),
        ({"max_duration_s": 0}, "max_duration_s", "greater than 0"),
    ],
)
def test_vehicle_rules(
    client: TestClient, overrides: dict[str, Any], field: str, words: str
) -> None:
    org = make_org(client, "Florist")
    errors = errors_by_field(
        client.post(f"{API}/vehicles", json=vehicle_body(**overrides), headers=org.admin)
    )
    assert field in errors, errors
    assert words in errors[field]


def test_vehicle_without_start_or_depot_is_refused(client: TestClient) -> None:
    org = make_org(client, "Florist")
    errors = errors_by_field(
        client.post(f"{API}/vehicles", json=vehicle_body(start=None), headers=org.admin)
    )
    assert set(errors) == {"start"}


def test_vehicle_patch_is_validated_as_a_whole(client: TestClient) -> None:
    org = make_org(client, "Florist")
    vehicle = create(
        client,
        org,
        "vehicles",
        vehicle_body(**{"break": {"start": "12:00", "end": "13:00", "minutes": 30}}),
    )
    # A new shift that the stored break no longer fits in.
    response = client.patch(
        f"{API}/vehicles/{vehicle['id']}",
        json={"shift": {"start": "13:30", "end": "20:00"}},
        headers=org.admin,
    )
    errors = errors_by_field(response)
    assert "inside the shift" in errors["break"]
    # Clearing the break in the same request makes the new shift acceptable.
    response = client.patch(
        f"{API}/vehicles/{vehicle['id']}",
        json={"shift": {"start": "13:30", "end": "20:00"}, "break": None},
        headers=org.admin,
    )
    assert response.status_code == 200 and response.json()["shift"] == {
        "start": "13:30",
        "end": "20:00",
    }


def test_vehicle_start_null_means_the_depot(client: TestClient) -> None:
    org = make_org(client, "Florist")
    depot = create(client, org, "depots", depot_body(lon=9.6, lat=47.2))
    vehicle = create(client, org, "vehicles", vehicle_body())
    moved = client.patch(
        f"{API}/vehicles/{vehicle['id']}", json={"depot_id": depot["id"]}, headers=org.admin
    ).json()
    assert (
        moved["depot_id"] == depot["id"] and moved["start"] == vehicle["start"]
    )  # depot alone moves nothing
    moved = client.patch(
        f"{API}/vehicles/{vehicle['id']}", json={"start": None}, headers=org.admin
    ).json()
    assert moved["start"] == {"lon": 9.6, "lat": 47.2}
    by_depot = client.get(
        f"{API}/vehicles", params={"depot_id": depot["id"]}, headers=org.admin
    ).json()
    assert by_depot["total"] == 1


def test_duplicate_external_id_is_409(client: TestClient) -> None:
    org = make_org(client, "Florist")
    create(client, org, "vehicles", vehicle_body())
    other = create(client, org, "vehicles", vehicle_body(external_id="VAN-2"))
    again = client.post(
        f"{API}/vehicles", json=vehicle_body(external_id=" VAN-1 "), headers=org.admin
    )
    assert again.status_code == 409 and again.json()["code"] == "conflict"
    assert "VAN-1" in again.json()["detail"]
    rename = client.patch(
        f"{API}/vehicles/{other['id']}", json={"external_id": "VAN-1"}, headers=org.admin
    )
    assert rename.status_code == 409
    assert client.get(f"{API}/vehicles", headers=org.admin).json()["total"] == 2
    # Another organisation may use the same external id.
    org_b = make_org(client, "Bakery")
    create(client, org_b, "vehicles", vehicle_body())


def test_vehicle_list_filters_and_pages(client: TestClient) -> None:
    org = make_org(client, "Florist")
    for i in range(5):
        create(client, org, "vehicles", vehicle_body(external_id=f"VAN-{i}", active=i % 2 == 0))
    page = client.get(f"{API}/vehicles", params={"limit": 2, "offset": 1}, headers=org.admin).json()
    assert page["total"] == 5 and [v["external_id"] for v in page["items"]] == ["VAN-1", "VAN-2"]
    active = client.get(f"{API}/vehicles", params={"active": "true"}, headers=org.admin).json()
    assert [v["external_id"] for v in active["items"]] == ["VAN-0", "VAN-2", "VAN-4"]
    assert client.get(f"{API}/vehicles", params={"limit": 0}, headers=org.admin).status_code == 422


def test_vehicle_on_a_plan_cannot_be_deleted(client: TestClient) -> None:
    org = make_org(client, "Florist")
    vehicle = create(client, org, "vehicles", vehicle_body())
    with sessions_of(client)() as session:
        plan = Plan(org_id=org.org_id, date=date(2026, 11, 25), status="done")
        session.add(plan)
        session.flush()
        session.add(
            Route(
                org_id=org.org_id,
                plan_id=plan.id,
                vehicle_id=vehicle["id"],
                date=date(2026, 11, 25),
            )
        )
        session.commit()
    response = client.delete(f"{API}/vehicles/{vehicle['id']}", headers=org.admin)
    assert response.status_code == 409 and "deactivate" in response.json()["detail"]
    off = client.patch(f"{API}/vehicles/{vehicle['id']}", json={"active": False}, headers=org.admin)
    assert off.status_code == 200 and off.json()["active"] is False


# --- drivers ----------------------------------------------------------------------------


def test_driver_crud_round_trip_with_login_and_vehicle(client: TestClient) -> None:
    org = make_org(client, "Florist")
    vehicle = create(client, org, "vehicles", vehicle_body())
    body = {
        "name": "Anna Beck",
        "phone": "+423 000 00 00",
        "user_id": org.user_ids[Role.DRIVER],
        "vehicle_id": vehicle["id"],
    }
    driver = create(client, org, "drivers", body)
    assert driver["id"].startswith("drv_")
    assert {k: driver[k] for k in body} == body and driver["active"] is True
    assert client.get(f"{API}/drivers/{driver['id']}", headers=org.admin).json() == driver

    patched = client.patch(
        f"{API}/drivers/{driver['id']}",
        json={"vehicle_id": None, "phone": ""},
        headers=org.dispatcher,
    )
    assert patched.status_code == 200
    assert (
        patched.json()["vehicle_id"] is None
        and patched.json()["user_id"] == org.user_ids[Role.DRIVER]
    )

    listed = client.get(f"{API}/drivers", headers=org.dispatcher).json()
    assert listed["total"] == 1 and listed["items"][0]["name"] == "Anna Beck"

    assert client.delete(f"{API}/drivers/{driver['id']}", headers=org.admin).status_code == 204
    assert client.get(f"{API}/drivers/{driver['id']}", headers=org.admin).status_code == 404
    assert event_types(client, org.org_id) == [
        "vehicle.created",
        "driver.created",
        "driver.updated",
        "driver.deleted",
    ]


def test_driver_login_must_be_a_driver_of_the_organisation(client: TestClient) -> None:
    org = make_org(client, "Florist")
    org_b = make_org(client, "Bakery")
    for user_id in (org.user_ids[Role.DISPATCHER], org_b.user_ids[Role.DRIVER], "usr_doesnotexist"):
        errors = errors_by_field(
            client.post(f"{API}/drivers", json={"name": "X", "user_id": user_id}, headers=org.admin)
        )
        assert set(errors) == {"user_id"} and "role driver" in errors["user_id"]
    first = create(client, org, "drivers", {"name": "Anna", "user_id": org.user_ids[Role.DRIVER]})
    second = client.post(
        f"{API}/drivers",
        json={"name": "Ben", "user_id": org.user_ids[Role.DRIVER]},
        headers=org.admin,
    )
    assert second.status_code == 409
    ben = create(client, org, "drivers", {"name": "Ben"})
    steal = client.patch(
        f"{API}/drivers/{ben['id']}", json={"user_id": org.user_ids[Role.DRIVER]}, headers=org.admin
    )
    assert steal.status_code == 409
    # The driver keeps their own login when changing something else.
    assert (
        client.patch(
            f"{API}/drivers/{first['id']}", json={"name": "Anna B."}, headers=org.admin
        ).status_code
        == 200
    )


def test_driver_validation(client: TestClient) -> None:
    org = make_org(client, "Florist")
    errors = errors_by_field(
        client.post(
            f"{API}/drivers",
            json={"name": " ", "phone": "1" * 51, "active": "yes"},
            headers=org.admin,
        )
    )
    assert set(errors) == {"name", "phone", "active"}
    errors = errors_by_field(
        client.post(
            f"{API}/drivers", json={"name": "Anna", "vehicle_id": "veh_nope"}, headers=org.admin
        )
    )
    assert errors == {"vehicle_id": "no such vehicle"}


def test_driver_with_history_cannot_be_deleted(client: TestClient) -> None:
    org = make_org(client, "Florist")
    driver = create(client, org, "drivers", {"name": "Anna"})
    with sessions_of(client)() as session:
        from lastmile.common.clock import utcnow

        session.add(
            Position(
                org_id=org.org_id, driver_id=driver["id"], lon=9.5, lat=47.1, recorded_at=utcnow()
            )
        )
        session.commit()
    response = client.delete(f"{API}/drivers/{driver['id']}", headers=org.admin)
    assert response.status_code == 409 and "deactivate" in response.json()["detail"]
    assert client.get(f"{API}/drivers/{driver['id']}", headers=org.admin).status_code == 200


# --- roles ------------------------------------------------------------------------------


def test_roles(client: TestClient) -> None:
    org = make_org(client, "Florist")
    depot = create(client, org, "depots", depot_body())
    vehicle = create(client, org, "vehicles", vehicle_body())
    driver = create(client, org, "drivers", {"name": "Anna"})
    ids = {"depots": depot["id"], "vehicles": vehicle["id"], "drivers": driver["id"]}
    bodies = {
        "depots": depot_body(),
        "vehicles": vehicle_body(external_id="VAN-9"),
        "drivers": {"name": "Ben"},
    }
    for kind, row_id in ids.items():
        # Drivers: 403 everywhere, even with a body that would not validate.
        assert client.get(f"{API}/{kind}", headers=org.driver).status_code == 403
        assert client.get(f"{API}/{kind}/{row_id}", headers=org.driver).status_code == 403
        assert (
            client.post(f"{API}/{kind}", json=bodies[kind], headers=org.driver).status_code == 403
        )
        assert client.post(f"{API}/{kind}", json={"bad": 1}, headers=org.driver).status_code == 403
        assert (
            client.patch(f"{API}/{kind}/{row_id}", json={}, headers=org.driver).status_code == 403
        )
        assert client.delete(f"{API}/{kind}/{row_id}", headers=org.driver).status_code == 403
        # No credentials: 401.
        assert client.get(f"{API}/{kind}").status_code == 401
        # Dispatchers read and write, but do not delete.
        assert client.get(f"{API}/{kind}/{row_id}", headers=org.dispatcher).status_code == 200
        assert client.delete(f"{API}/{kind}/{row_id}", headers=org.dispatcher).status_code == 403
    files = {"file": ("v.csv", b"id,start_lon,start_lat,capacity\nX,9.5,47.1,5\n", "text/csv")}
    assert client.post(f"{API}/vehicles/import", files=files, headers=org.driver).status_code == 403
    # Admins delete (driver first: nothing else depends on it).
    for kind in ("drivers", "vehicles", "depots"):
        assert client.delete(f"{API}/{kind}/{ids[kind]}", headers=org.admin).status_code == 204


# --- organisation isolation -------------------------------------------------------------


def test_organisations_do_not_see_each_others_fleet(client: TestClient) -> None:
    org_a = make_org(client, "Florist")
    org_b = make_org(client, "Bakery")
    depot = create(client, org_a, "depots", depot_body())
    vehicle = create(client, org_a, "vehicles", vehicle_body(depot_id=depot["id"]))
    driver = create(client, org_a, "drivers", {"name": "Anna", "vehicle_id": vehicle["id"]})
    ids = {"depots": depot["id"], "vehicles": vehicle["id"], "drivers": driver["id"]}
    patches = {
        "depots": {"name": "Mine"},
        "vehicles": {"name": "Mine"},
        "drivers": {"name": "Mine"},
    }
    for kind, row_id in ids.items():
        listed = client.get(f"{API}/{kind}", headers=org_b.admin)
        assert (
            listed.status_code == 200
            and listed.json()["items"] == []
            and listed.json()["total"] == 0
        )
        for method, body in (("GET", None), ("PATCH", patches[kind]), ("DELETE", None)):
            response = client.request(
                method, f"{API}/{kind}/{row_id}", headers=org_b.admin, json=body
            )
            assert response.status_code == 404, (kind, method, response.text)
            assert response.json()["code"] == "not_found"
        # Org A's rows are untouched.
        mine = client.get(f"{API}/{kind}/{row_id}", headers=org_a.admin)
        assert mine.status_code == 200 and mine.json()["name"] != "Mine"
    # Nor can org B point at org A's rows.
    errors = errors_by_field(
        client.post(f"{API}/vehicles", json=vehicle_body(depot_id=depot["id"]), headers=org_b.admin)
    )
    assert errors == {"depot_id": "no such depot"}
    errors = errors_by_field(
        client.post(
            f"{API}/drivers", json={"name": "B", "vehicle_id": vehicle["id"]}, headers=org_b.admin
        )
    )
    assert errors == {"vehicle_id": "no such vehicle"}
    assert (
        client.get(f"{API}/vehicles", params={"depot_id": depot["id"]}, headers=org_b.admin).json()[
            "items"
        ]
        == []
    )
    assert event_types(client, org_b.org_id) == []
