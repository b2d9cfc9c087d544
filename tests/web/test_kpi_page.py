"""The KPI page in a real browser (Debian chromium) against the app under uvicorn: log a
"where is my order" contact from the orders page, read the tiles (they must say what the API
says), see the trend charts drawn, create a baseline-vs-pilot comparison with the form and open
its report. Screenshots go to ``test-artifacts/kpis/``."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from helpers.browser import chromium
from helpers.kpi_days import MONDAY, week
from helpers.live import serve_app
from helpers.service import PASSWORD, make_org, sqlite_settings
from lastmile.analytics.pages import TILES
from lastmile.analytics.report import fmt
from lastmile.app import create_app
from lastmile.core.kpi import BY_NAME, METRICS

SHOTS = Path(__file__).parents[2] / "test-artifacts" / "kpis"
LAST = MONDAY + timedelta(days=13)


@pytest.fixture(scope="module")
def kpi_client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    data_dir = tmp_path_factory.mktemp("kpi-page")
    settings = sqlite_settings(data_dir, geocode_imports=False)
    with TestClient(create_app(settings)) as client:
        yield client


def _shot(page: Any, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def _api_kpis(client: TestClient, headers: dict[str, str], **params: str) -> dict[str, Any]:
    r = client.get("/api/v1/kpis", params=params, headers=headers)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def _api_value(kpis: dict[str, Any], name: str) -> float | None:
    if name == "cost_per_delivery":
        value: float | None = kpis["cost"]["per_delivery"]
        return value
    return kpis[name]  # type: ignore[no-any-return]


def test_kpi_page_agrees_with_the_api_and_makes_comparisons(kpi_client: TestClient) -> None:
    org = make_org(kpi_client, "KPI Co")
    week(kpi_client, org, MONDAY, late=1, failed=1)
    week(kpi_client, org, MONDAY + timedelta(days=7), late=0, failed=0)
    depot = kpi_client.post(
        "/api/v1/depots", json={"name": "Depot Vaduz", "lon": 9.52, "lat": 47.14}, headers=org.admin
    )
    assert depot.status_code == 201, depot.text

    with serve_app(kpi_client.app) as url, chromium() as browser:
        context = browser.new_context(viewport={"width": 1366, "height": 900}, base_url=url)
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(f"/app/orders?date={MONDAY.isoformat()}")
        page.fill("#email", "dispatcher@kpi-co.example")
        page.fill("#password", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url("**/app/orders**")

        # A customer phoned about the first order of Monday: log it from the orders table.
        page.locator("#orders-table .log-contact").first.click()
        page.select_option("#contact-channel", "phone")
        page.fill("#contact-note", "Where is my parcel?")
        page.click("#contact-save")
        page.wait_for_selector("#toast.show")
        assert "contact logged" in page.inner_text("#toast")
        monday = _api_kpis(kpi_client, org.dispatcher, **{"from": MONDAY.isoformat()})
        assert monday["contacts_per_order"] == pytest.approx(1 / 4)

        page.goto(f"/app/kpis?from={MONDAY.isoformat()}&to={LAST.isoformat()}")
        page.wait_for_function(
            f"document.querySelectorAll('.charts canvas').length === {len(METRICS)}"
        )
        assert page.locator("#failure-chart").count() == 1
        shown = _api_kpis(
            kpi_client, org.dispatcher, **{"from": MONDAY.isoformat(), "to": LAST.isoformat()}
        )
        for _, names in TILES:
            for name in names:
                tile = page.locator(f'.kpi-tiles [data-metric="{name}"] b').inner_text()
                assert tile == fmt(_api_value(shown, name), BY_NAME[name].unit), name
        assert shown["on_time_rate"] == pytest.approx(14 / 16)
        assert page.locator("#failure-table td").first.inner_text() == "nobody at home"
        csv_href = page.get_attribute("#kpi-csv", "href")
        assert csv_href is not None
        exported = page.request.get(csv_href)
        assert exported.ok and "delivered,16" in exported.text()
        _shot(page, "01-kpis")

        # Weekly trends: two points per chart.
        page.select_option("select[name=bucket]", "week")
        page.click("#kpi-filters button[type=submit]")
        page.wait_for_url("**bucket=week**")
        page.wait_for_function("document.querySelectorAll('.charts canvas').length > 0")
        points = page.evaluate(
            "Chart.getChart(document.querySelector('[data-metric=on_time_rate] canvas'))"
            ".data.datasets[0].data"
        )
        assert points == [75.0, 100.0]

        # Baseline (week 1) vs pilot (week 2) with two objectives, through the form.
        form = page.locator("#comparison-form")
        form.locator("input[name=name]").fill("Two-wave routing")
        form.locator("input[name=baseline_from]").fill(MONDAY.isoformat())
        form.locator("input[name=baseline_to]").fill((MONDAY + timedelta(days=6)).isoformat())
        form.locator("input[name=pilot_from]").fill((MONDAY + timedelta(days=7)).isoformat())
        form.locator("input[name=pilot_to]").fill(LAST.isoformat())
        for _ in range(3):
            page.click("#add-objective")
        rows = form.locator(".objective")
        rows.nth(0).locator("select[name=metric]").select_option("on_time_rate")
        rows.nth(0).locator("select[name=kind]").select_option("at_least")
        rows.nth(0).locator("input[name=target]").fill("95")
        rows.nth(1).locator("select[name=metric]").select_option("failed_attempts")
        rows.nth(1).locator("select[name=kind]").select_option("change_at_most")
        rows.nth(1).locator("input[name=target]").fill("-50")
        rows.nth(2).locator("select[name=metric]").select_option("avg_delivery_time_s")
        rows.nth(2).locator("select[name=kind]").select_option("at_most")
        rows.nth(2).locator("input[name=target]").fill("1000")  # minutes, as the form says
        with page.expect_navigation():
            form.locator("button[type=submit]").click()
        row = page.locator("#comparisons-table tbody tr").first
        assert "Two-wave routing" in row.inner_text()
        assert "On time at least 95.0 %" in row.inner_text()
        stored = kpi_client.get("/api/v1/comparisons", headers=org.dispatcher).json()[0]
        assert [
            (o["metric"], o["op"], o["target"], o["relative"]) for o in stored["objectives"]
        ] == [
            ("on_time_rate", "at_least", 0.95, False),
            ("failed_attempts", "at_most", -0.5, True),
            ("avg_delivery_time_s", "at_most", 60000.0, False),
        ]
        _shot(page, "02-comparisons")

        with context.expect_page() as opened:
            row.locator("a", has_text="HTML").click()
        report = opened.value
        report.wait_for_load_state()
        assert report.locator("[data-testid=overall]").inner_text() == "All objectives met"
        assert report.locator("svg").count() >= 1
        _shot(report, "03-report")

        # A bad objective is refused with the field named, and nothing is stored.
        page.goto(f"/app/kpis?from={MONDAY.isoformat()}&to={LAST.isoformat()}")
        form = page.locator("#comparison-form")
        form.locator("input[name=name]").fill("Backwards")
        form.locator("input[name=baseline_from]").fill(LAST.isoformat())
        form.locator("input[name=baseline_to]").fill(MONDAY.isoformat())
        form.locator("input[name=pilot_from]").fill(MONDAY.isoformat())
        form.locator("input[name=pilot_to]").fill(LAST.isoformat())
        form.locator("button[type=submit]").click()
        page.wait_for_function("document.getElementById('comparison-error').textContent !== ''")
        assert "baseline.to" in page.inner_text("#comparison-error")
        assert len(kpi_client.get("/api/v1/comparisons", headers=org.dispatcher).json()) == 1

        # A baseline typed in from the spreadsheet era: two months, in the form's units.
        page.goto(f"/app/kpis?from={MONDAY.isoformat()}&to={LAST.isoformat()}")
        form = page.locator("#comparison-form")
        form.locator("input[name=name]").fill("Before lastmile")
        page.check("#typed-toggle")
        page.click("#add-period")
        periods = form.locator(".typed-period")
        for i, (start, end, orders, on_time, minutes) in enumerate(
            [
                ("2026-09-01", "2026-09-30", "300", "60", "40"),
                ("2026-10-01", "2026-10-31", "100", "80", ""),
            ]
        ):
            block = periods.nth(i)
            block.locator("input[name=typed_from]").fill(start)
            block.locator("input[name=typed_to]").fill(end)
            block.locator("input[name=typed_orders]").fill(orders)
            block.locator("[data-metric=on_time_rate]").fill(on_time)
            if minutes:
                block.locator("[data-metric=avg_delivery_time_s]").fill(minutes)
        form.locator("input[name=pilot_from]").fill(MONDAY.isoformat())
        form.locator("input[name=pilot_to]").fill(LAST.isoformat())
        _shot(page, "04-typed-baseline")
        with page.expect_navigation():
            form.locator("button[type=submit]").click()
        assert (
            "typed in, 2026-09-01 to 2026-10-31"
            in page.locator("#comparisons-table tbody tr").first.inner_text()
        )
        typed = kpi_client.get("/api/v1/comparisons", headers=org.dispatcher).json()[0]
        assert typed["baseline"]["typed"][0]["values"] == {
            "on_time_rate": 0.6,
            "avg_delivery_time_s": 2400.0,
        }
        assert typed["baseline"]["typed"][1]["orders"] == 100
        assert errors == []
        context.close()
