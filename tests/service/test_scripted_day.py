"""The scripted day of issue 12 ("Done means"): plan, dispatch, events without GPS, a same-day
insert, a failed attempt, a rescheduling and a replay of the phone's events. Afterwards the
plan API, the driver app, the tracking pages, the route sheet, the CSV/GPX exports and the
live page show the same stops, the driver app, the tracking pages, the live page and
``GET /routes/{id}/etas`` the same expected times (lastmile.live's one ETA), every promise is
inside its booked window, and the KPIs keep the failure on the day it happened."""

from __future__ import annotations

import csv
import io
import json
import re
import time
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from helpers.service import make_org
from lastmile.common.clock import utcnow
from lastmile.orgs.models import Role
from service.test_tracking import VEHICLES, ZONE, _wait_plan

pytestmark = pytest.mark.usefixtures("daytime")  # 10:00 in Vaduz, whatever the real hour

ORDERS = (
    "id,address,lon,lat,parcels,customer,email,time_window\n"
    "A1,Städtle 1 Vaduz,9.5215,47.1410,1,Ann Alder,ann@day.example,10:30-13:00\n"
    "A2,Landstrasse 10 Schaan,9.5095,47.1650,1,Ben Birch,ben@day.example,11:00-14:00\n"
    "A3,Fürst-Johann 7 Triesen,9.5265,47.1196,1,Cy Cedar,cy@day.example,12:00-16:00\n"
    "A4,Essanestrasse 2 Eschen,9.5220,47.2100,1,Di Dogwood,di@day.example,13:00-18:00\n"
)


def _minutes(hhmm: str) -> int:
    hours, minutes = hhmm.split(":")
    return int(hours) * 60 + int(minutes)


def _window_minutes(order: dict[str, Any]) -> tuple[int, int]:
    window = order["windows"][0]
    return _minutes(window["start"]), _minutes(window["end"])


def _page_cookie(client: TestClient, user_id: str, org_id: str) -> dict[str, str]:
    """The dashboard's session cookie for a user (the pages read it, not a bearer token)."""
    from lastmile.auth import service as auth
    from lastmile.common.web import SESSION_COOKIE

    with client.app.state.sessions() as session:  # type: ignore[attr-defined]
        token = auth.issue_token(
            session=session, user_id=user_id, org_id=org_id, ttl_s=600, kind="session"
        )
    return {"Cookie": f"{SESSION_COOKIE}={token}"}


