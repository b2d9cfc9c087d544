"""Proof-of-delivery policy (issue 14, item 4): the ways a delivery may be handed over, set for
the organisation and per order, sent to the driver app and checked by the driver API."""

from __future__ import annotations

from fastapi.testclient import TestClient

from service.test_driver_api import dispatch_and_fetch, ev, history, plan_day, send

ORG = "/api/v1/organisation"


def test_policy_of_the_organisation_and_of_one_order(client: TestClient) -> None:
    day = plan_day(client, "Pod Co", dispatch=False)
    org = day.org
    assert client.get(ORG, headers=org.dispatcher).json()["pod_policy"] == ["signature"]
    r = client.patch(ORG, json={"pod_policy": ["lockbox"]}, headers=org.admin)
    assert r.status_code == 422 and "pod_policy" in r.text
    r = client.patch(ORG, json={"pod_policy": []}, headers=org.admin)
    assert r.status_code == 422
    r = client.patch(ORG, json={"pod_policy": ["photo", "safe_place"]}, headers=org.dispatcher)
    assert r.status_code == 403
    r = client.patch(ORG, json={"pod_policy": ["photo", "safe_place"]}, headers=org.admin)
    assert r.status_code == 200 and r.json()["pod_policy"] == ["photo", "safe_place"]

    dispatch_and_fetch(client, day)
    # one order (a pharmacy-style parcel) needs a neighbour's name or a signature; set after
    # dispatch (the policy does not change the plan), the driver app gets it with the route
    special = day.stops[0]["order_id"]
    r = client.patch(
        f"/api/v1/orders/{special}",
        json={"pod_policy": ["neighbour", "signature", "neighbour"]},
        headers=org.dispatcher,
    )
    assert r.status_code == 200, r.text
    assert r.json()["pod_policy"] == ["neighbour", "signature"]
    r = client.patch(
        f"/api/v1/orders/{special}", json={"pod_policy": ["post box"]}, headers=org.dispatcher
    )
    assert r.status_code == 422 and "pod_policy" in r.text
    route = client.get(f"/api/v1/driver/route?date={day.day}", headers=org.driver).json()["route"]
    stops = [s for s in route["stops"] if s["kind"] == "order"]
    assert len(stops) >= 2
    for stop in stops:
        if stop["order_id"] == special:
            assert stop["handover"] == ["neighbour", "signature"]
            assert stop["pod_required"] == []
        else:
            assert stop["handover"] == ["photo", "safe_place"]
            assert stop["pod_required"] == ["photo"]

    # the order's policy can change after dispatch (it does not change the plan)
    r = client.patch(f"/api/v1/orders/{special}", json={"pod_policy": None}, headers=org.dispatcher)
    assert r.status_code == 200 and r.json()["pod_policy"] is None


def test_driver_api_checks_the_way_of_handing_over(client: TestClient) -> None:
    day = plan_day(client, "Check Co", dispatch=False)
    org = day.org
    client.patch(
        ORG, json={"pod_policy": ["signature", "neighbour", "safe_place"]}, headers=org.admin
    )
    dispatch_and_fetch(client, day)
    a, b, c = (s["id"] for s in day.stops[:3])
    send(client, day, ev("start-0001", "route_started", day.at(1)))
    results = send(
        client,
        day,
        ev("photo-only-1", "delivered", day.at(10), a, handover="photo"),
        ev("neighbour-01", "delivered", day.at(11), a, handover="neighbour"),
        ev("safeplace-01", "delivered", day.at(12), a, handover="safe_place"),
        ev("unknown-way1", "delivered", day.at(13), a, handover="drone"),
        ev("failed-way-1", "failed", day.at(14), a, reason="not_home", handover="neighbour"),
    )
    assert [(r["status"], r["error"]["field"]) for r in results] == [
        ("rejected", "handover"),
        ("rejected", "recipient"),
        ("rejected", "note"),
        ("rejected", "handover"),
        ("rejected", "handover"),
    ]
    assert "allowed: signature, neighbour, safe_place" in results[0]["error"]["message"]
    results = send(
        client,
        day,
        ev(
            "neighbour-02",
            "delivered",
            day.at(20),
            a,
            handover="neighbour",
            recipient="Frau Huber, no. 12",
        ),
        ev(
            "safeplace-02",
            "delivered",
            day.at(30),
            b,
            handover="safe_place",
            note="behind the gate",
        ),
        ev("usual-way-01", "delivered", day.at(40), c, recipient="Max"),  # old apps: the usual way
    )
    assert [r["status"] for r in results] == ["applied"] * 3
    notes = {
        stop["order_id"]: [h["note"] for h in history(client, day, stop["order_id"])][-1]
        for stop in day.stops[:3]
    }
    assert notes[day.stops[0]["order_id"]] == "left with neighbour Frau Huber, no. 12"
    assert notes[day.stops[1]["order_id"]] == "left at a safe place; behind the gate"
    assert notes[day.stops[2]["order_id"]] == "received by Max"
