"""The customer tracking page through HTTP (SQLite and PostgreSQL): links, isolation, expiry,
rate limit, the ETA window, the map rule, proof of delivery, instructions and ratings.

A real day is seeded: one van, four orders for today, planned by the solver, dispatched, and
driven through the driver API (times are real: now, because the server refuses device times
far from its clock).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from helpers.service import OrgUsers, make_org
from lastmile.common.clock import utcnow
from lastmile.orgs.models import Role
from lastmile.tracking import counters
from lastmile.tracking.models import TrackingHit, TrackingLink

pytestmark = pytest.mark.usefixtures("daytime")  # days are built around now

ZONE = ZoneInfo("Europe/Vaduz")
VEHICLES = (
    "id,name,profile,start_lon,start_lat,end_lon,end_lat,shift_start,shift_end,capacity_parcels\n"
    "VAN-1,Van 1,van,9.5087,47.1657,9.5087,47.1657,00:05,23:55,10\n"
)
ORDERS = (
    "id,address,lon,lat,parcels,customer,phone,email,value\n"
    "A1,Städtle 1 Vaduz,9.5215,47.1410,1,Ann Alder,+423 111,ann@{slug}.example,19.90\n"
    "A2,Landstrasse 10 Schaan,9.5095,47.1650,1,Ben Birch,+423 222,ben@{slug}.example,25.00\n"
    "A3,Fürst-Johann 7 Triesen,9.5265,47.1196,1,Cy Cedar,+423 333,cy@{slug}.example,31.50\n"
    "A4,Essanestrasse 2 Eschen,9.5220,47.2100,1,Di Dogwood,+423 444,di@{slug}.example,44.00\n"
)
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


def now() -> datetime:
    return utcnow().replace(microsecond=0)


@dataclass
class Day:
    org: OrgUsers
    day: date
    plan_id: str
    driver_id: str
    sessions: sessionmaker[Session]
    route: dict[str, Any] = field(default_factory=dict)
    keys: int = 0

    @property
    def stops(self) -> list[dict[str, Any]]:
        """The route's order stops in driving order."""
        return [s for s in self.route["stops"] if s["kind"] == "order"]

    def order_ids(self) -> list[str]:
        return [s["order_id"] for s in self.stops]


