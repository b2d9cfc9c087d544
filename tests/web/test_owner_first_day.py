"""The owner's first day and the next morning, in the dashboard only (issue 14, Done means).

A florist in Liechtenstein with three vans installs lastmile and runs a day with nothing but
the browser: the sign-up page creates the business and its admin; the depot is found by its
address; three vans get costs and hours, the stops a service time; three drivers get logins
(one opens the one-time link on her phone and sets a password, the link also arrives by
e-mail); proof of delivery and customer e-mails are set up; a messy CSV exported from the
shop's spreadsheet (German headers, semicolons, misspelt and ambiguous Liechtenstein
addresses, windows typed four ways, one unreadable window) is imported with the bad row
skipped; every flagged address is fixed, one with a suggestion and one with a dragged pin on
the street-named map; the skipped order is added by hand; the day is planned balanced and
dispatched; the driver delivers a stop with a photo and fails one with a reason in the
German driver app; a phoned-in order goes into the running day; the owner reads an order's
page with its proof, the message log (the customers' real e-mails, from an SMTP server on
loopback) and compares the pilot with the figures typed from the spreadsheet era. The next
morning the owner reads yesterday's figures.

Nothing is set up through the API or the services: the test reads the database and the mail
box only to check what the pages did. Time: the service's clock (``common.clock.shifted``)
and both browsers' clocks are moved to the business hours of Vaduz, so the story does not
depend on the hour the suite runs at (the driver sets off when her app says her first
customer is due). Every page is checked for console errors, a favicon,
12-hour or UTC times, internal names and untranslated words. Screenshots of each step:
``test-artifacts/first-day/``.
"""

from __future__ import annotations

import datetime as dt
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from helpers.browser import chromium
from helpers.live import free_port, serve_app
from helpers.mail import Inbox
from helpers.service import sqlite_settings
from lastmile.app import create_app
from lastmile.common import clock

SHOTS = Path(__file__).parents[2] / "test-artifacts" / "first-day"
VADUZ = ZoneInfo("Europe/Vaduz")
OWNER = "anna@blumen-beck.example"
PASSWORD = "tulips and roses"
DANA = "dana@blumen-beck.example"
DANA_PASSWORD = "dana drives the red van"
DEPOT = "Landstrasse 19, Vaduz"
PHONE = {"width": 390, "height": 844}

# What the shop's spreadsheet exports: German headers, semicolons, the town in its own
# columns, windows typed four ways and one nobody can read (B-112), misspelt streets the map
# corrects by itself (B-105, B-106, B-114), a street in the wrong town (B-107: the only
# Kirchstrasse 10 is in Vaduz) and one in a village that has none (B-108: Dorfstrasse 20 is in
# Triesen and Ruggell, not Schellenberg).
CSV = (
    "Bestellnummer;Kunde;Telefon;E-Mail;Adresse;PLZ;Ort;Lieferzeit;Artikel;Bemerkung\n"
    "B-101;Anna Beck;+423 777 11 22;anna.beck@example.li;Fürst-Johann-Strasse 7;9495;Triesen;"
    "9-12;Rosenstrauss;Bitte zweimal klingeln\n"
    "B-102;Bruno Frick;+423 777 33 44;bruno.frick@example.li;Foppastrasse 3;9497;Triesenberg;"
    "9h-13h;Tulpen, 20 Stück;\n"
    "B-103;Clara Hasler;;clara@example.li;Höfle 30;9496;Balzers;9:00 - 14:00;Orchidee;\n"
    "B-104;Dario Marxer;+423 777 55 66;;Peter-Kaiser-Strasse 88;9493;Mauren;9-17;"
    "Geburtstagsstrauss;Hintertür benutzen\n"
    "B-105;Eva Ospelt;;;Landstrase 19;;Vaduz;9-17;Gesteck;\n"
    "B-106;Fritz Nigg;;;Aeulestrasse 30;9490;Vaduz;9-17;Sonnenblumen;\n"
    "B-107;Gina Kind;;gina@example.li;Kirchstrasse 10;9494;Schaan;9-17;Lilien;\n"
    "B-108;Hans Büchel;;;Dorfstrasse 20;9488;Schellenberg;9-17;Trauerkranz;\n"
    "B-109;Ida Wohlwend;;;Zollstrasse 9;9490;Vaduz;9.00-17.00;Rosen, 12 rote;\n"
    "B-110;Jakob Meier;;;Schaanerstrasse 20;9490;Vaduz;9-17;Topfpflanze;\n"
    "B-111;Karin Frommelt;;;Im Rietacker 4;9494;Schaan;9-17;Tulpen;\n"
    "B-112;Lukas Gassner;+423 777 99 00;;Städtle 5;9490;Vaduz;irgendwann;Blumengruss;\n"
    "B-113;Maria Risch;;;Messinastrasse 5;;Triesen;10-16;Strauss;\n"
    "B-114;Nina Batliner;;;Haldenstrasse 5;9487;Gamprin;9-17;Kaktus;\n"
)
VANS = (("1", "FL 1234"), ("2", "FL 2345"), ("3", "FL 3456"))
DRIVERS = (("Dana Marxer", DANA), ("Elias Vogt", "elias@blumen-beck.example"), ("Mia Kaiser", ""))

