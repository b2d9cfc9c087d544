"""The driver app (``/driver``) in a real browser: a phone-sized chromium against the real app.

One driver works through a day: log in, start the route, deliver with photo and signature,
fail a stop, lose the signal for three more stops (one of which the office settles
meanwhile, so the server refuses the driver's late report), get the signal back, finish.
The server must then hold every accepted action exactly once, in the order it happened, with
its proof-of-delivery files. Screenshots of every screen go to ``test-artifacts/driver/``.
"""

from __future__ import annotations

import base64
import hashlib
import io
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from helpers.browser import chromium
from helpers.live import serve_app
from helpers.service import PASSWORD, OrgUsers, make_org, sqlite_settings
from lastmile.app import create_app
from lastmile.config import Settings
from lastmile.drivers.models import DeviceEvent, Position, ProofOfDelivery
from lastmile.drivers.pod_store import store_for
from lastmile.orgs.models import Organisation, Role
from lastmile.routes.models import Route, Stop

ZONE = "Europe/Vaduz"
SHOTS = Path(__file__).parents[2] / "test-artifacts" / "driver"
PHONE = {"width": 390, "height": 844}
DEPOT = {"latitude": 47.1657, "longitude": 9.5087}

VEHICLES = (
    "id,name,profile,start_lon,start_lat,end_lon,end_lat,shift_start,shift_end,capacity_parcels\n"
    "VAN-1,Van 1,van,9.5087,47.1657,9.5087,47.1657,06:00,22:00,90\n"
)
ORDERS = (
    "id,address,lon,lat,window_start,window_end,service_min,parcels,customer,phone,notes\n"
    'SMP-0001,"Fürst-Johann-Strasse 7, 9495 Triesen",9.5265427,47.1196385,08:00,20:00,2,1,'
    'Anna Beck,+423 777 11 22,"Ring twice, dog is friendly"\n'
    'SMP-0002,"Foppastrasse 3, 9497 Triesenberg",9.5423924,47.1342705,08:00,20:00,3,3,'
    "Bruno Frick,+423 777 33 44,\n"
    'SMP-0003,"Höfle 30, 9496 Balzers",9.5076534,47.0675654,08:00,20:00,2,3,Clara Hasler,,\n'
    'SMP-0004,"Peter-Kaiser-Strasse 88, 9493 Mauren",9.5356686,47.2151851,08:00,20:00,5,1,'
    "Dario Marxer,+423 777 55 66,Leave at the back door\n"
    'SMP-0005,"Bergstrasse 5, 9497 Triesenberg",9.5440004,47.1186076,08:00,20:00,5,1,'
    "Eva Ospelt,+423 777 77 88,\n"
)


@dataclass
class LiveApp:
    client: TestClient
    url: str
    settings: Settings


@pytest.fixture(scope="module")
def live_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveApp]:
    """The app on SQLite with its lifespan running, also served over HTTP on loopback."""
    data_dir = tmp_path_factory.mktemp("driver-app")
    settings = sqlite_settings(data_dir)
    with TestClient(create_app(settings)) as client, serve_app(client.app) as url:
        yield LiveApp(client=client, url=url, settings=settings)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's chromium, with a fake camera (a test pattern, no permission prompt) for the
    scanner."""
    with chromium(["--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"]) as b:
        yield b


@dataclass
class Day:
    org: OrgUsers
    email: str
    day: date
    route_id: str
    driver_id: str
    stops: list[dict[str, Any]]
    """The route's order stops in sequence: id, order_id, external_id, sequence."""


def _sessions(client: TestClient) -> sessionmaker[Session]:
    sessions: sessionmaker[Session] = client.app.state.sessions  # type: ignore[attr-defined]
    return sessions


