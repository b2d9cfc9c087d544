"""KPIs through HTTP after a small day driven through the driver API (SQLite + PostgreSQL)."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from test_driver_api import JPEG, Day, ev, plan_day, send

from helpers.service import make_org
from lastmile.tracking.models import CustomerInput, TrackingLink, TrackingView

# Three GPS points 0.01 degrees of latitude apart: 2 x 1111.95 m.
TRACK = [(9.5087, 47.1657), (9.5087, 47.1757), (9.5087, 47.1857)]
TRACK_KM = 2 * 1.11195


def drive(client: TestClient, day: Day) -> dict[str, Any]:
    """Start, 3 GPS points, deliver the first stop at its door, fail the second (not home),
    deliver the rest 100 m off, finish at +200 s. Returns what the test expects."""
    stops = day.stops
    assert len(stops) >= 2, "the plan gives VAN-1 at least two stops"
    r = client.patch(
        f"/api/v1/vehicles/{day.vehicle_ids['VAN-1']}",
        json={"cost_per_km": 2.0, "fixed_cost": 10.0, "cost_per_hour": 36.0},
        headers=day.org.dispatcher,
    )
    assert r.status_code == 200, r.text
    events = [ev("start-0001", "route_started", day.at(0), route_id=day.route["id"])]
    first, second, *rest = stops
    events += [
        ev("arr-00001", "arrived", day.at(10), first["id"]),
        ev("del-00001", "delivered", day.at(20), first["id"], lon=first["lon"], lat=first["lat"]),
        ev("fail-0002", "failed", day.at(40), second["id"], reason="not_home"),
    ]
    for i, stop in enumerate(rest):
        events.append(
            ev(
                f"del-1000{i}",
                "delivered",
                day.at(60 + i),
                stop["id"],
                lon=stop["lon"],
                lat=stop["lat"] + 0.0009,
            )  # ~100 m north of the address
        )
    results = send(client, day, *events)
    assert all(x["status"] == "applied" for x in results), results
    r = client.post(
        "/api/v1/driver/positions",
        json={
            "positions": [
                {"lon": lon, "lat": lat, "recorded_at": day.at(5 + i)}
                for i, (lon, lat) in enumerate(TRACK)
            ]
        },
        headers=day.org.driver,
    )
    assert r.status_code == 200 and r.json()["accepted"] == 3, r.text
    results = send(client, day, ev("finish-001", "route_finished", day.at(200)))
    assert results[0]["status"] == "applied", results
    return {"stops": len(stops), "delivered": len(stops) - 1, "rest": len(rest)}


def kpis(client: TestClient, day: Day, **params: str) -> dict[str, Any]:
    query = {"from": day.day.isoformat(), "to": day.day.isoformat(), **params}
    r = client.get("/api/v1/kpis", params=query, headers=day.org.dispatcher)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def test_kpis_of_a_driven_day(client: TestClient) -> None:
    day = plan_day(client)
    want = drive(client, day)
    contact = client.post(
        f"/api/v1/orders/{day.stops[1]['order_id']}/contacts",
        json={"channel": "phone", "note": "where is my parcel?"},
        headers=day.org.dispatcher,
    )
    assert contact.status_code == 201, contact.text
    assert contact.json()["channel"] == "phone"
    # A photo for the first delivery; the customer of the first stop rated it 4 stars.
    pod = client.post(
        "/api/v1/driver/pod",
        data={"kind": "photo", "event_key": "del-00001"},
        files={"file": ("p.jpg", JPEG, "image/jpeg")},
        headers=day.org.driver,
    )
    assert pod.status_code == 201, pod.text
    with day.sessions() as session:
        first_order = day.stops[0]["order_id"]
        session.add(CustomerInput(org_id=day.org.org_id, order_id=first_order, rating=4))
        link = TrackingLink(
            org_id=day.org.org_id,
            order_id=first_order,
            token_hash="0" * 64,
            expires_at=day.base + timedelta(days=1),
        )
        session.add(link)
        session.flush()
        for _ in range(2):  # the customer opened the tracking page twice
            session.add(TrackingView(org_id=day.org.org_id, order_id=first_order, link_id=link.id))
        session.commit()

    k = kpis(client, day)
    assert k["filters"]["from"] == day.day.isoformat()
    assert k["orders"] == 6
    assert k["delivered"] == want["delivered"]
    assert k["failed_attempts"] == 1
    assert k["failure_reasons"] == {"not_home": 1}
    assert k["first_attempt_success_rate"] == pytest.approx(want["delivered"] / want["stops"])
    assert k["on_time_rate"] == 1.0  # no windows: any time is on time
    assert k["actual_km"] == pytest.approx(TRACK_KM, rel=1e-3)
    assert k["actual_hours"] == pytest.approx(200 / 3600)
    assert k["stops_per_hour"] == pytest.approx(want["stops"] / (200 / 3600))
    assert k["km_per_stop"] == pytest.approx(TRACK_KM / want["stops"], rel=1e-3)
    # Only the started route costs: 10 fixed + 2/km + 36/h for 200 s.
    total = 10 + 2 * TRACK_KM + 36 * 200 / 3600
    assert k["cost"]["total"] == pytest.approx(total, rel=1e-3)
    assert k["cost"]["per_delivery"] == pytest.approx(total / want["delivered"], rel=1e-3)
    assert k["contacts_per_order"] == pytest.approx(1 / 6)
    assert k["tracking_views_per_order"] == pytest.approx(2 / 6)
    assert k["planned_km"] > 0 and k["avg_arrival_error_s"] is not None
    assert k["avg_delivery_time_s"] > 0 and k["p90_delivery_time_s"] >= k["avg_delivery_time_s"]
    cards = {c["driver_id"]: c for c in k["drivers"]}
    assert cards.keys() == {day.driver_id, day.other_driver_id}
    assert cards[day.other_driver_id]["stops"] == 0  # dispatched, never driven
    card = cards[day.driver_id]
    assert card["stops"] == want["stops"] and card["failed"] == 1
    assert card["pod_compliance"] == pytest.approx(1 / want["delivered"])  # one photo
    assert (k["avg_rating"], k["ratings"]) == (4.0, 1)
    # The first delivery was at the door, the others ~100 m off.
    expected = 100.08 * want["rest"] / want["delivered"]
    assert card["avg_distance_from_stop_m"] == pytest.approx(expected, abs=1.0)

    # Filters: the other driver's and the other van's slice has no attempts at all.
    other = kpis(client, day, driver_id=day.other_driver_id)
    assert other["delivered"] == 0 and other["orders"] == 6 - want["stops"]
    van1 = kpis(client, day, vehicle_id=day.vehicle_ids["VAN-1"])
    assert van1["orders"] == want["stops"] and van1["delivered"] == want["delivered"]
    assert kpis(client, day, depot_id="dep_nothing")["orders"] == 0

    exported = client.get(
        "/api/v1/kpis.csv", params={"from": day.day.isoformat()}, headers=day.org.dispatcher
    )
    assert exported.status_code == 200 and exported.headers["content-type"].startswith("text/csv")
    rows = {
        (r["scope"], r["metric"]): r["value"] for r in csv.DictReader(io.StringIO(exported.text))
    }
    assert rows[("all", "delivered")] == str(want["delivered"])
    assert rows[("all", "failed_not_home")] == "1"
    assert float(rows[("all", "cost_total")]) == pytest.approx(total, rel=1e-3)
    assert rows[(f"driver:{day.driver_id}", "failed")] == "1"


def test_kpis_are_staff_only_and_scoped(client: TestClient) -> None:
    day = plan_day(client)
    drive(client, day)
    assert client.get("/api/v1/kpis", headers=day.org.driver).status_code == 403
    assert client.get("/api/v1/kpis").status_code == 401
    stranger = make_org(client, "Beta")
    seen = client.get(
        "/api/v1/kpis", params={"from": day.day.isoformat()}, headers=stranger.dispatcher
    ).json()
    assert seen["orders"] == 0 and seen["delivered"] == 0
    order_id = day.stops[0]["order_id"]
    r = client.post(f"/api/v1/orders/{order_id}/contacts", json={}, headers=stranger.dispatcher)
    assert r.status_code == 404
    bad = client.get(
        "/api/v1/kpis", params={"from": "2026-11-24", "to": "2026-11-20"}, headers=day.org.admin
    )
    assert bad.status_code == 422


def test_every_analytics_route_is_documented(client: TestClient) -> None:
    from pathlib import Path

    text = (Path(__file__).parents[2] / "docs" / "kpis.md").read_text()
    schema = client.app.openapi()  # type: ignore[attr-defined]
    routes = [
        (method.upper(), path, op["operationId"])
        for path, item in schema["paths"].items()
        for method, op in item.items()
        if "analytics" in op.get("tags", [])
    ]
    assert len(routes) == 10
    assert [r for r in routes if f"`{r[0]} {r[1]}` | `{r[2]}`" not in text] == []


def test_a_failed_attempt_stays_on_its_day_when_the_order_is_rescheduled(
    client: TestClient,
) -> None:
    """Fail today, reschedule to tomorrow, deliver tomorrow: today keeps the failure (and its
    first-attempt miss), tomorrow has the delivery but no first attempt, and a pilot report
    over today does not call a 100 % first-attempt goal met (#12)."""
    from helpers.kpi_days import attempts

    day = plan_day(client)
    want = drive(client, day)
    failed_order = day.stops[1]["order_id"]
    tomorrow = day.day + timedelta(days=1)
    r = client.post(
        f"/api/v1/orders/{failed_order}/transitions",
        json={"to": "rescheduled"},
        headers=day.org.dispatcher,
    )
    assert r.status_code == 200, r.text
    assert r.json()["date"] == tomorrow.isoformat()
    attempts(client, day.org, tomorrow, {failed_order: [("delivered", "10:00")]})

    today = kpis(client, day)
    assert today["orders"] == 6  # the rescheduled order was one of today's
    assert today["failed_attempts"] == 1 and today["failure_reasons"] == {"not_home": 1}
    assert today["delivered"] == want["delivered"]
    assert today["first_attempt_success_rate"] == pytest.approx(want["delivered"] / want["stops"])
    assert today["stops_per_hour"] == pytest.approx(want["stops"] / (200 / 3600))
    cards = {c["driver_id"]: c for c in today["drivers"]}
    assert cards[day.driver_id]["failed"] == 1 and cards[day.driver_id]["stops"] == want["stops"]

    next_day = kpis(client, day, **{"from": tomorrow.isoformat(), "to": tomorrow.isoformat()})
    assert next_day["orders"] == 1 and next_day["delivered"] == 1
    assert next_day["failed_attempts"] == 0
    assert next_day["first_attempt_success_rate"] is None  # a second attempt is not a first

    both = kpis(client, day, to=tomorrow.isoformat())
    assert (both["orders"], both["failed_attempts"]) == (6, 1)
    assert both["delivered"] == want["delivered"] + 1
    assert both["first_attempt_success_rate"] == pytest.approx(want["delivered"] / want["stops"])

    r = client.get(
        "/api/v1/kpis/series",
        params={"from": day.day.isoformat(), "to": tomorrow.isoformat(), "bucket": "day"},
        headers=day.org.dispatcher,
    )
    assert r.status_code == 200, r.text
    first, second = r.json()["points"]
    assert (first["orders"], first["values"]["failed_attempts"]) == (6, 1)
    assert (second["orders"], second["values"]["failed_attempts"]) == (1, 0)

    r = client.post(
        "/api/v1/comparisons",
        json={
            "name": "Failures stay on their day",
            "baseline": {"from": tomorrow.isoformat()},
            "pilot": {"from": day.day.isoformat()},
            "objectives": [
                {"metric": "first_attempt_success_rate", "op": "at_least", "target": 1.0},
                {"metric": "failed_attempts", "op": "at_most", "target": 0},
            ],
        },
        headers=day.org.dispatcher,
    )
    assert r.status_code == 201, r.text
    verdicts = [(o["objective"]["metric"], o["met"]) for o in r.json()["objectives"]]
    assert verdicts == [("first_attempt_success_rate", False), ("failed_attempts", False)]
    assert r.json()["all_met"] is False
