"""Orders API: create, read, list, change, delete; idempotency, isolation, roles, events."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from helpers.service import OrgUsers, make_org
from lastmile.auth import service as auth
from lastmile.events.models import Event
from lastmile.orders.models import OrderEvent
from lastmile.orgs.models import Role

ORDERS = "/api/v1/orders"


def order(external_id: str = "A-1", **fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "external_id": external_id,
        "date": "2026-11-24",
        "address": "Städtle 1, 9490 Vaduz",
        "lon": 9.5209,
        "lat": 47.1410,
        "windows": [{"start": "08:00", "end": "12:00"}],
        "service_s": 120,
        "demand": {"parcels": 2, "weight_kg": 3.5},
    }
    body.update(fields)
    return body


def create(client: TestClient, org: OrgUsers, *bodies: dict[str, Any]) -> list[dict[str, Any]]:
    payload: Any = bodies[0] if len(bodies) == 1 else list(bodies)
    response = client.post(ORDERS, json=payload, headers=org.dispatcher)
    assert response.status_code == 201, response.text
    return [item["order"] for item in response.json()["items"]]


def events_of(client: TestClient, org_id: str, type_: str | None = None) -> list[Event]:
    sessions: sessionmaker[Session] = client.app.state.sessions  # type: ignore[attr-defined]
    with sessions() as session:
        query = select(Event).where(Event.org_id == org_id).order_by(Event.id)
        if type_:
            query = query.where(Event.type == type_)
        return list(session.scalars(query))


def test_create_returns_the_order_with_units(client: TestClient) -> None:
    org = make_org(client, "Create Co")
    response = client.post(ORDERS, json=order(), headers=org.dispatcher)
    assert response.status_code == 201, response.text
    body = response.json()
    assert (body["created"], body["updated"], body["unchanged"]) == (1, 0, 0)
    item = body["items"][0]
    assert item["result"] == "created" and item["existed"] is False
    created = item["order"]
    assert created["id"].startswith("ord_")
    assert created["status"] == "ready"
    assert created["address_verdict"] == "given"
    assert created["windows"] == [{"start": "08:00", "end": "12:00"}]
    assert created["demand"] == {"parcels": 2.0, "weight_kg": 3.5}
    assert created["service_s"] == 120
    assert created["date"] == "2026-11-24"

    fetched = client.get(f"{ORDERS}/{created['id']}", headers=org.admin)
    assert fetched.status_code == 200
    assert fetched.json() == created


def test_order_without_coordinates_is_new_and_needs_geocoding(client: TestClient) -> None:
    org = make_org(client, "Geo Co")
    created = create(client, org, order(lon=None, lat=None))[0]
    assert created["status"] == "new"
    assert created["lon"] is None and created["address_verdict"] is None

    from lastmile.orders import service

    sessions: sessionmaker[Session] = client.app.state.sessions  # type: ignore[attr-defined]
    with sessions() as session:
        waiting = service.list_needing_geocoding(session=session, org_id=org.org_id)
        assert [o.id for o in waiting] == [created["id"]]
        service.set_location(
            session=session,
            org_id=org.org_id,
            order_id=created["id"],
            lon=9.52,
            lat=47.14,
            verdict="exact",
        )
    assert client.get(f"{ORDERS}/{created['id']}", headers=org.admin).json()["status"] == "ready"


def test_default_date_is_today_in_the_organisation(client: TestClient) -> None:
    org = make_org(client, "Today Co", timezone="Pacific/Kiritimati")
    created = create(client, org, {k: v for k, v in order().items() if k != "date"})[0]
    from lastmile.orders import service

    sessions: sessionmaker[Session] = client.app.state.sessions  # type: ignore[attr-defined]
    with sessions() as session:
        today = service.org_today(session=session, org_id=org.org_id)
    assert created["date"] == today.isoformat()


def test_same_external_id_twice_is_one_order(client: TestClient) -> None:
    org = make_org(client, "Idem Co")
    first = create(client, org, order())[0]
    again = client.post(ORDERS, json=order(), headers=org.dispatcher)
    assert again.status_code == 201
    item = again.json()["items"][0]
    assert (item["result"], item["existed"]) == ("unchanged", True)
    assert item["order"]["id"] == first["id"]
    assert item["order"]["updated_at"] == first["updated_at"]
    listed = client.get(ORDERS, headers=org.dispatcher).json()
    assert listed["total"] == 1
    assert len(events_of(client, org.org_id, "order.created")) == 1
    assert events_of(client, org.org_id, "order.updated") == []


def test_resending_a_changed_order_updates_it_while_not_planned(client: TestClient) -> None:
    org = make_org(client, "Upsert Co")
    first = create(client, org, order())[0]
    response = client.post(
        ORDERS,
        json=order(service_s=300, address="Aeulestrasse 5, 9490 Vaduz"),
        headers=org.dispatcher,
    )
    assert response.status_code == 201
    item = response.json()["items"][0]
    assert (item["result"], item["existed"]) == ("updated", True)
    assert item["order"]["id"] == first["id"]
    assert item["order"]["service_s"] == 300
    assert item["order"]["status"] == "ready"  # coordinates were sent with it
    changed = events_of(client, org.org_id, "order.updated")
    assert len(changed) == 1 and "service_s" in changed[0].payload["changed"]


def test_resending_a_changed_order_once_planned_is_a_conflict(client: TestClient) -> None:
    org = make_org(client, "Conflict Co")
    first = create(client, org, order())[0]
    moved = client.post(
        f"{ORDERS}/{first['id']}/transitions", json={"to": "planned"}, headers=org.dispatcher
    )
    assert moved.status_code == 200, moved.text
    response = client.post(ORDERS, json=order(service_s=999), headers=org.dispatcher)
    assert response.status_code == 409
    assert response.headers["content-type"].startswith("application/problem+json")
    assert "service_s" in response.json()["detail"]
    assert client.get(f"{ORDERS}/{first['id']}", headers=org.admin).json()["service_s"] == 120
    # the same order re-sent unchanged is fine, and a phone number may still change
    assert client.post(ORDERS, json=order(), headers=org.dispatcher).json()["unchanged"] == 1
    assert (
        client.post(ORDERS, json=order(phone="+423 000"), headers=org.dispatcher).json()["updated"]
        == 1
    )


def test_resent_order_without_coordinates_keeps_the_geocoded_location(client: TestClient) -> None:
    org = make_org(client, "Keep Co")
    created = create(client, org, order(lon=None, lat=None))[0]
    from lastmile.orders import service

    sessions: sessionmaker[Session] = client.app.state.sessions  # type: ignore[attr-defined]
    with sessions() as session:
        service.set_location(
            session=session,
            org_id=org.org_id,
            order_id=created["id"],
            lon=9.5,
            lat=47.1,
            verdict="exact",
        )
    again = client.post(ORDERS, json=order(lon=None, lat=None), headers=org.dispatcher).json()[
        "items"
    ][0]
    assert again["result"] == "unchanged"
    assert (again["order"]["lon"], again["order"]["status"]) == (9.5, "ready")
    moved = client.post(
        ORDERS,
        json=order(lon=None, lat=None, address="Elsewhere 2, Schaan"),
        headers=org.dispatcher,
    ).json()["items"][0]
    assert moved["result"] == "updated"
    assert (moved["order"]["lon"], moved["order"]["status"]) == (None, "new")


def test_batch_create_is_all_or_nothing(client: TestClient) -> None:
    org = make_org(client, "Batch Co")
    response = client.post(
        ORDERS, json=[order("B-1"), order("B-2", lon=500)], headers=org.dispatcher
    )
    assert response.status_code == 422
    errors = response.json()["errors"]
    assert errors[0]["field"] == "1.lon"
    assert client.get(ORDERS, headers=org.dispatcher).json()["total"] == 0
    duplicate = client.post(ORDERS, json=[order("B-1"), order("B-1")], headers=org.dispatcher)
    assert duplicate.status_code == 422
    assert duplicate.json()["errors"][0]["field"] == "1.external_id"
    ok = client.post(
        ORDERS, json=[order("B-1"), order("B-2", lon=None, lat=None)], headers=org.dispatcher
    )
    assert ok.status_code == 201
    assert [i["order"]["status"] for i in ok.json()["items"]] == ["ready", "new"]


INVALID = [
    ({"lon": 180.5}, "lon"),
    ({"lat": -90.1}, "lat"),
    ({"lon": 9.5, "lat": None}, ""),
    ({"lon": "9.5"}, "lon"),
    ({"windows": [{"start": "8h", "end": "12:00"}]}, "windows.0.start"),
    ({"windows": [{"start": "12:00", "end": "08:00"}]}, "windows.0"),
    (
        {"windows": [{"start": "08:00", "end": "12:00"}, {"start": "11:00", "end": "13:00"}]},
        "windows",
    ),
    ({"windows": [28800, 43200]}, "windows.0"),
    ({"demand": {"parcels": -1}}, "demand.parcels"),
    ({"demand": {"Parcels!": 1}}, "demand.Parcels!.[key]"),
    ({"service_s": -5}, "service_s"),
    ({"service_s": 1.5}, "service_s"),
    ({"required": "yes"}, "required"),
    ({"kind": "return"}, "kind"),
    ({"external_id": ""}, "external_id"),
    ({"external_id": " padded "}, "external_id"),
    ({"external_id": "x" * 101}, "external_id"),
    ({"date": "24.11.2026"}, "date"),
    ({"date": "2026-02-30"}, "date"),
    ({"date": 1764000000}, "date"),
    ({"colour": "red"}, "colour"),
    ({"deliver_to": "A-0"}, ""),
    ({"lon": None, "lat": None, "address": ""}, ""),
]


def test_invalid_orders_are_refused_with_the_field(client: TestClient) -> None:
    org = make_org(client, "Strict Co")
    wrong = []
    for fields, field in INVALID:
        response = client.post(ORDERS, json=order(**fields), headers=org.dispatcher)
        body = response.json()
        fields_named = [e["field"] for e in body.get("errors", [])]
        if response.status_code != 422 or field not in fields_named:
            wrong.append((fields, response.status_code, fields_named))
        elif not response.headers["content-type"].startswith("application/problem+json"):
            wrong.append((fields, "not problem+json", response.headers["content-type"]))
    assert wrong == []
    assert client.get(ORDERS, headers=org.dispatcher).json()["total"] == 0


def test_pickup_must_name_a_known_delivery(client: TestClient) -> None:
    org = make_org(client, "Pickup Co")
    refused = client.post(
        ORDERS, json=order("P-1", kind="pickup", deliver_to="D-1"), headers=org.dispatcher
    )
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["field"] == "0.deliver_to"
    pair = create(client, org, order("P-1", kind="pickup", deliver_to="D-1"), order("D-1"))
    assert pair[0]["deliver_to"] == "D-1"


def test_list_filters_and_pages(client: TestClient) -> None:
    org = make_org(client, "List Co")
    bodies = [
        order(f"L-{i:02d}", date="2026-11-24" if i < 7 else "2026-11-25", customer=f"Customer {i}")
        for i in range(10)
    ]
    bodies[3]["customer"] = "Maria Büchel"
    bodies[4]["lon"] = bodies[4]["lat"] = None
    create(client, org, *bodies)

    page = client.get(ORDERS, params={"limit": 3, "offset": 0}, headers=org.dispatcher).json()
    assert page["total"] == 10 and [o["external_id"] for o in page["items"]] == [
        "L-00",
        "L-01",
        "L-02",
    ]
    page2 = client.get(ORDERS, params={"limit": 3, "offset": 9}, headers=org.dispatcher).json()
    assert page2["total"] == 10 and [o["external_id"] for o in page2["items"]] == ["L-09"]

    day = client.get(ORDERS, params={"date": "2026-11-25"}, headers=org.dispatcher).json()
    assert [o["external_id"] for o in day["items"]] == ["L-07", "L-08", "L-09"]

    new = client.get(ORDERS, params={"status": "new"}, headers=org.dispatcher).json()
    assert [o["external_id"] for o in new["items"]] == ["L-04"]
    both = client.get(
        ORDERS,
        params=[("status", "new"), ("status", "ready"), ("date", "2026-11-24")],
        headers=org.dispatcher,
    ).json()
    assert both["total"] == 7

    found = client.get(ORDERS, params={"q": "büchel"}, headers=org.dispatcher).json()
    assert [o["external_id"] for o in found["items"]] == ["L-03"]
    by_id = client.get(ORDERS, params={"q": "l-0"}, headers=org.dispatcher).json()
    assert by_id["total"] == 10
    nothing = client.get(ORDERS, params={"q": "%"}, headers=org.dispatcher).json()
    assert nothing["total"] == 0


def test_list_refuses_bad_parameters(client: TestClient) -> None:
    org = make_org(client, "Params Co")
    bad = [{"limit": 0}, {"limit": 501}, {"offset": -1}, {"status": "lost"}, {"date": "tomorrow"}]
    for params in bad:
        response = client.get(ORDERS, params=params, headers=org.dispatcher)
        assert response.status_code == 422, params
        assert next(iter(params)) in response.json()["errors"][0]["field"], params


def test_patch_changes_fields_and_address_resets_to_new(client: TestClient) -> None:
    org = make_org(client, "Patch Co")
    created = create(client, org, order())[0]
    url = f"{ORDERS}/{created['id']}"
    small = client.patch(
        url,
        json={"service_s": 60, "windows": [{"start": "14:00", "end": "18:30"}]},
        headers=org.dispatcher,
    )
    assert small.status_code == 200, small.text
    assert small.json()["service_s"] == 60 and small.json()["status"] == "ready"
    assert small.json()["windows"] == [{"start": "14:00", "end": "18:30"}]

    moved = client.patch(
        url, json={"address": "Landstrasse 10, 9494 Schaan"}, headers=org.dispatcher
    ).json()
    assert (moved["status"], moved["lon"], moved["address_verdict"]) == ("new", None, None)

    located = client.patch(url, json={"lon": 9.51, "lat": 47.16}, headers=org.dispatcher).json()
    assert (located["status"], located["address_verdict"]) == ("ready", "given")

    history = client.get(f"{url}/events", headers=org.dispatcher).json()
    assert [(h["from_status"], h["to_status"]) for h in history] == [
        (None, "ready"),
        ("ready", "new"),
        ("new", "ready"),
    ]
    assert len(events_of(client, org.org_id, "order.updated")) == 3

    assert client.patch(url, json={"address": None}, headers=org.dispatcher).status_code == 422
    assert client.patch(url, json={"lon": 9.5}, headers=org.dispatcher).status_code == 422
    assert (
        client.patch(url, json={"external_id": "other"}, headers=org.dispatcher).status_code == 422
    )


def test_patch_of_a_planned_order_only_changes_contact_fields(client: TestClient) -> None:
    org = make_org(client, "Planned Patch Co")
    created = create(client, org, order())[0]
    url = f"{ORDERS}/{created['id']}"
    assert (
        client.post(
            f"{url}/transitions", json={"to": "planned"}, headers=org.dispatcher
        ).status_code
        == 200
    )
    refused = client.patch(url, json={"date": "2026-11-30"}, headers=org.dispatcher)
    assert refused.status_code == 409
    assert "date" in refused.json()["detail"]
    allowed = client.patch(
        url, json={"phone": "+423 555 00 00", "notes": "ring twice"}, headers=org.dispatcher
    )
    assert allowed.status_code == 200 and allowed.json()["phone"] == "+423 555 00 00"


def test_delete_only_before_planning(client: TestClient) -> None:
    org = make_org(client, "Delete Co")
    first, second = create(client, org, order("D-1"), order("D-2"))
    assert client.delete(f"{ORDERS}/{first['id']}", headers=org.dispatcher).status_code == 204
    assert client.get(f"{ORDERS}/{first['id']}", headers=org.dispatcher).status_code == 404
    deleted = events_of(client, org.org_id, "order.deleted")
    assert [e.payload["external_id"] for e in deleted] == ["D-1"]

    assert (
        client.post(
            f"{ORDERS}/{second['id']}/transitions", json={"to": "planned"}, headers=org.dispatcher
        ).status_code
        == 200
    )
    refused = client.delete(f"{ORDERS}/{second['id']}", headers=org.dispatcher)
    assert refused.status_code == 409
    assert client.get(f"{ORDERS}/{second['id']}", headers=org.dispatcher).status_code == 200
    assert (
        client.post(
            f"{ORDERS}/{second['id']}/transitions", json={"to": "cancelled"}, headers=org.dispatcher
        ).status_code
        == 200
    )
    assert client.delete(f"{ORDERS}/{second['id']}", headers=org.dispatcher).status_code == 204


def test_every_change_records_an_event(client: TestClient) -> None:
    org = make_org(client, "Events Co")
    created = create(client, org, order())[0]
    url = f"{ORDERS}/{created['id']}"
    client.patch(url, json={"notes": "side door"}, headers=org.dispatcher)
    client.post(
        f"{url}/transitions", json={"to": "cancelled", "reason": "customer"}, headers=org.dispatcher
    )
    client.delete(url, headers=org.dispatcher)
    types = [e.type for e in events_of(client, org.org_id)]
    assert types == ["order.created", "order.updated", "order.status_changed", "order.deleted"]
    changed = events_of(client, org.org_id, "order.status_changed")[0].payload
    assert changed["order_id"] == created["id"] and changed["external_id"] == "A-1"
    assert (changed["from"], changed["to"], changed["reason"]) == ("ready", "cancelled", "customer")
    assert changed["actor"] == f"user:{org.user_ids[Role.DISPATCHER]}"
    assert changed["at"]


def test_other_organisations_orders_are_invisible(client: TestClient) -> None:
    org_a = make_org(client, "Org A")
    org_b = make_org(client, "Org B")
    a_order = create(client, org_a, order("SHARED-1"))[0]
    url = f"{ORDERS}/{a_order['id']}"
    assert client.get(ORDERS, headers=org_b.admin).json() == {
        "items": [],
        "total": 0,
        "limit": 50,
        "offset": 0,
    }
    assert client.get(url, headers=org_b.admin).status_code == 404
    assert client.get(f"{url}/events", headers=org_b.admin).status_code == 404
    assert client.patch(url, json={"notes": "mine"}, headers=org_b.admin).status_code == 404
    assert (
        client.post(f"{url}/transitions", json={"to": "cancelled"}, headers=org_b.admin).status_code
        == 404
    )
    assert client.delete(url, headers=org_b.admin).status_code == 404
    # the same external id in another organisation is another order
    b_order = create(client, org_b, order("SHARED-1"))[0]
    assert b_order["id"] != a_order["id"]
    after = client.get(url, headers=org_a.admin).json()
    assert (after["status"], after["notes"]) == ("ready", "")
    assert [e.type for e in events_of(client, org_a.org_id)] == ["order.created"]


def test_drivers_are_refused_everywhere(client: TestClient) -> None:
    org = make_org(client, "Roles Co")
    created = create(client, org, order())[0]
    url = f"{ORDERS}/{created['id']}"
    files = {"file": ("o.csv", b"id,address\nX-1,Somewhere 1\n", "text/csv")}
    calls = [
        client.post(ORDERS, json=order("R-2"), headers=org.driver),
        client.post(f"{ORDERS}/import", files=files, headers=org.driver),
        client.get(ORDERS, headers=org.driver),
        client.get(url, headers=org.driver),
        client.patch(url, json={"notes": "x"}, headers=org.driver),
        client.delete(url, headers=org.driver),
        client.post(f"{url}/transitions", json={"to": "cancelled"}, headers=org.driver),
        client.get(f"{url}/events", headers=org.driver),
    ]
    assert [c.status_code for c in calls] == [403] * len(calls)
    assert client.get(url, headers=org.admin).json()["status"] == "ready"
    assert client.get(ORDERS, headers={}).status_code == 401


def test_api_keys_act_with_their_role(client: TestClient) -> None:
    org = make_org(client, "Keys Co")
    sessions: sessionmaker[Session] = client.app.state.sessions  # type: ignore[attr-defined]
    with sessions() as session:
        _, dispatcher_key = auth.create_api_key(
            session=session, org_id=org.org_id, name="shop", role=Role.DISPATCHER
        )
        _, driver_key = auth.create_api_key(
            session=session, org_id=org.org_id, name="van", role=Role.DRIVER
        )
    created = client.post(ORDERS, json=order(), headers={"X-API-Key": dispatcher_key})
    assert created.status_code == 201, created.text
    assert client.get(ORDERS, headers={"X-API-Key": driver_key}).status_code == 403
    order_id = created.json()["items"][0]["order"]["id"]
    with sessions() as session:
        first = session.scalars(select(OrderEvent).where(OrderEvent.order_id == order_id)).one()
        assert first.actor.startswith("api_key:")


def test_every_orders_route_is_documented(client: TestClient) -> None:
    from pathlib import Path

    text = (Path(__file__).parents[2] / "docs" / "api-orders.md").read_text()
    schema = client.app.openapi()  # type: ignore[attr-defined]
    routes = [
        (method.upper(), path, op["operationId"])
        for path, item in schema["paths"].items()
        for method, op in item.items()
        if "orders" in op.get("tags", [])
    ]
    assert len(routes) == 9
    missing = [r for r in routes if f"`{r[0]} {r[1]}` | `{r[2]}`" not in text]
    assert missing == []


def test_a_create_racing_another_one_ends_as_one_order(
    client: TestClient, monkeypatch: Any
) -> None:
    from lastmile.orders import service
    from lastmile.orders.schemas import OrderCreate

    org = make_org(client, "Race Co")
    first = create(client, org, order())[0]
    real = service._existing_by_external_id
    calls: list[int] = []

    def stale_once(*args: Any) -> dict[str, Any]:
        calls.append(1)
        return {} if len(calls) == 1 else real(*args)  # the first look misses the other's row

    monkeypatch.setattr(service, "_existing_by_external_id", stale_once)
    sessions: sessionmaker[Session] = client.app.state.sessions  # type: ignore[attr-defined]
    with sessions() as session:
        result = service.create(
            session=session,
            org_id=org.org_id,
            order_in=OrderCreate.model_validate(order()),
            actor="system",
        )
        assert (result.result, result.order.id) == ("unchanged", first["id"])
    assert client.get(ORDERS, headers=org.dispatcher).json()["total"] == 1


def test_nul_characters_are_refused_not_a_server_error(client: TestClient) -> None:
    """PostgreSQL cannot store NUL; it must be a 422 or 404 on every backend, never a 500."""
    org = make_org(client, "Nul Co")
    created = create(client, org, order())[0]
    assert client.post(ORDERS, json=order("N\x00-1"), headers=org.dispatcher).status_code == 422
    assert (
        client.post(
            ORDERS, json=order(demand={"parcels": 1}, skills=["a\x00"]), headers=org.dispatcher
        ).status_code
        == 422
    )
    assert (
        client.patch(
            f"{ORDERS}/{created['id']}", json={"notes": "\x00"}, headers=org.dispatcher
        ).status_code
        == 422
    )
    # a NUL in the path: the NUL guard answers 422 before any lookup (404 would do too)
    assert client.get(f"{ORDERS}/ord_%00", headers=org.dispatcher).status_code in (404, 422)
    assert client.post(
        f"{ORDERS}/ord_%00/transitions", json={"to": "cancelled"}, headers=org.dispatcher
    ).status_code in (404, 422)
    assert client.get(ORDERS, params={"q": "a\x00"}, headers=org.dispatcher).status_code == 422
    files = {"file": ("o.csv", b"id,address\nX\x00,Street 1\n", "text/csv")}
    assert client.post(f"{ORDERS}/import", files=files, headers=org.dispatcher).status_code == 422
    assert client.get(ORDERS, headers=org.dispatcher).json()["total"] == 1
