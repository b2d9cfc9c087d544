"""The running day in a real browser (issue 14, item 3): add one order by hand (address
search with the geocoder's verdict and suggestions, a window in a common spelling, items,
contact, handover, minutes at the stop), insert it into the running routes and read where it
went and what it costs; a refusal in words; re-optimise the rest of the day with a preview
that changes nothing, then apply it.

The day is seeded through the API (a plan solved, two stops moved to the wrong end of their
routes, dispatched): the subject here is what the owner does in the dashboard once the day
runs. The organisation's time zone is chosen so that its local time is mid-morning whatever
the hour the test runs (``Etc/GMT±N``), so the vans have their day ahead of them; the browser
runs in the same zone. Screenshots go to ``test-artifacts/running-day/``.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from test_dashboard import dashboard_orders_csv

from helpers.browser import chromium
from helpers.live import serve_app
from helpers.service import PASSWORD, OrgUsers, make_org, sqlite_settings
from lastmile.app import create_app

SHOTS = Path(__file__).parents[2] / "test-artifacts" / "running-day"
VANS = (
    "id,name,profile,start_lon,start_lat,end_lon,end_lat,shift_start,shift_end,"
    "capacity_parcels,capacity_weight_kg,cost_per_km,cost_per_hour,fixed_cost\n"
    "VAN-1,Van 1,van,9.5087,47.1657,9.5087,47.1657,{start},20:00,30,600,0.35,28,20\n"
    "VAN-2,Van 2,van,9.5087,47.1657,9.5087,47.1657,{start},20:00,30,600,0.35,28,20\n"
)
"""The vans set off at the next full hour (the day ahead of them is the plan's)."""


def mid_morning_zone() -> str:
    """A fixed-offset zone in which it is now about 10:00 (``Etc/GMT-3`` is UTC+3)."""
    offset = (10 - dt.datetime.now(dt.UTC).hour) % 24
    offset = offset - 24 if offset > 14 else offset
    return "Etc/UTC" if offset == 0 else f"Etc/GMT{-offset:+d}"


ZONE = mid_morning_zone()


@pytest.fixture(scope="module")
def app_client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    settings = sqlite_settings(tmp_path_factory.mktemp("running-day"))
    with TestClient(create_app(settings)) as client:
        yield client


@pytest.fixture(scope="module")
def live_url(app_client: TestClient) -> Iterator[str]:
    with serve_app(app_client.app) as url:
        yield url


def today() -> str:
    return dt.datetime.now(ZoneInfo(ZONE)).date().isoformat()


def _ok(response: Any, *codes: int) -> Any:
    assert response.status_code in (codes or (200,)), response.text
    return response.json()


@pytest.fixture(scope="module")
def running(app_client: TestClient) -> tuple[OrgUsers, dict[str, Any]]:
    """Two vans on the road with 10 orders, each route made worse by a stop moved to its end."""
    client = app_client
    org = make_org(client, "Blumen Tag", timezone=ZONE)
    start = f"{dt.datetime.now(ZoneInfo(ZONE)).hour + 1:02d}:00"
    files = {"file": ("v.csv", VANS.format(start=start).encode(), "text/csv")}
    _ok(client.post("/api/v1/vehicles/import", files=files, headers=org.dispatcher), 200, 201)
    files = {"file": ("o.csv", dashboard_orders_csv(10).encode(), "text/csv")}
    _ok(client.post(f"/api/v1/orders/import?date={today()}", files=files, headers=org.dispatcher))
    body = {"date": today(), "time_limit_s": 1}
    plan_id = _ok(client.post("/api/v1/plans", json=body, headers=org.dispatcher), 202)["id"]
    deadline = time.monotonic() + 60
    while (plan := _ok(client.get(f"/api/v1/plans/{plan_id}", headers=org.dispatcher)))[
        "status"
    ] not in ("done", "failed"):
        assert time.monotonic() < deadline, "plan not finished"
        time.sleep(0.1)
    assert plan["status"] == "done", plan["error"]
    for route in plan["routes"]:
        ids = [s["order_id"] for s in route["stops"] if s["kind"] == "order"]
        if len(ids) >= 3:  # the first stop goes last: a zig-zag to untangle
            edit = {"order_id": ids[0], "to_vehicle_id": route["vehicle_id"], "position": len(ids)}
            r = client.post(
                f"/app/api/plans/{plan_id}/edit/apply", json=edit, headers=org.dispatcher
            )
            _ok(r)
    _ok(client.post(f"/api/v1/plans/{plan_id}/dispatch", json={}, headers=org.dispatcher))
    return org, _ok(client.get(f"/api/v1/plans/{plan_id}", headers=org.dispatcher))


@pytest.fixture(scope="module")
def page(live_url: str) -> Iterator[Any]:
    with chromium() as browser:
        context = browser.new_context(
            viewport={"width": 1366, "height": 900}, base_url=live_url, timezone_id=ZONE
        )
        page = context.new_page()
        problems: list[str] = []
        page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
        page.on(
            "console",
            lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None,
        )
        page.problems = problems
        yield page
        context.close()


def _shot(page: Any, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def _order(client: TestClient, org: OrgUsers, external_id: str) -> dict[str, Any]:
    items = _ok(client.get(f"/api/v1/orders?date={today()}&limit=500", headers=org.dispatcher))
    (order,) = [o for o in items["items"] if o["external_id"] == external_id]
    return order


def _remaining(client: TestClient, org: OrgUsers, route_id: str) -> list[str]:
    etas = _ok(client.get(f"/api/v1/routes/{route_id}/etas", headers=org.dispatcher))
    return [s["order_id"] for s in etas["stops"] if s["kind"] == "order"]


def _fill_order(page: Any, number: str, address: str, window: str) -> None:
    page.goto(f"/app/orders/new?date={today()}")
    page.fill("#n-number", number)
    page.fill("#n-address", address)
    page.click("#n-search")
    page.wait_for_function("document.getElementById('n-lat').value !== ''")
    page.fill("#n-window", window)


def test_add_insert_and_reoptimise(
    page: Any, app_client: TestClient, running: tuple[OrgUsers, dict[str, Any]]
) -> None:
    org, plan = running
    client = app_client
    local_hour = dt.datetime.now(ZoneInfo(ZONE)).hour
    assert 8 <= local_hour <= 11, (ZONE, local_hour)

    # --- log in; the orders page offers "Add an order"
    page.goto("/app/orders")
    page.fill("#email", "dispatcher@blumen-tag.example")
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/app/orders")
    page.click("#add-order")
    page.wait_for_url(f"**/app/orders/new?date={today()}")
    assert page.input_value("#n-date") == today()

    # --- the address, misspelt: the geocoder's verdict in words, the correction, a pin
    page.fill("#n-number", "PHONE-1")
    page.fill("#n-address", "Landstrase 19 Vaduz")
    page.click("#n-search")
    page.wait_for_function("document.getElementById('n-lat').value !== ''")
    verdict = page.inner_text("#n-verdict")
    assert "Found after a correction" in verdict and "Landstrasse" in verdict, verdict
    assert page.input_value("#n-address") == "Landstrasse 19, 9490 Vaduz"
    assert page.locator("#new-map .leaflet-marker-icon").count() == 1
    # --- a window as people write it, read back at once in 24-hour time
    start, end = local_hour + 1, local_hour + 5
    page.fill("#n-window", f"{start}-{end}")
    page.wait_for_function(
        f"document.getElementById('n-window-read').textContent.includes('{start:02d}:00')"
    )
    assert page.inner_text("#n-window-read") == f"read as {start:02d}:00–{end:02d}:00"  # noqa: RUF001
    page.fill("#n-what", "bouquet of tulips")
    page.fill("#n-parcels", "2")
    page.fill("#n-service", "4")
    page.fill("#n-customer", "Erika Muster")
    page.fill("#n-phone", "+423 555 12 34")
    page.fill("#n-email", "erika@example.com")
    page.select_option("#n-handover", "safe_place")
    page.fill("#n-notes", "Ring twice")
    _shot(page, "01-add-order-form")
    page.click("#n-save")
    page.wait_for_selector("#add-done")
    assert "PHONE-1 saved" in page.inner_text("#add-done")
    stored = _order(client, org, "PHONE-1")
    assert stored["status"] == "ready" and stored["description"] == "bouquet of tulips"
    assert stored["windows"] == [{"start": f"{start:02d}:00", "end": f"{end:02d}:00"}]
    assert stored["service_s"] == 240 and stored["demand"] == {"parcels": 2.0}
    assert (stored["customer"], stored["phone"], stored["email"], stored["notes"]) == (
        "Erika Muster",
        "+423 555 12 34",
        "erika@example.com",
        "Ring twice",
    )
    assert stored["pod_policy"] == ["safe_place"]
    assert stored["address"] == "Landstrasse 19, 9490 Vaduz"

    # --- insert it into the running routes: where it went, what it costs that route
    page.click("#insert-btn")
    page.wait_for_selector("#insert-done")
    text = page.inner_text("#insert-done")
    _shot(page, "02-inserted")
    inserted = _order(client, org, "PHONE-1")
    assert inserted["status"] == "dispatched"
    routes = {r["vehicle_name"]: r["route_id"] for r in plan["routes"]}
    van = next(name for name in ("Van 1", "Van 2") if text.startswith(f"Inserted: {name}"))
    remaining = _remaining(client, org, routes[van])
    assert inserted["id"] in remaining
    position = remaining.index(inserted["id"]) + 1
    assert f"stop {position} of the {len(remaining)} still to do" in text, text
    etas = _ok(client.get(f"/api/v1/routes/{routes[van]}/etas", headers=org.dispatcher))
    mine = next(s for s in etas["stops"] if s["order_id"] == inserted["id"])
    assert f"arriving about {mine['eta'][11:16]}" in text, (text, mine)
    assert "min later" in text and "This delivery is on time." in text
    assert f"The route now ends at {etas['end'][11:16]}" in text

    # --- an order whose window is over cannot fit: said in words, nothing moves
    _fill_order(page, "PHONE-2", "Städtle 5, Vaduz", f"{local_hour - 3}-{local_hour - 2}")
    page.click("#n-save")
    page.wait_for_selector("#add-done")
    page.click("#insert-btn")
    page.wait_for_selector("#insert-refused")
    refused = page.inner_text("#insert-refused")
    assert "No van can reach it inside its delivery window" in refused, refused
    assert "min late" in refused
    assert _order(client, org, "PHONE-2")["status"] == "ready"
    _shot(page, "03-insert-refused")

    # --- an ambiguous address: no pin until the owner picks one of the suggestions
    page.goto(f"/app/orders/new?date={today()}")
    page.fill("#n-number", "PHONE-4")
    page.fill("#n-address", "Landstrasse 100")
    page.click("#n-search")
    page.wait_for_function("document.getElementById('n-verdict').textContent.includes('Several')")
    assert page.input_value("#n-lat") == ""
    suggestions = page.locator("#n-suggestions li")
    assert suggestions.count() == 2
    suggestions.filter(has_text="Schaan").locator("button").click()
    assert page.input_value("#n-address") == "Landstrasse 100, 9494 Schaan"
    assert page.input_value("#n-lat") != ""
    page.click("#n-save")
    page.wait_for_selector("#add-done")
    assert _order(client, org, "PHONE-4")["address"] == "Landstrasse 100, 9494 Schaan"

    # --- bad input is refused with the field and the reason; nothing saved
    page.goto(f"/app/orders/new?date={today()}")
    page.fill("#n-number", "PHONE-3")
    page.fill("#n-address", "Nowhere 1, Atlantis")
    page.fill("#n-window", "9-8")
    page.wait_for_function(
        "document.getElementById('n-window-read').textContent.includes('ends before it starts')"
    )
    page.click("#n-save")
    page.wait_for_selector("#add-problems")
    assert "Delivery window: time window ends before it starts" in page.inner_text("#add-problems")
    page.fill("#n-window", "")
    page.click("#n-save")
    page.wait_for_function(
        "document.getElementById('add-problems')?.textContent.includes('outside')"
    )
    _shot(page, "04-add-refused")
    items = _ok(client.get(f"/api/v1/orders?date={today()}&limit=500", headers=org.dispatcher))
    assert "PHONE-3" not in {o["external_id"] for o in items["items"]}

    # --- re-optimise the rest of the day: a preview first (nothing changes), then apply
    before = {name: _remaining(client, org, rid) for name, rid in routes.items()}
    page.goto(f"/app/plans/{plan['id']}")
    page.select_option("#reopt-seconds", "2")
    # the progress bar shows while the search runs (however short it is on this machine)
    page.evaluate(
        "() => { const bar = document.getElementById('reopt-progress'); window.sawProgress = false;"
        " new MutationObserver(() => { if (getComputedStyle(bar).display !== 'none')"
        " window.sawProgress = true; }).observe(bar, { attributes: true }); }"
    )
    page.click("#reopt-show")
    page.wait_for_selector("#reopt-would, #reopt-none")
    assert page.evaluate("window.sawProgress") is True
    assert page.locator("#reopt-none").count() == 0, page.inner_text("#reopt-result")
    preview = page.inner_text("#reopt-result")
    _shot(page, "06-reoptimise-preview")
    assert "would change" in preview and "Nothing has changed yet" in preview, preview
    assert {name: _remaining(client, org, rid) for name, rid in routes.items()} == before
    page.click("#reopt-apply")
    page.wait_for_selector("#reopt-applied")
    assert "route(s) changed" in page.inner_text("#reopt-applied")
    after = {name: _remaining(client, org, rid) for name, rid in routes.items()}
    assert after != before
    assert sorted(o for ids in after.values() for o in ids) == sorted(
        o for ids in before.values() for o in ids
    )
    _shot(page, "07-reoptimise-applied")

    # --- the order page offers the insert for a ready order of a running day
    page.goto(f"/app/orders/{_order(client, org, 'PHONE-2')['id']}")
    assert page.locator("#insert-btn").is_visible()
    page.goto(f"/app/orders/{inserted['id']}")
    assert page.locator("#insert-btn").count() == 0
    # --- the orders page lists the day's ready orders that wait for a van, each insertable
    page.goto("/app/orders")
    page.wait_for_selector("#waiting")
    waiting = page.locator("#waiting li[data-id]")
    assert waiting.count() == 2 and "PHONE-2" in page.inner_text("#waiting")
    waiting.filter(has_text="PHONE-2").locator(".insert-one").click()
    page.wait_for_selector("#waiting #insert-refused")
    assert "No van can reach it" in page.inner_text("#waiting")
    _shot(page, "08-orders-waiting")
    # --- the live page offers the same: the waiting order and re-optimising the rest
    page.goto(f"/app/live?date={today()}")
    page.wait_for_selector("#waiting li[data-id]")
    assert "PHONE-2" in page.inner_text("#waiting")
    page.click("#reopt-show")
    page.wait_for_selector("#reopt-would, #reopt-none")
    _shot(page, "09-live-running-day")
    assert page.problems == []


def test_another_organisation_cannot_insert_or_reoptimise(
    app_client: TestClient, running: tuple[OrgUsers, dict[str, Any]]
) -> None:
    org, plan = running
    other = make_org(app_client, "Other Shop", timezone=ZONE)
    order_id = _order(app_client, org, "SMP-0001")["id"]
    r = app_client.post(f"/app/orders/{order_id}/insert", headers=other.dispatcher)
    assert r.status_code == 404
    r = app_client.post(
        f"/app/plans/{plan['id']}/reoptimise", data={"seconds": "1"}, headers=other.dispatcher
    )
    assert r.status_code == 404
    r = app_client.get(f"/app/orders/waiting?date={today()}", headers=other.dispatcher)
    assert r.status_code == 200 and r.text == ""
    r = app_client.post(f"/app/orders/{order_id}/insert", headers=org.driver)
    assert r.status_code == 403
