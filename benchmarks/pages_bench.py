"""Dashboard page loads with a 500-order day, in headless Debian chromium (p50/p95 per page).

    .venv/bin/python benchmarks/pages_bench.py [--orders 500] [--routes 8] [--loads 20]
        [--pg [URL]] [--out DIR] [--pages NAME ...]

Seeds one organisation (Europe/Vaduz) through the public API, as a shop would fill it: eight
vans, each with a driver who has a login, ``--orders`` geocoded orders for today (the sample
addresses jittered by up to 300 m; customer, phone, e-mail, notes, items), a plan of them,
dispatched; then the drivers work part of the day through the driver API: every route
started, its first stops delivered with a photo and a signature (uploaded), some failed
("not home"), GPS positions. E-mail notifications are on for the dispatch (sent to a real
SMTP server on loopback, so the messages log fills as it would), off while the drivers work
(see ``seed``). Also a customer with addresses, a tracking
link, a pilot comparison.

Then the app is served by uvicorn on loopback (tests/helpers/live.py) on the same database,
and chromium (``/usr/bin/chromium`` through Playwright's ``executable_path``, as
tests/helpers/browser.py starts it) logs in and loads every page ``--loads`` times.

What is measured per load ("usable"): from navigation start until the ``load`` event has fired
*and* every request the page started (its fetch/XHR/htmx calls, map data, tiles, photos) has
finished, whichever is later; the page's own Resource Timing entries give the end times.
Long-lived streams (the live page's EventSource, the driver app's event stream) are not
waited for, and a page that draws itself after its data (the driver app) is usable once its
content is on screen (a selector). The browser cache is kept between loads, as for an owner
who uses the dashboard all day; the first (cold) load is printed separately. Also printed:
the server's part (request start to first byte) and the HTML size.

With ``--pg`` (default URL postgresql://postgres@127.0.0.1:5432/postgres) a fresh PostgreSQL
database is created, used and dropped. ``tests/web/test_dashboard_perf.py`` runs this
benchmark small (40 orders, 2 loads) so that it keeps working.
"""

from __future__ import annotations

import argparse
import base64
import csv
import io
import json
import math
import os
import platform
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT / "tests") not in sys.path:
    sys.path.insert(0, str(ROOT / "tests"))

from fastapi.testclient import TestClient  # noqa: E402

from helpers.browser import CHROMIUM, CHROMIUM_ARGS  # noqa: E402
from helpers.live import free_port, serve_app  # noqa: E402
from helpers.mail import Inbox  # noqa: E402
from helpers.service import PASSWORD, OrgUsers, make_org  # noqa: E402

ZONE = "Europe/Vaduz"
SAMPLE = ROOT / "src" / "lastmile" / "data" / "sample"
DEPOT = (9.5087, 47.1657)
BUDGET_MS = 300.0
PG_DEFAULT = "postgresql://postgres@127.0.0.1:5432/postgres"
ITEMS = ("Bouquet, large", "Bread basket", "2 boxes of vegetables", "Medication bag", "Parcel")
# A 1x1 JPEG: the photo proof (the store checks the type, not the size).
JPEG = base64.b64decode(
    "/9j/4AAQSkZJRgABAQEASABIAAD/2wBDAAMCAgICAgMCAgIDAwMDBAYEBAQEBAgGBgUGCQgKCgkICQkKDA8MCgsO"
    "CwkJDRENDg8QEBEQCgwSExIQEw8QEBD/yQALCAABAAEBAREA/8wABgAQEAX/2gAIAQEAAD8A0s8g/9k="
)
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)


# --- seeding --------------------------------------------------------------------------------


@dataclass
class Seeded:
    org: OrgUsers
    day: str
    plan_id: str
    vehicle_id: str
    delivered_order_id: str
    customer_id: str
    comparison_id: str
    tracking_path: str
    driver_email: str
    counts: dict[str, int] = field(default_factory=dict)


def _ok(response: Any, *codes: int) -> Any:
    if response.status_code not in (codes or (200,)):
        raise RuntimeError(f"{response.request.url}: {response.status_code} {response.text[:500]}")
    return response.json() if response.content else None


