"""The dashboard's server side without a browser: the edit endpoint's feasibility answer
(checked before anything is stored), bulk actions all or nothing, the import preview that
saves nothing, login and CSRF."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from test_dashboard import DASHBOARD_DAY, dashboard_orders_csv, seed_org

from helpers.service import PASSWORD, OrgUsers, sqlite_settings
from lastmile.app import create_app
from lastmile.config import Settings


@pytest.fixture(scope="module")
def web_client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    data_dir = tmp_path_factory.mktemp("dashboard-edit")
    settings = sqlite_settings(data_dir)
    with TestClient(create_app(settings)) as client:
        yield client


def _plan(
    client: TestClient, org: OrgUsers, orders_csv: str | None = None, wait_s: float = 60
) -> dict[str, Any]:
    data = (orders_csv or dashboard_orders_csv()).encode()
    r = client.post(
        f"/api/v1/orders/import?date={DASHBOARD_DAY}",
        files={"file": ("o.csv", data, "text/csv")},
        headers=org.dispatcher,
    )
    assert r.status_code == 200, r.text
    r = client.post(
        "/api/v1/plans", json={"date": DASHBOARD_DAY, "time_limit_s": 1}, headers=org.dispatcher
    )
    assert r.status_code == 202, r.text
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        plan: dict[str, Any] = client.get(
            f"/api/v1/plans/{r.json()['id']}", headers=org.dispatcher
        ).json()
        if plan["status"] in ("done", "failed"):
            assert plan["status"] == "done", plan["error"]
            assert len(plan["routes"]) == 2
            assert plan["document"]["check"] == {"ok": True, "violations": []}
            return plan
        time.sleep(0.1)
    raise AssertionError("plan not finished")


def _stops(route: dict[str, Any]) -> list[str]:
    return [s["order_id"] for s in route["stops"] if s["kind"] == "order"]


@pytest.fixture
def planned(web_client: TestClient, request: pytest.FixtureRequest) -> tuple[OrgUsers, Any]:
    org = seed_org(web_client, f"Edit {request.node.name[-40:]}")
    return org, _plan(web_client, org)


def _preview(
    client: TestClient, org: OrgUsers, plan_id: str, order_id: str, vehicle: str, position: int
) -> Any:
    return client.post(
        f"/app/api/plans/{plan_id}/edit/preview",
        json={"order_id": order_id, "to_vehicle_id": vehicle, "position": position},
        headers=org.dispatcher,
    )


def test_move_to_a_full_van_is_reported_before_anything_changes(
    web_client: TestClient, planned: tuple[OrgUsers, Any]
) -> None:
    org, plan = planned
    a, b = plan["routes"]
    moved = _stops(a)[0]
    r = _preview(web_client, org, plan["id"], moved, b["vehicle_id"], 0)
    assert r.status_code == 200, r.text
    answer = r.json()
    assert answer["ok"] is False
    capacity = [v for v in answer["violations"] if v["code"] == "capacity"]
    assert capacity and capacity[0]["vehicle_id"] == b["vehicle_id"]
    assert "would carry 7 parcels at the start; it holds 6" in capacity[0]["message"]
    assert answer["changed_vehicles"] == sorted([a["vehicle_id"], b["vehicle_id"]])
    assert answer["cost_delta"] == pytest.approx(answer["cost_after"] - answer["cost_before"])
    # the preview wrote nothing
    again = web_client.get(f"/api/v1/plans/{plan['id']}", headers=org.dispatcher).json()
    assert again["document"] == plan["document"]


def test_putting_a_stop_back_where_it_was_costs_nothing(
    web_client: TestClient, planned: tuple[OrgUsers, Any]
) -> None:
    org, plan = planned
    route = plan["routes"][0]
    answer = _preview(web_client, org, plan["id"], _stops(route)[2], route["vehicle_id"], 2).json()
    assert answer["ok"] is True, answer["violations"]
    assert answer["violations"] == []
    assert answer["cost_delta"] == 0
    assert answer["distance_delta_m"] == 0


def test_a_window_broken_by_a_move_is_reported(web_client: TestClient) -> None:
    """SMP-0001 must be served by 08:20; moved to the end of its route, it would be late."""
    org = seed_org(web_client, "Window Co")
    lines = dashboard_orders_csv().splitlines()
    lines[1] = lines[1].replace("08:00,17:00", "08:00,08:20")
    plan = _plan(web_client, org, "\n".join(lines) + "\n")
    route, stop = next(
        (r, s)
        for r in plan["routes"]
        for s in r["stops"]
        if s["kind"] == "order" and s["external_id"] == "SMP-0001"
    )
    ids = _stops(route)
    answer = _preview(
        web_client, org, plan["id"], stop["order_id"], route["vehicle_id"], len(ids) - 1
    ).json()
    assert answer["ok"] is False
    late = [v for v in answer["violations"] if v["code"] == "late"]
    assert [v["external_id"] for v in late] == ["SMP-0001"]
    assert late[0]["amount"] > 0
    assert "SMP-0001" in late[0]["message"]


def test_a_confirmed_late_move_keeps_the_plan_marked_and_the_page_shows_it(
    web_client: TestClient,
) -> None:
    """The one plan behaviour (core.planning.day): a plan the checker finds fault with is
    kept, marked in its document's ``check``, and shown on the plan page, never silently."""
    org = seed_org(web_client, "Marked Co")
    lines = dashboard_orders_csv().splitlines()
    lines[1] = lines[1].replace("08:00,17:00", "08:00,08:20")
    plan = _plan(web_client, org, "\n".join(lines) + "\n")
    route, stop = next(
        (r, s)
        for r in plan["routes"]
        for s in r["stops"]
        if s["kind"] == "order" and s["external_id"] == "SMP-0001"
    )
    client = TestClient(web_client.app)
    _login(client, "dispatcher@marked-co.example")
    assert 'id="check-findings"' not in client.get(f"/app/plans/{plan['id']}").text
    r = web_client.post(
        f"/app/api/plans/{plan['id']}/edit/apply",
        json={
            "order_id": stop["order_id"],
            "to_vehicle_id": route["vehicle_id"],
            "position": len(_stops(route)) - 1,
        },
        headers=org.dispatcher,
    )
    assert r.status_code == 200, r.text
    stored = web_client.get(f"/api/v1/plans/{plan['id']}", headers=org.dispatcher).json()
    check = stored["document"]["check"]
    assert check["ok"] is False
    assert [v["code"] for v in check["violations"]] == ["late"]
    assert check["violations"][0]["order_id"] == stop["order_id"]
    page = client.get(f"/app/plans/{plan['id']}").text
    found = re.search(r'<div class="card" id="check-findings".*?</div>', page, re.S)
    assert found, "the findings are not on the plan page"
    assert "found 1 problem(s)" in found.group(0)
    # the dispatcher's order number, not the internal id
    assert "SMP-0001" in found.group(0) and stop["order_id"] not in found.group(0)


