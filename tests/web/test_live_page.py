"""The live page of a running day in a real browser (issue 14, item 10): stop pins coloured
by status, the next stop's ETA and the late risk per route, an alert for a stop running
late, a feed in words stamped with the driver's own time, and 24-hour times in the
organisation's zone even for a browser whose locale says 12-hour; the plan page stamps the
dispatch in the organisation's zone, not UTC.

The organisation's zone is picked so that it is afternoon there now (14:00-20:59): a
12-hour clock would show "PM", and a window that closed two hours ago is on the same day.
Screenshots go to ``test-artifacts/live/``.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient

from helpers.browser import chromium
from helpers.live import serve_app
from helpers.service import PASSWORD, OrgUsers, make_org, sqlite_settings
from lastmile.app import create_app
from lastmile.orgs.models import Role

pytestmark = pytest.mark.browser

SHOTS = Path(__file__).parents[2] / "test-artifacts" / "live"
ZONES = (
    "Pacific/Kiritimati", "Pacific/Auckland", "Australia/Sydney", "Asia/Tokyo",
    "Asia/Shanghai", "Asia/Bangkok", "Asia/Kolkata", "Asia/Dubai", "Europe/Moscow",
    "Europe/Athens", "Europe/Vaduz", "Europe/London", "Atlantic/Azores",
    "America/Noronha", "America/Sao_Paulo", "America/Halifax", "America/New_York",
    "America/Chicago", "America/Denver", "America/Los_Angeles", "America/Anchorage",
    "Pacific/Honolulu", "Pacific/Pago_Pago",
)  # fmt: skip


def afternoon_zone() -> ZoneInfo:
    """A zone where it is between 14:00 and 20:59 now."""
    now = datetime.now(UTC)
    for name in ZONES:
        if 14 <= now.astimezone(ZoneInfo(name)).hour <= 20:
            return ZoneInfo(name)
    raise AssertionError("no zone in the list is in its afternoon now")


@pytest.fixture(scope="module")
def app_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, str]]:
    settings = sqlite_settings(tmp_path_factory.mktemp("live-page"), geocode_imports=False)
    with TestClient(create_app(settings)) as client, serve_app(client.app) as url:
        yield client, url


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as b:
        yield b


def _seed(client: TestClient, zone: ZoneInfo) -> tuple[OrgUsers, dict[str, Any], str]:
    """Four orders on one van, dispatched; LATE's window closed two hours ago."""
    org = make_org(client, "Live Words Co", timezone=zone.key)
    local = datetime.now(UTC).astimezone(zone)
    day = local.date()
    closed = (local - timedelta(hours=2)).strftime("%H:%M")
    vehicles = (
        "id,name,profile,start_lon,start_lat,end_lon,end_lat,shift_start,shift_end,capacity_parcels\n"
        "VAN-1,Van 1,van,9.5087,47.1657,9.5087,47.1657,06:00,23:30,10\n"
    )
    orders = (
        "id,address,lon,lat,parcels,window\n"
        "EARLY,Landstrasse 10 Schaan,9.5095,47.1650,1,06:00-23:00\n"
        f"LATE,Städtle 1 Vaduz,9.5215,47.1410,1,06:00-{closed}\n"
        "MID,Fürst-Johann 7 Triesen,9.5265,47.1196,1,06:00-23:00\n"
        "LAST,Essanestrasse 2 Eschen,9.5220,47.2100,1,06:00-23:00\n"
    )
    r = client.post(
        "/api/v1/vehicles/import",
        files={"file": ("v.csv", vehicles.encode(), "text/csv")},
        headers=org.dispatcher,
    )
    assert r.status_code in (200, 201), r.text
    r = client.post(
        f"/api/v1/orders/import?date={day}",
        files={"file": ("o.csv", orders.encode(), "text/csv")},
        headers=org.dispatcher,
    )
    assert r.status_code in (200, 201), r.text
    vehicle = client.get("/api/v1/vehicles", headers=org.dispatcher).json()["items"][0]
    r = client.post(
        "/api/v1/drivers",
        json={"name": "Dana", "user_id": org.user_ids[Role.DRIVER], "vehicle_id": vehicle["id"]},
        headers=org.dispatcher,
    )
    assert r.status_code == 201, r.text
    plan_id = client.post(
        "/api/v1/plans", json={"date": str(day), "time_limit_s": 0.5}, headers=org.dispatcher
    ).json()["id"]
    deadline = time.monotonic() + 60
    while client.get(f"/api/v1/plans/{plan_id}", headers=org.dispatcher).json()["status"] != "done":
        assert time.monotonic() < deadline, "plan not done"
        time.sleep(0.1)
    route = client.get(f"/api/v1/plans/{plan_id}", headers=org.dispatcher).json()["routes"][0]
    assert len([s for s in route["stops"] if s["kind"] == "order"]) == 4, "all four planned"
    return org, route, plan_id


def _driver_event(client: TestClient, org: OrgUsers, key: str, **event: Any) -> None:
    r = client.post(
        "/api/v1/driver/events", json={"events": [{"key": key, **event}]}, headers=org.driver
    )
    assert r.json()["results"][0]["status"] == "applied", r.text