TWELVE_HOUR = re.compile(r"\b\d{1,2}(:\d{2})?\s?(AM|PM|am|pm)\b")
ISO_STAMP = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")
INTERNAL = ("roads:", "External id", "external_id", "undefined", "NaN", "[object ")


def _business(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute), VADUZ)


class Clocks:
    """The service's clock and the browsers' clocks, moved together to business moments."""

    def __init__(self, contexts: list[Any]) -> None:
        self.contexts = contexts
        self.shift: Any = None

    def set(self, moment: dt.datetime) -> None:
        if self.shift is not None:
            self.shift.__exit__(None, None, None)
        self.shift = clock.shifted(moment - dt.datetime.now(dt.UTC))
        self.shift.__enter__()
        for context in self.contexts:
            context.clock.set_system_time(moment)

    def close(self) -> None:
        if self.shift is not None:
            self.shift.__exit__(None, None, None)
            self.shift = None


@pytest.fixture(scope="module")
def inbox() -> Iterator[Inbox]:
    """A real SMTP server on loopback, the server's mail settings pointing at it."""
    from aiosmtpd.controller import Controller

    box = Inbox()
    port = free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    with pytest.MonkeyPatch.context() as env:
        env.setenv("LASTMILE_SMTP_HOST", "127.0.0.1")
        env.setenv("LASTMILE_SMTP_PORT", str(port))
        env.setenv("LASTMILE_SMTP_TLS", "none")
        env.setenv("LASTMILE_SMTP_FROM", "Blumen Beck <laden@blumen-beck.example>")
        try:
            yield box
        finally:
            controller.stop()