def _seed(client: TestClient, name: str) -> Day:
    """An organisation whose driver has today's route with five stops, dispatched."""
    org = make_org(client, name, timezone=ZONE)
    with _sessions(client)() as session:
        row = session.get(Organisation, org.org_id)
        assert row is not None
        row.settings = {**(row.settings or {}), "pod_policy": ["signature_photo"]}
        session.commit()
    day = datetime.now(ZoneInfo(ZONE)).date()
    r = client.post(
        "/api/v1/vehicles/import",
        files={"file": ("v.csv", VEHICLES.encode(), "text/csv")},
        headers=org.dispatcher,
    )
    assert r.status_code in (200, 201), r.text
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
            "name": "Dana Driver",
            "phone": "+423 700 00 00",
            "user_id": org.user_ids[Role.DRIVER],
            "vehicle_id": vehicle["id"],
        },
        headers=org.dispatcher,
    )
    assert r.status_code == 201, r.text
    driver_id = r.json()["id"]
    r = client.post(
        "/api/v1/plans", json={"date": str(day), "time_limit_s": 1}, headers=org.dispatcher
    )
    assert r.status_code == 202, r.text
    plan_id = r.json()["id"]
    deadline = time.monotonic() + 60
    while (plan := client.get(f"/api/v1/plans/{plan_id}", headers=org.dispatcher).json())[
        "status"
    ] not in ("done", "failed"):
        assert time.monotonic() < deadline, "plan did not finish"
        time.sleep(0.2)
    assert plan["status"] == "done", plan.get("error")
    r = client.post(
        f"/api/v1/plans/{plan_id}/dispatch",
        json={"assignments": {vehicle["id"]: driver_id}},
        headers=org.dispatcher,
    )
    assert r.status_code == 200, r.text
    with _sessions(client)() as session:
        route = session.scalars(select(Route).where(Route.org_id == org.org_id)).one()
        stops = [
            {"id": s.id, "order_id": s.order_id, "sequence": s.sequence}
            for s in session.scalars(
                select(Stop)
                .where(Stop.route_id == route.id, Stop.kind == "order")
                .order_by(Stop.sequence)
            )
        ]
        route_id = route.id
    assert len(stops) == 5
    slug = name.lower().replace(" ", "-")
    return Day(org, f"driver@{slug}.example", day, route_id, driver_id, stops)


def _context(browser: Any) -> Any:
    context = browser.new_context(
        viewport=PHONE,
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
        locale="en-GB",
        timezone_id=ZONE,
        geolocation=DEPOT,
        permissions=["geolocation"],
    )
    context.set_default_timeout(15000)
    return context


def _shot(page: Any, name: str, *, full: bool = False) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    if full:
        page.evaluate("window.scrollTo(0, 0)")  # the sticky bar stays at the top of the image
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=full)


def _jpeg(page: Any) -> bytes:
    """A small real JPEG (what a camera gives, only smaller), drawn by the browser itself."""
    data_url: str = page.evaluate(
        """() => {
          const c = document.createElement('canvas');
          c.width = 320; c.height = 240;
          const g = c.getContext('2d');
          g.fillStyle = '#c49a6c'; g.fillRect(0, 0, 320, 240);
          g.fillStyle = '#7a5230'; g.fillRect(90, 60, 140, 120);
          g.fillStyle = '#fff'; g.font = '28px sans-serif'; g.fillText('PARCEL', 110, 130);
          return c.toDataURL('image/jpeg', 0.9);
        }"""
    )
    return base64.b64decode(data_url.split(",", 1)[1])


def _sign(page: Any) -> None:
    canvas = page.locator("#signature")
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    assert box is not None
    x0, y0 = box["x"] + 30, box["y"] + box["height"] * 0.65
    page.mouse.move(x0, y0)
    page.mouse.down()
    for i in range(1, 25):
        page.mouse.move(x0 + i * 12, y0 - 40 * abs(((i % 8) - 4) / 4), steps=2)
    page.mouse.up()


def _pending(page: Any) -> int:
    return int(page.locator("#sync").get_attribute("data-pending") or "0")


def _wait_all_sent(page: Any, timeout: float = 20) -> None:
    from playwright.sync_api import expect

    expect(page.locator("#sync")).to_have_attribute("data-pending", "0", timeout=timeout * 1000)
    expect(page.locator("#sync")).to_have_text("All sent")


def _open_stop(page: Any, stop_id: str) -> None:
    page.goto(page.url.split("#")[0] + f"#/stop/{stop_id}")
    page.locator("#main h2").first.wait_for()


def _deliver(page: Any, photo: bytes, recipient: str, barcode: str, shot: str | None) -> None:
    page.locator("#arrived").click()
    page.locator("#delivered").click()
    page.locator("#photo").set_input_files(
        files=[{"name": "parcel.jpg", "mimeType": "image/jpeg", "buffer": photo}]
    )
    page.locator(".preview img").wait_for()
    _sign(page)
    page.fill("#recipient", recipient)
    page.fill("#barcode", barcode)
    page.locator("#add-barcode").click()
    if shot:
        _shot(page, shot, full=True)
    page.locator("#confirm-delivered").click()
    page.locator("#start-route, #finish-route").first.wait_for()