def test_a_running_day_on_the_live_page(app_url: tuple[TestClient, str], browser: Any) -> None:
    client, url = app_url
    zone = afternoon_zone()
    org, planned, plan_id = _seed(client, zone)
    context = browser.new_context(
        viewport={"width": 1366, "height": 900}, base_url=url, locale="en-US"
    )
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto("/app/login")
    page.fill("#email", "dispatcher@live-words-co.example")
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/app/orders")

    # dispatch from the plan page: stamped in the organisation's zone, 24-hour
    page.goto(f"/app/plans/{plan_id}")
    page.once("dialog", lambda d: d.accept())
    page.click("#dispatch-btn")
    note = page.locator("#dispatched-note").inner_text()
    stamp = re.search(r"Dispatched (\d{4}-\d\d-\d\d \d\d:\d\d)\.", note)
    assert stamp, note
    assert "UTC" not in note
    dispatched = datetime.strptime(stamp.group(1), "%Y-%m-%d %H:%M").replace(tzinfo=zone)
    assert abs((datetime.now(UTC) - dispatched).total_seconds()) < 120, (note, zone.key)

    # the driver starts and delivers the first stop (their phone's clock: 3 minutes ago)
    route_id = client.get("/api/v1/driver/route", headers=org.driver).json()["route"]["id"]
    stops = [s for s in planned["stops"] if s["kind"] == "order"]
    by_name = {s["external_id"]: s for s in stops}
    phone_time = datetime.now(UTC) - timedelta(minutes=3)
    _driver_event(
        client, org, "live-start-1", type="route_started", route_id=route_id,
        occurred_at=(phone_time - timedelta(minutes=5)).isoformat(),
    )  # fmt: skip
    mine = client.get("/api/v1/driver/route", headers=org.driver).json()["route"]["stops"]
    first = next(s for s in mine if s["kind"] == "order")
    _driver_event(
        client, org, "live-deliver-1", type="delivered", stop_id=first["id"],
        occurred_at=phone_time.isoformat(), recipient="Ann",
    )  # fmt: skip

    page.goto(f"/app/live?date={datetime.now(UTC).astimezone(zone).date()}")
    page.wait_for_selector("#live-status:text('live')")
    # pins: one per stop, the delivered one green, the late one ringed orange
    pins = page.locator("path[data-order]")
    assert pins.count() == 4
    delivered = page.locator(f"path[data-order='{first['order_id']}']")
    page.wait_for_function(
        f"document.querySelector(\"path[data-order='{first['order_id']}']\")"
        ".getAttribute('data-status') === 'delivered'"
    )
    assert delivered.get_attribute("fill") == "#1e8e3e"
    late_id = by_name["LATE"]["order_id"]
    if first["external_id"] != "LATE":
        page.wait_for_function(
            f"document.querySelector(\"path[data-order='{late_id}']\")"
            ".getAttribute('data-level') === 'late'",
            timeout=15_000,
        )
        assert page.locator(f"path[data-order='{late_id}']").get_attribute("stroke") == "#f29900"
        # the alert names the order, the van and how late, the route row says it too
        alert = page.locator("#alerts")
        assert alert.is_visible()
        assert re.search(r"LATE \(Van 1, stop \d\): about \d+ min late", alert.inner_text())
        risk = page.locator("#live-routes .risk").inner_text()
        assert re.match(r"\d late \(up to \d+ min\)", risk), risk
    # the next stop has an ETA in 24-hour time
    next_stop = page.locator("#live-routes .next-stop").inner_text()
    assert re.search(r"ETA ([01]\d|2[0-3]):[0-5]\d$", next_stop), next_stop

    # the feed: in words, with the phone's time of the delivery in the organisation's zone
    feed = page.locator("#feed").inner_text()
    assert "order.status_changed" not in feed and "out_for_delivery" not in feed
    line = next(li for li in feed.splitlines() if "→ delivered" in li)
    assert line.startswith(phone_time.astimezone(zone).strftime("%H:%M:%S")), (line, zone.key)
    assert "Van 1 (Dana) started the route" in feed
    for twelve_hour in (" AM", " PM"):
        assert twelve_hour not in page.inner_text("main")
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "01-live-late.png"), full_page=True)

    # a failure arrives live: its pin turns red and the feed says why in words
    second = next(s for s in mine if s["kind"] == "order" and s["id"] != first["id"])
    _driver_event(
        client, org, "live-fail-1", type="failed", stop_id=second["id"], reason="not_home",
        occurred_at=datetime.now(UTC).isoformat(),
    )  # fmt: skip
    page.wait_for_function(
        f"document.querySelector(\"path[data-order='{second['order_id']}']\")"
        ".getAttribute('data-status') === 'failed'"
    )
    assert page.locator(f"path[data-order='{second['order_id']}']").get_attribute("fill") == (
        "#c5221f"
    )
    assert "— nobody at home" in page.locator("#feed").inner_text()
    page.screenshot(path=str(SHOTS / "02-live-failed.png"), full_page=True)
    context.close()
    assert errors == []