def test_apply_stores_the_edit_and_dispatch_uses_it(
    web_client: TestClient, planned: tuple[OrgUsers, Any]
) -> None:
    org, plan = planned
    route = plan["routes"][0]
    ids = _stops(route)
    r = web_client.post(
        f"/app/api/plans/{plan['id']}/edit/apply",
        json={"order_id": ids[0], "to_vehicle_id": route["vehicle_id"], "position": 5},
        headers=org.dispatcher,
    )
    assert r.status_code == 200, r.text
    stored = web_client.get(f"/api/v1/plans/{plan['id']}", headers=org.dispatcher).json()
    assert _stops(stored["routes"][0]) == [*ids[1:], ids[0]]
    assert stored["document"]["edited"] is True
    assert stored["totals"]["cost"] == pytest.approx(r.json()["cost_after"])
    dispatched = web_client.post(
        f"/api/v1/plans/{plan['id']}/dispatch", json={}, headers=org.dispatcher
    )
    assert dispatched.status_code == 200, dispatched.text
    assert dispatched.json()["orders_dispatched"] == 12
    late = _preview(web_client, org, plan["id"], ids[1], route["vehicle_id"], 0)
    assert late.status_code == 409
    assert "dispatched" in late.json()["detail"]


def test_unknown_order_or_vehicle_is_a_422(
    web_client: TestClient, planned: tuple[OrgUsers, Any]
) -> None:
    org, plan = planned
    r = _preview(web_client, org, plan["id"], "ord_nope", "veh_nope", 0)
    assert r.status_code == 422
    fields = {e["field"] for e in r.json()["errors"]}
    assert fields == {"order_id", "to_vehicle_id"}


def test_other_organisations_cannot_preview(
    web_client: TestClient, planned: tuple[OrgUsers, Any]
) -> None:
    _, plan = planned
    stranger = seed_org(web_client, "Stranger Co")
    order_id = _stops(plan["routes"][0])[0]
    r = _preview(web_client, stranger, plan["id"], order_id, plan["routes"][1]["vehicle_id"], 0)
    assert r.status_code == 404


def _login(client: TestClient, email: str) -> str:
    r = client.post(
        "/app/login", data={"email": email, "password": PASSWORD}, follow_redirects=False
    )
    assert r.status_code == 303, r.text
    page = client.get("/app/settings")
    assert page.status_code == 200
    found = re.search(r'name="csrf-token" content="([^"]+)"', page.text)
    assert found
    return found.group(1)