def _fail(page: Any, reason_label: str, note: str, shot: str | None) -> None:
    page.locator("#arrived").click()
    page.locator("#failed").click()
    page.get_by_label(reason_label).check()
    page.fill("#fail-note", note)
    if shot:
        _shot(page, shot, full=True)
    page.locator("#confirm-failed").click()
    page.locator("#finish-route").wait_for()


@pytest.mark.browser
def test_a_day_with_a_dead_spot(live_app: LiveApp, browser: Any) -> None:
    from playwright.sync_api import expect

    client = live_app.client
    day = _seed(client, "Parcel Co")
    s1, s2, s3, s4, s5 = day.stops
    context = _context(browser)
    page = context.new_page()
    console_errors: list[str] = []
    page.on("pageerror", lambda e: console_errors.append(str(e)))

    page.goto(f"{live_app.url}/driver")
    page.get_by_label("E-mail").wait_for()
    _shot(page, "01-login")
    page.get_by_label("E-mail").fill(day.email)
    page.get_by_label("Password").fill("wrong password")
    page.get_by_role("button", name="Log in").click()
    expect(page.locator(".form-error")).to_have_text("Wrong e-mail or password.")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()

    # Today's route, in order, not started: nothing is tracked yet.
    start = page.locator("#start-route")
    start.wait_for()
    rows = page.locator(".stop-row[data-stop]")
    expect(rows).to_have_count(5)
    assert [rows.nth(i).get_attribute("data-stop") for i in range(5)] == [
        s["id"] for s in day.stops
    ]
    expect(page.locator(".next")).to_contain_text("Next: stop 1")
    _shot(page, "02-route-not-started", full=True)

    start.click()
    page.locator("#finish-route").wait_for()
    _wait_all_sent(page)
    _shot(page, "03-route-started", full=True)

    # Stop 1 (online): arrived, delivered with photo, signature, name, a parcel code.
    photo = _jpeg(page)
    _open_stop(page, s1["id"])
    expect(page.locator("#main")).to_contain_text("Ring twice, dog is friendly")
    assert page.locator("a[href^='tel:']").count() == 1
    assert page.locator("a[href^='sms:']").count() == 1
    page.locator("details.nav summary").click()
    for kind in ("osm", "google", "apple", "geo"):
        assert page.locator(f"a[data-nav={kind}]").get_attribute("href")
    _shot(page, "04-stop")
    page.locator("details.nav summary").click()
    page.locator("#arrived").wait_for()
    # Confirming without the required proof names what is missing.
    page.locator("#arrived").click()
    page.locator("#delivered").click()
    page.locator("#confirm-delivered").click()
    expect(page.locator(".field-error[data-for=photo]")).to_contain_text("photo")
    expect(page.locator(".field-error[data-for=signature]")).to_contain_text("sign")
    _shot(page, "05-deliver-missing-proof", full=True)
    page.go_back()
    page.locator("#delivered").wait_for()
    page.locator("#delivered").click()
    page.locator("#photo").set_input_files(
        files=[{"name": "parcel.jpg", "mimeType": "image/jpeg", "buffer": photo}]
    )
    page.locator(".preview img").wait_for()
    _sign(page)
    page.fill("#recipient", "Anna Beck")
    page.fill("#barcode", "PKG-0001")
    page.locator("#add-barcode").click()
    _shot(page, "06-deliver-form", full=True)
    page.locator("#confirm-delivered").click()
    page.locator("#finish-route").wait_for()
    _wait_all_sent(page)

    # Stop 2 (online): not delivered, nobody home.
    _open_stop(page, s2["id"])
    _fail(page, "Nobody at home", "Card left in the letter box", "07-fail-form")
    _wait_all_sent(page)
    _shot(page, "08-route-two-done", full=True)

    # The signal goes. Three stops are worked offline.
    context.set_offline(True)
    expect(page.locator("#sync")).to_have_text("Offline")
    _open_stop(page, s3["id"])
    _deliver(page, photo, "Clara Hasler", "PKG-0003", None)
    expect(page.locator("#sync")).to_have_text("Offline · 4 waiting")

    # Meanwhile the office settles stop 5 (the customer phoned: picked it up at the depot).
    settled_at = datetime.now(UTC).isoformat()
    for status in ("arrived", "delivered"):
        r = client.post(
            f"/api/v1/orders/{s5['order_id']}/transitions",
            json={"to": status, "at": settled_at, "note": "picked up at the depot"},
            headers=day.org.dispatcher,
        )
        assert r.status_code == 200, r.text
    time.sleep(0.05)  # the driver's report is later than the office's
    _open_stop(page, s5["id"])
    page.locator("#arrived").wait_for()  # the phone has not heard of it: no signal
    _fail(page, "Could not get access", "Gate locked", None)
    _open_stop(page, s4["id"])
    _fail(page, "Refused by the recipient", "Wrong size", None)
    # arrived+delivered(+photo+signature), arrived+failed, arrived+failed
    expect(page.locator("#sync")).to_have_text("Offline · 8 waiting")
    assert _pending(page) == 8
    expect(page.locator(f".stop-row[data-stop='{s3['id']}'] .unsent")).to_have_count(1)
    chips = [page.locator(f".stop-row[data-stop='{s['id']}'] .chip") for s in day.stops]
    for chip, text in zip(chips, ["Delivered", "Not delivered", "Delivered"], strict=False):
        expect(chip).to_contain_text(text)  # what was sent before the dead spot stays done
    expect(page.locator(".progress-text")).to_have_text("5 of 5 stops done")
    _shot(page, "09-offline-waiting", full=True)
    with _sessions(client)() as session:
        offline_keys = session.scalars(
            select(DeviceEvent.idempotency_key).where(DeviceEvent.org_id == day.org.org_id)
        ).all()
        assert len(offline_keys) == 5  # started, arrived+delivered, arrived+failed: nothing new

    # Back in signal: everything goes out by itself; the refused report is shown.
    back_online = datetime.now(UTC)
    context.set_offline(False)
    _wait_all_sent(page, timeout=30)
    notice = page.locator(".notice-error")
    expect(notice).to_have_count(2)
    expect(notice.first).to_contain_text("Not accepted by the office")
    expect(notice.first).to_contain_text("already delivered")
    expect(page.locator(f".stop-row[data-stop='{s5['id']}'] .chip")).to_have_text("Delivered")
    _shot(page, "10-back-online-refused", full=True)
    for _ in range(2):
        notice.first.get_by_role("button", name="OK").click()
    expect(notice).to_have_count(0)

    page.once("dialog", lambda d: d.accept())
    page.locator("#finish-route").click()
    expect(page.locator(".done")).to_contain_text("Route finished")
    _wait_all_sent(page)
    _shot(page, "11-route-finished", full=True)
    assert not console_errors, console_errors
    context.close()

    # The server: every accepted action once, in the order it happened, with its files.
    with _sessions(client)() as session:
        rows = session.scalars(
            select(DeviceEvent)
            .where(DeviceEvent.org_id == day.org.org_id)
            .order_by(DeviceEvent.occurred_at)
        ).all()
        seen = [(r.type, r.payload.get("stop_id")) for r in rows]
        assert seen == [
            ("route_started", None),
            ("arrived", s1["id"]),
            ("delivered", s1["id"]),
            ("arrived", s2["id"]),
            ("failed", s2["id"]),
            ("arrived", s3["id"]),
            ("delivered", s3["id"]),
            ("arrived", s4["id"]),
            ("failed", s4["id"]),
            ("route_finished", None),
        ], seen
        assert len({r.idempotency_key for r in rows}) == len(rows)
        # The offline actions carry the time they happened, not the time they were sent.
        offline_stops = {s3["id"], s4["id"]}
        for r in rows:
            if r.payload.get("stop_id") in offline_stops:
                assert r.occurred_at < back_online, (r.type, r.occurred_at, back_online)
                assert r.created_at > back_online
        assert all(r.driver_id == day.driver_id for r in rows)
        delivered = {r.payload.get("stop_id"): r for r in rows if r.type == "delivered"}
        assert delivered[s1["id"]].payload.get("recipient") == "Anna Beck"
        assert delivered[s1["id"]].payload.get("barcodes") == ["PKG-0001"]
        failed = {r.payload.get("stop_id"): r for r in rows if r.type == "failed"}
        assert failed[s2["id"]].payload.get("reason") == "not_home"
        assert failed[s4["id"]].payload.get("reason") == "refused"
        for r in rows:
            at = datetime.fromisoformat(r.payload.get("occurred_at") or r.occurred_at.isoformat())
            assert at.tzinfo is not None
        pods = session.scalars(
            select(ProofOfDelivery).where(ProofOfDelivery.org_id == day.org.org_id)
        ).all()
        by_order = sorted((p.order_id, p.kind) for p in pods)
        assert by_order == sorted(
            [
                (s1["order_id"], "photo"),
                (s1["order_id"], "signature"),
                (s3["order_id"], "photo"),
                (s3["order_id"], "signature"),
            ]
        )
        store = store_for(live_app.settings)
        keys = {r.idempotency_key for r in delivered.values()}
        for pod in pods:
            assert pod.event_key in keys
            data = store.get(pod.storage_key)
            assert hashlib.sha256(data).hexdigest() == pod.sha256
            if pod.kind == "photo":
                assert data == photo
            else:
                assert data.startswith(b"\x89PNG")
                _assert_drawn(data)
        assert session.query(Position).filter(Position.driver_id == day.driver_id).count() >= 1
        route = session.get(Route, day.route_id)
        assert route is not None and route.status == "finished"
    orders = client.get(f"/api/v1/orders?date={day.day}", headers=day.org.dispatcher).json()
    status = {o["id"]: o["status"] for o in orders["items"]}
    assert [status[s["order_id"]] for s in day.stops] == [
        "delivered",
        "failed",
        "delivered",
        "failed",
        "delivered",
    ]