def test_a_scripted_day_shows_one_truth_everywhere(client: TestClient) -> None:
    org = make_org(client, "Scripted Day")
    h = org.dispatcher
    now = utcnow()
    day = now.astimezone(ZONE).date()
    r = client.post(
        "/api/v1/vehicles/import",
        files={"file": ("v.csv", VEHICLES.encode(), "text/csv")},
        headers=h,
    )
    assert r.status_code in (200, 201), r.text
    r = client.post(
        f"/api/v1/orders/import?date={day}",
        files={"file": ("o.csv", ORDERS.encode(), "text/csv")},
        headers=h,
    )
    assert r.status_code in (200, 201), r.text
    vehicle = client.get("/api/v1/vehicles", headers=h).json()["items"][0]
    driver = client.post(
        "/api/v1/drivers",
        json={"name": "Dana", "user_id": org.user_ids[Role.DRIVER], "vehicle_id": vehicle["id"]},
        headers=h,
    )
    assert driver.status_code == 201, driver.text

    # --- plan and dispatch -------------------------------------------------------------------
    plan_id = client.post(
        "/api/v1/plans", json={"date": day.isoformat(), "time_limit_s": 0.3}, headers=h
    ).json()["id"]
    _wait_plan(client, org, plan_id)
    assert client.post(f"/api/v1/plans/{plan_id}/dispatch", json={}, headers=h).status_code == 200
    app = client.get(f"/api/v1/driver/route?date={day}", headers=org.driver).json()["route"]
    route_id = app["id"]
    stops = [s for s in app["stops"] if s["kind"] == "order"]
    assert len(stops) == 4
    links: dict[str, str] = {}
    for s in stops:
        made = client.post(f"/api/v1/orders/{s['order_id']}/tracking-link", headers=h)
        assert made.status_code == 201, made.text
        links[s["order_id"]] = made.json()["path"]

    # --- events without GPS: start, deliver the first stop ------------------------------------
    at = (utcnow() - timedelta(seconds=30)).isoformat()
    first, second = stops[0], stops[1]
    batch = [
        {"key": "sd-start", "type": "route_started", "occurred_at": at, "route_id": route_id},
        {"key": "sd-arr-1", "type": "arrived", "occurred_at": at, "stop_id": first["id"]},
        {
            "key": "sd-del-1", "type": "delivered", "occurred_at": utcnow().isoformat(),
            "stop_id": first["id"], "recipient": "Ann",
        },
    ]  # fmt: skip
    sent = client.post("/api/v1/driver/events", json={"events": batch}, headers=org.driver)
    assert [x["status"] for x in sent.json()["results"]] == ["applied"] * 3, sent.text

    # --- a same-day insert ---------------------------------------------------------------------
    created = client.post(
        "/api/v1/orders",
        json={
            "external_id": "A5", "date": day.isoformat(), "lon": 9.5230, "lat": 47.1300,
            "address": "Au 5 Vaduz", "customer": "Eve Elm", "demand": {"parcels": 1},
            "windows": [{"start": "10:00", "end": "20:00"}],
        },
        headers=h,
    )  # fmt: skip
    assert created.status_code in (200, 201), created.text
    new_id = created.json()["items"][0]["order"]["id"]
    inserted = client.post(f"/api/v1/orders/{new_id}/insert", headers=h)
    assert inserted.status_code == 200, inserted.text
    assert inserted.json()["route_id"] == route_id
    links[new_id] = client.post(f"/api/v1/orders/{new_id}/tracking-link", headers=h).json()["path"]

    # --- a failed attempt, rescheduled to tomorrow ----------------------------------------------
    failed = {
        "key": "sd-fail-2", "type": "failed", "occurred_at": utcnow().isoformat(),
        "stop_id": second["id"], "reason": "not_home",
    }  # fmt: skip
    r = client.post("/api/v1/driver/events", json={"events": [failed]}, headers=org.driver)
    assert r.json()["results"][0]["status"] == "applied", r.text
    r = client.post(
        f"/api/v1/orders/{second['order_id']}/transitions", json={"to": "rescheduled"}, headers=h
    )
    assert r.status_code == 200, r.text
    assert r.json()["date"] == (day + timedelta(days=1)).isoformat()

    # --- the phone replays everything (it did not see the answers) ------------------------------
    again = client.post(
        "/api/v1/driver/events", json={"events": [*batch, failed]}, headers=org.driver
    )
    assert again.status_code == 200
    assert {x["status"] for x in again.json()["results"]} == {"duplicate"}, again.text

    # --- the same stops everywhere ---------------------------------------------------------------
    plan = client.get(f"/api/v1/plans/{plan_id}", headers=h).json()
    [route] = plan["routes"]
    in_plan = [s["order_id"] for s in route["stops"] if s["kind"] == "order"]
    app = client.get(f"/api/v1/driver/route?date={day}", headers=org.driver).json()["route"]
    in_app = [s["order_id"] for s in app["stops"] if s["kind"] == "order"]
    assert new_id in in_plan and second["order_id"] in in_plan and len(in_plan) == 5
    assert in_app == in_plan
    ext = {s["order_id"]: s["external_id"] for s in route["stops"] if s["kind"] == "order"}
    exported = client.get(f"/app/plans/{plan_id}/export/{vehicle['id']}.csv", headers=h)
    assert exported.status_code == 200, exported.text
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert [r["external_id"] for r in rows] == [ext[i] for i in in_plan]
    gpx = client.get(f"/app/plans/{plan_id}/export/{vehicle['id']}.gpx", headers=h).text
    positions = [gpx.index(f">{n}. {ext[i]}<") for n, i in enumerate(in_plan, start=1)]
    assert positions == sorted(positions)
    page = _page_cookie(client, org.user_ids[Role.DISPATCHER], org.org_id)
    sheet = client.get(f"/app/plans/{plan_id}/sheet/{vehicle['id']}", headers=page)
    assert sheet.status_code == 200, sheet.text
    places = [sheet.text.find(f"<td>{ext[i]}</td>") for i in in_plan]
    assert all(p >= 0 for p in places) and places == sorted(places), places
    live_html = client.get(f"/app/live?date={day}", headers=page).text
    data = json.loads(
        re.search(r'<script[^>]*id="live-data"[^>]*>(.*?)</script>', live_html, re.S).group(1)  # type: ignore[union-attr]
    )
    [live_route] = [x for x in data["routes"] if x["route_id"] == route_id]
    assert live_route["orders"] == in_plan

    # --- the same expected times everywhere -------------------------------------------------------
    etas = client.get(f"/api/v1/routes/{route_id}/etas", headers=h).json()
    predicted = {s["order_id"]: s for s in etas["stops"] if s["kind"] == "order"}
    open_ids = [
        s["order_id"] for s in app["stops"] if s["kind"] == "order" and s["status"] == "pending"
    ]
    assert set(open_ids) == set(predicted) and len(open_ids) == 3
    orders = {
        o["id"]: o
        for o in client.get(f"/api/v1/orders?date={day}&limit=100", headers=h).json()["items"]
    }
    for order_id in open_ids:
        want = predicted[order_id]
        [mine] = [s for s in app["stops"] if s["order_id"] == order_id]
        assert mine["eta"] == want["eta"], (mine, want)  # the driver app
        assert live_route["etas"][order_id]["eta"] == want["eta"][11:16]  # the live page
        status = client.get(links[order_id] + "/status.json").json()  # the customer
        promise = [p[11:16] for p in want["promise"]]
        assert [status["eta_from"], status["eta_to"]] == promise
        # the promise contains the expected service start and is inside the booked window
        low, high = _window_minutes(orders[order_id])
        start = _minutes(want["service_start"][11:16])
        assert _minutes(promise[0]) <= start <= _minutes(promise[1])
        if want["level"] != "late":
            assert low <= _minutes(promise[0]) and _minutes(promise[1]) <= high, (
                promise,
                low,
                high,
            )
    gone = client.get(links[second["order_id"]] + "/status.json").json()
    assert not gone["eta_from"]  # rescheduled: no promise for today

    # --- KPIs: the failure stays on its day -----------------------------------------------------
    time.sleep(0.2)
    kpis = client.get(
        "/api/v1/kpis", params={"from": day.isoformat(), "to": day.isoformat()}, headers=h
    ).json()
    assert kpis["failed_attempts"] == 1 and kpis["failure_reasons"] == {"not_home": 1}
    assert kpis["delivered"] == 1
