"""The dispatcher dashboard in a real browser (Debian chromium, headless) against the real
app under uvicorn: log in, import with a bad row, fix a pin, bulk-cancel, plan, see the
routes, drag a stop and get the feasibility warning, dispatch, see a position arrive live.

Screenshots of each page go to ``test-artifacts/dashboard/``.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from helpers.browser import chromium
from helpers.live import serve_app
from helpers.service import PASSWORD, OrgUsers, make_org, sqlite_settings
from lastmile.app import create_app
from lastmile.auth import service as auth
from lastmile.orgs import service as orgs
from lastmile.orgs.models import Role

ARTIFACTS = Path(__file__).parents[2] / "test-artifacts"
DASHBOARD_DAY = "2026-11-25"
SAMPLE = Path(__file__).parents[2] / "src" / "lastmile" / "data" / "sample"
TIGHT_VEHICLES = (
    "id,name,profile,start_lon,start_lat,end_lon,end_lat,shift_start,shift_end,"
    "capacity_parcels,capacity_weight_kg,cost_per_km,cost_per_hour,fixed_cost\n"
    "VAN-1,Van 1,van,9.5087,47.1657,9.5087,47.1657,07:30,17:30,6,600,0.35,28,20\n"
    "VAN-2,Van 2,van,9.5087,47.1657,9.5087,47.1657,07:30,17:30,6,600,0.35,28,20\n"
)
"""Two vans that hold 6 parcels each: twelve one-parcel orders fill both exactly, so moving
any stop from one route to the other breaks the capacity of the receiving van."""


def dashboard_orders_csv(count: int = 12, bad_row: bool = False, extra: bool = False) -> str:
    """``count`` sample addresses with one parcel each and a wide window (+ extra rows)."""
    text = (SAMPLE / "sample_day_orders.csv").read_text(encoding="utf-8")
    rows = list(csv.reader(io.StringIO(text)))
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(rows[0])
    for cells in rows[1 : count + 1]:
        cells[4], cells[5], cells[7] = "08:00", "17:00", "1"
        writer.writerow(cells)
    tail = ["08:00", "17:00", "2", "1", "1"]
    if extra:
        writer.writerow(["X-CANCEL", "Landstrasse 1, 9490 Vaduz", "9.5215", "47.1410", *tail])
    if bad_row:
        writer.writerow(["X-BAD", "Somewhere 1, 9490 Vaduz", "abc", "47.14", *tail])
    return out.getvalue()


@pytest.fixture(scope="module")
def web_client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """A started app on a fresh SQLite database, as the brief of the suite asks."""
    data_dir = tmp_path_factory.mktemp("dashboard-data")
    settings = sqlite_settings(data_dir)
    with TestClient(create_app(settings)) as client:
        yield client


@pytest.fixture(scope="module")
def live_url(web_client: TestClient) -> Iterator[str]:
    """The same app served by uvicorn on a loopback port."""
    with serve_app(web_client.app) as url:
        yield url


@pytest.fixture(scope="module")
def dashboard_browser() -> Iterator[Any]:
    """Debian's chromium (tests/helpers/browser.py)."""
    with chromium() as browser:
        yield browser


def seed_org(client: TestClient, name: str) -> OrgUsers:
    """An organisation (admin, dispatcher, driver) with the two tight vans."""
    org = make_org(client, name)
    r = client.post(
        "/api/v1/vehicles/import",
        files={"file": ("v.csv", TIGHT_VEHICLES.encode(), "text/csv")},
        headers=org.dispatcher,
    )
    assert r.status_code in (200, 201), r.text
    return org


@pytest.fixture(scope="module")
def dashboard_org(web_client: TestClient) -> OrgUsers:
    return seed_org(web_client, "Dashboard Co")


SHOTS = ARTIFACTS / "dashboard"
DISPATCHER = "dispatcher@dashboard-co.example"