def _assert_drawn(png: bytes) -> None:
    """The signature has ink on it: dark pixels on the white pad."""
    try:
        from PIL import Image
    except ImportError:  # pragma: no cover - Pillow is not a dependency
        assert len(png) > 1000
        return
    image = Image.open(io.BytesIO(png)).convert("L")
    dark = sum(image.histogram()[:100])
    assert dark > 200, f"only {dark} dark pixels: the signature was not drawn"


FAKE_DETECTOR = """
window.BarcodeDetector = class {
  static async getSupportedFormats() { return ['qr_code', 'code_128', 'ean_13']; }
  constructor() { this.calls = 0; }
  async detect(source) {
    // Reads the code on the third frame of a playing camera stream.
    if (!(source instanceof HTMLVideoElement) || !source.srcObject) throw new Error('no video');
    this.calls += 1;
    return this.calls >= 3 ? [{ rawValue: 'PKG-SCAN-7', format: 'code_128' }] : [];
  }
};
"""


@pytest.mark.browser
def test_staff_cannot_log_in_and_a_scanned_code_goes_with_the_delivery(
    live_app: LiveApp, browser: Any
) -> None:
    from playwright.sync_api import expect

    client = live_app.client
    day = _seed(client, "Scan Co")
    context = _context(browser)
    context.grant_permissions(["geolocation", "camera"])
    context.add_init_script(FAKE_DETECTOR)
    page = context.new_page()
    page.goto(f"{live_app.url}/driver")
    page.get_by_label("E-mail").fill("dispatcher@scan-co.example")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.locator(".form-error")).to_contain_text("This app is for drivers")
    page.get_by_label("E-mail").fill(day.email)
    page.get_by_role("button", name="Log in").click()
    page.locator("#start-route").click()
    _open_stop(page, day.stops[0]["id"])
    page.locator("#arrived").click()
    page.locator("#delivered").click()
    page.locator("#scan").click()
    expect(page.locator(".codes .code")).to_have_text(["PKG-SCAN-7"])
    expect(page.locator("dialog.scanner")).to_have_count(0)  # closed, camera released
    page.locator("#photo").set_input_files(
        files=[{"name": "p.jpg", "mimeType": "image/jpeg", "buffer": _jpeg(page)}]
    )
    _sign(page)
    page.fill("#recipient", "Anna Beck")
    page.locator("#confirm-delivered").click()
    page.locator("#finish-route").wait_for()
    _wait_all_sent(page)
    context.close()
    with _sessions(client)() as session:
        delivered = session.scalars(
            select(DeviceEvent).where(
                DeviceEvent.org_id == day.org.org_id, DeviceEvent.type == "delivered"
            )
        ).one()
        assert delivered.payload.get("barcodes") == ["PKG-SCAN-7"]


