"""Driver API through HTTP: a real day is seeded, planned and dispatched, then driven.

Every test runs on SQLite and PostgreSQL. Times are real (now minus a few minutes), because
the server refuses device timestamps in the future or older than a week.
"""

from __future__ import annotations

import json
import struct
import threading
import time
import zlib
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from helpers.live import serve_app
from helpers.service import OrgUsers, make_org
from lastmile.common.clock import utcnow
from lastmile.drivers.models import DeviceEvent, Position
from lastmile.events.models import Event
from lastmile.orgs.models import Organisation, Role
from lastmile.routes.models import Stop

pytestmark = pytest.mark.usefixtures("daytime")  # not midnight-sensitive (10:00 in Vaduz)

ZONE = ZoneInfo("Europe/Vaduz")
VEHICLES = (
    "id,name,profile,start_lon,start_lat,end_lon,end_lat,shift_start,shift_end,capacity_parcels\n"
    "VAN-1,Van 1,van,9.5087,47.1657,9.5087,47.1657,07:00,19:00,4\n"
    "VAN-2,Van 2,van,9.5087,47.1657,9.5087,47.1657,07:00,19:00,4\n"
)
ORDERS = (
    "id,address,lon,lat,parcels,customer,phone,notes\n"
    "A1,Städtle 1 Vaduz,9.5215,47.1410,1,Ann,+423 111,ring twice\n"
    "A2,Landstrasse 10 Schaan,9.5095,47.1650,1,Ben,+423 222,\n"
    "A3,Im Bretscha 5 Balzers,9.4980,47.0660,1,Cy,+423 333,\n"
    "A4,Fürst-Johann 7 Triesen,9.5265,47.1196,1,Di,+423 444,\n"
    "A5,Foppa 3 Triesenberg,9.5424,47.1343,1,Ed,+423 555,\n"
    "A6,Essanestrasse 2 Eschen,9.5220,47.2100,1,Flo,+423 666,\n"
)
JPEG = bytes.fromhex(
    "ffd8ffe000104a46494600010100000100010000ffdb004300100b0c0e0c0a100e0d0e1211101318281a1816"
    "16183123251d283a333d3c3933383740485c4e404457453738506d51575f626768673e4d71797064785c6567"
    "63ffdb0043011112121815182f1a1a2f63423842636363636363636363636363636363636363636363636363"
    "6363636363636363636363636363636363636363636363636363ffc000110800020002030122000211010311"
    "01ffc4001f0000010501010101010100000000000000000102030405060708090a0bffc400b5100002010303"
    "020403050504040000017d01020300041105122131410613516107227114328191a1082342b1c11552d1f024"
    "33627282090a161718191a25262728292a3435363738393a434445464748494a535455565758595a63646566"
    "6768696a737475767778797a838485868788898a92939495969798999aa2a3a4a5a6a7a8a9aab2b3b4b5b6b7"
    "b8b9bac2c3c4c5c6c7c8c9cad2d3d4d5d6d7d8d9dae1e2e3e4e5e6e7e8e9eaf1f2f3f4f5f6f7f8f9faffc400"
    "1f0100030101010101010101010000000000000102030405060708090a0bffc400b511000201020404030407"
    "05040400010277000102031104052131061241510761711322328108144291a1b1c109233352f0156272d10a"
    "162434e125f11718191a262728292a35363738393a434445464748494a535455565758595a63646566676869"
    "6a737475767778797a82838485868788898a92939495969798999aa2a3a4a5a6a7a8a9aab2b3b4b5b6b7b8b9"
    "bac2c3c4c5c6c7c8c9cad2d3d4d5d6d7d8d9dae2e3e4e5e6e7e8e9eaf2f3f4f5f6f7f8f9faffda000c030100"
    "02110311003f00c7a28a2b84fa83ffd9"
)
"""A real 2x2 JPEG (made with Pillow), used as a delivery photo."""


def png(width: int = 3, height: int = 2) -> bytes:
    """A real PNG (grey pixels), used as a signature."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body))
            + kind
            + body
            + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)
        )

    raw = b"".join(b"\x00" + b"\x80" * width for _ in range(height))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


def now() -> datetime:
    """The service's clock (which tests of time-of-day behaviour may shift)."""
    return utcnow().replace(microsecond=0)


@dataclass
class Day:
    org: OrgUsers
    day: date
    base: datetime
    plan_id: str
    driver_id: str
    other_driver_id: str
    vehicle_ids: dict[str, str]
    sessions: sessionmaker[Session]
    route: dict[str, Any] = field(default_factory=dict)

    def at(self, seconds: float) -> str:
        """``seconds`` after the dispatch (the server allows 5 minutes of clock skew)."""
        return (self.base + timedelta(seconds=seconds)).isoformat()

    @property
    def stops(self) -> list[dict[str, Any]]:
        return [s for s in self.route["stops"] if s["kind"] == "order"]

    def other_stop_ids(self) -> list[str]:
        with self.sessions() as session:
            return [
                s.id
                for s in session.scalars(select(Stop).where(Stop.org_id == self.org.org_id))
                if s.route_id != self.route["id"] and s.order_id
            ]