def orders_csv(count: int, seed: int = 4) -> str:
    """``count`` orders at the sample addresses (jittered up to ~300 m), with contacts."""
    text = (SAMPLE / "sample_day_orders.csv").read_text(encoding="utf-8")
    rows = list(csv.reader(io.StringIO(text)))[1:]
    rnd = random.Random(seed)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(
        [
            *("id", "address", "lon", "lat", "window_start", "window_end", "service_min"),
            *("parcels", "customer", "phone", "email", "notes", "items"),
        ]
    )
    for i in range(count):
        cells = rows[i % len(rows)]
        start = rnd.choice(("08:00", "10:00", "13:00"))
        end = {"08:00": "12:00", "10:00": "16:00", "13:00": "20:00"}[start]
        writer.writerow(
            [
                f"B-{i:04d}",
                cells[1],
                f"{float(cells[2]) + rnd.uniform(-0.003, 0.003):.6f}",
                f"{float(cells[3]) + rnd.uniform(-0.003, 0.003):.6f}",
                start,
                end,
                "2",
                "1",
                f"Customer {i}",
                f"+423 7{i:06d}",
                f"customer{i}@example.com",
                "Ring twice" if i % 7 == 0 else "",
                ITEMS[i % len(ITEMS)],
            ]
        )
    return out.getvalue()


def vehicles_csv(routes: int) -> str:
    lines = [
        "id,name,profile,start_lon,start_lat,end_lon,end_lat,shift_start,shift_end,"
        "capacity_parcels,cost_per_km,cost_per_hour,fixed_cost"
    ]
    for i in range(1, routes + 1):
        lines.append(
            f"VAN-{i},Van {i},van,{DEPOT[0]},{DEPOT[1]},{DEPOT[0]},{DEPOT[1]},"
            f"06:00,22:00,120,0.35,28,20"
        )
    return "\n".join(lines) + "\n"


def _driver_logins(client: TestClient, org: OrgUsers, routes: int) -> list[tuple[str, str]]:
    """(user id, e-mail) of ``routes`` driver logins (the first is make_org's driver)."""
    from sqlalchemy.orm import Session, sessionmaker

    from lastmile.auth import service as auth
    from lastmile.orgs import service as orgs
    from lastmile.orgs.models import Role

    slug = org.name.lower().replace(" ", "-")
    logins = [(org.user_ids[Role.DRIVER], f"driver@{slug}.example")]
    sessions: sessionmaker[Session] = client.app.state.sessions  # type: ignore[attr-defined]
    with sessions() as session:
        for i in range(2, routes + 1):
            email = f"driver{i}@{slug}.example"
            user = auth.create_user(
                session=session, email=email, password=PASSWORD, name=f"Driver {i}"
            )
            orgs.add_member(session=session, org_id=org.org_id, user_id=user.id, role=Role.DRIVER)
            logins.append((user.id, email))
    return logins


def _token(client: TestClient, email: str) -> dict[str, str]:
    answer = _ok(client.post("/api/v1/auth/token", json={"email": email, "password": PASSWORD}))
    return {"Authorization": f"Bearer {answer['access_token']}"}