def _shot(page: Any, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def _orders(client: TestClient, headers: dict[str, str]) -> list[dict[str, Any]]:
    r = client.get(f"/api/v1/orders?date={DASHBOARD_DAY}&limit=500", headers=headers)
    assert r.status_code == 200, r.text
    items: list[dict[str, Any]] = r.json()["items"]
    return items


@pytest.fixture(scope="module")
def page(dashboard_browser: Any, live_url: str) -> Any:
    context = dashboard_browser.new_context(
        viewport={"width": 1366, "height": 768}, base_url=live_url
    )
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.errors = errors
    yield page
    context.close()


def test_dispatcher_day(
    page: Any, web_client: TestClient, dashboard_org: Any, tmp_path: Path
) -> None:
    org = dashboard_org
    sessions: sessionmaker[Session] = web_client.app.state.sessions  # type: ignore[attr-defined]
    # The dispatcher also belongs to a second organisation: the switcher must offer it.
    with sessions() as session:
        other = orgs.create(session=session, name="Second Co", timezone="Europe/Vaduz")
        user = auth.get_user_by_email(session=session, email=DISPATCHER)
        orgs.add_member(session=session, org_id=other.id, user_id=user.id, role=Role.DISPATCHER)

    # --- login (wrong password first: an error, no session)
    page.goto(f"/app/orders?date={DASHBOARD_DAY}")
    assert "/app/login" in page.url
    page.fill("#email", DISPATCHER)
    page.fill("#password", "wrong password")
    page.click("button[type=submit]")
    assert page.locator("#login-error").is_visible()
    _shot(page, "01-login-error")
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"**/app/orders?date={DASHBOARD_DAY}")
    assert page.locator('meta[name="csrf-token"]').get_attribute("content")

    # --- organisation switcher: switch to the second organisation and back
    options = page.locator("#org-select option").all_text_contents()
    assert any("Second Co" in o for o in options) and any("Dashboard Co" in o for o in options)
    page.select_option("#org-select", label="Second Co (dispatcher)")
    page.click("#org-switch button")
    page.wait_for_load_state()
    assert page.locator("#org-select option:checked").inner_text().startswith("Second Co")
    page.select_option("#org-select", label="Dashboard Co (dispatcher)")
    page.click("#org-switch button")
    page.wait_for_load_state()
    assert page.locator("#org-select option:checked").inner_text().startswith("Dashboard Co")
    page.goto(f"/app/orders?date={DASHBOARD_DAY}")

    # --- import with one bad row: preview shows it, nothing is saved, Import is disabled
    bad = tmp_path / "orders-bad.csv"
    bad.write_text(dashboard_orders_csv(bad_row=True, extra=True), encoding="utf-8")
    page.click("#import-box summary")
    page.set_input_files("#import-file", str(bad))
    page.fill("#import-date", DASHBOARD_DAY)
    page.click("#preview-btn")
    page.wait_for_selector("#preview-table")
    assert page.locator("#preview-table tbody tr").count() == 14
    invalid = page.locator("#preview-table tr.invalid")
    assert invalid.count() == 1
    assert "X-BAD" in invalid.inner_text() and "lon" in invalid.inner_text()
    assert page.locator("#import-btn").is_disabled()
    # pins of the valid rows are on the map before anything is saved
    assert page.locator("#map path.leaflet-interactive").count() == 13
    assert _orders(web_client, org.dispatcher) == []
    _shot(page, "02-import-preview-bad-row")

    # --- fixed file: all valid, then Import
    good = tmp_path / "orders.csv"
    good.write_text(dashboard_orders_csv(extra=True), encoding="utf-8")
    page.set_input_files("#import-file", str(good))
    page.click("#preview-btn")
    page.wait_for_selector("#preview-summary.ok")
    page.click("#import-btn")
    page.wait_for_selector("#import-done")
    page.wait_for_function(
        "document.querySelectorAll('#orders-table tbody tr[data-id]').length === 13"
    )
    assert len(_orders(web_client, org.dispatcher)) == 13
    _shot(page, "03-orders")

    # --- fix a location by dragging its pin (PATCH through the orders service)
    before = {o["external_id"]: o for o in _orders(web_client, org.dispatcher)}
    marker = page.locator("#map .leaflet-marker-icon[title^='SMP-0012']")
    box = marker.bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] - 4)
    page.mouse.down()
    page.mouse.move(box["x"] + 60, box["y"] + 30, steps=8)
    page.mouse.up()
    deadline = time.monotonic() + 5
    moved = before["SMP-0012"]
    while time.monotonic() < deadline:
        moved = {o["external_id"]: o for o in _orders(web_client, org.dispatcher)}["SMP-0012"]
        if moved["lon"] != before["SMP-0012"]["lon"]:
            break
        time.sleep(0.1)
    assert moved["lon"] != before["SMP-0012"]["lon"], (
        "dragging the pin did not save: " + page.locator("#toast").inner_text()
    )
    assert moved["address_verdict"] == "given"
    # the keyboard way: edit the address text; it is checked again when saved
    page.locator("#orders-table tr", has_text="SMP-0011").locator(".fix-address").click()
    page.fill("#fix-address", "Landstr. 19, 9490 Vaduz")
    page.click("#fix-save")
    page.wait_for_selector("#toast:has-text('SMP-0011: address found and saved')")
    page.wait_for_selector("#orders-table tr:has-text('SMP-0011') >> text=Landstr. 19")
    typed = {o["external_id"]: o for o in _orders(web_client, org.dispatcher)}["SMP-0011"]
    assert typed["address"] == "Landstr. 19, 9490 Vaduz" and typed["status"] == "ready"
    assert typed["address_verdict"] == "corrected"
    assert abs(typed["lon"] - 9.5174) < 0.001 and abs(typed["lat"] - 47.1435) < 0.001

    # --- bulk action: cancel the selected order (and only it)
    page.fill("input[name=q]", "X-CANCEL")
    page.press("input[name=q]", "Enter")
    page.wait_for_function(
        "document.querySelectorAll('#orders-table tbody tr[data-id]').length === 1"
    )
    page.check("#select-page")
    page.select_option("#bulk-action", "cancel")
    page.once("dialog", lambda d: d.accept())
    page.click("#bulk-apply")
    page.wait_for_selector("#orders-table .s-cancelled")
    statuses = {o["external_id"]: o["status"] for o in _orders(web_client, org.dispatcher)}
    assert statuses.pop("X-CANCEL") == "cancelled"
    assert set(statuses.values()) == {"ready"}

    # --- plan: live progress, then the routes on the map, the timeline, totals
    page.goto(f"/app/plan?date={DASHBOARD_DAY}")
    _shot(page, "04-plan-form")
    page.fill("#time-limit", "3")
    page.click("#run-plan")
    page.wait_for_url("**/app/plans/*")
    # the bar moves while the solver runs (plan.progress events over SSE, polling as backup)
    page.wait_for_function(
        "(() => { const b = document.getElementById('progress');"
        " const v = b && Number(b.getAttribute('aria-valuenow'));"
        " return v > 0 && v < 100; })()",
        timeout=20_000,
    )
    _shot(page, "05a-plan-progress")
    page.wait_for_selector("#t-cost", timeout=60_000)
    plan_id = page.url.rsplit("/", 1)[1]
    plan = web_client.get(f"/api/v1/plans/{plan_id}", headers=org.dispatcher).json()
    assert plan["status"] == "done"
    assert len(plan["routes"]) == 2
    _shot(page, "05-plan")
    page.wait_for_function(
        "document.querySelectorAll('#map path.route-line').length > 0 || window.__failed",
        timeout=5000,
    ) if not page.errors else None
    assert page.locator("#map path.route-line").count() == 2, page.errors
    assert page.locator("#timeline .tl-row").count() == 2
    assert page.locator("#timeline rect.tl-bar.stop").count() == 12
    assert page.locator("#map .stop-label").count() == 12
    _shot(page, "05-plan")

    # --- drag a stop to the other route: the server answers with the capacity warning first
    first = page.locator(".route").nth(0).locator("li").first
    target = page.locator(".route").nth(1).locator("li").first
    first.drag_to(target)
    page.wait_for_selector("#move-warning")
    warning = page.locator("#move-warning").inner_text()
    # in the owner's words, with the van's name: "Van 2 would carry 7 parcels ...; it holds 6"
    assert "would carry" in warning and "it holds" in warning
    assert "veh_" not in warning and "capacity" not in warning
    assert page.locator("#move-delta").is_visible()
    _shot(page, "06-edit-warning")
    page.click("#move-cancel")
    # the same from the timeline: drag the first bar of row 1 onto row 2
    bar = page.locator("#timeline g.tl-row").nth(0).locator("rect.tl-bar[data-order]").first
    row2 = page.locator("#timeline g.tl-row").nth(1).locator("rect.tl-bar[data-order]").first
    start, end = bar.bounding_box(), row2.bounding_box()
    assert start is not None and end is not None
    page.mouse.move(start["x"] + start["width"] / 2, start["y"] + start["height"] / 2)
    page.mouse.down()
    page.mouse.move(end["x"] - 2, end["y"] + end["height"] / 2, steps=6)
    page.mouse.up()
    page.wait_for_selector("#move-warning")
    assert page.locator("#move-vehicle").input_value() == plan["routes"][1]["vehicle_id"]
    assert page.locator("#move-position").input_value() == "1"
    page.click("#move-cancel")
    unchanged = web_client.get(f"/api/v1/plans/{plan_id}", headers=org.dispatcher).json()
    assert unchanged["routes"] == plan["routes"], "a preview must not change the plan"

    # a move the dispatcher confirms (keyboard way: the Move button): first stop goes last
    first_id = next(s for s in plan["routes"][0]["stops"] if s["kind"] == "order")["order_id"]
    page.locator(".route").nth(0).locator("button.move").first.click()
    page.wait_for_selector("#move-delta")  # opening the dialog checks the current choice
    page.select_option("#move-vehicle", plan["routes"][0]["vehicle_id"])
    page.fill("#move-position", "6")
    page.click("#move-check")
    try:
        page.wait_for_selector("#move-delta", timeout=15_000)
    except Exception:
        _shot(page, "zz-move-failure")
        raise AssertionError(page.locator("#move-result").inner_text()) from None
    with page.expect_navigation():
        page.click("#move-confirm")
    assert "edited" in page.locator("#plan-status").inner_text()
    plan = web_client.get(f"/api/v1/plans/{plan_id}", headers=org.dispatcher).json()
    last = [s for s in plan["routes"][0]["stops"] if s["kind"] == "order"][-1]
    assert last["order_id"] == first_id

    # --- dispatch (route 1 to the driver who has the app), then route sheet and exports
    driver = web_client.post(
        "/api/v1/drivers",
        json={"name": "Dana Driver", "user_id": org.user_ids[Role.DRIVER]},
        headers=org.dispatcher,
    )
    assert driver.status_code == 201, driver.text
    vehicle_id = plan["routes"][0]["vehicle_id"]
    page.reload()
    page.select_option(f"#dispatch-form select[name='{vehicle_id}']", label="Dana Driver")
    page.once("dialog", lambda d: d.accept())
    page.click("#dispatch-btn")
    page.wait_for_selector("#dispatched-note")
    statuses = {o["external_id"]: o["status"] for o in _orders(web_client, org.dispatcher)}
    assert statuses.pop("X-CANCEL") == "cancelled"
    assert set(statuses.values()) == {"dispatched"}
    page.goto(f"/app/plans/{plan_id}/sheet/{vehicle_id}")
    assert page.locator("tbody tr").count() >= 6
    page.emulate_media(media="print")
    _shot(page, "07-route-sheet-print")
    page.emulate_media(media="screen")
    gpx = page.request.get(f"/app/plans/{plan_id}/export/{vehicle_id}.gpx")
    assert gpx.ok and gpx.text().count("<rtept") >= 7

    # --- live: the driver starts the route and posts a position through the driver API;
    # it arrives over SSE and puts the vehicle on the map.
    page.goto(f"/app/live?date={DASHBOARD_DAY}")
    page.wait_for_selector("#live-status:text('live')")
    routes = web_client.get(f"/api/v1/plans/{plan_id}", headers=org.dispatcher).json()
    mine = web_client.get(f"/api/v1/driver/route?date={DASHBOARD_DAY}", headers=org.driver)
    assert mine.status_code == 200, mine.text
    route_id = mine.json()["route"]["id"]
    now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    started = web_client.post(
        "/api/v1/driver/events",
        json={
            "events": [
                {
                    "key": "dash-route-start-1",
                    "type": "route_started",
                    "occurred_at": now,
                    "route_id": route_id,
                }
            ]
        },
        headers=org.driver,
    )
    assert started.json()["results"][0]["status"] == "applied", started.text
    sent = web_client.post(
        "/api/v1/driver/positions",
        json={"positions": [{"lon": 9.52, "lat": 47.15, "recorded_at": now}]},
        headers=org.driver,
    )
    assert sent.status_code == 200 and sent.json()["accepted"] == 1, sent.text
    page.wait_for_selector(".live-vehicle", timeout=10_000)
    seen = page.locator(f"tr[data-vehicle='{vehicle_id}'] .last-seen").inner_text()
    assert re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", seen), seen  # when, 24-hour
    # an order of that route is delivered: the route's progress follows
    order_id = next(s["order_id"] for s in routes["routes"][0]["stops"] if s["kind"] == "order")
    for to in ("delivered",):  # route_started already took them out for delivery
        r = web_client.post(
            f"/api/v1/orders/{order_id}/transitions", json={"to": to}, headers=org.dispatcher
        )
        assert r.status_code == 200, r.text
    page.wait_for_function(
        f"document.querySelector(\"tr[data-vehicle='{vehicle_id}'] .delivered\").textContent === '1'"
    )
    assert page.locator("#feed li").count() >= 3
    _shot(page, "08-live")
    # opened later, the page replays the recent events: last position and counts are back
    page.reload()
    page.wait_for_selector(".live-vehicle", timeout=10_000)
    assert page.locator(f"tr[data-vehicle='{vehicle_id}'] .last-seen").inner_text() == seen
    assert page.locator(f"tr[data-vehicle='{vehicle_id}'] .delivered").inner_text() == "1"

    page.goto("/app/settings")
    assert page.locator("#vehicles-h").is_visible()
    _shot(page, "09-settings")
    assert page.errors == [], page.errors


