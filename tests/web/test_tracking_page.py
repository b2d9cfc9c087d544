"""The customer's tracking page in a real browser (Debian's chromium, phone-sized).

A day is seeded, planned, dispatched and driven through the driver API; customers open their
links. Checked: one link never shows another order; the vehicle's map appears only when the
driver is near (here: at most one stop before theirs); an expired link gets a clear page;
instructions and a rating typed into the page are stored. Screenshots go to
``test-artifacts/tracking/``.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from helpers.browser import chromium
from helpers.live import serve_app
from helpers.service import OrgUsers, make_org, sqlite_settings
from lastmile.app import create_app
from lastmile.orgs.models import Role
from lastmile.tracking.models import TrackingLink

pytestmark = pytest.mark.browser

ZONE = ZoneInfo("Europe/Vaduz")
SHOTS = Path(__file__).parents[2] / "test-artifacts" / "tracking"
PHONE = {"width": 390, "height": 844}
VEHICLES = (
    "id,name,profile,start_lon,start_lat,end_lon,end_lat,shift_start,shift_end,capacity_parcels\n"
    "VAN-1,Van 1,van,9.5087,47.1657,9.5087,47.1657,00:05,23:55,10\n"
)
ORDERS = (
    "id,address,lon,lat,parcels,customer,phone\n"
    "T1,Städtle 1 Vaduz,9.5215,47.1410,1,Ann Alder,+423 111\n"
    "T2,Landstrasse 10 Schaan,9.5095,47.1650,1,Ben Birch,+423 222\n"
    "T3,Fürst-Johann 7 Triesen,9.5265,47.1196,1,Cy Cedar,+423 333\n"
    "T4,Essanestrasse 2 Eschen,9.5220,47.2100,1,Di Dogwood,+423 444\n"
)
ADDRESSES = {
    "T1": "Städtle 1 Vaduz",
    "T2": "Landstrasse 10 Schaan",
    "T3": "Fürst-Johann 7 Triesen",
    "T4": "Essanestrasse 2 Eschen",
}


def rendered_features(page: Any, layer: str) -> int:
    """How many features of a basemap layer MapLibre has drawn, once its tiles are in."""
    page.wait_for_function(
        "() => { const l = window.lastmileBasemap && window.lastmileBasemap.layer;"
        " const m = l && l.getMaplibreMap(); return !!m && m.loaded() && m.areTilesLoaded(); }",
        timeout=30_000,
    )
    count: int = page.evaluate(
        f"() => window.lastmileBasemap.layer.getMaplibreMap()"
        f".queryRenderedFeatures({{layers: ['{layer}']}}).length"
    )
    return count


@dataclass
class LiveApp:
    client: TestClient
    url: str


@pytest.fixture(scope="module")
def live_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveApp]:
    data_dir = tmp_path_factory.mktemp("tracking-page")
    settings = sqlite_settings(data_dir, geocode_imports=False)
    with TestClient(create_app(settings)) as client, serve_app(client.app) as url:
        yield LiveApp(client=client, url=url)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's chromium (tests/helpers/browser.py)."""
    with chromium() as b:
        yield b


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport=PHONE, device_scale_factor=2, locale="en-GB")
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    yield page
    context.close()
    assert not errors, errors


@dataclass
class Day:
    org: OrgUsers
    stops: list[dict[str, Any]]
    route_id: str
    keys: int = 0

    def stop_of(self, external_id: str) -> int:
        return next(i for i, s in enumerate(self.stops) if s["external_id"] == external_id)