def _wait_plan(client: TestClient, org: OrgUsers, plan_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 300
    while True:
        plan: dict[str, Any] = _ok(client.get(f"/api/v1/plans/{plan_id}", headers=org.dispatcher))
        if plan["status"] in ("done", "failed"):
            if plan["status"] == "failed":
                raise RuntimeError(f"plan failed: {plan.get('error')}")
            return plan
        if time.monotonic() > deadline:
            raise RuntimeError("plan not done in 300 s")
        time.sleep(0.2)


def _drive(
    client: TestClient, headers: dict[str, str], route: dict[str, Any], delivered: int, failed: int
) -> tuple[int, int, str | None]:
    """Start the route, deliver its first ``delivered`` stops (photo + signature uploaded),
    fail the next ``failed``; returns (delivered, failed, a delivered order id)."""
    stops = [s for s in route["stops"] if s["kind"] == "order"]
    now = datetime.now(UTC).replace(microsecond=0)
    steps = len(stops[: delivered + failed])
    at = now - timedelta(minutes=4 * steps + 10)
    key = route["id"]
    events: list[dict[str, Any]] = [
        {
            "key": f"{key}-start",
            "type": "route_started",
            "occurred_at": at.isoformat(),
            "route_id": route["id"],
        }
    ]
    outcomes: list[tuple[str, str]] = []
    for i, stop in enumerate(stops[:steps]):
        at += timedelta(minutes=4)
        events.append(
            {
                "key": f"{key}-{i}-arr",
                "type": "arrived",
                "stop_id": stop["id"],
                "occurred_at": at.isoformat(),
                "lon": stop["lon"],
                "lat": stop["lat"],
            }
        )
        kind = "delivered" if i < delivered else "failed"
        event = {
            "key": f"{key}-{i}-{kind}",
            "type": kind,
            "stop_id": stop["id"],
            "occurred_at": (at + timedelta(minutes=2)).isoformat(),
        }
        if kind == "failed":
            event["reason"] = "not_home"
        else:
            event["recipient"] = f"Recipient {i}"
        events.append(event)
        outcomes.append((event["key"], kind))
    results = _ok(client.post("/api/v1/driver/events", json={"events": events}, headers=headers))
    bad = [r for r in results["results"] if r["status"] not in ("applied", "duplicate")]
    if bad:
        raise RuntimeError(f"driver events refused: {bad[:3]}")
    for event_key, kind in outcomes:
        if kind != "delivered":
            continue
        for pod_kind, name, data, mime in (
            ("photo", "door.jpg", JPEG, "image/jpeg"),
            ("signature", "sign.png", PNG, "image/png"),
        ):
            _ok(
                client.post(
                    "/api/v1/driver/pod",
                    files={"file": (name, data, mime)},
                    data={"kind": pod_kind, "event_key": event_key},
                    headers=headers,
                ),
                200,
                201,
            )
    positions = [
        {
            "lon": s["lon"],
            "lat": s["lat"],
            "recorded_at": (now - timedelta(minutes=4 * (steps - i))).isoformat(),
        }
        for i, s in enumerate(stops[:steps])
    ]
    if positions:
        _ok(client.post("/api/v1/driver/positions", json={"positions": positions}, headers=headers))
    first = next((s["order_id"] for s in stops[:delivered]), None)
    return min(delivered, steps), max(0, steps - delivered), first


def wait_for_jobs(client: TestClient, timeout_s: float = 600) -> None:
    """Until the background jobs due now (customer messages of the driven day) are done, so
    that the pages are measured on a quiet server."""
    from sqlalchemy import func, select
    from sqlalchemy.orm import Session, sessionmaker

    from lastmile.jobs.models import StoredJob

    sessions: sessionmaker[Session] = client.app.state.sessions  # type: ignore[attr-defined]
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with sessions() as session:
            due = session.scalar(
                select(func.count())
                .select_from(StoredJob)
                .where(
                    StoredJob.status == "queued",
                    StoredJob.run_at <= datetime.now(UTC) + timedelta(seconds=5),
                )
            )
        if not due:
            return
        time.sleep(0.5)
    raise RuntimeError(f"background jobs still due after {timeout_s:.0f} s")


def seed(client: TestClient, orders: int, routes: int) -> Seeded:
    started = time.perf_counter()
    org = make_org(client, "Bench Flowers", timezone=ZONE)
    _ok(
        client.put(
            "/api/v1/notifications/settings",
            json={"notifications": {"email": True}, "tracking": {"map_stops": 3}},
            headers=org.admin,
        )
    )
    day = datetime.now(ZoneInfo(ZONE)).date().isoformat()
    files = {"file": ("vans.csv", vehicles_csv(routes).encode(), "text/csv")}
    _ok(client.post("/api/v1/vehicles/import", files=files, headers=org.dispatcher), 200, 201)
    vehicles = _ok(client.get("/api/v1/vehicles?limit=100", headers=org.dispatcher))["items"]
    logins = _driver_logins(client, org, routes)
    for (user_id, _), vehicle in zip(logins, vehicles, strict=False):
        body = {
            "name": f"Driver of {vehicle['name']}",
            "user_id": user_id,
            "vehicle_id": vehicle["id"],
        }
        _ok(client.post("/api/v1/drivers", json=body, headers=org.dispatcher), 201)
    files = {"file": ("orders.csv", orders_csv(orders).encode(), "text/csv")}
    _ok(client.post(f"/api/v1/orders/import?date={day}", files=files, headers=org.dispatcher))
    print(f"  orders imported ({time.perf_counter() - started:.0f} s)", file=sys.stderr)
    plan_id = _ok(
        client.post(
            "/api/v1/plans",
            json={"date": day, "time_limit_s": 2, "objective": "balanced"},
            headers=org.dispatcher,
        ),
        202,
    )["id"]
    plan = _wait_plan(client, org, plan_id)
    print(f"  planned ({time.perf_counter() - started:.0f} s)", file=sys.stderr)
    _ok(client.post(f"/api/v1/plans/{plan_id}/dispatch", json={}, headers=org.dispatcher))
    print(f"  dispatched ({time.perf_counter() - started:.0f} s)", file=sys.stderr)
    wait_for_jobs(client)  # the "on its way" e-mails of the dispatch
    # Messages while driving are switched off: each driver event's job reads every stop's ETA
    # of its route (quadratic in the stops; minutes for this seeding, not what is measured).
    notify = {"notifications": {"email": False}, "tracking": {"map_stops": 3}}
    _ok(client.put("/api/v1/notifications/settings", json=notify, headers=org.admin))
    delivered = failed = 0
    delivered_order: str | None = None
    for i, (_, email) in enumerate(logins):
        headers = _token(client, email)
        route = _ok(client.get(f"/api/v1/driver/route?date={day}", headers=headers))["route"]
        if route is None:
            continue
        stops = sum(1 for s in route["stops"] if s["kind"] == "order")
        d, f, first = _drive(client, headers, route, delivered=stops // 3, failed=1 + i % 2)
        print(f"  route {i + 1} driven ({time.perf_counter() - started:.0f} s)", file=sys.stderr)
        delivered += d
        failed += f
        delivered_order = delivered_order or first
    notify["notifications"]["email"] = True
    _ok(client.put("/api/v1/notifications/settings", json=notify, headers=org.admin))
    print(f"  driven ({time.perf_counter() - started:.0f} s)", file=sys.stderr)
    if delivered_order is None:
        raise RuntimeError("no route was driven")
    customer = _ok(
        client.post(
            "/api/v1/customers",
            json={"name": "Anna Beck", "phone": "+423 700 00 01", "email": "anna@example.com"},
            headers=org.dispatcher,
        ),
        201,
    )
    pending = next(
        o
        for o in _ok(client.get(f"/api/v1/orders?date={day}&limit=500", headers=org.dispatcher))[
            "items"
        ]
        if o["status"] not in ("delivered", "failed")
    )
    tracking = _ok(
        client.post(f"/api/v1/orders/{pending['id']}/tracking-link", headers=org.dispatcher), 201
    )
    comparison = _ok(
        client.post(
            "/api/v1/comparisons",
            json={
                "name": "Pilot week",
                "baseline": {
                    "from": "2026-01-05",
                    "to": "2026-01-09",
                    "typed": [
                        {
                            "from": "2026-01-05",
                            "to": "2026-01-09",
                            "orders": 400,
                            "values": {"on_time_rate": 0.82},
                        }
                    ],
                },
                "pilot": {"from": day},
                "objectives": [{"metric": "on_time_rate", "op": "at_least", "target": 0.9}],
            },
            headers=org.dispatcher,
        ),
        200,
        201,
    )
    messages = _ok(client.get("/api/v1/notifications?limit=500", headers=org.dispatcher))
    counts = {
        "orders": orders,
        "routes": len(plan["routes"]),
        "delivered": delivered,
        "failed": failed,
        "messages (up to 500)": len(messages),
    }
    print(f"  seeded {counts} in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    return Seeded(
        org=org,
        day=day,
        plan_id=plan_id,
        vehicle_id=plan["routes"][0]["vehicle_id"],
        delivered_order_id=delivered_order,
        customer_id=customer["id"],
        comparison_id=comparison["comparison"]["id"],
        tracking_path=tracking["path"],
        driver_email=logins[0][1],
        counts=counts,
    )


# --- measuring ------------------------------------------------------------------------------


@dataclass
class Page:
    name: str
    path: str
    ready: str | None = None
    """A selector that is on screen once a page that draws itself is usable."""
    as_driver: bool = False


def pages(s: Seeded) -> list[Page]:
    d = s.day
    return [
        Page("orders (page 1 of 10)", f"/app/orders?date={d}"),
        Page("orders, text search", f"/app/orders?date={d}&q=Vaduz"),
        Page("order (delivered, POD)", f"/app/orders/{s.delivered_order_id}"),
        Page("new order", f"/app/orders/new?date={d}"),
        Page("plan form", f"/app/plan?date={d}"),
        Page("plan (500 stops)", f"/app/plans/{s.plan_id}"),
        Page("route sheet", f"/app/plans/{s.plan_id}/sheet/{s.vehicle_id}"),
        Page("all route sheets", f"/app/plans/{s.plan_id}/sheets"),
        Page("live", f"/app/live?date={d}"),
        Page("KPIs", "/app/kpis"),
        Page("pilot report", f"/api/v1/comparisons/{s.comparison_id}/report.html"),
        Page("messages", "/app/messages"),
        Page("customers", "/app/customers"),
        Page("customer", f"/app/customers/{s.customer_id}"),
        Page("shop", "/app/shop"),
        Page("settings", "/app/settings"),
        Page("notification settings", "/app/settings/notifications"),
        Page("account", "/app/account"),
        Page("tracking (customer)", s.tracking_path),
        Page("driver app (route)", "/driver", ready=".stop-row[data-stop]", as_driver=True),
    ]


USABLE_JS = """() => {
  const nav = performance.getEntriesByType('navigation')[0];
  const ends = performance.getEntriesByType('resource').map(r => r.responseEnd);
  return {
    usable: Math.max(nav.loadEventEnd, ...ends),
    load: nav.loadEventEnd,
    server: nav.responseStart - nav.requestStart,
    bytes: nav.transferSize || nav.encodedBodySize,
    requests: ends.length,
    slowest: performance.getEntriesByType('resource')
      .map(r => [Math.round(r.startTime), Math.round(r.responseEnd), r.initiatorType, r.name])
      .sort((a, b) => b[1] - a[1]).slice(0, 6),
  };
}"""


def _streaming(request: Any) -> bool:
    if request.resource_type in ("eventsource", "websocket"):
        return True
    return "text/event-stream" in (request.headers.get("accept") or "")


class Tracker:
    """Requests of the page still in flight (streams left out)."""

    def __init__(self, page: Any) -> None:
        self.inflight: set[Any] = set()
        self.errors: list[str] = []
        page.on("request", self._start)
        page.on("requestfinished", self._end)
        page.on("requestfailed", self._failed)
        page.on("response", self._response)
        page.on("pageerror", lambda exc: self.errors.append(f"page error: {exc}"))
        page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)

    def _start(self, request: Any) -> None:
        if not _streaming(request):
            self.inflight.add(request)

    def _end(self, request: Any) -> None:
        self.inflight.discard(request)

    def _failed(self, request: Any) -> None:
        self.inflight.discard(request)
        if not _streaming(request) and "ERR_ABORTED" not in (request.failure or ""):
            self.errors.append(f"{request.url}: {request.failure}")

    def _response(self, response: Any) -> None:
        if response.status >= 400:
            self.errors.append(f"{response.url}: HTTP {response.status}")

    def settle(self, page: Any, quiet_ms: int = 300, timeout_s: float = 30) -> None:
        """Wait until no request has been in flight for ``quiet_ms``."""
        deadline = time.monotonic() + timeout_s
        quiet_since: float | None = None
        while time.monotonic() < deadline:
            if self.inflight:
                quiet_since = None
            elif quiet_since is None:
                quiet_since = time.monotonic()
            elif (time.monotonic() - quiet_since) * 1000 >= quiet_ms:
                return
            page.wait_for_timeout(20)
        raise RuntimeError(f"requests still in flight: {[r.url for r in self.inflight][:5]}")


DETAIL = False
"""--detail: print the slowest requests of every load."""


def load_once(page: Any, tracker: Tracker, target: Page) -> dict[str, Any]:
    tracker.inflight.clear()
    response = page.goto(target.path, wait_until="load")
    if response is None or response.status >= 400:
        raise RuntimeError(f"{target.path}: {response.status if response else 'no answer'}")
    drawn = 0.0
    if target.ready:
        page.wait_for_selector(target.ready, timeout=30_000)
        drawn = float(page.evaluate("performance.now()"))
    tracker.settle(page)
    timing: dict[str, Any] = page.evaluate(USABLE_JS)
    timing["usable"] = max(timing["usable"], drawn)
    if DETAIL:
        print(
            f"    {target.name}: load {timing['load']:.0f} usable {timing['usable']:.0f}",
            file=sys.stderr,
        )
        for row in timing["slowest"]:
            print(f"      {row}", file=sys.stderr)
    return timing


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


@dataclass
class Result:
    name: str
    usable: list[float]
    server: list[float]
    kib: float
    requests: int
    errors: list[str]
    text: str = ""
    """What the page shows (its body's text after the last load), for the audits."""

    @property
    def p50(self) -> float:
        return statistics.median(self.usable[1:] or self.usable)

    @property
    def p95(self) -> float:
        return percentile(self.usable[1:] or self.usable, 0.95)


def _login(context: Any, base: str, email: str, driver: bool) -> Any:
    page = context.new_page()
    if driver:
        page.goto(f"{base}/driver")
        page.get_by_label("E-mail").fill(email)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Log in").click()
        page.wait_for_selector(".stop-row[data-stop]", timeout=30_000)
    else:
        page.goto(f"{base}/app/login")
        page.fill("#email", email)
        page.fill("#password", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url("**/app/orders**")
    return page


def measure(
    base: str,
    seeded: Seeded,
    loads: int,
    only: list[str] | None = None,
    progress: Callable[[str], None] = lambda _: None,
) -> list[Result]:
    from playwright.sync_api import sync_playwright

    slug = seeded.org.name.lower().replace(" ", "-")
    results = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=list(CHROMIUM_ARGS), headless=True
        )
        try:
            contexts: dict[bool, tuple[Any, Any, Tracker]] = {}
            for target in pages(seeded):
                if only and not any(o.lower() in target.name.lower() for o in only):
                    continue
                if target.as_driver not in contexts:
                    context = browser.new_context(
                        viewport={"width": 390, "height": 844}
                        if target.as_driver
                        else {"width": 1366, "height": 768},
                        base_url=base,
                        timezone_id=ZONE,
                        locale="en-GB",
                    )
                    context.add_init_script("performance.setResourceTimingBufferSize(5000)")
                    email = (
                        seeded.driver_email if target.as_driver else f"dispatcher@{slug}.example"
                    )
                    page = _login(context, base, email, target.as_driver)
                    contexts[target.as_driver] = (context, page, Tracker(page))
                _, page, tracker = contexts[target.as_driver]
                tracker.errors.clear()
                timings = [load_once(page, tracker, target) for _ in range(loads)]
                result = Result(
                    name=target.name,
                    usable=[t["usable"] for t in timings],
                    server=[t["server"] for t in timings],
                    kib=timings[0]["bytes"] / 1024,
                    requests=int(timings[-1]["requests"]),
                    errors=sorted(set(tracker.errors)),
                    text=page.inner_text("body"),
                )
                results.append(result)
                progress(
                    f"  {target.name:<26} p50 {result.p50:6.0f}  p95 {result.p95:6.0f}  "
                    f"first {result.usable[0]:6.0f} ms"
                )
            for context, _, _ in contexts.values():
                context.close()
        finally:
            browser.close()
    return results


def server_costs(client: TestClient, seeded: Seeded, runs: int = 6) -> str:
    """Per page, what the server spends on it, load-independent enough to compare code
    versions on a busy machine: process CPU time and SQL statements of one request (TestClient
    with the dispatcher's session cookie; median of ``runs`` after a warm-up), and the size."""
    from sqlalchemy import event

    browser = TestClient(client.app)
    slug = seeded.org.name.lower().replace(" ", "-")
    browser.post("/app/login", data={"email": f"dispatcher@{slug}.example", "password": PASSWORD})
    statements: list[str] = []

    def count(*args: Any) -> None:
        statements.append(str(args[2]))

    engine = client.app.state.engine  # type: ignore[attr-defined]
    event.listen(engine, "before_cursor_execute", count)
    lines = ["| page | server CPU ms | SQL statements | KiB |", "|---|---|---|---|"]
    try:
        for target in pages(seeded):
            if target.as_driver:
                continue
            cpu = []
            for _ in range(runs + 1):
                statements.clear()
                started = time.process_time()
                answer = browser.get(target.path)
                cpu.append((time.process_time() - started) * 1000)
                if answer.status_code != 200:
                    raise RuntimeError(f"{target.path}: {answer.status_code}")
            lines.append(
                f"| {target.name} | {statistics.median(cpu[1:]):.0f} | {len(statements)} "
                f"| {len(answer.content) // 1024} |"
            )
    finally:
        event.remove(engine, "before_cursor_execute", count)
    return "\n".join(lines)


def table(results: list[Result], loads: int) -> str:
    lines = [
        "| page | usable p50 ms | usable p95 ms | first load ms | server p50 ms | HTML KiB "
        "| requests |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in results:
        flag = "" if r.p95 < BUDGET_MS else " (over)"
        lines.append(
            f"| {r.name} | {r.p50:.0f} | {r.p95:.0f}{flag} | {r.usable[0]:.0f} "
            f"| {statistics.median(r.server):.0f} | {r.kib:.0f} | {r.requests} |"
        )
    return "\n".join(lines)


# --- running --------------------------------------------------------------------------------


@contextmanager
def smtp_server() -> Iterator[Inbox]:
    from aiosmtpd.controller import Controller

    box = Inbox()
    port = free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    saved = {
        k: os.environ.get(k)
        for k in ("LASTMILE_SMTP_HOST", "LASTMILE_SMTP_PORT", "LASTMILE_SMTP_TLS")
    }
    os.environ.update(
        LASTMILE_SMTP_HOST="127.0.0.1", LASTMILE_SMTP_PORT=str(port), LASTMILE_SMTP_TLS="none"
    )
    try:
        yield box
    finally:
        controller.stop()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@contextmanager
def database(pg: str | None, data_dir: Path) -> Iterator[str]:
    if not pg:
        yield f"sqlite:///{data_dir / 'lastmile.db'}"
        return
    import psycopg

    name = f"lastmile_pagesbench_{uuid.uuid4().hex[:6]}"
    with psycopg.connect(pg, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield pg.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1) + f"/{name}"
    finally:
        with psycopg.connect(pg, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def run(
    *,
    orders: int,
    routes: int,
    loads: int,
    pg: str | None = None,
    only: list[str] | None = None,
    progress: Callable[[str], None] = lambda _: None,
    data: Path | None = None,
    server: bool = False,
) -> tuple[Seeded, list[Result], str]:
    """Seed, serve, measure; returns the seeded day, the results and the database kind.
    ``data``: keep the SQLite database there, and reuse it (no seeding) when it is there;
    ``server``: also report each page's server costs (:func:`server_costs`)."""
    from lastmile.app import create_app
    from lastmile.config import Settings

    keep = data is not None
    with (
        (
            nullcontext(str(data)) if keep else tempfile.TemporaryDirectory(prefix="pages-bench-")
        ) as tmp,
        smtp_server() as inbox,
        database(pg, Path(tmp)) as url,
    ):
        settings = Settings(
            database_url=url,
            data_dir=Path(tmp),
            use_roads=False,
            jobs="inline",
            secret_key="bench-secret",
            plan_time_limit_s=2.0,
        )
        saved = Path(tmp) / "seeded.json"
        with TestClient(create_app(settings)) as client:
            if keep and saved.exists():
                seeded = Seeded(**json.loads(saved.read_text()))
                seeded.org = OrgUsers(**seeded.org)  # type: ignore[arg-type]
            else:
                seeded = seed(client, orders, routes)
                seeded.counts["e-mails received"] = len(inbox.messages)
                if keep:
                    saved.write_text(json.dumps(asdict(seeded)))
            if server:
                progress(server_costs(client, seeded))
            with serve_app(client.app) as base:
                results = measure(base, seeded, loads, only, progress) if loads else []
        return seeded, results, "PostgreSQL" if pg else "SQLite"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--orders", type=int, default=500)
    parser.add_argument("--routes", type=int, default=8)
    parser.add_argument("--loads", type=int, default=20)
    parser.add_argument(
        "--pg",
        nargs="?",
        const=PG_DEFAULT,
        default=None,
        help=f"admin URL of a PostgreSQL server (default {PG_DEFAULT})",
    )
    parser.add_argument("--pages", nargs="*", help="only pages whose name contains one of these")
    parser.add_argument("--out", type=Path, help="write results.json and results.md here")
    parser.add_argument(
        "--data",
        type=Path,
        help="keep the seeded SQLite database here; reuse it if it is there "
        "(to profile a page without seeding again; same day only)",
    )
    parser.add_argument(
        "--server", action="store_true", help="also each page's server CPU time and SQL statements"
    )
    parser.add_argument("--detail", action="store_true", help="the slowest requests of each load")
    args = parser.parse_args()
    global DETAIL
    DETAIL = args.detail
    load_before = os.getloadavg()
    seeded, results, kind = run(
        orders=args.orders,
        routes=args.routes,
        loads=args.loads,
        pg=args.pg,
        only=args.pages,
        progress=lambda line: print(line, file=sys.stderr),
        data=args.data,
        server=args.server,
    )
    load_after = os.getloadavg()
    head = (
        f"# Page loads: {args.orders} orders on {seeded.counts['routes']} routes "
        f"({seeded.counts['delivered']} delivered, {seeded.counts['failed']} failed, "
        f"{seeded.counts['e-mails received']} e-mails), {kind}, {args.loads} loads a page\n"
        f"# {platform.machine()}, {os.cpu_count()} CPUs, load average (1/5/15 min) "
        f"{load_before[0]:.1f}/{load_before[1]:.1f}/{load_before[2]:.1f} before, "
        f"{load_after[0]:.1f}/{load_after[1]:.1f}/{load_after[2]:.1f} after; "
        f"Python {platform.python_version()}\n"
    )
    text = head + "\n" + table(results, args.loads) + "\n"
    print(text)
    over = [r.name for r in results if r.p95 >= BUDGET_MS]
    print(f"over {BUDGET_MS:.0f} ms at p95: {', '.join(over) or 'none'}")
    for r in results:
        for error in r.errors:
            print(f"console/HTTP error on {r.name}: {error}")
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "results.md").write_text(text, encoding="utf-8")
        (args.out / "results.json").write_text(
            json.dumps(
                {
                    "counts": seeded.counts,
                    "database": kind,
                    "load_before": load_before,
                    "load_after": load_after,
                    "pages": [
                        {
                            "name": r.name,
                            "usable_ms": r.usable,
                            "server_ms": r.server,
                            "p50": r.p50,
                            "p95": r.p95,
                            "errors": r.errors,
                        }
                        for r in results
                    ],
                },
                indent=1,
            ),
            encoding="utf-8",
        )


if __name__ == "__main__":
    with nullcontext():
        main()