@pytest.mark.browser
def test_the_ways_of_handing_over(live_app: LiveApp, browser: Any) -> None:
    """The organisation allows a signature, a safe place or a neighbour (issue 14, item 4):
    the app asks how it was handed over and then for exactly that way's proof."""
    from playwright.sync_api import expect

    client = live_app.client
    day = _seed(client, "Ways Co")
    r = client.patch(
        "/api/v1/organisation",
        json={"pod_policy": ["signature", "safe_place", "neighbour"]},
        headers=day.org.admin,
    )
    assert r.status_code == 200, r.text
    context = _context(browser)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{live_app.url}/driver")
    page.get_by_label("E-mail").fill(day.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.locator("#start-route").click()

    # stop 1: left at a safe place; without photo and place the app says what is missing
    _open_stop(page, day.stops[0]["id"])
    page.locator("#arrived").click()
    page.locator("#delivered").click()
    expect(page.locator("input[name=handover]")).to_have_count(3)
    assert page.locator("#handover-signature").is_checked()  # the usual way first
    page.locator("#handover-safe_place").check()
    expect(page.locator("#signature")).to_be_hidden()
    page.locator("#confirm-delivered").click()
    expect(page.locator(".field-error[data-for=photo]")).to_contain_text("where you left it")
    expect(page.locator(".field-error[data-for=note]")).to_contain_text("where you left it")
    page.locator("#photo").set_input_files(
        files=[{"name": "door.jpg", "mimeType": "image/jpeg", "buffer": _jpeg(page)}]
    )
    page.fill("#note", "Behind the garden gate")
    _shot(page, "20-safe-place", full=True)
    page.locator("#confirm-delivered").click()
    page.locator("#finish-route").wait_for()

    # stop 2: with a neighbour: their name, no photo needed
    _open_stop(page, day.stops[1]["id"])
    page.locator("#arrived").click()
    page.locator("#delivered").click()
    page.locator("#handover-neighbour").check()
    page.locator("#confirm-delivered").click()
    expect(page.locator(".field-error[data-for=recipient]")).to_contain_text("neighbour")
    expect(page.locator(".field-error[data-for=photo]")).to_have_text("")
    page.fill("#recipient", "Frau Huber, no. 12")
    _shot(page, "21-neighbour", full=True)
    page.locator("#confirm-delivered").click()
    page.locator("#finish-route").wait_for()
    _wait_all_sent(page)
    context.close()
    assert errors == []
    with _sessions(client)() as session:
        events = {
            e.payload["stop_id"]: e.payload
            for e in session.scalars(
                select(DeviceEvent).where(
                    DeviceEvent.org_id == day.org.org_id, DeviceEvent.type == "delivered"
                )
            )
        }
    first, second = events[day.stops[0]["id"]], events[day.stops[1]["id"]]
    assert (first["handover"], first["note"]) == ("safe_place", "Behind the garden gate")
    assert (second["handover"], second["recipient"]) == ("neighbour", "Frau Huber, no. 12")


@pytest.mark.browser
def test_a_login_without_a_driver_or_a_route(live_app: LiveApp, browser: Any) -> None:
    from playwright.sync_api import expect

    client = live_app.client
    org = make_org(client, "Empty Co", timezone=ZONE)
    context = _context(browser)
    page = context.new_page()
    page.goto(f"{live_app.url}/driver")
    page.get_by_label("E-mail").fill("driver@empty-co.example")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.locator("#main h2")).to_have_text("No route for you today")
    expect(page.locator("#main .notice")).to_contain_text("No driver is linked to this login")
    _shot(page, "15-no-driver-linked")
    # Linked to a driver, still without a route: the plain message, and a way to ask again.
    r = client.post(
        "/api/v1/drivers",
        json={"name": "Erin", "user_id": org.user_ids[Role.DRIVER]},
        headers=org.dispatcher,
    )
    assert r.status_code == 201, r.text
    page.get_by_role("button", name="Check again").click()
    expect(page.locator("#main")).to_contain_text("appears here by itself")
    expect(page.locator("#main .notice")).to_have_count(0)
    page.get_by_role("button", name="Menu").click()
    expect(page.locator("#who")).to_have_text("Logged in as driver@empty-co.example")
    _shot(page, "16-menu")
    page.once("dialog", lambda d: d.accept())
    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_role("button", name="Log in")).to_be_visible()
    expect(page.get_by_role("button", name="Menu")).to_be_hidden()
    context.close()


