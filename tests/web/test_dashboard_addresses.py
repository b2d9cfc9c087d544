"""A shop owner's messy CSV in the dashboard (Debian chromium, the app under uvicorn): the
preview checks every address and offers to skip the bad row, unresolved addresses are
fixed with a suggestion, by editing the text and by dragging a pin, the plan page names the
orders it had to leave out, and the route sheets print what to deliver.

No API calls drive the story: the test only reads the API to check what the pages did.
Screenshots go to ``test-artifacts/dashboard-addresses/``.
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

from helpers.browser import watched_page
from helpers.service import PASSWORD, OrgUsers, make_org, sqlite_settings
from lastmile.app import create_app

ARTIFACTS = Path(__file__).parents[2] / "test-artifacts" / "dashboard-addresses"
DAY = "2026-11-26"
VEHICLES = (
    "id,name,profile,start_lon,start_lat,shift_start,shift_end,capacity_parcels\n"
    "VAN-1,Van 1,van,9.5087,47.1657,07:00,22:00,40\n"
    "VAN-2,Van 2,van,9.5087,47.1657,07:00,22:00,40\n"
)
# What a florist exports: semicolons, an item column, windows typed in four ways, the
# town in its own column, one window nobody can read, and three addresses the map cannot
# place by itself (a street in three towns, a street that does not exist, a missing number).
MESSY_CSV = (
    "Order number;Customer;Phone;Street address;Town;Time window;Item;Notes\n"
    "F-01;Anna Beck;+423 111 11 11;Fürst-Johann-Strasse 7;9495 Triesen;9h-12h;bread basket;ring twice\n"
    "F-02;Bruno Frick;+423 222 22 22;Foppastrasse 3;9497 Triesenberg;19-21;roses, 12 red;\n"
    "F-03;Clara Marxer;;Höfle 30;9496 Balzers;9:00 - 12:00;birthday cake;back door\n"
    "F-04;Dora Vogt;;Peter-Kaiser-Strasse 88;9493 Mauren;9.00-12.00;tulips;\n"
    "F-05;Emil Wohlwend;;Landstrasse 19;;10-16;sourdough loaf;\n"
    "F-06;Fritz Nigg;;Nirgendwostrasse 99;9490 Vaduz;10-16;orchid;\n"
    "F-07;Gina Ospelt;;Bergstrasse;9497 Triesenberg;10-16;lilies;\n"
    "F-08;Hans Kind;;Elgagass 12;9496 Balzers;sometime;croissants;\n"
)


@pytest.fixture(scope="module")
def web_client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    settings = sqlite_settings(tmp_path_factory.mktemp("addresses-data"))
    with TestClient(create_app(settings)) as client:
        yield client


@pytest.fixture(scope="module")
def org(web_client: TestClient) -> OrgUsers:
    org = make_org(web_client, "Blumen Beck")
    r = web_client.post(
        "/api/v1/vehicles/import",
        files={"file": ("v.csv", VEHICLES.encode(), "text/csv")},
        headers=org.dispatcher,
    )
    assert r.status_code in (200, 201), r.text
    return org


@pytest.fixture(scope="module")
def page(web_client: TestClient) -> Iterator[Any]:
    with watched_page(web_client.app, 1366, 900) as page:
        yield page


def _shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def _orders(client: TestClient, org: OrgUsers) -> dict[str, dict[str, Any]]:
    r = client.get(f"/api/v1/orders?date={DAY}&limit=500", headers=org.dispatcher)
    assert r.status_code == 200, r.text
    return {o["external_id"]: o for o in r.json()["items"]}


def _login(page: Any, path: str) -> None:
    """Open ``path``, logging in as the dispatcher first if the session is not there yet."""
    page.goto(path)
    if "/app/login" in page.url:
        page.fill("#email", "dispatcher@blumen-beck.example")
        page.fill("#password", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(f"**{path}")


def _row(page: Any, external_id: str) -> Any:
    return page.locator("#orders-table tbody tr", has_text=external_id)


def test_messy_file_to_route_sheets(
    page: Any, web_client: TestClient, org: OrgUsers, tmp_path: Path
) -> None:
    _login(page, f"/app/orders?date={DAY}")

    # --- preview: every row checked, the address verdicts shown, the bad window named
    messy = tmp_path / "florist.csv"
    messy.write_text(MESSY_CSV, encoding="utf-8")
    page.click("#import-box summary")
    page.set_input_files("#import-file", str(messy))
    page.fill("#import-date", DAY)
    page.click("#preview-btn")
    page.wait_for_selector("#preview-table")
    rows = {
        r.locator("td").nth(1).inner_text(): r.inner_text()
        for r in page.locator("#preview-table tbody tr").all()
    }
    assert len(rows) == 8
    assert "address checked" in rows["F-01"] and "valid" in rows["F-01"]
    assert "several places match" in rows["F-05"] and "needs fixing" in rows["F-05"]
    assert "not found on the map" in rows["F-06"]
    assert "several places match" in rows["F-07"] and "no house number" in rows["F-07"]
    assert "invalid" in rows["F-08"] and "Time window" in rows["F-08"]
    assert "3 address(es) need fixing" in page.locator("#preview-unresolved").inner_text()
    # four checked addresses are pins before anything is saved
    assert page.locator("#map path.leaflet-interactive").count() == 4
    assert page.locator("#import-btn").is_disabled()
    assert _orders(web_client, org) == {}
    _shot(page, "01-preview")

    # --- skip the bad row: the other seven are imported
    page.check("#skip-invalid")
    assert page.locator("#import-btn").inner_text() == "Import 7 row(s)"
    page.click("#import-btn")
    page.wait_for_selector("#import-done")
    assert "1 invalid row(s) skipped" in page.locator("#import-done").inner_text()
    stored = _orders(web_client, org)
    assert sorted(stored) == [f"F-0{k}" for k in range(1, 8)]
    assert stored["F-02"]["windows"] == [{"start": "19:00", "end": "21:00"}]
    assert stored["F-01"]["description"] == "bread basket"
    assert stored["F-01"]["address"] == "Fürst-Johann-Strasse 7, 9495 Triesen"

    # --- the list tells unresolved orders from unchecked ones (the geocoder runs in the
    # background, in its own process: wait until nothing is "not checked yet")
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        page.goto(f"/app/orders?date={DAY}")
        if "not checked yet" not in page.locator("#orders-table").inner_text():
            break
        time.sleep(1)
    assert "needs fixing" in _row(page, "F-05").inner_text()
    assert "several places match" in _row(page, "F-05").inner_text()
    assert "not found on the map" in _row(page, "F-06").inner_text()
    assert "address checked" in _row(page, "F-01").inner_text()
    assert page.locator("#orders-table thead").inner_text().count("Order number") == 1
    # unresolved orders have orange pins to drag (at the best guess, or the map's centre)
    assert page.locator("#map .leaflet-marker-icon .fix-pin").count() == 3
    _shot(page, "02-orders-unresolved")

    # --- plan now: the page must name the three orders it left out
    page.goto(f"/app/plan?date={DAY}")
    page.click("#run-plan")
    page.wait_for_selector("#routes", timeout=30_000)
    left_out = page.locator("#left-out").inner_text()
    assert "3 order(s)" in left_out and "F-05" in left_out and "F-06" in left_out
    assert "every order is planned" not in page.locator("#unassigned").inner_text()
    # no internal names: how driving times were found, in words
    assert "straight-line distances" in page.locator("#travel-times").inner_text()
    _shot(page, "03-plan-left-out")
    page.click("#left-out a:has-text('Fix them')")
    page.wait_for_url("**/app/orders?*status=new*")

    # --- F-05: one click on a suggestion (the Landstrasse 19 of Vaduz)
    _row(page, "F-05").locator(".fix-address").click()
    page.wait_for_selector("#fix-suggestions .use-suggestion")
    assert "Several places match" in page.locator("#fix-verdict").inner_text()
    suggestions = page.locator("#fix-suggestions li").all_inner_texts()
    assert any("Landstrasse 19, 9490 Vaduz" in s for s in suggestions), suggestions
    _shot(page, "04-fix-suggestions")
    page.locator("#fix-suggestions li", has_text="Landstrasse 19, 9490 Vaduz").locator(
        "button"
    ).click()
    page.wait_for_selector("#toast:has-text('F-05: Landstrasse 19, 9490 Vaduz')")
    f05 = _orders(web_client, org)["F-05"]
    assert f05["status"] == "ready" and f05["address"] == "Landstrasse 19, 9490 Vaduz"

    # --- F-06: edit the address text; it is checked again on save
    page.wait_for_selector("#orders-table tbody tr:has-text('F-06') .fix-address")
    _row(page, "F-06").locator(".fix-address").click()
    page.wait_for_selector("#fix-verdict:has-text('not on the map')")
    page.fill("#fix-address", "Bergstrasse 5, 9497 Triesenberg")
    page.click("#fix-save")
    page.wait_for_selector("#toast:has-text('F-06: address found and saved')")
    f06 = _orders(web_client, org)["F-06"]
    assert f06["status"] == "ready" and f06["address_verdict"] == "exact"

    # --- F-07: drag its orange pin; the row shows the new place at once
    page.wait_for_function(
        "document.querySelectorAll('#map .leaflet-marker-icon .fix-pin').length === 1"
    )
    pin = page.locator("#map .leaflet-marker-icon[title^='F-07']")
    box = pin.bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] - 4)
    page.mouse.down()
    page.mouse.move(box["x"] + 40, box["y"] + 25, steps=8)
    page.mouse.up()
    page.wait_for_selector("#orders-table tbody tr:has-text('F-07') >> text=placed on the map")
    assert "ready" in _row(page, "F-07").inner_text()
    f07 = _orders(web_client, org)["F-07"]
    assert f07["status"] == "ready" and f07["address_verdict"] == "given"
    _shot(page, "05-orders-fixed")

    # --- plan again: nothing left out; the route sheets print what to deliver
    page.goto(f"/app/plan?date={DAY}")
    page.click("#run-plan")
    page.wait_for_selector("#routes", timeout=30_000)
    assert page.locator("#left-out").count() == 0
    assert "every order is planned" in page.locator("#unassigned").inner_text()
    cards = page.locator("#routes").inner_text()
    assert "Anna Beck" in cards and "F-01" in cards
    _shot(page, "06-plan")
    page.click("a:has-text('Print all routes')")
    page.wait_for_selector(".sheet")
    sheets = page.locator("body").inner_text()
    assert page.locator(".sheet").count() >= 1
    assert page.locator(".sheet tbody tr").count() == 7
    for text in ("bread basket", "Anna Beck", "+423 111 11 11", "ring twice", "birthday cake"):
        assert text in sheets, text
    assert "Landstrasse 19, 9490 Vaduz" in sheets
    _shot(page, "07-route-sheets")
    assert page.problems == []


# A real 1x1 PNG (a grey pixel) stands for the photo and the signature.
PIXEL = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010800000000"
    "3a7e9b550000000a4944415478da63680000008200815b5b3a6f0000000049454e44ae426082"
)


def _wait_plan(client: TestClient, org: OrgUsers, plan_id: str) -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        status = client.get(f"/api/v1/plans/{plan_id}", headers=org.dispatcher).json()["status"]
        if status == "done":
            return
        assert status != "failed"
        time.sleep(0.5)
    raise AssertionError("plan not done in 90 s")


def test_order_page_shows_the_whole_delivery(
    page: Any, web_client: TestClient, org: OrgUsers
) -> None:
    """Set up through the other apps' APIs (the driver's phone, the customer's page), then
    read everything on the order's page in the organisation's time zone."""
    from lastmile.common.clock import utcnow
    from lastmile.orgs.models import Role
    from lastmile.tracking import service as tracking

    client = web_client
    today = utcnow().astimezone(ZoneInfo("Europe/Vaduz")).date().isoformat()
    orders_csv = (
        "id,address,lon,lat,customer,phone,email,item,notes,window\n"
        'B-1,"Fürst-Johann-Strasse 7, 9495 Triesen",9.5265427,47.1196385,Anna Beck,'
        "+423 111 11 11,anna@example.com,bread basket,ring twice,08-18\n"
    )
    r = client.post(
        f"/api/v1/orders/import?date={today}",
        files={"file": ("o.csv", orders_csv.encode())},
        headers=org.dispatcher,
    )
    assert r.status_code == 200, r.text
    order_id = r.json()["rows"][0]["order_id"]
    vehicles = client.get("/api/v1/vehicles", headers=org.dispatcher).json()["items"]
    van = next(v["id"] for v in vehicles if v["external_id"] == "VAN-1")
    driver = client.post(
        "/api/v1/drivers",
        json={"name": "Dana", "user_id": org.user_ids[Role.DRIVER], "vehicle_id": van},
        headers=org.dispatcher,
    )
    assert driver.status_code == 201, driver.text
    plan_id = client.post(
        "/api/v1/plans", json={"date": today, "time_limit_s": 0.3}, headers=org.dispatcher
    ).json()["id"]
    _wait_plan(client, org, plan_id)
    r = client.post(f"/api/v1/plans/{plan_id}/dispatch", json={}, headers=org.dispatcher)
    assert r.status_code == 200, r.text
    route = client.get(f"/api/v1/driver/route?date={today}", headers=org.driver).json()["route"]
    stop = next(s for s in route["stops"] if s.get("order_id") == order_id)
    assert stop["description"] == "bread basket"  # what the driver's app shows
    # device times after the dispatch and not in the future
    base = utcnow()
    time.sleep(2)
    at = [(base + dt.timedelta(seconds=s)).isoformat() for s in (0.2, 0.8, 1.4)]
    events = [
        {"key": "evt-start", "type": "route_started", "occurred_at": at[0]},
        {"key": "evt-arrive", "type": "arrived", "occurred_at": at[1], "stop_id": stop["id"]},
        {
            "key": "evt-delivered",
            "type": "delivered",
            "occurred_at": at[2],
            "stop_id": stop["id"],
            "recipient": "Anna",
        },
    ]
    r = client.post("/api/v1/driver/events", json={"events": events}, headers=org.driver)
    assert r.status_code == 200, r.text
    assert [x["status"] for x in r.json()["results"]] == ["applied"] * 3, r.text
    for kind in ("photo", "signature"):
        r = client.post(
            "/api/v1/driver/pod",
            files={"file": (f"{kind}.png", PIXEL, "image/png")},
            data={"kind": kind, "event_key": "evt-delivered", "recipient": "Anna"},
            headers=org.driver,
        )
        assert r.status_code == 201, r.text
    link = client.post(f"/api/v1/orders/{order_id}/tracking-link", headers=org.dispatcher)
    token = link.json()["path"].rsplit("/", 1)[1]
    with client.app.state.sessions() as session:  # type: ignore[attr-defined]
        found = tracking.resolve(session=session, token=token)
        tracking.save_rating(session=session, link=found, rating=4, comment="Lovely bread")

    # --- the owner: log a customer's call from the list, then open the order
    _login(page, f"/app/orders?date={today}")
    _row(page, "B-1").locator(".log-contact").click()
    page.fill("#contact-note", "asked when the bread comes")
    page.click("#contact-save")
    page.wait_for_selector("#toast:has-text('B-1: contact logged')")
    _row(page, "B-1").locator("a", has_text="B-1").click()
    page.wait_for_url(f"**/app/orders/{order_id}")
    assert page.locator("#order-status").inner_text() == "delivered"
    details = page.locator("#order-details").inner_text()
    for text in ("Anna Beck", "+423 111 11 11", "anna@example.com", "bread basket", "ring twice"):
        assert text in details, text
    assert "08:00\u201318:00" in details
    customer = page.locator("#order-customer").inner_text()
    assert "★★★★☆" in customer and "Lovely bread" in customer
    assert "asked when the bread comes" in customer
    history = page.locator("#order-history").inner_text()
    local = dt.datetime.fromisoformat(at[2]).astimezone(ZoneInfo("Europe/Vaduz"))
    assert local.strftime("%Y-%m-%d %H:%M") in history  # the delivery, in Vaduz time
    assert "delivered" in history and "driver" in history and "sent to the driver" in history
    pods = page.locator("#order-pods figure")
    assert pods.count() == 2 and "received by Anna" in pods.first.inner_text()
    # The photos load after the page does: wait for them (a broken one never gets a width).
    page.wait_for_function(
        "[...document.querySelectorAll('#order-pods img')].every(i => i.complete && i.naturalWidth > 0)",
        timeout=15_000,
    )
    page.click("#make-link")
    page.wait_for_selector("#tracking-url")
    assert "/t/" in page.locator("#tracking-url").inner_text()
    _shot(page, "08-order-page")
    assert page.problems == []