def test_tablet_layout(dashboard_browser: Any, live_url: str, dashboard_org: Any) -> None:
    """The orders page on a tablet: map below the table, nothing wider than the screen."""
    context = dashboard_browser.new_context(
        viewport={"width": 820, "height": 1180}, base_url=live_url, has_touch=True
    )
    page = context.new_page()
    page.goto("/app/login")
    page.fill("#email", "admin@dashboard-co.example")
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/app/orders")
    page.goto(f"/app/orders?date={DASHBOARD_DAY}")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 820, f"page is {width}px wide on an 820px tablet"
    _shot(page, "10-orders-tablet")
    page.goto("/app/plan")
    page.locator("table.grid a").first.click()
    page.wait_for_selector("#timeline")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 820, f"the plan page is {width}px wide on an 820px tablet"
    _shot(page, "10b-plan-tablet")
    context.close()


def test_settings_forms(dashboard_browser: Any, live_url: str, dashboard_org: Any) -> None:
    """An admin adds a depot, a vehicle at it and an API key through the settings forms."""
    context = dashboard_browser.new_context(
        viewport={"width": 1366, "height": 768}, base_url=live_url
    )
    page = context.new_page()
    page.goto("/app/settings")
    page.fill("#email", "admin@dashboard-co.example")
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/app/settings")
    page.fill("#depot-form input[name=name]", "Depot Vaduz")
    page.fill("#depot-address", "Städtle 1, Vaduz")
    page.click("#depot-search")
    page.wait_for_selector("#depot-map .leaflet-marker-icon")
    page.click("#depot-save")
    page.wait_for_selector("text=Depot Vaduz")
    page.click("#vehicle-add")
    vehicle = page.locator("#vehicle-form")
    vehicle.locator("input[name=external_id]").fill("BIKE-1")
    vehicle.locator("input[name=name]").fill("Cargo bike")
    vehicle.locator("input[name=parcels]").fill("20")
    page.click("#vehicle-save")
    page.wait_for_selector("text=Cargo bike")
    shown: list[str] = []

    def keep(dialog: Any) -> None:
        shown.append(dialog.default_value)
        dialog.accept()

    page.once("dialog", keep)
    key = page.locator("form[data-api='/api/v1/api-keys']")
    key.locator("input[name=name]").fill("shop")
    key.locator("button").click()
    page.wait_for_selector("section[aria-labelledby=keys-h] td:text-is('shop')")  # not the Shop tab
    assert shown and shown[0].startswith("lmk_")
    page.once("dialog", keep)
    hook = page.locator("form[data-api='/api/v1/webhooks']")
    hook.locator("input[name=url]").fill("https://example.com/lastmile-hook")
    hook.locator("input[name=event_types]").fill("order.status_changed, plan.done")
    hook.locator("button").click()
    page.wait_for_selector("text=https://example.com/lastmile-hook")
    assert len(shown) == 2 and shown[1]  # the signing secret, shown once
    assert "order.status_changed, plan.done" in page.locator("#hooks-h + table").inner_text()
    member = page.locator("form[data-api='/api/v1/members']")
    member.locator("input[name=email]").fill("newdriver@dashboard-co.example")
    member.locator("select[name=role]").select_option("driver")
    page.once("dialog", keep)
    member.locator("button").click()
    page.wait_for_selector("#invitations >> text=newdriver@dashboard-co.example")
    assert len(shown) == 3 and "/app/invite/" in shown[2]  # the invitation link, shown once
    assert "driver" in page.locator("tr", has_text="newdriver@dashboard-co.example").inner_text()
    _shot(page, "11-settings-admin")
    context.close()


def test_keyboard_only_login_and_menu(
    dashboard_browser: Any, live_url: str, dashboard_org: Any
) -> None:
    """Log in and reach every page of the menu with the keyboard alone."""
    context = dashboard_browser.new_context(
        viewport={"width": 1366, "height": 768}, base_url=live_url
    )
    page = context.new_page()
    page.goto("/app/login")
    assert page.evaluate("document.activeElement.id") == "email"  # autofocus
    page.keyboard.type("dispatcher@dashboard-co.example")
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url("**/app/orders")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to content"
    visited = []
    for name in ("Plan", "Live", "Settings"):
        for _ in range(12):
            page.keyboard.press("Tab")
            if page.evaluate("document.activeElement.textContent.trim()") == name:
                break
        with page.expect_navigation():
            page.keyboard.press("Enter")
        visited.append(page.evaluate("document.querySelector('[aria-current=page]').textContent"))
    assert visited == ["Plan", "Live", "Settings"]
    context.close()