def now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def seed(client: TestClient, name: str) -> Day:
    org = make_org(client, name, timezone="Europe/Vaduz")
    r = client.put(
        "/api/v1/notifications/settings",
        json={"tracking": {"map_stops": 1, "ttl_days": 7}},
        headers=org.admin,
    )
    assert r.status_code == 200, r.text
    day = now().astimezone(ZONE).date()
    client.post(
        "/api/v1/vehicles/import",
        files={"file": ("v.csv", VEHICLES.encode(), "text/csv")},
        headers=org.dispatcher,
    )
    r = client.post(
        f"/api/v1/orders/import?date={day}",
        files={"file": ("o.csv", ORDERS.encode(), "text/csv")},
        headers=org.dispatcher,
    )
    assert r.status_code in (200, 201), r.text
    vehicle = client.get("/api/v1/vehicles", headers=org.dispatcher).json()["items"][0]
    r = client.post(
        "/api/v1/drivers",
        json={
            "name": "Dana Driverson",
            "user_id": org.user_ids[Role.DRIVER],
            "vehicle_id": vehicle["id"],
        },
        headers=org.dispatcher,
    )
    assert r.status_code == 201, r.text
    plan_id = client.post(
        "/api/v1/plans", json={"date": str(day), "time_limit_s": 0.3}, headers=org.dispatcher
    ).json()["id"]
    deadline = time.monotonic() + 60
    while client.get(f"/api/v1/plans/{plan_id}", headers=org.dispatcher).json()["status"] != "done":
        assert time.monotonic() < deadline, "plan not done"
        time.sleep(0.1)
    r = client.post(f"/api/v1/plans/{plan_id}/dispatch", json={}, headers=org.dispatcher)
    assert r.status_code == 200, r.text
    route = client.get(f"/api/v1/driver/route?date={day}", headers=org.driver).json()["route"]
    stops = [s for s in route["stops"] if s["kind"] == "order"]
    return Day(org=org, stops=stops, route_id=route["id"])


def drive(
    client: TestClient,
    day: Day,
    type: str,
    stop: int | None = None,
    ago_s: int = 0,
    **extra: str,
) -> datetime:
    """Send one driver event that happened ``ago_s`` seconds ago; returns when."""
    day.keys += 1
    at = now() - timedelta(seconds=ago_s)
    event: dict[str, Any] = {
        "key": f"{day.org.org_id}-{day.keys:04d}",
        "type": type,
        "occurred_at": at.isoformat(),
        "stop_id": day.stops[stop]["id"] if stop is not None else None,
    }
    if type == "route_started":
        event["route_id"] = day.route_id
    if type == "failed":
        event["reason"] = "not_home"
    event.update(extra)
    r = client.post("/api/v1/driver/events", json={"events": [event]}, headers=day.org.driver)
    assert r.json()["results"][0]["status"] == "applied", r.text
    return at


def position(client: TestClient, day: Day, lon: float, lat: float, ago_s: int = 0) -> None:
    at = (now() - timedelta(seconds=ago_s)).isoformat()
    r = client.post(
        "/api/v1/driver/positions",
        json={"positions": [{"lon": lon, "lat": lat, "recorded_at": at}]},
        headers=day.org.driver,
    )
    assert r.json()["accepted"] == 1, r.text


def link(client: TestClient, day: Day, external_id: str) -> str:
    order_id = day.stops[day.stop_of(external_id)]["order_id"]
    r = client.post(f"/api/v1/orders/{order_id}/tracking-link", headers=day.org.dispatcher)
    assert r.status_code == 201, r.text
    return str(r.json()["path"])