def test_cookie_calls_need_the_csrf_header(web_client: TestClient) -> None:
    org = seed_org(web_client, "Csrf Co")
    client = TestClient(web_client.app)
    token = _login(client, "dispatcher@csrf-co.example")
    body = {"action": "cancel", "order_ids": ["x"]}
    assert client.post("/app/api/orders/bulk", json=body).status_code == 403
    r = client.post("/app/api/orders/bulk", json=body, headers={"X-CSRF-Token": token})
    assert r.status_code == 404  # past the CSRF check: the order does not exist
    assert org.org_id


def test_bulk_is_all_or_nothing(web_client: TestClient) -> None:
    org = seed_org(web_client, "Bulk Co")
    r = web_client.post(
        f"/api/v1/orders/import?date={DASHBOARD_DAY}",
        files={"file": ("o.csv", dashboard_orders_csv(3).encode(), "text/csv")},
        headers=org.dispatcher,
    )
    assert r.status_code == 200
    items = web_client.get(f"/api/v1/orders?date={DASHBOARD_DAY}", headers=org.dispatcher).json()[
        "items"
    ]
    ids = [o["id"] for o in items]
    cancel = {"action": "cancel", "order_ids": ids[:1]}
    assert web_client.post("/app/api/orders/bulk", json=cancel, headers=org.dispatcher).json() == {
        "changed": 1,
        "status": "cancelled",
    }
    # cancelled -> ready is refused, so the two ready orders are not touched either
    r = web_client.post(
        "/app/api/orders/bulk", json={"action": "cancel", "order_ids": ids}, headers=org.dispatcher
    )
    assert r.status_code == 409
    statuses = [
        o["status"]
        for o in web_client.get(
            f"/api/v1/orders?date={DASHBOARD_DAY}", headers=org.dispatcher
        ).json()["items"]
    ]
    assert statuses == ["cancelled", "ready", "ready"]
    # every order matching the filter, not just a page
    r = web_client.post(
        "/app/api/orders/bulk",
        json={
            "action": "cancel",
            "all_matching": True,
            "filter_date": DASHBOARD_DAY,
            "filter_status": "ready",
        },
        headers=org.dispatcher,
    )
    assert r.json() == {"changed": 2, "status": "cancelled"}


def test_import_preview_saves_nothing(web_client: TestClient) -> None:
    org = seed_org(web_client, "Preview Co")
    r = web_client.post(
        "/app/api/orders/preview",
        files={"file": ("o.csv", dashboard_orders_csv(2, bad_row=True).encode(), "text/csv")},
        data={"date": DASHBOARD_DAY},
        headers=org.dispatcher,
    )
    assert r.status_code == 200, r.text
    rows = r.json()["rows"]
    assert [row["status"] for row in rows] == ["created", "created", "invalid"]
    assert rows[0]["lon"] == pytest.approx(9.5265427) and rows[0]["verdict"] == "given"
    assert rows[2]["lon"] is None and rows[2]["errors"][0]["field"] == "lon"
    total = web_client.get("/api/v1/orders", headers=org.dispatcher).json()["total"]
    assert total == 0