def _wait_plan(client: TestClient, org: OrgUsers, plan_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        body: dict[str, Any] = client.get(f"/api/v1/plans/{plan_id}", headers=org.dispatcher).json()
        if body["status"] in ("done", "failed"):
            assert body["status"] == "done", body["error"]
            return body
        time.sleep(0.1)
    raise AssertionError("plan not done in 60 s")


def plan_day(client: TestClient, name: str = "Alpha", *, dispatch: bool = True) -> Day:
    """An organisation with two vans, six orders for today, the driver login on VAN-1's
    driver, a plan with a route per van, dispatched."""
    org = make_org(client, name)
    base = now()
    day = base.astimezone(ZONE).date()
    r = client.post(
        "/api/v1/vehicles/import",
        files={"file": ("v.csv", VEHICLES.encode(), "text/csv")},
        headers=org.dispatcher,
    )
    assert r.status_code in (200, 201), r.text
    r = client.post(
        f"/api/v1/orders/import?date={day.isoformat()}",
        files={"file": ("o.csv", ORDERS.encode(), "text/csv")},
        headers=org.dispatcher,
    )
    assert r.status_code in (200, 201), r.text
    vehicles = client.get("/api/v1/vehicles", headers=org.dispatcher).json()["items"]
    ids = {v["external_id"]: v["id"] for v in vehicles}
    mine = client.post(
        "/api/v1/drivers",
        json={"name": "Dana", "user_id": org.user_ids[Role.DRIVER], "vehicle_id": ids["VAN-1"]},
        headers=org.dispatcher,
    )
    assert mine.status_code == 201, mine.text
    other = client.post(
        "/api/v1/drivers", json={"name": "Otto", "vehicle_id": ids["VAN-2"]}, headers=org.dispatcher
    )
    assert other.status_code == 201, other.text
    plan_id = client.post(
        "/api/v1/plans",
        json={"date": day.isoformat(), "time_limit_s": 0.3},
        headers=org.dispatcher,
    ).json()["id"]
    plan = _wait_plan(client, org, plan_id)
    assert len(plan["routes"]) == 2
    result = Day(
        org=org,
        day=day,
        base=base,
        plan_id=plan_id,
        driver_id=mine.json()["id"],
        other_driver_id=other.json()["id"],
        vehicle_ids=ids,
        sessions=client.app.state.sessions,  # type: ignore[attr-defined]
    )
    if dispatch:
        dispatch_and_fetch(client, result)
    return result


def dispatch_and_fetch(client: TestClient, day: Day) -> None:
    r = client.post(f"/api/v1/plans/{day.plan_id}/dispatch", json={}, headers=day.org.dispatcher)
    assert r.status_code == 200, r.text
    day.base = now() + timedelta(seconds=1)
    got = client.get(f"/api/v1/driver/route?date={day.day}", headers=day.org.driver)
    assert got.status_code == 200, got.text
    day.route = got.json()["route"]
    assert day.route is not None


def send(client: TestClient, day: Day, *events: dict[str, Any]) -> list[dict[str, Any]]:
    r = client.post("/api/v1/driver/events", json={"events": list(events)}, headers=day.org.driver)
    assert r.status_code == 200, r.text
    results: list[dict[str, Any]] = r.json()["results"]
    assert [x["key"] for x in results] == [e["key"] for e in events]
    return results


def ev(key: str, type: str, at: str, stop_id: str | None = None, **more: Any) -> dict[str, Any]:
    return {"key": key, "type": type, "occurred_at": at, "stop_id": stop_id, **more}


def history(client: TestClient, day: Day, order_id: str) -> list[dict[str, Any]]:
    r = client.get(f"/api/v1/orders/{order_id}/events", headers=day.org.dispatcher)
    assert r.status_code == 200, r.text
    rows: list[dict[str, Any]] = r.json()
    return rows


def order(client: TestClient, day: Day, order_id: str) -> dict[str, Any]:
    body: dict[str, Any] = client.get(
        f"/api/v1/orders/{order_id}", headers=day.org.dispatcher
    ).json()
    return body


# --- the route -------------------------------------------------------------------------------


def test_driver_sees_only_their_own_route(client: TestClient) -> None:
    day = plan_day(client)
    route = day.route
    assert route["status"] == "dispatched"
    assert route["vehicle"] == {"id": day.vehicle_ids["VAN-1"], "name": "Van 1"}
    assert route["date"] == day.day.isoformat()
    assert datetime.fromisoformat(route["start"]["departure"]).utcoffset() is not None
    assert route["end"]["lon"] == pytest.approx(9.5087)
    stops = day.stops
    assert stops and [s["sequence"] for s in route["stops"]] == sorted(
        s["sequence"] for s in route["stops"]
    )
    other_orders = set()
    with day.sessions() as session:
        for stop in session.scalars(select(Stop).where(Stop.org_id == day.org.org_id)):
            if stop.route_id != route["id"] and stop.order_id:
                other_orders.add(stop.order_id)
    assert other_orders and not other_orders & {s["order_id"] for s in stops}
    first = stops[0]
    assert first["status"] == "pending" and first["order_status"] == "dispatched"
    assert first["items"] == {"parcels": 1.0}
    assert first["windows"] == []
    assert first["pod_required"] == ["signature"]
    eta = datetime.fromisoformat(first["eta"])
    assert eta.utcoffset() == datetime.combine(day.day, eta.time(), ZONE).utcoffset()
    nav = first["navigation"]
    assert (
        nav["geo"]
        == f"geo:{first['lat']:.6f},{first['lon']:.6f}?q={first['lat']:.6f},{first['lon']:.6f}"
    )
    assert nav["google"].startswith("https://www.google.com/maps/dir/?api=1&destination=")
    assert nav["apple"].startswith("https://maps.apple.com/?daddr=")
    assert "mlat=" in nav["osm"]
    by_external = {s["external_id"]: s for s in stops}
    if "A1" in by_external:
        assert by_external["A1"]["customer"] == "Ann" and by_external["A1"]["notes"] == "ring twice"

    # No route on another day; staff are refused; the policy comes from the organisation.
    other_day = (day.day + timedelta(days=3)).isoformat()
    none = client.get(f"/api/v1/driver/route?date={other_day}", headers=day.org.driver).json()
    assert none["route"] is None and datetime.fromisoformat(none["server_time"])
    for staff in (day.org.dispatcher, day.org.admin):
        r = client.get("/api/v1/driver/route", headers=staff)
        assert r.status_code == 403 and r.json()["code"] == "forbidden"
    assert client.get("/api/v1/driver/route").status_code == 401
    with day.sessions() as session:
        org = session.get(Organisation, day.org.org_id)
        assert org is not None
        org.settings = {"pod_policy": ["signature_photo"]}
        session.commit()
    again = client.get(f"/api/v1/driver/route?date={day.day}", headers=day.org.driver).json()
    assert again["route"]["stops"][0]["pod_required"] == ["photo", "signature"]
    assert again["route"]["stops"][0]["handover"] == ["signature_photo"]


def test_another_organisations_driver_sees_nothing(client: TestClient) -> None:
    day = plan_day(client)
    beta = make_org(client, "Beta")
    # Beta's driver login has no driver record yet: refused with a message saying so.
    r = client.get(f"/api/v1/driver/route?date={day.day}", headers=beta.driver)
    assert r.status_code == 403 and "no driver is linked" in r.json()["detail"]
    client.post(
        "/api/v1/drivers",
        json={"name": "Beta driver", "user_id": beta.user_ids[Role.DRIVER]},
        headers=beta.dispatcher,
    )
    r = client.get(f"/api/v1/driver/route?date={day.day}", headers=beta.driver)
    assert r.status_code == 200 and r.json()["route"] is None
    stop_id = day.stops[0]["id"]
    results = client.post(
        "/api/v1/driver/events",
        json={"events": [ev("beta-evt-1", "arrived", day.at(1), stop_id)]},
        headers=beta.driver,
    ).json()["results"]
    assert results[0]["status"] == "rejected" and results[0]["error"]["field"] == "stop_id"
    assert order(client, day, day.stops[0]["order_id"])["status"] == "dispatched"


# --- events ----------------------------------------------------------------------------------


def test_start_deliver_and_fail_with_proof(client: TestClient) -> None:
    day = plan_day(client)
    first, second = day.stops[0], day.stops[1]
    batch = [  # deliberately not in time order: the server sorts by occurred_at
        ev("k-deliver-1", "delivered", day.at(12), first["id"], lon=9.52, lat=47.14,
           recipient="Ann", note="left with Ann", barcodes=["PKG-1"]),
        ev("k-start-0001", "route_started", day.at(0), lon=9.5087, lat=47.1657),
        ev("k-arrive-1", "arrived", day.at(10), first["id"], lon=9.52, lat=47.14),
        ev("k-fail-0002", "failed", day.at(20), second["id"], reason="not_home", note="no answer"),
    ]  # fmt: skip
    results = send(client, day, *batch)
    assert [r["status"] for r in results] == ["applied"] * 4, results
    assert [r["order_status"] for r in results] == ["delivered", None, "arrived", "failed"]
    assert all(r["error"] is None for r in results)

    route = client.get(f"/api/v1/driver/route?date={day.day}", headers=day.org.driver).json()
    assert route["route"]["status"] == "started"
    statuses = {s["id"]: s["status"] for s in route["route"]["stops"] if s["kind"] == "order"}
    assert statuses[first["id"]] == "delivered" and statuses[second["id"]] == "failed"
    rest = [s for s in day.stops[2:]]
    for stop in rest:
        assert statuses[stop["id"]] == "pending"
        assert order(client, day, stop["order_id"])["status"] == "out_for_delivery"

    steps = history(client, day, first["order_id"])
    driver_steps = [
        (h["from_status"], h["to_status"]) for h in steps if h["actor"].startswith("driver:")
    ]
    assert driver_steps == [
        ("dispatched", "out_for_delivery"),
        ("out_for_delivery", "arrived"),
        ("arrived", "delivered"),
    ]
    assert {h["actor"] for h in steps if h["actor"].startswith("driver:")} == {
        f"driver:{day.driver_id}"
    }
    delivered = steps[-1]
    assert datetime.fromisoformat(delivered["at"]) == day.base + timedelta(seconds=12)
    assert delivered["lon"] == 9.52 and "Ann" in delivered["note"] and "PKG-1" in delivered["note"]
    failed = history(client, day, second["order_id"])[-1]
    assert failed["to_status"] == "failed" and failed["reason"] == "not_home"

    # Proof of delivery: a photo and a signature for the delivered event.
    photo = client.post(
        "/api/v1/driver/pod",
        files={"file": ("p.jpg", JPEG, "application/octet-stream")},
        data={"kind": "photo", "event_key": "k-deliver-1"},
        headers=day.org.driver,
    )
    assert photo.status_code == 201, photo.text
    body = photo.json()
    assert body["order_id"] == first["order_id"] and body["kind"] == "photo"
    assert body["size_bytes"] == len(JPEG) and body["content_type"] == "image/jpeg"
    signature = client.post(
        "/api/v1/driver/pod",
        files={"file": ("s.png", png(), "image/png")},
        data={"kind": "signature", "event_key": "k-deliver-1", "recipient": "Ann"},
        headers=day.org.driver,
    )
    assert signature.status_code == 201, signature.text
    again = client.post(
        "/api/v1/driver/pod",
        files={"file": ("p.jpg", JPEG, "image/jpeg")},
        data={"kind": "photo", "event_key": "k-deliver-1"},
        headers=day.org.driver,
    )
    assert again.status_code == 200 and again.json() == body
    listed = client.get(f"/api/v1/orders/{first['order_id']}/pod", headers=day.org.dispatcher)
    assert listed.status_code == 200
    assert sorted(p["kind"] for p in listed.json()) == ["photo", "signature"]
    file = client.get(f"/api/v1/pod/{body['id']}/file", headers=day.org.dispatcher)
    assert file.status_code == 200 and file.content == JPEG
    assert file.headers["content-type"] == "image/jpeg"
    sig_id = signature.json()["id"]
    assert client.get(f"/api/v1/pod/{sig_id}/file", headers=day.org.admin).content == png()
    # Drivers don't read the staff routes; another organisation sees nothing.
    assert client.get(f"/api/v1/pod/{body['id']}/file", headers=day.org.driver).status_code == 403
    beta = make_org(client, "Beta")
    assert client.get(f"/api/v1/pod/{body['id']}/file", headers=beta.admin).status_code == 404
    assert (
        client.get(f"/api/v1/orders/{first['order_id']}/pod", headers=beta.admin).status_code == 404
    )


def test_proof_of_delivery_is_checked(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    day = plan_day(client)
    first = day.stops[0]
    send(
        client,
        day,
        ev("k-arrive-a", "arrived", day.at(5), first["id"]),
        ev("k-deliver-a", "delivered", day.at(6), first["id"]),
    )

    def upload(data: bytes, key: str = "k-deliver-a", kind: str = "photo") -> httpx.Response:
        return client.post(
            "/api/v1/driver/pod",
            files={"file": ("x.jpg", data, "image/jpeg")},
            data={"kind": kind, "event_key": key},
            headers=day.org.driver,
        )

    not_synced = upload(JPEG, key="k-not-sent-yet")
    assert not_synced.status_code == 409 and not_synced.json()["code"] == "event_not_synced"
    fake = upload(b"GIF89a this is not one of ours" + b"\x00" * 20)
    assert fake.status_code == 422
    assert fake.json()["errors"][0]["field"] == "file"
    assert "not a whole JPEG, PNG or WebP" in fake.json()["detail"]
    text = upload(b"hello, I am a text file")
    assert text.status_code == 422
    arrived = upload(JPEG, key="k-arrive-a")
    assert arrived.status_code == 422 and "delivered or failed" in arrived.json()["detail"]
    bad_kind = upload(JPEG, kind="selfie")
    assert bad_kind.status_code == 422
    settings = client.app.state.settings  # type: ignore[attr-defined]
    monkeypatch.setattr(settings, "pod_max_bytes", 100)
    large = upload(JPEG)
    assert large.status_code == 413 and large.json()["code"] == "pod_too_large"
    monkeypatch.undo()
    assert upload(JPEG).status_code == 201
    assert (
        client.post(
            "/api/v1/driver/pod",
            files={"file": ("x.jpg", JPEG, "image/jpeg")},
            data={"kind": "photo", "event_key": "k-deliver-a"},
            headers=day.org.dispatcher,
        ).status_code
        == 403
    )
    listed = client.get(f"/api/v1/orders/{first['order_id']}/pod", headers=day.org.dispatcher)
    assert len(listed.json()) == 1


def _counts(day: Day) -> tuple[int, int]:
    with day.sessions() as session:
        events = session.scalar(
            select(func.count()).select_from(Event).where(Event.org_id == day.org.org_id)
        )
        devices = session.scalar(
            select(func.count())
            .select_from(DeviceEvent)
            .where(DeviceEvent.org_id == day.org.org_id)
        )
        return int(events or 0), int(devices or 0)


def test_replaying_a_batch_changes_nothing(client: TestClient) -> None:
    day = plan_day(client)
    first, second = day.stops[0], day.stops[1]
    batch = [
        ev("r-start-0001", "route_started", day.at(0)),
        ev("r-arrive-001", "arrived", day.at(3), first["id"]),
        ev("r-deliver-01", "delivered", day.at(4), first["id"]),
        ev("r-failed-001", "failed", day.at(9), second["id"], reason="refused"),
        ev("r-bad-00001", "failed", day.at(9), second["id"]),  # no reason: rejected
    ]
    results = send(client, day, *batch)
    assert [r["status"] for r in results] == ["applied"] * 4 + ["rejected"]
    before = _counts(day)
    steps = history(client, day, first["order_id"])
    replay = send(client, day, *batch)
    assert [r["status"] for r in replay] == ["duplicate"] * 4 + ["rejected"]
    for one, two in zip(results[:4], replay[:4], strict=True):
        assert {**one, "status": "duplicate"} == two
    assert replay[4] == results[4]
    assert _counts(day) == before
    assert history(client, day, first["order_id"]) == steps
    # The same key twice in one batch: the second is the first's duplicate.
    twice = send(
        client,
        day,
        ev("r-arrive-003", "arrived", day.at(15), day.stops[2]["id"]),
        ev("r-arrive-003", "arrived", day.at(16), day.stops[2]["id"]),
    )
    assert [r["status"] for r in twice] == ["applied", "duplicate"]
    # A key reused for a different event is a conflict naming the key, not silently dropped.
    reused = send(client, day, ev("r-arrive-003", "arrived", day.at(17), day.stops[3]["id"]))
    assert reused[0]["status"] == "rejected", reused
    assert reused[0]["error"]["field"] == "key" and "r-arrive-003" in reused[0]["error"]["message"]


def test_late_arrival_goes_into_history_without_going_backwards(client: TestClient) -> None:
    day = plan_day(client)
    first, second = day.stops[0], day.stops[1]
    send(client, day, ev("l-start-0001", "route_started", day.at(0)))
    delivered = send(client, day, ev("l-deliver-01", "delivered", day.at(20), first["id"]))
    assert delivered[0]["order_status"] == "delivered"
    late = send(
        client, day, ev("l-arrive-001", "arrived", day.at(15), first["id"], lon=9.5, lat=47.1)
    )
    assert late[0]["status"] == "applied" and late[0]["order_status"] == "delivered"
    assert order(client, day, first["order_id"])["status"] == "delivered"
    steps = sorted(history(client, day, first["order_id"]), key=lambda h: h["at"])
    assert [h["to_status"] for h in steps][-3:] == ["out_for_delivery", "arrived", "delivered"]
    assert steps[-2]["from_status"] == "out_for_delivery" and "late" in steps[-2]["note"]
    # An event after the delivery that contradicts it is refused.
    contra = send(
        client, day, ev("l-fail-00001", "failed", day.at(25), first["id"], reason="other")
    )
    assert (
        contra[0]["status"] == "rejected" and "already delivered" in contra[0]["error"]["message"]
    )
    # A failed first attempt reported after the successful second one is history too.
    send(client, day, ev("l-deliver-02", "delivered", day.at(30), second["id"]))
    earlier = send(
        client, day, ev("l-fail-00002", "failed", day.at(22), second["id"], reason="not_home")
    )
    assert earlier[0]["order_status"] == "delivered"
    assert [h["to_status"] for h in history(client, day, second["order_id"])].count("failed") == 1
    # Failed, then rescheduled by the dispatcher: the late arrival is still history.
    third = day.stops[2]
    send(client, day, ev("l-fail-00003", "failed", day.at(40), third["id"], reason="refused"))
    r = client.post(
        f"/api/v1/orders/{third['order_id']}/transitions",
        json={"to": "rescheduled"},
        headers=day.org.dispatcher,
    )
    assert r.status_code == 200, r.text
    late = send(client, day, ev("l-arrive-003", "arrived", day.at(35), third["id"]))
    assert late[0]["status"] == "applied" and late[0]["order_status"] == "ready"
    after = send(client, day, ev("l-arrive-004", "arrived", day.at(45), third["id"]))
    assert after[0]["status"] == "rejected" and after[0]["error"]["field"] == "stop_id"
    assert "no longer on your route" in after[0]["error"]["message"]


def test_delivering_a_dispatched_order_implies_the_steps_before(client: TestClient) -> None:
    day = plan_day(client)
    first = day.stops[0]
    send(client, day, ev("i-deliver-01", "delivered", day.at(7), first["id"]))
    steps = history(client, day, first["order_id"])[-3:]
    assert [h["to_status"] for h in steps] == ["out_for_delivery", "arrived", "delivered"]
    assert {datetime.fromisoformat(h["at"]) for h in steps} == {day.base + timedelta(seconds=7)}
    # Not started: the route stays dispatched and the other orders at the depot.
    route = client.get(f"/api/v1/driver/route?date={day.day}", headers=day.org.driver).json()
    assert route["route"]["status"] == "dispatched"
    assert order(client, day, day.stops[1]["order_id"])["status"] == "dispatched"
    finish = send(client, day, ev("i-finish-01", "route_finished", day.at(8)))
    assert finish[0]["status"] == "rejected" and "not been started" in finish[0]["error"]["message"]


def test_bad_events_are_rejected_without_blocking_the_batch(client: TestClient) -> None:
    day = plan_day(client)
    first = day.stops[0]
    other_stop = day.other_stop_ids()[0]
    t0 = now()
    batch: list[dict[str, Any]] = [
        ev("b-future-01", "arrived", (t0 + timedelta(minutes=30)).isoformat(), first["id"]),
        ev("b-coords-01", "arrived", day.at(1), first["id"], lon=200.0, lat=47.0),
        ev("b-coords-02", "arrived", day.at(1), first["id"], lon=9.5),
        ev("b-noreason1", "failed", day.at(2), first["id"]),
        ev("b-reason-01", "failed", day.at(2), first["id"], reason="dog"),
        ev("b-unknown-1", "teleported", day.at(3), first["id"]),
        ev("b-foreign-1", "arrived", day.at(3), other_stop),
        ev("b-nostop-01", "arrived", day.at(3), "stp_does_not_exist"),
        ev("b-missing-1", "delivered", day.at(3)),
        ev("b-old-00001", "arrived", (t0 - timedelta(days=8)).isoformat(), first["id"]),
        ev("b-naive-001", "arrived", "2026-11-24T10:00:00", first["id"]),
        ev("b-garbage-1", "arrived", "yesterday", first["id"]),
        ev("short", "arrived", day.at(4), first["id"]),
        ev("b-good-0001", "arrived", day.at(5), first["id"]),
    ]
    results = send(client, day, *batch)
    by_key = {r["key"]: r for r in results}
    assert by_key["b-good-0001"]["status"] == "applied"
    assert by_key["b-good-0001"]["order_status"] == "arrived"
    expected = {
        "b-future-01": ("occurred_at", "future"),
        "b-coords-01": ("lon", "longitude"),
        "b-coords-02": ("lat", "both"),
        "b-noreason1": ("reason", "needs a reason"),
        "b-reason-01": ("reason", "unknown reason"),
        "b-unknown-1": ("type", "unknown event type"),
        "b-foreign-1": ("stop_id", "not a stop of your routes"),
        "b-nostop-01": ("stop_id", "not a stop of your routes"),
        "b-missing-1": ("stop_id", "needs the stop_id"),
        "b-old-00001": ("occurred_at", "7 days old"),
        "b-naive-001": ("occurred_at", "UTC offset"),
        "b-garbage-1": ("occurred_at", "ISO 8601"),
        "short": ("key", "8 to 100"),
    }
    for key, (field_name, words) in expected.items():
        result = by_key[key]
        assert result["status"] == "rejected", (key, result)
        assert result["error"]["field"] == field_name, (key, result)
        assert words in result["error"]["message"], (key, result)
        assert result["order_status"] is None
    # The other driver's order did not move.
    with day.sessions() as session:
        stop = session.get(Stop, other_stop)
        assert stop is not None and stop.status == "pending"
        other_order = stop.order_id
    assert order(client, day, str(other_order))["status"] == "dispatched"
    # A batch over the limit is refused as a whole.
    too_many = [ev(f"many-{i:05d}", "arrived", day.at(1), first["id"]) for i in range(501)]
    r = client.post("/api/v1/driver/events", json={"events": too_many}, headers=day.org.driver)
    assert r.status_code == 422
    r = client.post("/api/v1/driver/events", json={"events": []}, headers=day.org.dispatcher)
    assert r.status_code == 403


# --- positions -------------------------------------------------------------------------------


def test_positions_only_on_duty(client: TestClient) -> None:
    day = plan_day(client)
    t0 = now()

    def point(seconds_ago: float, **more: Any) -> dict[str, Any]:
        at = (t0 - timedelta(seconds=seconds_ago)).isoformat()
        return {"lon": 9.51, "lat": 47.16, "recorded_at": at, **more}

    off = client.post(
        "/api/v1/driver/positions", json={"positions": [point(5)]}, headers=day.org.driver
    )
    assert off.status_code == 409 and off.json()["code"] == "no_route_in_progress"
    send(client, day, ev("p-start-0001", "route_started", (t0 - timedelta(minutes=10)).isoformat()))
    batch = [
        point(60, accuracy_m=8.0, speed_ms=11.0, heading=90.0),
        point(30, lat=47.17),
        point(-3600),  # an hour in the future
        point(20, lon=181.0),
        point(15, lat=-91.0),
        point(20 * 60),  # before the route was started: off duty
        point(10, speed_ms=-1.0),
        point(10, recorded_at="noon"),
    ]
    r = client.post("/api/v1/driver/positions", json={"positions": batch}, headers=day.org.driver)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["accepted"] == 2
    assert [(x["index"], x["field"]) for x in body["rejected"]] == [
        (2, "recorded_at"),
        (3, "lon"),
        (4, "lat"),
        (5, "recorded_at"),
        (6, "speed_ms"),
        (7, "recorded_at"),
    ]
    again = client.post(
        "/api/v1/driver/positions", json={"positions": batch[:2]}, headers=day.org.driver
    )
    assert again.json()["accepted"] == 2
    with day.sessions() as session:
        rows = list(session.scalars(select(Position).where(Position.org_id == day.org.org_id)))
        assert len(rows) == 2  # the re-sent points were not stored twice
        assert {p.route_id for p in rows} == {day.route["id"]}
        assert {p.driver_id for p in rows} == {day.driver_id}
        live = list(
            session.scalars(
                select(Event)
                .where(Event.org_id == day.org.org_id, Event.type == "driver.position")
                .order_by(Event.id)
            )
        )
    assert len(live) == 2  # one per batch
    with day.sessions() as session:
        from lastmile.routes.models import StopEta

        etas = list(session.scalars(select(StopEta).where(StopEta.route_id == day.route["id"])))
    assert etas, "a position must recompute the route's ETAs (live.service.on_position)"
    latest = live[0].payload
    assert latest["lat"] == 47.17 and latest["route_id"] == day.route["id"]
    assert latest["vehicle_id"] == day.vehicle_ids["VAN-1"] and latest["driver_id"] == day.driver_id
    assert (
        client.post(
            "/api/v1/driver/positions", json={"positions": [point(1)]}, headers=day.org.dispatcher
        ).status_code
        == 403
    )
    send(client, day, ev("p-finish-001", "route_finished", t0.isoformat()))
    after = client.post(
        "/api/v1/driver/positions", json={"positions": [point(1)]}, headers=day.org.driver
    )
    assert after.status_code == 409


# --- live stream -----------------------------------------------------------------------------


def _read_stream(
    url: str,
    headers: dict[str, str],
    want: int,
    found: list[dict[str, Any]],
    ready: threading.Event,
) -> None:
    with httpx.stream("GET", f"{url}/api/v1/driver/stream", headers=headers, timeout=30) as r:
        assert r.status_code == 200
        for line in r.iter_lines():
            if line.startswith(": connected"):
                ready.set()
            if line.startswith("event: "):
                assert line == "event: route.changed"
            if line.startswith("data: "):
                found.append(json.loads(line[6:]))
                if len(found) >= want:
                    return


def test_driver_stream_carries_only_the_drivers_route_changes(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    from lastmile.drivers import api

    monkeypatch.setattr(api, "KEEPALIVE_S", 0.5)  # the server notices the reader leave sooner
    day = plan_day(client, dispatch=False)
    beta = make_org(client, "Beta")
    found: list[dict[str, Any]] = []
    ready = threading.Event()
    assert client.get("/api/v1/driver/stream", headers=day.org.dispatcher).status_code == 403
    assert client.get("/api/v1/driver/stream", headers=beta.driver).status_code == 403
    with serve_app(client.app) as url:
        reader = threading.Thread(
            target=_read_stream, args=(url, day.org.driver, 2, found, ready), daemon=True
        )
        reader.start()
        assert ready.wait(10)
        client.post(  # another organisation: never seen
            "/api/v1/orders",
            json={"external_id": "B-1", "date": day.day.isoformat(), "lon": 9.5, "lat": 47.1},
            headers=beta.dispatcher,
        )
        dispatch_and_fetch(client, day)  # both routes dispatched: only ours is told
        mine = day.stops[0]
        other_stop = day.other_stop_ids()[0]
        with day.sessions() as session:
            stop = session.get(Stop, other_stop)
            assert stop is not None
            other_order = stop.order_id
        for order_id in (other_order, mine["order_id"]):  # the dispatcher takes both back
            r = client.post(
                f"/api/v1/orders/{order_id}/transitions",
                json={"to": "cancelled"},
                headers=day.org.dispatcher,
            )
            assert r.status_code == 200, r.text
        reader.join(timeout=20)
    assert not reader.is_alive()
    assert [e["type"] for e in found] == ["route.changed", "route.changed"]
    assert found[0]["data"]["change"] == "dispatched"
    assert found[0]["data"]["route_id"] == day.route["id"]
    assert found[1]["data"] == {
        "route_id": day.route["id"],
        "change": "order_status",
        "order_id": mine["order_id"],
        "status": "cancelled",
    }
    # The cancelled order's stop is gone from the driver's route.
    route = client.get(f"/api/v1/driver/route?date={day.day}", headers=day.org.driver).json()
    assert mine["id"] not in {s["id"] for s in route["route"]["stops"]}


def test_every_driver_route_is_documented(client: TestClient) -> None:
    from pathlib import Path

    text = (Path(__file__).parents[2] / "docs" / "api-driver.md").read_text()
    schema = client.app.openapi()  # type: ignore[attr-defined]
    routes = [
        (method.upper(), path, op["operationId"])
        for path, item in schema["paths"].items()
        for method, op in item.items()
        if path.startswith("/api/v1/driver/") or path.endswith("/pod") or "/pod/" in path
    ]
    assert len(routes) == 7
    missing = [r for r in routes if f"`{r[0]} {r[1]}` | `{r[2]}`" not in text]
    assert missing == []


def test_the_same_batch_sent_twice_at_once_is_applied_once(client: TestClient) -> None:
    """A phone retrying while its first request still runs: both answers are "done"."""
    day = plan_day(client)
    batch = [ev("c-start-0001", "route_started", day.at(0))]
    for i, stop in enumerate(day.stops[:3]):
        batch.append(ev(f"c-arrive-{i:03d}", "arrived", day.at(10 + i * 10), stop["id"]))
        batch.append(ev(f"c-deliver-{i:03d}", "delivered", day.at(15 + i * 10), stop["id"]))
    answers: list[list[dict[str, Any]]] = []
    errors: list[BaseException] = []
    go = threading.Barrier(3)

    def post() -> None:
        try:
            go.wait(5)
            answers.append(send(client, day, *batch))
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=post) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    assert len(answers) == 3
    for i in range(len(batch)):
        statuses = sorted(a[i]["status"] for a in answers)
        assert statuses in (["applied", "duplicate", "duplicate"],), (batch[i]["key"], statuses)
    _, devices = _counts(day)
    assert devices == len(batch)
    for stop in day.stops[:3]:
        steps = [h["to_status"] for h in history(client, day, stop["order_id"])]
        assert steps.count("arrived") == 1 and steps.count("delivered") == 1, steps


def test_pod_store_and_image_decoding(tmp_path: Any) -> None:
    from lastmile.core.errors import NotFound
    from lastmile.drivers.pod_store import FileStore, image_type

    assert image_type(JPEG) == "image/jpeg"
    assert image_type(png()) == "image/png"
    assert image_type(b"RIFF\x24\x00\x00\x00WEBPVP8 ") is None  # a header is not an image
    assert image_type(b"RIFF\x24\x00\x00\x00WAVEfmt ") is None
    assert image_type(b"GIF89a") is None and image_type(b"") is None
    store = FileStore(tmp_path / "pod")
    store.put("org_1/ord_1/abc.png", png(), "image/png")
    assert store.get("org_1/ord_1/abc.png") == png()
    assert [p.name for p in (tmp_path / "pod" / "org_1" / "ord_1").iterdir()] == ["abc.png"]
    store.delete("org_1/ord_1/abc.png")
    store.delete("org_1/ord_1/abc.png")  # gone already: nothing happens
    with pytest.raises(NotFound):
        store.get("org_1/ord_1/abc.png")
    for bad in ("../secret", "org_1//x", "/etc/passwd", "org_1/.hidden", ""):
        with pytest.raises(ValueError):
            store.put(bad, b"x", "image/png")


def test_gps_batches_recompute_etas_at_most_every_few_seconds(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Phones send a batch every few seconds; the route's ETAs follow the GPS at most every
    ``eta_gps_refresh_s`` (10 s) of the points' own time, which keeps batches cheap."""
    from lastmile.live import etas as live

    day = plan_day(client)
    t0 = now()
    send(client, day, ev("g-start-0001", "route_started", (t0 - timedelta(minutes=5)).isoformat()))
    recomputed: list[str] = []
    real_refresh = live.refresh

    def counting(**kwargs: Any) -> Any:
        recomputed.append(kwargs["state"].route.id)
        return real_refresh(**kwargs)

    monkeypatch.setattr(live, "refresh", counting)

    def batch(seconds_ago: float) -> None:
        at = (t0 - timedelta(seconds=seconds_ago)).isoformat()
        r = client.post(
            "/api/v1/driver/positions",
            json={"positions": [{"lon": 9.51, "lat": 47.16, "recorded_at": at}]},
            headers=day.org.driver,
        )
        assert r.status_code == 200 and r.json()["accepted"] == 1, r.text

    batch(60)
    assert recomputed == [day.route["id"]]
    batch(57)  # 3 s later by the phone's clock: the ETAs stay as they are
    assert len(recomputed) == 1
    batch(45)  # 15 s after the last recompute
    assert recomputed == [day.route["id"]] * 2