@pytest.fixture(scope="module")
def app_client(inbox: Inbox, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """A fresh install: an empty database, no organisation, the real mail server."""
    settings = sqlite_settings(tmp_path_factory.mktemp("first-day"))
    with TestClient(create_app(settings)) as client:
        yield client


class Watch:
    """What went wrong in the browser on any page: script errors, console errors, failed
    requests (a missing favicon included)."""

    def __init__(self) -> None:
        self.problems: list[str] = []

    def attach(self, page: Any, who: str) -> Any:
        page.on("pageerror", lambda exc: self.problems.append(f"{who} page error: {exc}"))
        page.on(
            "response",
            lambda r: (
                self.problems.append(f"{who} HTTP {r.status}: {r.request.method} {r.url}")
                if r.status >= 400
                else None
            ),
        )
        page.on(
            "console",
            lambda m: (
                self.problems.append(f"{who} console: {m.text} ({page.url})")
                if m.type == "error"
                else None
            ),
        )
        return page


def _shot(page: Any, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.evaluate("window.scrollTo(0, 0)")  # sticky headers where they are for a reader
    if page.evaluate("!!(window.lastmileBasemap && window.lastmileBasemap.layer)"):
        _wait_basemap(page)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def _read(page: Any, name: str, *, german: bool = False) -> str:
    """The page's words, checked for what a shop owner should never read; a screenshot."""
    page.wait_for_load_state("load")
    text: str = page.locator("body").inner_text()
    assert not TWELVE_HOUR.search(text), (name, TWELVE_HOUR.search(text))
    assert not ISO_STAMP.search(text), (name, ISO_STAMP.search(text))
    assert "UTC" not in text, name
    for word in INTERNAL:
        assert word not in text, (name, word)
    icon = page.evaluate(
        "() => { const l = document.querySelector('link[rel~=icon]'); return l && l.href; }"
    )
    assert icon, f"{name}: no favicon"
    assert page.request.get(icon).ok, f"{name}: favicon {icon} not served"
    if german:
        for english in ("Delivered", "Not delivered", "Stop ", "Log in", "Refused", "error"):
            assert english not in text, (name, english)
    _shot(page, name)
    return text


def _db(client: TestClient) -> sessionmaker[Session]:
    sessions: sessionmaker[Session] = client.app.state.sessions  # type: ignore[attr-defined]
    return sessions


def _orders(client: TestClient) -> dict[str, Any]:
    """The stored orders by number (read beside the app, to check what the pages did)."""
    from lastmile.orders.models import Order

    with _db(client)() as session:
        return {o.external_id: o for o in session.scalars(select(Order))}


def _row(page: Any, number: str) -> Any:
    return page.locator("#orders-table tbody tr", has_text=number)


@pytest.mark.browser
@pytest.mark.long  # 3 to 4 minutes on the shared 2-core machine (make test-long)
def test_owner_first_day_and_next_morning(
    app_client: TestClient, inbox: Inbox, tmp_path: Path
) -> None:
    real_today = dt.datetime.now(VADUZ).date()
    day = real_today
    watch = Watch()
    with serve_app(app_client.app) as url, chromium() as browser:
        office = browser.new_context(
            viewport={"width": 1366, "height": 900},
            base_url=url,
            timezone_id="Europe/Vaduz",
            locale="de-LI",
        )
        phone = browser.new_context(
            viewport=PHONE,
            device_scale_factor=2,
            is_mobile=True,
            has_touch=True,
            base_url=url,
            locale="de-LI",
            timezone_id="Europe/Vaduz",
            geolocation={"latitude": 47.1434, "longitude": 9.5174},
            permissions=["geolocation"],
        )
        for context in (office, phone):
            context.set_default_timeout(20_000)
            context.clock.install(time=_business(day, 7, 30))
        clocks = Clocks([office, phone])
        try:
            clocks.set(_business(day, 7, 30))
            page = watch.attach(office.new_page(), "office")
            mobile = watch.attach(phone.new_page(), "phone")
            try:
                _first_day(page, mobile, clocks, app_client, inbox, day, tmp_path)
                _next_morning(page, clocks, app_client, day)
            except Exception:
                _shot(page, "zz-failed-office")
                _shot(mobile, "zz-failed-phone")
                raise
        finally:
            clocks.close()
            office.close()
            phone.close()
    assert watch.problems == [], watch.problems


def _first_day(
    page: Any,
    mobile: Any,
    clocks: Clocks,
    client: TestClient,
    inbox: Inbox,
    day: dt.date,
    tmp_path: Path,
) -> None:
    today = day.isoformat()

    # --- 07:30, a fresh install: the sign-up page creates the business and its admin
    page.goto("/")
    page.wait_for_url("**/app/setup")
    assert page.input_value("#timezone") == "Europe/Vaduz"
    page.fill("#organisation", "Blumen Beck")
    page.select_option("#language", "de")
    page.fill("#name", "Anna Beck")
    page.fill("#email", OWNER)
    page.fill("#password", PASSWORD)
    page.fill("#password_again", PASSWORD)
    _read(page, "01-sign-up")
    page.click("#setup-form button[type=submit]")
    page.wait_for_url("**/app/settings?welcome=1")
    _read(page, "02-welcome")

    # --- four minutes at each stop; the shop's phone for the customers
    page.fill("#default-service", "4")
    page.fill("#shop-phone", "+423 232 11 11")
    page.click("#business-form button[type=submit]")
    page.wait_for_function("document.getElementById('service-now').textContent === '4 min'")

    # --- the depot by its address, on the street-named map
    page.fill("#depot-form input[name=name]", "Laden Vaduz")
    page.fill("#depot-address", DEPOT)
    page.click("#depot-search")
    page.wait_for_selector("#depot-map .leaflet-marker-icon")
    _wait_basemap(page)
    page.click("#depot-save")
    page.wait_for_selector("#depots-table tr[data-id]")
    assert "Vaduz" in page.inner_text("#depots-table")
    _read(page, "03-depot")

    # --- three vans with their costs and hours
    for name, plate in VANS:
        page.click("#vehicle-add")
        form = page.locator("#vehicle-form")
        form.locator("[name=name]").fill(f"Lieferwagen {name}")
        form.locator("[name=external_id]").fill(plate)
        form.locator("[name=parcels]").fill("20")
        form.locator("[name=shift_start]").fill("09:00")
        form.locator("[name=shift_end]").fill("17:00")
        form.locator("[name=cost_per_km]").fill("0.45")
        form.locator("[name=cost_per_hour]").fill("32")
        form.locator("[name=fixed_cost]").fill("25")
        page.click("#vehicle-save")
        page.wait_for_selector(f"#vehicles-table tr[data-id]:has-text('{plate}')")
    vans = page.locator("#vehicles-table tr[data-id]")
    assert vans.count() == 3
    assert "09:00–17:00" in vans.first.inner_text()  # noqa: RUF001 (the page's en dash)
    _read(page, "04-vans")

    # --- proof of delivery: a photo of the flowers at the door, or a signature
    page.check("#pod-photo")
    page.check("#pod-signature")
    page.check("input[name=usual][value=photo]")
    page.click("#pod-form button[type=submit]")
    page.wait_for_function("document.getElementById('toast').textContent.startsWith('Saved')")

    # --- three drivers, each with a van; two with a login for the driver app
    links: dict[str, str] = {}
    for (name, email), (van, _) in zip(DRIVERS, VANS, strict=True):
        page.fill("#driver-form input[name=name]", name)
        page.select_option("#driver-form select[name=vehicle_id]", label=f"Lieferwagen {van}")
        page.fill("#driver-form input[name=email]", email)
        page.click("#driver-form button[type=submit]")
        if email:
            page.wait_for_selector("#login-dialog[open] #login-qr svg")
            links[email] = page.input_value("#login-url")
            if email == DANA:
                _read(page, "05-driver-login-link")
            page.click("#login-close")
        page.wait_for_selector(f"#drivers-table tr[data-id]:has-text('{name}')")
    drivers = page.inner_text("#drivers-table")
    assert "Lieferwagen 1" in drivers and "Lieferwagen 3" in drivers
    _read(page, "06-drivers")
    mailed = inbox.to(DANA)  # the one-time link also went to her by e-mail
    body = mailed[-1].get_body(("plain",)) if mailed else None
    assert body is not None and links[DANA] in body.get_content()

    # --- Dana opens the link on her phone and sets her password
    mobile.goto(links[DANA])
    assert "Willkommen bei Blumen Beck" in mobile.inner_text("main")  # the shop's language
    assert mobile.input_value("input[name=name]") == "Dana Marxer"  # as the owner typed it
    mobile.fill("input[name=password]", DANA_PASSWORD)
    mobile.fill("input[name=repeat_password]", DANA_PASSWORD)
    _read(mobile, "07-phone-set-password")
    mobile.click("button.primary")
    mobile.wait_for_selector("#invite-done")
    _read(mobile, "08-phone-password-set")

    # --- customer e-mails on (the server's mail settings answer)
    page.goto("/app/settings/notifications")
    page.wait_for_selector("#t-subject")
    page.click("#check-mail")
    page.wait_for_selector("#mail-answer .done")
    page.check("#email-on")
    page.click("#channels-save")
    page.wait_for_selector("#channels-answer .done")
    _read(page, "09-notifications")

    # --- the spreadsheet's export: preview, the bad row skipped
    page.goto("/app/orders")
    export = tmp_path / "Bestellungen.csv"
    export.write_text(CSV, encoding="utf-8")
    page.click("#import-box summary")
    page.set_input_files("#import-file", str(export))
    assert page.input_value("#import-date") == today
    page.click("#preview-btn")
    page.wait_for_selector("#preview-table")
    preview = page.inner_text("#preview-table")
    assert "B-112" in preview and "invalid" in preview
    assert "needs fixing" in preview
    _read(page, "10-import-preview")
    page.check("#skip-invalid")
    assert page.locator("#import-btn").inner_text() == "Import 13 row(s)"
    page.click("#import-btn")
    page.wait_for_selector("#import-done")
    assert "1 invalid row(s) skipped" in page.inner_text("#import-done")
    stored = _orders(client)
    assert sorted(stored) == [f"B-1{k:02d}" for k in range(1, 15) if k != 12]
    assert stored["B-101"].description == "Rosenstrauss"
    assert stored["B-101"].customer == "Anna Beck"
    assert stored["B-101"].email == "anna.beck@example.li"

    # --- the list says which addresses need fixing (the check runs in the background)
    deadline = time.monotonic() + 120
    while "not checked yet" in page.inner_text("#orders-table"):
        assert time.monotonic() < deadline, "addresses never checked"
        time.sleep(1)
        page.goto(f"/app/orders?date={today}")
    assert "needs fixing" in _row(page, "B-107").inner_text()
    assert "needs fixing" in _row(page, "B-108").inner_text()
    for fine in ("B-101", "B-105", "B-106", "B-114"):
        assert "needs fixing" not in _row(page, fine).inner_text(), fine
    _wait_basemap(page)
    _read(page, "11-orders-to-fix")

    # --- B-107: the suggestion (the one Kirchstrasse 10, in Vaduz)
    _row(page, "B-107").locator(".fix-address").click()
    page.wait_for_selector("#fix-suggestions .use-suggestion")
    assert page.inner_text("#fix-verdict") == "The street and number exist, but in another town."
    _read(page, "12-fix-suggestion")
    page.locator("#fix-suggestions li", has_text="Kirchstrasse 10, 9490 Vaduz").locator(
        "button"
    ).click()
    page.wait_for_selector("#toast:has-text('B-107: Kirchstrasse 10, 9490 Vaduz')")

    # --- B-108: the pin dragged to the house on the street-named map
    page.wait_for_function(
        "document.querySelectorAll('#map .leaflet-marker-icon .fix-pin').length === 1"
    )
    pin = page.locator("#map .leaflet-marker-icon[title^='B-108']")
    pin.scroll_into_view_if_needed()
    box = pin.bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] - 4)
    page.mouse.down()
    page.mouse.move(box["x"] + 30, box["y"] - 20, steps=8)
    page.mouse.up()
    page.wait_for_selector("#orders-table tbody tr:has-text('B-108') >> text=placed on the map")
    stored = _orders(client)
    assert stored["B-107"].status == "ready" and stored["B-108"].status == "ready"
    assert all(o.status == "ready" for o in stored.values()), {
        k: o.status for k, o in stored.items()
    }
    _read(page, "13-addresses-fixed")

    # --- the skipped order, typed in by hand with a window that reads
    page.click("#add-order")
    page.wait_for_url(f"**/app/orders/new?date={today}")
    page.fill("#n-number", "B-112")
    page.fill("#n-address", "Städtle 5, Vaduz")
    page.click("#n-search")
    page.wait_for_function("document.getElementById('n-lat').value !== ''")
    page.fill("#n-window", "14-16")
    page.wait_for_function("document.getElementById('n-window-read').textContent.includes('14:00')")
    page.fill("#n-what", "Blumengruss")
    page.fill("#n-customer", "Lukas Gassner")
    page.fill("#n-phone", "+423 777 99 00")
    _read(page, "14-add-order")
    page.click("#n-save")
    page.wait_for_selector("#add-done")
    assert _orders(client)["B-112"].status == "ready"

    # --- plan balanced; no van more than 20 % above the average
    page.goto(f"/app/plan?date={today}")
    assert "14 order(s) ready" in page.inner_text("#ready-count")
    page.check("input[name=objective][value=balanced]")
    page.fill("#time-limit", "3")
    _read(page, "15-plan-form")
    page.click("#run-plan")
    page.wait_for_selector("#routes", timeout=60_000)
    assert "every order is planned" in page.inner_text("#unassigned")
    plan_id = page.url.rsplit("/", 1)[-1].split("?")[0]
    counts = _stops_per_van(client, plan_id)
    assert len(counts) == 3 and sum(counts.values()) == 14, counts
    assert max(counts.values()) <= 1.2 * 14 / 3 + 1, counts
    _wait_basemap(page)
    _read(page, "16-plan-balanced")

    # --- dispatch: each van to its usual driver
    page.once("dialog", lambda d: d.accept())
    page.click("#dispatch-btn")
    page.wait_for_selector("#dispatched-note")
    note = page.inner_text("#dispatched-note")
    assert re.search(r"\b07:3\d\b", note), note  # the dispatch in Vaduz time
    _read(page, "17-dispatched")

    # --- 08:45: Dana opens the driver app (the organisation speaks German) and sets off
    # when her first customer is due (the times her app shows)
    clocks.set(_business(day, 8, 45))
    mobile.goto("/driver")
    mobile.locator("input[name=email]").fill(DANA)
    mobile.locator("input[name=password]").fill(DANA_PASSWORD)
    mobile.locator("form button[type=submit]").click()
    mobile.locator("#start-route").wait_for()
    _read(mobile, "18-driver-route", german=True)
    rows = mobile.locator(".stop-row[data-stop]")
    first, second = (rows.nth(i).get_attribute("data-stop") for i in (0, 1))
    first_eta, second_eta = (_eta(day, rows.nth(i).inner_text()) for i in (0, 1))
    first_order = _order_of_stop(client, first)
    second_order = _order_of_stop(client, second)
    clocks.set(first_eta - dt.timedelta(minutes=15))
    mobile.locator("#start-route").click()
    mobile.locator("#finish-route").wait_for()
    clocks.set(first_eta)

    # the first stop: delivered with a photo of the flowers at the door
    mobile.goto(mobile.url.split("#")[0] + f"#/stop/{first}")
    mobile.locator("#arrived").click()
    mobile.locator("#delivered").click()
    mobile.locator("#photo").set_input_files(
        files=[{"name": "blumen.jpg", "mimeType": "image/jpeg", "buffer": _jpeg(mobile)}]
    )
    mobile.locator(".preview img").wait_for()
    mobile.fill("#recipient", "Nachbarin")
    _read(mobile, "19-driver-deliver", german=True)
    mobile.locator("#confirm-delivered").click()
    mobile.locator("#finish-route").wait_for()
    _wait_sent(mobile)

    # the second stop: nobody at home
    clocks.set(second_eta)
    mobile.goto(mobile.url.split("#")[0] + f"#/stop/{second}")
    mobile.locator("#arrived").click()
    mobile.locator("#failed").click()
    mobile.get_by_label("Niemand zu Hause").check()
    mobile.fill("#fail-note", "Karte im Briefkasten")
    _read(mobile, "20-driver-fail", german=True)
    mobile.locator("#confirm-failed").click()
    mobile.locator("#finish-route").wait_for()
    _wait_sent(mobile)
    _read(mobile, "21-driver-two-done", german=True)
    stored = _orders(client)
    by_id = {o.id: o for o in stored.values()}
    assert by_id[first_order].status == "delivered"
    assert by_id[second_order].status == "failed"

    # --- the live page shows it
    page.goto(f"/app/live?date={today}")
    page.wait_for_selector("#map .leaflet-interactive")
    live = _read(page, "22-live")
    assert "Dana Marxer" in live

    # --- half an hour later a customer phones: an order into the running day
    now = second_eta + dt.timedelta(minutes=30)
    clocks.set(now)
    page.goto("/app/orders")
    page.click("#add-order")
    page.fill("#n-number", "B-115")
    page.fill("#n-address", "Landstrasse 100")
    page.click("#n-search")
    page.wait_for_function("document.getElementById('n-verdict').textContent.includes('Sev')")
    page.locator("#n-suggestions li").filter(has_text="Schaan").locator("button").click()
    page.fill("#n-window", f"{now.hour + 1}-17")
    page.fill("#n-what", "Hochzeitsstrauss")
    page.fill("#n-customer", "Otto Kaiser")
    page.fill("#n-email", "otto@example.li")
    page.click("#n-save")
    page.wait_for_selector("#add-done")
    page.click("#insert-btn")
    page.wait_for_selector("#insert-done")
    inserted = page.inner_text("#insert-done")
    assert inserted.startswith("Inserted: Lieferwagen"), inserted
    assert re.search(r"arriving about (0\d|1\d):\d\d", inserted), inserted
    _read(page, "23-inserted")
    assert _orders(client)["B-115"].status == "dispatched"

    # --- the delivered order's page: its history, the photo
    number = by_id[first_order].external_id
    page.goto(f"/app/orders?date={today}")
    _row(page, number).locator("a", has_text=number).click()
    page.wait_for_url(f"**/app/orders/{first_order}")
    assert page.inner_text("#order-status") == "delivered"
    page.wait_for_function(
        "[...document.querySelectorAll('#order-pods img')].length > 0 &&"
        " [...document.querySelectorAll('#order-pods img')].every(i => i.complete && i.naturalWidth > 0)"
    )
    history = _read(page, "24-order-page")
    assert first_eta.strftime("%Y-%m-%d %H:%M") in page.inner_text("#order-history"), history

    # --- the message log: the customers' e-mails, as the mail server got them
    page.click("header nav a[href='/app/messages']")
    page.wait_for_url("**/app/messages")
    log = _read(page, "25-messages")
    emailed = {m["To"] for m in inbox.messages}
    assert "anna.beck@example.li" in emailed or "bruno.frick@example.li" in emailed, emailed
    for address in emailed - {DANA, "elias@blumen-beck.example"}:
        assert address in log, address

    # --- the pilot against the spreadsheet era's figures, typed in
    page.goto("/app/kpis")
    form = page.locator("#comparison-form")
    form.locator("input[name=name]").fill("Erster Monat mit lastmile")
    page.check("#typed-toggle")
    block = form.locator(".typed-period").first
    block.locator("input[name=typed_from]").fill("2026-10-01")
    block.locator("input[name=typed_to]").fill("2026-10-31")
    block.locator("input[name=typed_orders]").fill("280")
    block.locator("[data-metric=on_time_rate]").fill("82")
    form.locator("input[name=pilot_from]").fill(today)
    form.locator("input[name=pilot_to]").fill(today)
    _read(page, "26-pilot-form")
    with page.expect_navigation():
        form.locator("button[type=submit]").click()
    row = page.locator("#comparisons-table tbody tr").first
    assert "Erster Monat mit lastmile" in row.inner_text()
    assert "typed in" in row.inner_text()
    _read(page, "27-pilot")