def test_login_pages(web_client: TestClient) -> None:
    seed_org(web_client, "Login Co")
    client = TestClient(web_client.app)
    r = client.get("/", follow_redirects=False)
    assert r.status_code == 307 and r.headers["location"] == "/app/orders"
    r = client.get("/app/plan", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/app/login?next=/app/plan"
    r = client.post(
        "/app/login",
        data={"email": "dispatcher@login-co.example", "password": "nope"},
        follow_redirects=False,
    )
    assert r.status_code == 401 and "wrong e-mail or password" in r.text
    assert "lastmile_session" not in r.cookies
    r = client.post(
        "/app/login",
        data={"email": "dispatcher@login-co.example", "password": PASSWORD, "next": "//evil"},
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == "/app/orders"
    cookie = r.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie
    # logout needs the form's CSRF token, then the session is gone for good
    assert client.post("/app/logout", data={"csrf": "wrong"}).status_code == 403
    token = _login(client, "dispatcher@login-co.example")
    old = client.cookies.get("lastmile_session")
    r = client.post("/app/logout", data={"csrf": token}, follow_redirects=False)
    assert r.status_code == 303
    client.cookies.set("lastmile_session", old or "")
    assert client.get("/app/orders", follow_redirects=False).status_code == 303
    # drivers are sent to their app
    driver = TestClient(web_client.app)
    driver.post("/app/login", data={"email": "driver@login-co.example", "password": PASSWORD})
    assert driver.get("/app/orders").status_code == 403


def test_basemap_lines_inside_the_box(web_client: TestClient) -> None:
    org = seed_org(web_client, "Map Co")
    r = web_client.get(
        "/app/api/basemap?bbox=9.50,47.13,9.54,47.16&zoom=12", headers=org.dispatcher
    )
    assert r.status_code == 200
    body = r.json()
    assert body["attribution"] == "© OpenStreetMap contributors"
    lines = [line for f in body["features"] for line in f["geometry"]["coordinates"]]
    assert len(lines) > 100
    # the box snaps outwards to 0.05 degrees (shared cache cells); every line touches it
    assert all(any(9.5 <= p[0] <= 9.55 and 47.1 <= p[1] <= 47.2 for p in line) for line in lines)
    assert {f["properties"]["class"] for f in body["features"]} == {"main", "secondary"}
    far = web_client.get("/app/api/basemap?bbox=0,0,10,10", headers=org.dispatcher).json()
    assert far["features"] == []


def test_road_geometry_and_edit_with_the_road_engine(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """With ``use_roads`` the map gets road paths, and edits are timed on road matrices."""
    data_dir = tmp_path_factory.mktemp("dashboard-roads")
    settings = Settings(
        database_url=f"sqlite:///{data_dir / 'lastmile.db'}",
        data_dir=data_dir,
        use_roads=True,
        jobs="inline",
        secret_key="test-secret",
        plan_time_limit_s=1.0,
    )
    with TestClient(create_app(settings)) as client:
        org = seed_org(client, "Roads Co")
        # The plan waits for the road network to load, and a fresh checkout first compiles
        # its numba code: over 60 s when the shared 2-core machine is at load 25.
        plan = _plan(client, org, wait_s=300)
        assert plan["document"]["travel_times"] != "straight-line"
        geo = client.get(f"/app/api/plans/{plan['id']}/geometry", headers=org.dispatcher).json()
        assert geo["roads"] is True
        for route in plan["routes"]:
            line = geo["routes"][route["vehicle_id"]]
            # far more points than start + stops + end: the line follows the roads
            assert len(line) > 3 * (len(route["stops"]) + 2)
            assert line[0] == [route["start"]["lat"], route["start"]["lon"]]
        a, b = plan["routes"]
        answer = _preview(client, org, plan["id"], _stops(a)[0], b["vehicle_id"], 0).json()
        assert [v["code"] for v in answer["violations"]] == ["capacity"]
        same = _preview(client, org, plan["id"], _stops(a)[1], a["vehicle_id"], 1).json()
        assert same["ok"] is True and same["cost_delta"] == 0


def test_order_text_cannot_break_out_of_the_page(web_client: TestClient) -> None:
    seed_org(web_client, "Script Co")
    client = TestClient(web_client.app)
    _login(client, "dispatcher@script-co.example")
    evil = "</script><script>window.pwned=1</script>"
    token = _login(client, "dispatcher@script-co.example")
    r = client.post(
        "/api/v1/orders",
        json={
            "external_id": "E-1",
            "date": DASHBOARD_DAY,
            "address": evil,
            "lon": 9.52,
            "lat": 47.14,
        },
        headers={"X-CSRF-Token": token},
    )
    assert r.status_code == 201, r.text
    page = client.get(f"/app/orders?date={DASHBOARD_DAY}").text
    assert evil not in page
    assert "\\u003c/script\\u003e" in page  # in the pins' JSON
    assert "&lt;/script&gt;" in page  # in the table


def test_a_failed_plan_page_says_why(web_client: TestClient) -> None:
    from helpers.service import make_org

    org = make_org(web_client, "No Fleet Co")
    r = web_client.post(
        f"/api/v1/orders/import?date={DASHBOARD_DAY}",
        files={"file": ("o.csv", dashboard_orders_csv(2).encode(), "text/csv")},
        headers=org.dispatcher,
    )
    assert r.status_code == 200
    plan_id = web_client.post(
        "/api/v1/plans", json={"date": DASHBOARD_DAY}, headers=org.dispatcher
    ).json()["id"]
    deadline = time.monotonic() + 30
    while (
        web_client.get(f"/api/v1/plans/{plan_id}", headers=org.dispatcher).json()["status"]
        != "failed"
    ):
        assert time.monotonic() < deadline
        time.sleep(0.1)
    client = TestClient(web_client.app)
    _login(client, "dispatcher@no-fleet-co.example")
    page = client.get(f"/app/plans/{plan_id}")
    assert page.status_code == 200
    assert "The optimisation failed" in page.text and "no active vehicles" in page.text
