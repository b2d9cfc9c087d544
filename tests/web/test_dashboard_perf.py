"""Page times with 500 orders: every dashboard page answered by the server and loaded in
chromium (1366x768). The numbers in docs/benchmarks.md (## Dashboard) come from
``LASTMILE_DASHBOARD_BENCH=1 pytest tests/web/test_dashboard_perf.py -s``.

The assertion is looser than the 300 ms target so that a slow CI machine does not fail the
suite; the printed median is what the target is about.
"""

from __future__ import annotations

import csv
import io
import os
import random
import statistics
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from test_dashboard import DASHBOARD_DAY, SAMPLE
from test_dashboard import dashboard_browser as dashboard_browser  # the fixture

from helpers.live import serve_app
from helpers.service import PASSWORD, make_org
from lastmile.app import create_app
from lastmile.config import Settings

ORDERS = 500
BUDGET_MS = 300
SLACK = 3  # CI machines are slower; the target is checked on the printed numbers


def _orders_csv(count: int) -> str:
    text = (SAMPLE / "sample_day_orders.csv").read_text(encoding="utf-8")
    rows = list(csv.reader(io.StringIO(text)))
    rnd = random.Random(4)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(rows[0])
    for i in range(count):
        cells = list(rows[1 + i % (len(rows) - 1)])
        cells[0] = f"P-{i:04d}"
        cells[2] = f"{float(cells[2]) + rnd.uniform(-0.003, 0.003):.6f}"
        cells[3] = f"{float(cells[3]) + rnd.uniform(-0.003, 0.003):.6f}"
        cells[4], cells[5], cells[7] = "08:00", "18:00", "1"
        writer.writerow(cells)
    return out.getvalue()


pytestmark = pytest.mark.skipif(
    os.environ.get("LASTMILE_DASHBOARD_BENCH") != "1",
    reason="benchmark (about 90 s): set LASTMILE_DASHBOARD_BENCH=1",
)


@pytest.fixture(scope="module")
def big_day(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, Any, str]]:
    data_dir = tmp_path_factory.mktemp("dashboard-perf")
    settings = Settings(
        database_url=f"sqlite:///{data_dir / 'lastmile.db'}",
        data_dir=data_dir,
        use_roads=False,
        jobs="inline",
        secret_key="test-secret",
        plan_time_limit_s=1.0,
    )
    with TestClient(create_app(settings)) as client:
        started = time.perf_counter()
        org = make_org(client, "Big Day")
        vehicles = (SAMPLE / "sample_vehicles.csv").read_bytes()
        r = client.post(
            "/api/v1/vehicles/import",
            files={"file": ("v.csv", vehicles, "text/csv")},
            headers=org.dispatcher,
        )
        assert r.status_code in (200, 201), r.text
        t = time.perf_counter()
        r = client.post(
            f"/api/v1/orders/import?date={DASHBOARD_DAY}",
            files={"file": ("o.csv", _orders_csv(ORDERS).encode(), "text/csv")},
            headers=org.dispatcher,
        )
        assert r.status_code == 200, r.text
        print(f"\nimport of {ORDERS} orders: {time.perf_counter() - t:.1f} s")
        r = client.post(
            "/api/v1/plans",
            json={"date": DASHBOARD_DAY, "time_limit_s": 1},
            headers=org.dispatcher,
        )
        plan_id = r.json()["id"]
        deadline = time.monotonic() + 120
        while client.get(f"/api/v1/plans/{plan_id}", headers=org.dispatcher).json()[
            "status"
        ] not in ("done", "failed"):
            assert time.monotonic() < deadline
            time.sleep(0.2)
        print(f"\nseeded 500 orders and planned in {time.perf_counter() - started:.1f} s")
        yield client, org, plan_id


def _pages(plan_id: str, vehicle_id: str) -> dict[str, str]:
    return {
        "orders (page 1 of 10)": f"/app/orders?date={DASHBOARD_DAY}",
        "orders search": f"/app/orders?date={DASHBOARD_DAY}&q=Vaduz",
        "plan form": f"/app/plan?date={DASHBOARD_DAY}",
        "plan (500 stops)": f"/app/plans/{plan_id}",
        "route sheet": f"/app/plans/{plan_id}/sheet/{vehicle_id}",
        "live": f"/app/live?date={DASHBOARD_DAY}",
        "settings": "/app/settings",
    }


def test_server_times_with_500_orders(big_day: tuple[TestClient, Any, str]) -> None:
    client, org, plan_id = big_day
    plan = client.get(f"/api/v1/plans/{plan_id}", headers=org.dispatcher).json()
    assert plan["status"] == "done"
    assert sum(len(r["stops"]) for r in plan["routes"]) + len(plan["unassigned"]) >= ORDERS
    browser_client = TestClient(client.app)
    browser_client.post(
        "/app/login", data={"email": "dispatcher@big-day.example", "password": PASSWORD}
    )
    report = []
    for name, url in _pages(plan_id, plan["routes"][0]["vehicle_id"]).items():
        times = []
        for _ in range(7):
            t = time.perf_counter()
            r = browser_client.get(url)
            times.append((time.perf_counter() - t) * 1000)
            assert r.status_code == 200, (url, r.text[:300])
        median = statistics.median(times[1:])
        report.append(
            f"| {name} | {median:.0f} | {max(times[1:]):.0f} | {len(r.content) // 1024} |"
        )
        assert median < BUDGET_MS * SLACK, (name, median)
    for url in (
        f"/app/api/plans/{plan_id}/geometry",
        "/app/api/basemap?bbox=9.47,47.04,9.64,47.27&zoom=12",
    ):
        times = []
        for _ in range(5):
            t = time.perf_counter()
            assert browser_client.get(url).status_code == 200
            times.append((time.perf_counter() - t) * 1000)
        report.append(
            f"| {url.split('?')[0]} (first / cached) | {times[0]:.0f} / "
            f"{statistics.median(times[1:]):.0f} | | |"
        )
    print("\n| page | server median ms | max ms | KiB |\n|---|---|---|---|")
    print("\n".join(report))


def test_browser_load_times_with_500_orders(
    big_day: tuple[TestClient, Any, str], dashboard_browser: Any
) -> None:
    client, org, plan_id = big_day
    plan = client.get(f"/api/v1/plans/{plan_id}", headers=org.dispatcher).json()
    with serve_app(client.app) as url:
        context = dashboard_browser.new_context(
            viewport={"width": 1366, "height": 768}, base_url=url
        )
        page = context.new_page()
        page.goto("/app/login")
        page.fill("#email", "dispatcher@big-day.example")
        page.fill("#password", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url("**/app/orders")
        report = []
        for name, path in _pages(plan_id, plan["routes"][0]["vehicle_id"]).items():
            loads = []
            for _ in range(3):
                page.goto(path, wait_until="load")
                loads.append(
                    page.evaluate(
                        "(() => { const n = performance.getEntriesByType('navigation')[0];"
                        " return n.loadEventEnd - n.startTime; })()"
                    )
                )
            median = statistics.median(loads)
            report.append(f"| {name} | {median:.0f} |")
            assert median < BUDGET_MS * SLACK, (name, median)
        context.close()
    print("\n| page | chromium load event ms (median of 3) |\n|---|---|")
    print("\n".join(report))
    assert Path(__file__).exists()