def _next_morning(page: Any, clocks: Clocks, client: TestClient, day: dt.date) -> None:
    """07:30 the next day: the owner opens the dashboard and reads yesterday's figures."""
    clocks.set(_business(day + dt.timedelta(days=1), 7, 30))
    page.goto("/app/kpis")
    if "/app/login" in page.url:
        page.fill("#email", OWNER)
        page.fill("#password", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url("**/app/kpis*")
    page.click("#kpi-quick a:has-text('Yesterday')")
    page.wait_for_url(f"**/app/kpis?from={day.isoformat()}&to={day.isoformat()}")
    text = _read(page, "28-next-morning-kpis")
    assert f"KPIs — {day.isoformat()}" in text
    assert "15 orders, 1 delivered, 1 failed attempts" in text, text[:400]
    assert "Dana Marxer" in text and "nobody at home" in text


def _eta(day: dt.date, row: str) -> dt.datetime:
    """The arrival a stop row of the driver app promises ("Ankunft 13:25"), as a moment."""
    found = re.search(r"Ankunft (\d\d):(\d\d)", row)
    assert found, row
    return _business(day, int(found[1]), int(found[2]))


def _wait_basemap(page: Any) -> None:
    """The offline street map is drawn (its tiles loaded) before a screenshot."""
    page.wait_for_function(
        "() => { const l = window.lastmileBasemap && window.lastmileBasemap.layer;"
        " const m = l && l.getMaplibreMap(); return !!m && m.loaded() && m.areTilesLoaded(); }",
        timeout=30_000,
    )


def _wait_sent(mobile: Any) -> None:
    from playwright.sync_api import expect

    expect(mobile.locator("#sync")).to_have_attribute("data-pending", "0", timeout=20_000)


def _stops_per_van(client: TestClient, plan_id: str) -> dict[str, int]:
    from lastmile.routes.models import Route, Stop

    with _db(client)() as session:
        routes = session.scalars(select(Route).where(Route.plan_id == plan_id)).all()
        return {
            r.vehicle_id: len(
                session.scalars(
                    select(Stop).where(Stop.route_id == r.id, Stop.kind == "order")
                ).all()
            )
            for r in routes
        }


def _order_of_stop(client: TestClient, stop_id: str | None) -> str:
    from lastmile.routes.models import Stop

    with _db(client)() as session:
        stop = session.get(Stop, stop_id)
        assert stop is not None and stop.order_id is not None
        return stop.order_id


def _jpeg(page: Any) -> bytes:
    """A small real JPEG, drawn by the browser itself (the phone's camera stands in)."""
    import base64

    data_url: str = page.evaluate(
        """() => {
          const c = document.createElement('canvas');
          c.width = 320; c.height = 240;
          const g = c.getContext('2d');
          g.fillStyle = '#e8b4c8'; g.fillRect(0, 0, 320, 240);
          g.fillStyle = '#2f6b3a'; g.fillRect(140, 120, 40, 110);
          return c.toDataURL('image/jpeg', 0.9);
        }"""
    )
    return base64.b64decode(data_url.split(",", 1)[1])