def _wait_plan(client: TestClient, org: OrgUsers, plan_id: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        body = client.get(f"/api/v1/plans/{plan_id}", headers=org.dispatcher).json()
        if body["status"] in ("done", "failed"):
            assert body["status"] == "done", body["error"]
            return
        time.sleep(0.1)
    raise AssertionError("plan not done in 60 s")


def seed_day(
    client: TestClient,
    name: str,
    *,
    settings: dict[str, Any] | None = None,
    dispatch: bool = True,
    before_dispatch: Any = None,
) -> Day:
    """An organisation with one van, four orders for today (with e-mail and phone), a driver
    (named 'Dana Driverson', logged in as the org's driver user), planned and dispatched."""
    org = make_org(client, name)
    if settings is not None:
        r = client.put("/api/v1/notifications/settings", json=settings, headers=org.admin)
        assert r.status_code == 200, r.text
    day = now().astimezone(ZONE).date()
    slug = name.lower().replace(" ", "-")
    r = client.post(
        "/api/v1/vehicles/import",
        files={"file": ("v.csv", VEHICLES.encode(), "text/csv")},
        headers=org.dispatcher,
    )
    assert r.status_code in (200, 201), r.text
    r = client.post(
        f"/api/v1/orders/import?date={day.isoformat()}",
        files={"file": ("o.csv", ORDERS.format(slug=slug).encode(), "text/csv")},
        headers=org.dispatcher,
    )
    assert r.status_code in (200, 201), r.text
    vehicles = client.get("/api/v1/vehicles", headers=org.dispatcher).json()["items"]
    driver = client.post(
        "/api/v1/drivers",
        json={
            "name": "Dana Driverson",
            "user_id": org.user_ids[Role.DRIVER],
            "vehicle_id": vehicles[0]["id"],
        },
        headers=org.dispatcher,
    )
    assert driver.status_code == 201, driver.text
    plan_id = client.post(
        "/api/v1/plans", json={"date": day.isoformat(), "time_limit_s": 0.3}, headers=org.dispatcher
    ).json()["id"]
    _wait_plan(client, org, plan_id)
    result = Day(
        org=org,
        day=day,
        plan_id=plan_id,
        driver_id=driver.json()["id"],
        sessions=client.app.state.sessions,  # type: ignore[attr-defined]
    )
    if before_dispatch is not None:
        before_dispatch(result)
    if dispatch:
        r = client.post(f"/api/v1/plans/{plan_id}/dispatch", json={}, headers=org.dispatcher)
        assert r.status_code == 200, r.text
        got = client.get(f"/api/v1/driver/route?date={day}", headers=org.driver)
        assert got.status_code == 200, got.text
        result.route = got.json()["route"]
        assert len(result.stops) == 4
    return result


def drive(
    client: TestClient, day: Day, type: str, stop: int | None = None, ago_s: int = 0, **more: Any
) -> None:
    """One driver event (``stop``: index into the route's order stops)."""
    day.keys += 1
    event: dict[str, Any] = {
        "key": f"{day.org.org_id}-{day.keys:04d}",
        "type": type,
        "occurred_at": (now() - timedelta(seconds=ago_s)).isoformat(),
        "stop_id": day.stops[stop]["id"] if stop is not None else None,
        **more,
    }
    if type in ("route_started", "route_finished"):
        event["route_id"] = day.route["id"]
    r = client.post("/api/v1/driver/events", json={"events": [event]}, headers=day.org.driver)
    assert r.status_code == 200, r.text
    assert r.json()["results"][0]["status"] == "applied", r.json()
    if type == "delivered":
        day.route.setdefault("keys", {})[stop] = event["key"]


def position(client: TestClient, day: Day, lon: float, lat: float, ago_s: int = 0) -> None:
    at = (now() - timedelta(seconds=ago_s)).isoformat()
    r = client.post(
        "/api/v1/driver/positions",
        json={"positions": [{"lon": lon, "lat": lat, "recorded_at": at}]},
        headers=day.org.driver,
    )
    assert r.status_code == 200 and r.json()["accepted"] == 1, r.text


def link(client: TestClient, day: Day, order_id: str) -> str:
    r = client.post(f"/api/v1/orders/{order_id}/tracking-link", headers=day.org.dispatcher)
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["url"].endswith(body["path"]) and body["path"].startswith("/t/")
    return str(body["path"])


def status_of(client: TestClient, path: str) -> dict[str, Any]:
    r = client.get(path + "/status.json")
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


# --- links -----------------------------------------------------------------------------------


def test_a_link_shows_its_own_order_and_nothing_else(client: TestClient) -> None:
    day = seed_day(client, "Tracking One")
    other = seed_day(client, "Tracking Two")
    first, second = day.order_ids()[0], day.order_ids()[1]
    path = link(client, day, first)
    page = client.get(path)
    assert page.status_code == 200
    html = page.text
    assert "Scheduled" in html and "Expected between" in html
    # the driver's first name only; no other customer, no price, no other org
    assert "Dana" in html and "Driverson" not in html
    for leak in ("Ben", "Cy Cedar", "Di Dogwood", "19.90", "Tracking Two", "+423"):
        assert leak not in html, leak
    assert page.headers["referrer-policy"] == "no-referrer"
    assert "no-store" in page.headers["cache-control"]
    # the token is stored only as a hash
    token = path.removeprefix("/t/")
    with day.sessions() as session:
        hashes = list(session.scalars(select(TrackingLink.token_hash)))
    assert token not in hashes and len(hashes) >= 1
    # a second link for another order opens that order only
    path2 = link(client, day, second)
    assert path2 != path
    assert "Ann" not in client.get(path2).text
    # staff of another organisation cannot make links for this order
    assert (
        client.post(
            f"/api/v1/orders/{first}/tracking-link", headers=other.org.dispatcher
        ).status_code
        == 404
    )
    assert (
        client.post(f"/api/v1/orders/{first}/tracking-link", headers=day.org.driver).status_code
        == 403
    )


def test_unknown_and_expired_links_get_a_friendly_page(client: TestClient) -> None:
    day = seed_day(client, "Expiry")
    path = link(client, day, day.order_ids()[0])
    unknown = client.get("/t/not-a-real-token-at-all")
    assert unknown.status_code == 404
    assert "does not exist" in unknown.text and "Expiry" not in unknown.text
    with day.sessions() as session:
        session.execute(update(TrackingLink).values(expires_at=now() - timedelta(minutes=1)))
        session.commit()
    expired = client.get(path)
    assert expired.status_code == 410
    assert "expired" in expired.text
    for leak in ("Ann", "Dana", "Expiry", "Städtle"):
        assert leak not in expired.text
    assert client.get(path + "/status.json").status_code == 410
    assert client.post(path + "/rating", data={"rating": "5"}).status_code == 410


def test_links_expire_days_after_the_delivery_date(client: TestClient) -> None:
    day = seed_day(client, "Ttl", settings={"tracking": {"ttl_days": 2, "map_stops": 3}})
    r = client.post(f"/api/v1/orders/{day.order_ids()[0]}/tracking-link", headers=day.org.admin)
    expires = datetime.fromisoformat(r.json()["expires_at"])
    end_of_day = datetime.combine(day.day + timedelta(days=1), datetime.min.time(), ZONE)
    assert expires == end_of_day + timedelta(days=2)


def test_requests_are_rate_limited_per_client(client: TestClient, monkeypatch: Any) -> None:
    # The server's settings (read once at start-up, not per request).
    monkeypatch.setattr(client.app.state.settings, "tracking_rate_per_minute", 5)  # type: ignore[attr-defined]
    day = seed_day(client, "Limits")
    path = link(client, day, day.order_ids()[0])
    codes = [client.get(path).status_code for _ in range(4)]
    codes += [client.get("/t/guess-" + str(i)).status_code for i in range(3)]
    assert codes == [200, 200, 200, 200, 404, 429, 429]
    limited = client.get(path)
    assert limited.status_code == 429 and int(limited.headers["retry-after"]) >= 1
    assert "Too many requests" in limited.text
    status = client.get(path + "/status.json")  # what the page polls: the same limit, in JSON
    assert status.status_code == 429 and int(status.headers["retry-after"]) >= 1
    assert status.json()["status"] == "rate_limited" and "Retry-After" in status.json()["detail"]
    counters.flush()  # the hits this process still holds (tracking/counters.py), then age them
    with day.sessions() as session:
        session.execute(update(TrackingHit).values(at=now() - timedelta(minutes=2)))
        session.commit()
    assert client.get(path).status_code == 200


# --- ETA and map ---------------------------------------------------------------------------


def _minutes(text: str) -> int:
    hours, minutes = text.split(":")
    return int(hours) * 60 + int(minutes)


def test_the_eta_window_narrows_and_the_map_shows_only_near(client: TestClient) -> None:
    day = seed_day(client, "Eta", settings={"tracking": {"map_stops": 1, "ttl_days": 7}})
    last = day.order_ids()[3]
    path = link(client, day, last)
    before = status_of(client, path)
    assert before["status"] == "dispatched" and before["show_map"] is False
    wide = _minutes(before["eta_to"]) - _minutes(before["eta_from"])
    assert wide >= 60  # at least +-30 min before the driver sets off

    drive(client, day, "route_started", ago_s=60)
    position(client, day, 9.51, 47.16, ago_s=30)
    started = status_of(client, path)
    assert started["status"] == "out_for_delivery"
    assert started["stops_away"] == 3
    assert started["show_map"] is False and started["vehicle"] is None  # 3 stops away > 1
    html = client.get(path).text
    assert 'id="map"' not in html and "leaflet.js" not in html and "9.51" not in html
    mid = _minutes(started["eta_to"]) - _minutes(started["eta_from"])

    drive(client, day, "delivered", 0)
    drive(client, day, "delivered", 1)
    position(client, day, 9.52, 47.13)
    near = status_of(client, path)
    assert near["stops_away"] == 1
    assert near["show_map"] is True and near["vehicle"] == [9.52, 47.13]
    narrow = _minutes(near["eta_to"]) - _minutes(near["eta_from"])
    # Positions make lastmile.live recompute the stop's ETA, and its promise (±15 min until
    # the last 20 minutes, then ±5) is what the page shows: narrower than before the start,
    # never wider as the driver gets closer.
    assert wide > mid >= narrow, (wide, mid, narrow)
    page = client.get(path).text
    assert 'id="map"' in page and 'data-vehicle="9.52,47.13"' in page
    assert "/static/vendor/leaflet/leaflet.js" in page


def test_delivered_shows_the_photo_through_the_link_only(client: TestClient) -> None:
    day = seed_day(client, "Proof")
    first, second = day.order_ids()[0], day.order_ids()[1]
    path = link(client, day, first)
    other_path = link(client, day, second)
    drive(client, day, "route_started")
    drive(client, day, "delivered", 0, recipient="Ann")
    key = day.route["keys"][0]
    r = client.post(
        "/api/v1/driver/pod",
        data={"kind": "photo", "event_key": key},
        files={"file": ("p.jpg", JPEG, "image/jpeg")},
        headers=day.org.driver,
    )
    assert r.status_code == 201, r.text
    pod_id = r.json()["id"]
    html = client.get(path).text
    assert "Delivered" in html and f"/t/{path[3:]}/pod/{pod_id}" in html
    photo = client.get(f"{path}/pod/{pod_id}")
    assert photo.status_code == 200 and photo.content == JPEG
    assert photo.headers["content-type"] == "image/jpeg"
    # another order's link cannot fetch it, nor can a made-up one
    assert client.get(f"{other_path}/pod/{pod_id}").status_code == 404
    assert client.get(f"/t/nope/pod/{pod_id}").status_code == 404
    assert pod_id not in client.get(other_path).text


# --- what the customer tells us -------------------------------------------------------------


def test_instructions_reach_the_driver_and_ratings_are_stored(client: TestClient) -> None:
    day = seed_day(client, "Feedback")
    order_id = day.order_ids()[0]
    path = link(client, day, order_id)
    # rating before delivery is refused (redirect with an error), nothing stored
    early = client.post(path + "/rating", data={"rating": "4"}, follow_redirects=False)
    assert early.status_code == 303 and early.headers["location"].endswith("error=rating")
    saved = client.post(
        path + "/instructions",
        data={"kind": "gate_code", "text": "  Gate 4711, then left  "},
        follow_redirects=False,
    )
    assert saved.status_code == 303 and saved.headers["location"].endswith("saved=instructions")
    bad = client.post(
        path + "/instructions", data={"kind": "bribe", "text": "x"}, follow_redirects=False
    )
    assert bad.headers["location"].endswith("error=instructions")
    # the driver app shows it in the stop's notes
    route = client.get(f"/api/v1/driver/route?date={day.day}", headers=day.org.driver).json()
    notes = {s["order_id"]: s["notes"] for s in route["route"]["stops"] if s["kind"] == "order"}
    assert notes[order_id] == "Customer instructions: gate code: Gate 4711, then left"
    # replacing keeps one line
    client.post(path + "/instructions", data={"kind": "safe_place", "text": "Behind the shed"})
    order = client.get(f"/api/v1/orders/{order_id}", headers=day.org.dispatcher).json()
    assert order["notes"] == "Customer instructions: safe place: Behind the shed"

    drive(client, day, "route_started")
    drive(client, day, "delivered", 0)
    assert 'name="text"' not in client.get(path).text  # finished: no more instructions
    ok = client.post(
        path + "/rating", data={"rating": "5", "comment": "Very friendly"}, follow_redirects=False
    )
    assert ok.status_code == 303 and ok.headers["location"].endswith("saved=rating")
    assert (
        client.post(path + "/rating", data={"rating": "9"}, follow_redirects=False)
        .headers["location"]
        .endswith("error=rating")
    )
    staff = client.get(f"/api/v1/orders/{order_id}/tracking", headers=day.org.dispatcher).json()
    assert staff["rating"] == 5 and staff["comment"] == "Very friendly"
    assert staff["instruction_kind"] == "safe_place"
    assert staff["views"] == 2  # two page views (status.json and posts are not views)


def test_views_are_counted_per_order_and_in_the_kpis(client: TestClient) -> None:
    day = seed_day(client, "Views")
    a, b = day.order_ids()[0], day.order_ids()[1]
    pa, pb = link(client, day, a), link(client, day, b)
    for _ in range(3):
        client.get(pa)
    client.get(pb)
    client.get(pb + "/status.json")
    kpis = client.get(
        f"/api/v1/tracking/kpis?from={day.day}&to={day.day}", headers=day.org.dispatcher
    ).json()
    assert kpis == {"views": 4, "orders_viewed": 2, "ratings": 0, "average_rating": None}
    other = make_org(client, "Views Other")
    none = client.get(
        f"/api/v1/tracking/kpis?from={day.day}&to={day.day}", headers=other.dispatcher
    ).json()
    assert none["views"] == 0


def test_every_reader_shows_the_stored_live_eta_and_a_stale_one_is_recomputed(
    client: TestClient,
) -> None:
    """One ETA: the tracking page, the driver app and ``GET /routes/{id}/etas`` show what
    ``lastmile.live`` stored at the last stop event; once it is stale they show the same model
    computed now, and reading writes nothing."""
    from lastmile.routes.models import Route, StopEta

    day = seed_day(client, "Live Eta")
    stop = day.stops[2]
    path = link(client, day, stop["order_id"])
    drive(client, day, "route_started", ago_s=60)
    drive(client, day, "delivered", 0)  # a stop event: live stores the route's prediction
    local = now().astimezone(ZONE)
    seconds = local.hour * 3600 + local.minute * 60
    promise = (seconds + 40 * 60, seconds + 70 * 60)
    with day.sessions() as session:
        row = session.scalars(select(StopEta).where(StopEta.stop_id == stop["id"])).one()
        # as if live had predicted 55 minutes from now and promised 40-70 minutes
        row.arrival_s = row.start_s = seconds + 55 * 60
        row.departure_s = seconds + 57 * 60
        row.promise_start_s, row.promise_end_s = promise
        session.commit()

    def clock(s: int) -> str:
        return f"{s // 3600 % 24:02d}:{s % 3600 // 60:02d}"

    got = status_of(client, path)
    if promise[1] < 24 * 3600:  # (not across midnight)
        assert (got["eta_from"], got["eta_to"]) == (clock(promise[0]), clock(promise[1]))
    app = client.get(f"/api/v1/driver/route?date={day.day}", headers=day.org.driver).json()
    [mine] = [s for s in app["route"]["stops"] if s["id"] == stop["id"]]
    assert mine["eta"][11:16] == clock(seconds + 55 * 60)
    etas = client.get(f"/api/v1/routes/{day.route['id']}/etas", headers=day.org.dispatcher)
    [same] = [s for s in etas.json()["stops"] if s["stop_id"] == stop["id"]]
    assert same["eta"] == mine["eta"]
    # Stale (no event, no GPS for an hour): every reader recomputes; nothing is written.
    with day.sessions() as session:
        session.execute(update(Route).values(eta_computed_at=now() - timedelta(hours=1)))
        session.commit()
    stale = status_of(client, path)
    assert (stale["eta_from"], stale["eta_to"]) != (got["eta_from"], got["eta_to"])
    with day.sessions() as session:
        row = session.scalars(select(StopEta).where(StopEta.stop_id == stop["id"])).one()
        assert row.arrival_s == seconds + 55 * 60  # the read did not write


def test_every_route_and_server_setting_is_documented(client: TestClient) -> None:
    from pathlib import Path

    from lastmile.integrations.notify.base import NotifySettings

    text = (Path(__file__).parents[2] / "docs" / "tracking-and-notifications.md").read_text()
    schema = client.app.openapi()  # type: ignore[attr-defined]
    routes = [
        (method.upper(), path, op["operationId"])
        for path, item in schema["paths"].items()
        for method, op in item.items()
        if set(op.get("tags", [])) & {"tracking", "notifications"}
    ]
    assert len(routes) == 9
    missing = [r for r in routes if f"`{r[0]} {r[1]}` | `{r[2]}`" not in text]
    assert missing == []
    from lastmile.tracking.pages import router as pages

    public = [
        (method, route.path)  # type: ignore[attr-defined]
        for route in pages.routes
        for method in sorted(route.methods - {"HEAD"})  # type: ignore[attr-defined]
    ]
    assert len(public) == 6
    assert [p for p in public if f"`{p[0]} {p[1]}`" not in text] == []
    sending = [
        n for n in NotifySettings.model_fields if n.startswith(("smtp_", "public_url", "tracking_"))
    ]
    assert len(sending) == 9
    settings = [f"LASTMILE_{name.upper()}" for name in sending]
    assert [s for s in settings if s not in text] == []


def test_after_a_failed_delivery_the_customer_books_a_new_window(client: TestClient) -> None:
    import re

    day = seed_day(
        client, "Rebook", settings={"tracking": {"map_stops": 3, "ttl_days": 7, "reschedule": True}}
    )
    order_id = day.order_ids()[0]
    path = link(client, day, order_id)
    assert 'name="slot"' not in client.get(path).text  # not failed: nothing to choose
    drive(client, day, "route_started", ago_s=30)
    drive(client, day, "failed", 0, reason="not_home")
    html = client.get(path).text
    assert "Choose a new delivery time" in html
    keys = re.findall(r'name="slot" value="([^"]+)"', html)
    tomorrow = (day.day + timedelta(days=1)).isoformat()
    assert keys and all(k.startswith(tomorrow + "/") for k in keys)
    # a made-up window is refused and changes nothing
    bad = client.post(
        path + "/reschedule", data={"slot": f"{tomorrow}/1-2"}, follow_redirects=False
    )
    assert bad.headers["location"].endswith("error=reschedule")
    assert client.get(f"/api/v1/orders/{order_id}", headers=day.org.dispatcher).json()[
        "status"
    ] == ("failed")
    ok = client.post(path + "/reschedule", data={"slot": keys[-1]}, follow_redirects=False)
    assert ok.status_code == 303 and ok.headers["location"].endswith("saved=reschedule")
    order = client.get(f"/api/v1/orders/{order_id}", headers=day.org.dispatcher).json()
    start_s, end_s = (int(x) for x in keys[-1].split("/")[1].split("-"))
    assert order["status"] == "ready" and order["date"] == tomorrow
    assert [(w["start"], w["end"]) for w in order["windows"]] == [
        (
            f"{start_s // 3600:02d}:{start_s % 3600 // 60:02d}",
            f"{end_s // 3600:02d}:{end_s % 3600 // 60:02d}",
        )
    ]
    history = client.get(f"/api/v1/orders/{order_id}/events", headers=day.org.dispatcher).json()
    assert [h["to_status"] for h in history[-2:]] == ["rescheduled", "ready"]
    assert history[-2]["actor"] == "customer:tracking"
    page = client.get(path + "?saved=reschedule").text
    assert "New delivery booked" in page and tomorrow in page
    assert (
        client.post(path + "/reschedule", data={"slot": keys[0]}, follow_redirects=False)
        .headers["location"]
        .endswith("error=reschedule")
    )  # only once, only after a failure


def test_without_permission_a_failed_order_offers_no_new_window(client: TestClient) -> None:
    day = seed_day(client, "No Rebook")
    path = link(client, day, day.order_ids()[0])
    drive(client, day, "route_started", ago_s=30)
    drive(client, day, "failed", 0, reason="not_home")
    html = client.get(path).text
    assert 'name="slot"' not in html and "Please contact the shop" in html


# --- cost per request ------------------------------------------------------------------------


def test_a_tracking_view_and_a_gps_batch_stay_within_their_sql_budget(client: TestClient) -> None:
    """The two hottest public paths (#17: two cores serve 200 tracking pages and 200 GPS
    batches a second) send at most this many SQL statements and commit at most this often.
    A change that adds a query to them fails here; ``benchmarks/request_cpu.py`` measures
    their CPU (docs/benchmarks.md, Load)."""
    from sqlalchemy import event

    day = seed_day(client, "Budget")
    path = link(client, day, day.stops[1]["order_id"])
    drive(client, day, "route_started", ago_s=120)
    position(client, day, 9.51, 47.16, ago_s=60)  # the route's ETAs recomputed from GPS
    engine = client.app.state.engine  # type: ignore[attr-defined]
    sql: list[str] = []
    commits: list[int] = []

    def statement(*args: Any) -> None:
        sql.append(str(args[2]))

    def commit(*_: Any) -> None:
        commits.append(1)

    def batch() -> Any:
        base = now() - timedelta(seconds=59)  # within the 10 s ETA refresh of the last point
        points = [
            {"lon": 9.51 + k * 1e-4, "lat": 47.16, "recorded_at": (base + timedelta(seconds=k * 0.5)).isoformat()}
            for k in range(10)
        ]  # fmt: skip
        return client.post(
            "/api/v1/driver/positions", json={"positions": points}, headers=day.org.driver
        )

    client.get(path)  # warm: the first request of a link is no different, but caches fill
    event.listen(engine, "before_cursor_execute", statement)
    event.listen(engine, "commit", commit)
    try:
        counted: dict[str, tuple[int, int]] = {}
        for name, call in (
            ("page", lambda: client.get(path)),
            ("status", lambda: client.get(path + "/status.json")),
            ("gps", batch),
        ):
            sql.clear()
            commits.clear()
            r = call()
            assert r.status_code == 200, r.text
            counted[name] = (len(sql), len(commits))
    finally:
        event.remove(engine, "before_cursor_execute", statement)
        event.remove(engine, "commit", commit)
    assert batch().json()["accepted"] == 10  # a re-sent batch: stored once, accepted again
    notify = 1 if engine.dialect.name == "postgresql" else 0  # the event's pg_notify
    # page: hits, link, organisation, order, customer input, stop, driver, stops, stored
    # ETAs, newest position, recipients' language; views and hits wait in memory (no commit)
    assert counted["page"] == (11, 0), counted
    assert counted["status"] == (10, 0), counted  # no language
    # GPS: token, membership, driver, organisation, row lock, route, its start, points
    # seen, one INSERT of the points, the event (+ its NOTIFY), webhooks; one commit
    assert counted["gps"] == (11 + notify, 1), counted