def shot(page: Any, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def test_one_link_one_order_and_the_map_only_when_near(live_app: LiveApp, page: Any) -> None:
    client = live_app.client
    day = seed(client, "Tracking Browser")
    last = day.stops[-1]["external_id"]
    first = day.stops[0]["external_id"]
    paths = {ext: link(client, day, ext) for ext in (first, last)}

    # each link shows its own order (address) and none of the others
    for ext, path in paths.items():
        page.goto(live_app.url + path)
        assert page.get_by_test_id("address").inner_text() == ADDRESSES[ext]
        body = page.inner_text("body")
        for other, address in ADDRESSES.items():
            if other != ext:
                assert address not in body
        for name in ("Ann", "Ben", "Cy", "Di ", "Driverson"):
            assert name not in body
        assert page.get_by_test_id("status").inner_text() == "Scheduled"
    shot(page, "01-scheduled")

    # the route starts: the last customer is 3 stops away: no map, not even hidden
    drive(client, day, "route_started", ago_s=60)
    position(client, day, 9.5087, 47.1657, ago_s=50)
    page.goto(live_app.url + paths[last])
    assert page.get_by_test_id("status").inner_text() == "On its way"
    assert page.get_by_test_id("stops").inner_text() == "3 stops before yours"
    assert page.locator("#map").count() == 0
    assert page.locator("script[src*=leaflet]").count() == 0
    assert page.get_by_test_id("driver").inner_text() == "Your driver: Dana"
    shot(page, "02-on-its-way-far")

    # two stops done: one stop before theirs -> the map with the vehicle
    first_delivered = drive(client, day, "delivered", 0, ago_s=40)
    drive(client, day, "delivered", 1, ago_s=30)
    lon, lat = day.stops[1]["lon"], day.stops[1]["lat"]
    position(client, day, lon, lat, ago_s=20)
    page.goto(live_app.url + paths[last])
    page.wait_for_selector("#map[data-ready=yes]")
    assert page.locator(".vehicle-dot").count() == 1
    assert page.locator(".home-dot").count() == 1
    assert page.locator("#map").get_attribute("data-vehicle") == f"{lon},{lat}"
    assert page.get_by_test_id("stops").inner_text() == "1 stop before yours"
    # the map is drawn on the server's own vector tiles (no tile server configured): roads
    # are on it, never an empty grey box
    roads = rendered_features(page, "road")
    assert roads > 0, "the tracking map shows no roads"
    shot(page, "03-near-with-map")

    # a GPS fix in Zurich (about 90 km away: a stale or spoofed phone) is never shown
    position(client, day, 8.5417, 47.3769, ago_s=5)
    page.goto(live_app.url + paths[last])
    assert page.locator("#map").count() == 0
    assert "8.5417" not in page.content()

    # the first customer's page (delivered) has no map and no ETA, says when, and asks for
    # a rating; the page of a delivery still under way asks for none
    page.goto(live_app.url + paths[first])
    assert page.get_by_test_id("status").inner_text() == "Delivered"
    assert page.locator("#map").count() == 0 and page.get_by_test_id("eta").count() == 0
    delivered_at = first_delivered.astimezone(ZONE).strftime("%H:%M")
    assert page.get_by_test_id("outcome-time").inner_text() == f"Delivered at {delivered_at}"
    assert page.get_by_test_id("rating-form").count() == 1
    shot(page, "03b-delivered-when")
    page.goto(live_app.url + paths[last])
    assert page.get_by_test_id("rating-form").count() == 0
    assert page.get_by_test_id("outcome").count() == 0


def test_expired_and_unknown_links_get_a_clear_page(live_app: LiveApp, page: Any) -> None:
    client = live_app.client
    day = seed(client, "Tracking Expired")
    path = link(client, day, "T1")
    sessions: sessionmaker[Session] = client.app.state.sessions  # type: ignore[attr-defined]
    with sessions() as session:
        session.execute(
            update(TrackingLink)
            .where(TrackingLink.org_id == day.org.org_id)
            .values(expires_at=now() - timedelta(seconds=1))
        )
        session.commit()
    response = page.goto(live_app.url + path)
    assert response.status == 410
    assert page.locator("h1").inner_text() == "Link expired"
    body = page.inner_text("body")
    assert "has expired" in body
    for leak in ("Tracking Expired", "Städtle", "Dana", "Scheduled"):
        assert leak not in body
    shot(page, "04-expired")
    response = page.goto(live_app.url + "/t/this-is-not-a-token")
    assert response.status == 404 and page.locator("h1").inner_text() == "Link not found"
    shot(page, "05-unknown")


def test_instructions_and_rating_typed_into_the_page_are_stored(
    live_app: LiveApp, page: Any
) -> None:
    client = live_app.client
    day = seed(client, "Tracking Feedback")
    index = day.stop_of("T2")
    order_id = day.stops[index]["order_id"]
    path = link(client, day, "T2")
    page.goto(live_app.url + path)
    page.select_option("#kind", "safe_place")
    page.fill("#text", "Behind the blue garden shed")
    page.get_by_role("button", name="Save").click()
    page.wait_for_selector("[data-testid=saved]")
    assert page.get_by_test_id("saved").inner_text() == "Thank you, saved."
    assert page.input_value("#text") == "Behind the blue garden shed"
    shot(page, "06-instructions-saved")
    driver_route = client.get(
        f"/api/v1/driver/route?date={now().astimezone(ZONE).date()}", headers=day.org.driver
    ).json()["route"]
    notes = {s.get("order_id"): s.get("notes") for s in driver_route["stops"]}
    assert notes[order_id] == "Customer instructions: safe place: Behind the blue garden shed"

    drive(client, day, "route_started", ago_s=30)
    drive(client, day, "delivered", index, ago_s=10)
    page.goto(live_app.url + path)
    assert page.locator("#text").count() == 0  # delivered: no more instructions
    page.check("input[name=rating][value='4']")
    page.fill("#comment", "Quick and friendly")
    page.get_by_role("button", name="Send").click()
    page.wait_for_selector("[data-testid=rating]")
    assert page.get_by_test_id("rating").inner_text() == "Your rating: ★★★★☆"
    shot(page, "07-rated")
    staff = client.get(f"/api/v1/orders/{order_id}/tracking", headers=day.org.dispatcher).json()
    assert staff["rating"] == 4 and staff["comment"] == "Quick and friendly"
    assert staff["instruction_text"] == "Behind the blue garden shed"
    assert staff["views"] >= 3


JPEG = bytes.fromhex(
    "ffd8ffe000104a46494600010100000100010000ffdb004300080606070605080707070909080a0c140d0c0b"
    "0b0c1912130f141d1a1f1e1d1a1c1c20242e2720222c231c1c2837292c30313434341f27393d38323c2e3334"
    "32ffc0000b080001000101011100ffc4001f0000010501010101010100000000000000000102030405060708"
    "090a0bffc400b5100002010303020403050504040000017d01020300041105122131410613516107227114"
    "328191a1082342b1c11552d1f02433627282090a161718191a25262728292a3435363738393a434445464748"
    "494a535455565758595a636465666768696a737475767778797a838485868788898a92939495969798999a"
    "a2a3a4a5a6a7a8a9aab2b3b4b5b6b7b8b9bac2c3c4c5c6c7c8c9cad2d3d4d5d6d7d8d9dae1e2e3e4e5e6e7"
    "e8e9eaf1f2f3f4f5f6f7f8f9faffda0008010100003f00fbd3ffd9"
)


def test_german_page_with_proof_of_delivery_and_a_new_window_after_a_failure(
    live_app: LiveApp, browser: Any
) -> None:
    client = live_app.client
    day = seed(client, "Tracking Rebook")
    r = client.put(
        "/api/v1/notifications/settings",
        json={"tracking": {"map_stops": 1, "ttl_days": 7, "reschedule": True}},
        headers=day.org.admin,
    )
    assert r.status_code == 200, r.text
    r = client.patch(
        "/api/v1/organisation",
        json={"phone": "+423 234 56 78", "pod_policy": ["signature", "neighbour"]},
        headers=day.org.admin,
    )
    assert r.status_code == 200, r.text
    delivered, failed = day.stops[0]["external_id"], day.stops[1]["external_id"]
    paths = {ext: link(client, day, ext) for ext in (delivered, failed)}
    drive(client, day, "route_started", ago_s=60)
    handed = drive(
        client, day, "delivered", 0, ago_s=40, handover="neighbour", recipient="Frau Meier, Nr. 12"
    )
    pod = client.post(
        "/api/v1/driver/pod",
        data={"kind": "photo", "event_key": f"{day.org.org_id}-{day.keys:04d}"},
        files={"file": ("p.jpg", JPEG, "image/jpeg")},
        headers=day.org.driver,
    )
    assert pod.status_code == 201, pod.text
    drive(client, day, "failed", 1, ago_s=20)

    context = browser.new_context(viewport=PHONE, device_scale_factor=2, locale="de-DE")
    page = context.new_page()
    try:
        page.goto(live_app.url + paths[delivered])
        assert page.get_by_test_id("status").inner_text() == "Zugestellt"
        at = handed.astimezone(ZONE).strftime("%H:%M")
        assert page.get_by_test_id("outcome-time").inner_text() == f"Zugestellt um {at}"
        assert (
            page.get_by_test_id("handover").inner_text()
            == "Abgegeben bei Ihren Nachbarn: Frau Meier, Nr. 12"
        )
        phone = page.get_by_test_id("shop-phone")
        assert "+423 234 56 78" in phone.inner_text()
        assert phone.locator("a").get_attribute("href") == "tel:+4232345678"
        assert page.get_by_test_id("rating-form").count() == 1
        photo = page.locator("[data-testid=pod] img")
        assert photo.count() == 1
        assert page.evaluate("img => img.complete && img.naturalWidth > 0", photo.element_handle())
        shot(page, "08-de-delivered-with-photo")

        page.goto(live_app.url + paths[failed])
        assert page.get_by_test_id("status").inner_text() == "Zustellung nicht möglich"
        assert page.get_by_test_id("reason").inner_text() == "Grund: Es war niemand zu Hause."
        assert page.get_by_test_id("rating-form").count() == 0  # nothing to rate yet
        assert page.get_by_test_id("shop-phone").count() == 1
        buttons = page.locator("form.slots button")
        assert buttons.count() >= 1
        chosen = buttons.nth(buttons.count() - 1).inner_text()
        shot(page, "09-de-failed-choose-window")
        buttons.nth(buttons.count() - 1).click()
        page.wait_for_selector("[data-testid=saved]")
        assert (
            page.get_by_test_id("saved").inner_text() == "Danke: Ihre neue Lieferzeit ist gebucht."
        )
        assert page.get_by_test_id("status").inner_text() == "Neue Lieferung gebucht"
        shot(page, "10-de-new-window-booked")
    finally:
        context.close()
    order_id = day.stops[1]["order_id"]
    order = client.get(f"/api/v1/orders/{order_id}", headers=day.org.dispatcher).json()
    assert order["status"] == "ready"
    window = order["windows"][0]
    assert chosen.endswith(f"{window['start']}-{window['end']}"), (chosen, window)


def test_without_vector_tiles_the_map_draws_road_lines(
    tmp_path_factory: pytest.TempPathFactory, page: Any
) -> None:
    """A server routing on an extract whose tiles were never built (`lastmile tiles build`):
    the customer's map falls back to the road graph's lines, never an empty grey box."""
    from lastmile.core.roads import default_extract

    data_dir = tmp_path_factory.mktemp("tracking-no-tiles")
    extract = default_extract()
    no_tiles = data_dir / extract.name
    no_tiles.symlink_to(extract)  # the same extract and road cache, with no tiles beside them
    cache = extract.with_name(extract.name.removesuffix(".pbf") + ".roads.npz")
    if cache.exists():  # else the road graph is built (and cached) in data_dir
        (data_dir / cache.name).symlink_to(cache)
    settings = sqlite_settings(data_dir, geocode_imports=False, roads_extract=no_tiles)
    with TestClient(create_app(settings)) as client, serve_app(client.app) as url:
        assert client.get("/tiles/meta.json").json()["available"] is False
        # the road lines are public (OSM data only): no login; this first call loads the graph
        lines = client.get("/app/api/basemap?bbox=9.50,47.13,9.54,47.16&zoom=12")
        assert lines.status_code == 200 and lines.json()["features"], lines.text[:200]
        day = seed(client, "Tracking No Tiles")
        last = day.stops[-1]["external_id"]
        path = link(client, day, last)
        drive(client, day, "route_started", ago_s=60)
        drive(client, day, "delivered", 0, ago_s=40)
        drive(client, day, "delivered", 1, ago_s=30)
        position(client, day, day.stops[1]["lon"], day.stops[1]["lat"], ago_s=20)
        page.goto(url + path)
        page.wait_for_selector("#map[data-ready=yes]")
        page.wait_for_function(
            "() => window.lastmileBasemap.lines && window.lastmileBasemap.lines.getLayers().length > 0",
            timeout=120_000,  # the first call loads the road graph (seconds on a busy machine)
        )
        assert page.evaluate("window.lastmileBasemap.layer") is None  # no vector tiles
        drawn = page.locator("#map path.leaflet-interactive, #map svg path").count()
        assert drawn > 0
        shot(page, "11-no-tiles-road-lines")
