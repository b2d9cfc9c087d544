"""``fleet.service.to_core_vehicles``: what the planner gets from the stored fleet."""

from __future__ import annotations

import dataclasses

import pytest
from fastapi.testclient import TestClient
from test_fleet import create, sessions_of, vehicle_body
from test_fleet_import import SAMPLE, upload

from helpers.service import make_org
from lastmile.core.errors import InputError
from lastmile.core.formats.vehicles_csv import parse_vehicles_csv
from lastmile.core.model import Break, Location, Profile, TimeWindow
from lastmile.fleet import service as fleet


def test_conversion_of_every_field(client: TestClient) -> None:
    org = make_org(client, "Florist")
    van = create(
        client,
        org,
        "vehicles",
        vehicle_body(
            end={"lon": 9.6, "lat": 47.2},
            speed_factor=1.2,
            max_duration_s=8 * 3600,
            max_overtime_s=1800,
            overtime_cost_per_hour=40,
            **{"break": {"start": "11:30", "end": "13:00", "minutes": 45}},
        ),
    )
    bike = create(
        client,
        org,
        "vehicles",
        vehicle_body(
            external_id="BIKE-1",
            name="",
            profile="cargo_bike",
            capacity={"parcels": 15, "volume_l": 200},
            open_end=True,
            end={"lon": 1, "lat": 2},
            skills=[],
        ),
    )
    home = create(
        client, org, "vehicles", vehicle_body(external_id="CAR-1", capacity={"parcels": 25})
    )
    create(
        client,
        org,
        "vehicles",
        vehicle_body(external_id="OLD-1", active=False, capacity={"pallets": 2}),
    )

    with sessions_of(client)() as session:
        cores, dimensions = fleet.to_core_vehicles(
            session=session, org_id=org.org_id, vehicle_ids=None
        )
    # Inactive vehicles are left out, and so are their dimensions; order = external id.
    assert dimensions == ("parcels", "volume_l", "weight_kg")
    assert [c.id for c in cores] == [bike["id"], home["id"], van["id"]]
    by_id = {c.id: c for c in cores}

    v = by_id[van["id"]]
    assert v.name == "Van 1" and v.profile is Profile.VAN
    assert v.start == Location(9.5087, 47.1657) and v.end == Location(9.6, 47.2)
    assert v.shift == TimeWindow(7 * 3600 + 1800, 17 * 3600 + 1800)
    assert v.capacity == (90.0, 0.0, 600.0)
    assert v.skills == frozenset({"fridge", "tail_lift"})
    assert (v.cost_per_km, v.cost_per_hour, v.fixed_cost, v.speed_factor) == (0.35, 28.0, 20.0, 1.2)
    assert (
        v.max_duration_s == 8 * 3600
        and v.max_overtime_s == 1800
        and v.overtime_cost_per_hour == 40.0
    )
    assert v.breaks == (Break(TimeWindow(11 * 3600 + 1800, 13 * 3600), 45 * 60),)

    b = by_id[bike["id"]]
    assert b.name == "BIKE-1"  # no name: the external id
    assert b.end is None  # open end: the stored end is ignored
    assert b.capacity == (15.0, 200.0, 0.0) and b.profile is Profile.CARGO_BIKE and b.breaks == ()

    h = by_id[home["id"]]
    assert h.end == h.start  # no end: back to the start
    assert h.capacity == (25.0, 0.0, 0.0)


def test_explicit_ids_keep_their_order_and_refuse_bad_ones(client: TestClient) -> None:
    org = make_org(client, "Florist")
    org_b = make_org(client, "Bakery")
    a = create(client, org, "vehicles", vehicle_body(external_id="A"))
    b = create(client, org, "vehicles", vehicle_body(external_id="B", capacity={"kg": 5}))
    off = create(client, org, "vehicles", vehicle_body(external_id="C", active=False))
    foreign = create(client, org_b, "vehicles", vehicle_body(external_id="D"))
    with sessions_of(client)() as session:
        cores, dimensions = fleet.to_core_vehicles(
            session=session, org_id=org.org_id, vehicle_ids=[b["id"], a["id"]]
        )
        assert [c.id for c in cores] == [b["id"], a["id"]]
        assert dimensions == ("kg", "parcels", "weight_kg")
        with pytest.raises(InputError) as caught:
            fleet.to_core_vehicles(
                session=session,
                org_id=org.org_id,
                vehicle_ids=[a["id"], off["id"], foreign["id"], "veh_nope"],
            )
        assert [(i.field, i.message) for i in caught.value.issues] == [
            ("vehicle_ids.1", "is inactive"),
            ("vehicle_ids.2", "no such vehicle"),  # another organisation's: not revealed
            ("vehicle_ids.3", "no such vehicle"),
        ]
        assert fleet.to_core_vehicles(session=session, org_id=org.org_id, vehicle_ids=[]) == (
            [],
            (),
        )
        # Org B sees only its own vehicle.
        cores_b, _ = fleet.to_core_vehicles(session=session, org_id=org_b.org_id, vehicle_ids=None)
        assert [c.id for c in cores_b] == [foreign["id"]]


def test_imported_sample_plans_like_the_csv_itself(client: TestClient) -> None:
    """Import then convert gives what ``lastmile plan --vehicles`` reads from the same file."""
    org = make_org(client, "Florist")
    report = upload(client, org, SAMPLE.read_bytes()).json()
    db_ids = {v["id"]: v["external_id"] for v in report["vehicles"]}
    parsed = parse_vehicles_csv(SAMPLE.read_text())
    with sessions_of(client)() as session:
        cores, dimensions = fleet.to_core_vehicles(
            session=session, org_id=org.org_id, vehicle_ids=None
        )
    assert dimensions == parsed.dimensions == ("parcels", "weight_kg")
    from_csv = {v.id: v for v in parsed.vehicles}
    assert len(cores) == len(from_csv) == 5
    for core in cores:
        expected = from_csv[db_ids[core.id]]
        assert dataclasses.replace(core, id=expected.id) == expected