@pytest.mark.browser
def test_opens_offline_with_the_last_route(live_app: LiveApp, browser: Any) -> None:
    """Once opened with signal, the app opens with none: shell from the service worker,
    route and session from IndexedDB."""
    from playwright.sync_api import expect

    day = _seed(live_app.client, "Offline Co")
    context = _context(browser)
    page = context.new_page()
    page.goto(f"{live_app.url}/driver")
    page.get_by_label("E-mail").fill(day.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.locator("#start-route").wait_for()
    page.evaluate(
        """async () => {
          await navigator.serviceWorker.ready;
          if (!navigator.serviceWorker.controller) {
            await new Promise((r) => navigator.serviceWorker.addEventListener('controllerchange', r, { once: true }));
          }
        }"""
    )
    context.set_offline(True)
    page.reload()
    expect(page.locator(".stop-row[data-stop]")).to_have_count(5)
    expect(page.locator("#sync")).to_have_text("Offline")
    expect(page.locator(".saved")).to_contain_text("Saved copy")
    page.locator("#start-route").click()
    expect(page.locator("#sync")).to_have_text("Offline · 1 waiting")
    _shot(page, "12-opened-offline", full=True)
    context.set_offline(False)
    _wait_all_sent(page)
    with _sessions(live_app.client)() as session:
        route = session.get(Route, day.route_id)
        assert route is not None and route.status == "started"
    context.close()


@pytest.mark.browser
def test_an_expired_login_keeps_the_queue(live_app: LiveApp, browser: Any) -> None:
    """The token dies while the phone is offline: the route stays usable, and after the new
    login the waiting action is sent."""
    from playwright.sync_api import expect

    client = live_app.client
    day = _seed(client, "Expired Co")
    context = _context(browser)
    page = context.new_page()
    page.goto(f"{live_app.url}/driver")
    page.get_by_label("E-mail").fill(day.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.locator("#start-route").click()
    page.locator("#finish-route").wait_for()
    _wait_all_sent(page)
    page.evaluate(
        """() => navigator.serviceWorker.ready.then(() => navigator.serviceWorker.controller
          || new Promise((r) => navigator.serviceWorker.addEventListener('controllerchange', r)))"""
    )
    context.set_offline(True)
    # The server forgets the login (as after LASTMILE_ACCESS_TOKEN_TTL_S): the phone has a
    # token the server will refuse.
    page.evaluate(
        """() => new Promise((resolve, reject) => {
          const open = indexedDB.open('lastmile-driver');
          open.onsuccess = () => {
            const tx = open.result.transaction('kv', 'readwrite');
            const kv = tx.objectStore('kv');
            const get = kv.get('session');
            get.onsuccess = () => kv.put({ ...get.result, token: 'expired-token' }, 'session');
            tx.oncomplete = () => resolve();
            tx.onerror = () => reject(tx.error);
          };
        })"""
    )
    page.reload()
    _open_stop(page, day.stops[0]["id"])
    page.locator("#arrived").click()
    expect(page.locator("#sync")).to_have_text("Offline · 1 waiting")
    context.set_offline(False)
    expect(page.locator("form .notice")).to_contain_text("login has expired", timeout=15000)
    expect(page.locator("form")).to_contain_text("1 action(s) are saved on this phone")
    _shot(page, "14-login-expired")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    _wait_all_sent(page)
    context.close()
    with _sessions(client)() as session:
        types = session.scalars(
            select(DeviceEvent.type)
            .where(DeviceEvent.org_id == day.org.org_id)
            .order_by(DeviceEvent.occurred_at)
        ).all()
        assert types == ["route_started", "arrived"]


@pytest.mark.browser
def test_a_dispatcher_change_appears_without_reload(live_app: LiveApp, browser: Any) -> None:
    from playwright.sync_api import expect

    client = live_app.client
    day = _seed(client, "Live Co")
    context = _context(browser)
    page = context.new_page()
    page.goto(f"{live_app.url}/driver")
    page.get_by_label("E-mail").fill(day.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.locator("#start-route").wait_for()
    expect(page.locator("body")).to_have_attribute("data-live", "stream")
    expect(page.locator(".stop-row[data-stop]")).to_have_count(5)
    target = day.stops[2]
    r = client.post(
        f"/api/v1/orders/{target['order_id']}/transitions",
        json={"to": "cancelled", "note": "customer cancelled"},
        headers=day.org.dispatcher,
    )
    assert r.status_code == 200, r.text
    expect(page.locator("#toast")).to_contain_text("updated by the dispatcher", timeout=10000)
    expect(page.locator(".stop-row[data-stop]")).to_have_count(4)
    expect(page.locator(f".stop-row[data-stop='{target['id']}']")).to_have_count(0)
    _shot(page, "13-dispatcher-change", full=True)
    context.close()


def test_shell_manifest_and_service_worker(live_app: LiveApp) -> None:
    client = live_app.client
    shell = client.get("/driver")
    assert shell.status_code == 200
    assert "script-src 'self'" in shell.headers["content-security-policy"]
    assert "<script>" not in shell.text  # no inline script: the CSP allows none
    version = re.search(r'data-version="([0-9a-f]{16})"', shell.text)
    assert version
    assert client.get("/driver/", follow_redirects=False).headers["location"] == "/driver"
    manifest = client.get("/driver/manifest.webmanifest")
    assert manifest.headers["content-type"].startswith("application/manifest+json")
    body = manifest.json()
    assert body["start_url"] == "/driver" and body["scope"] == "/driver"
    assert body["display"] == "standalone"
    for icon in body["icons"]:
        assert client.get(icon["src"]).status_code == 200
    sw = client.get("/driver/sw.js")
    assert sw.headers["service-worker-allowed"] == "/driver"
    assert sw.headers["content-type"].startswith("text/javascript")
    assert version.group(1) in sw.text
    shell_urls = re.search(r"const SHELL = (\[.*?\]);", sw.text)
    assert shell_urls
    for url in re.findall(r'"([^"]+)"', shell_urls.group(1)):
        assert client.get(url).status_code == 200, url
    for name in ("app.js", "store.js", "sync.js", "driver.css"):
        assert f"/static/driver/{name}" in sw.text


@pytest.mark.browser
def test_the_app_speaks_the_organisations_language(live_app: LiveApp, browser: Any) -> None:
    """A German shop's driver (issue 14, item 14): the phone is set to English, the app
    follows the organisation's language once logged in, through every screen of a stop."""
    from playwright.sync_api import expect

    client = live_app.client
    day = _seed(client, "Deutsch Co")
    r = client.put(
        "/api/v1/notifications/settings",
        json={"notifications": {"language": "de"}},
        headers=day.org.admin,
    )
    assert r.status_code == 200, r.text
    context = _context(browser)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{live_app.url}/driver")
    page.get_by_label("E-mail").fill(day.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.locator("#start-route")).to_have_text("Route starten")
    assert page.evaluate("document.documentElement.lang") == "de"
    expect(page.locator("#menu")).to_have_text("Menü")
    body = page.inner_text("#main")
    assert "0 von 5 Stopps erledigt" in body and "Alle Stopps" in body
    for english in ("Start route", "All stops", "stops done", "To do", "Window"):
        assert english not in body, english
    _shot(page, "30-de-route", full=True)

    page.locator("#start-route").click()
    _open_stop(page, day.stops[0]["id"])
    expect(page.locator("#arrived")).to_have_text("Angekommen")
    page.locator("#arrived").click()
    expect(page.locator("#failed")).to_have_text("Nicht zugestellt")
    page.locator("#failed").click()
    expect(page.locator("#main h2").first).to_have_text("Nicht zugestellt")
    page.locator("#confirm-failed").click()
    expect(page.locator(".field-error[data-for=reason]")).to_have_text("Bitte einen Grund wählen.")
    page.get_by_label("Niemand zu Hause").check()
    _shot(page, "31-de-not-delivered", full=True)
    page.locator("#confirm-failed").click()
    expect(page.locator("#toast")).to_have_text("Stopp 1 als nicht zugestellt gemeldet.")
    _wait_all_sent_de(page)
    _shot(page, "32-de-after-failure", full=True)
    context.close()
    assert errors == []
    with _sessions(client)() as session:
        reasons = [
            e.payload.get("reason")
            for e in session.scalars(
                select(DeviceEvent).where(
                    DeviceEvent.org_id == day.org.org_id, DeviceEvent.type == "failed"
                )
            )
        ]
    assert reasons == ["not_home"]


def _wait_all_sent_de(page: Any, timeout: float = 20) -> None:
    from playwright.sync_api import expect

    expect(page.locator("#sync")).to_have_attribute("data-pending", "0", timeout=timeout * 1000)
    expect(page.locator("#sync")).to_have_text("Alles gesendet")
