"""Standing orders in the dashboard (Debian chromium, the app under uvicorn): on a customer's
page the owner makes "every Tuesday and Friday, 8-10, 2 bread baskets", sees the coming
dates with their orders, changes the window, pauses for holidays, skips one date, closes a
public holiday for the whole business, resumes and stops it; a standing order without a
weekday is refused with the field named and nothing is made.

The organisation runs on its own business clock (Monday 2027-03-22, 10:00 in Vaduz), so the
dates are the same whenever the test runs. The test reads the API only to check what the
pages did. Screenshots go to ``test-artifacts/standing/``.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient

from helpers.browser import chromium
from helpers.live import serve_app
from helpers.service import PASSWORD, OrgUsers, make_org, sqlite_settings
from lastmile.app import create_app
from lastmile.orgs import clock as org_clock
from lastmile.orgs.models import Organisation

pytestmark = pytest.mark.browser
ARTIFACTS = Path(__file__).parents[2] / "test-artifacts" / "standing"


@pytest.fixture(scope="module")
def web_client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    settings = sqlite_settings(tmp_path_factory.mktemp("standing-data"))
    with TestClient(create_app(settings)) as client:
        yield client


@pytest.fixture(scope="module")
def org(web_client: TestClient) -> OrgUsers:
    org = make_org(web_client, "Backstube")
    with web_client.app.state.sessions() as session:  # type: ignore[attr-defined]
        session.get(Organisation, org.org_id).simulation = True  # type: ignore[union-attr]
        session.commit()
        org_clock.set_clock(
            session=session,
            org_id=org.org_id,
            start=datetime(2027, 3, 22, 10, tzinfo=ZoneInfo("Europe/Vaduz")),
            speed=1.0,
        )
    return org


@pytest.fixture(scope="module")
def page(web_client: TestClient) -> Iterator[Any]:
    with serve_app(web_client.app) as url, chromium() as browser:
        context = browser.new_context(viewport={"width": 1366, "height": 1000}, base_url=url)
        page = context.new_page()
        problems: list[str] = []
        page.on("pageerror", lambda exc: problems.append(str(exc)))
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        page.on("dialog", lambda dialog: dialog.accept())
        page.problems = problems
        yield page
        context.close()


def _shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def _orders(client: TestClient, org: OrgUsers) -> dict[str, dict[str, Any]]:
    r = client.get("/api/v1/orders", params={"limit": 500}, headers=org.dispatcher)
    assert r.status_code == 200, r.text
    return {o["date"]: o for o in r.json()["items"]}


def _dates(page: Any) -> dict[str, str]:
    """The coming dates table of the (first) standing order: date -> state."""
    page.wait_for_selector("article.standing table.standing-dates tbody tr[data-date]")
    rows = page.locator("article.standing").first.locator("tbody tr[data-date]")
    return {
        rows.nth(i).get_attribute("data-date"): rows.nth(i).get_attribute("data-state")
        for i in range(rows.count())
    }


def _wait_for_section(page: Any) -> None:
    page.wait_for_selector("#standing-orders #standing-h")
    page.wait_for_selector("#new-standing")


def test_an_owner_sets_up_and_runs_a_standing_order(
    page: Any, web_client: TestClient, org: OrgUsers
) -> None:
    r = web_client.post(
        "/api/v1/customers",
        json={
            "name": "Café Sonne",
            "preferred_windows": [{"start": "08:00", "end": "10:00"}],
            "addresses": [
                {"address": "Städtle 1, 9490 Vaduz", "lon": 9.5215, "lat": 47.1397,
                 "instructions": "kitchen door"}
            ],
        },
        headers=org.dispatcher,
    )  # fmt: skip
    assert r.status_code == 201, r.text
    customer = r.json()

    page.goto(f"/app/customers/{customer['id']}")
    page.fill("#email", "dispatcher@backstube.example")
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"**/app/customers/{customer['id']}")
    _wait_for_section(page)
    assert "No standing order yet" in page.locator("#standing-orders").inner_text()

    # Bad input first: no weekday ticked. The field is named; nothing is made.
    page.click("#new-standing summary")
    form = page.locator("#new-standing-form")
    form.locator("button[type=submit]").click()
    page.wait_for_selector("#toast.show.error")
    assert "weekdays" in page.locator("#toast").inner_text()
    assert web_client.get("/api/v1/standing-orders", headers=org.dispatcher).json() == []

    # Every Tuesday and Friday, 8-10 (the customer's preferred window, prefilled).
    assert form.locator("input[name=windows]").input_value() == "08:00-10:00"
    form.locator("input[name=weekdays][value=tue]").check()
    form.locator("input[name=weekdays][value=fri]").check()
    form.locator("input[name=description]").fill("2 bread baskets")
    form.locator("input[name=demand]").fill("crates: 2")
    form.locator("input[name=notes]").fill("ring at the back")
    with page.expect_navigation():
        form.locator("button[type=submit]").click()
    _wait_for_section(page)
    card = page.locator("article.standing").first
    assert "Every Tuesday and Friday, 08:00-10:00" in card.inner_text()
    dates = _dates(page)
    assert dates["2027-03-23"] == "made" and dates["2027-04-02"] == "made"
    assert dates["2027-04-06"] == "upcoming"  # beyond the 14 days ahead
    orders = _orders(web_client, org)
    assert sorted(orders) == ["2027-03-23", "2027-03-26", "2027-03-30", "2027-04-02"]
    first = orders["2027-03-23"]
    assert first["windows"] == [{"start": "08:00", "end": "10:00"}]
    assert first["demand"] == {"crates": 2.0} and first["description"] == "2 bread baskets"
    assert first["notes"] == "kitchen door\nring at the back"
    assert card.locator(f"a[href='/app/orders/{first['id']}']").count() == 1
    _shot(page, "01-made")
    # The order's own page says which standing order made it.
    page.goto(f"/app/orders/{first['id']}")
    assert page.locator("#order-standing").inner_text() == "every Tuesday and Friday"
    page.goto(f"/app/customers/{customer['id']}")
    _wait_for_section(page)
    card = page.locator("article.standing").first

    # The window changes for every coming order.
    card.locator("button.toggle", has_text="Edit").click()
    edit = card.locator("form.standing-form")
    edit.locator("input[name=windows]").fill("14-16")
    with page.expect_navigation():
        edit.locator("button[type=submit]").click()
    _wait_for_section(page)
    orders = _orders(web_client, org)
    assert {o["windows"][0]["start"] for o in orders.values()} == {"14:00"}

    # Holidays from Friday 26 to Wednesday 31 March.
    card = page.locator("article.standing").first
    card.locator("button.toggle", has_text="Pause").click()
    pause = card.locator("form.pause-form")
    pause.locator("input[name=paused_from]").fill("2027-03-26")
    pause.locator("input[name=paused_until]").fill("2027-03-31")
    with page.expect_navigation():
        pause.locator("button[type=submit]").click()
    _wait_for_section(page)
    dates = _dates(page)
    assert dates["2027-03-26"] == "paused" and dates["2027-03-30"] == "paused"
    assert sorted(_orders(web_client, org)) == ["2027-03-23", "2027-04-02"]
    assert "Paused from 2027-03-26 until 2027-03-31" in page.locator(".paused-note").inner_text()
    _shot(page, "02-paused")

    # Skip Friday 2 April: its order is cancelled, the rule stays.
    with page.expect_navigation():
        page.locator("button.skip-date[data-date='2027-04-02']").click()
    _wait_for_section(page)
    assert _dates(page)["2027-04-02"] == "cancelled"
    assert _orders(web_client, org)["2027-04-02"]["status"] == "cancelled"

    # A closed day for the whole business: Tuesday 23 March.
    page.goto("/app/standing-orders")
    assert "Café Sonne" in page.locator("#standing-table").inner_text()
    closed = page.locator("#new-closed-day")
    closed.locator("input[name=date]").fill("2027-03-23")
    closed.locator("input[name=note]").fill("Josefstag")
    with page.expect_navigation():
        closed.locator("button[type=submit]").click()
    assert "Josefstag" in page.locator("#closed-days").inner_text()
    assert "2027-03-23" not in _orders(web_client, org)
    _shot(page, "03-closed-day")

    # Back on the customer's page: the closed day shows; resume brings the holidays back.
    page.goto(f"/app/customers/{customer['id']}")
    _wait_for_section(page)
    assert _dates(page)["2027-03-23"] == "closed"
    with page.expect_navigation():
        page.locator("button.resume-standing").click()
    _wait_for_section(page)
    assert {"2027-03-26", "2027-03-30"} <= set(_orders(web_client, org))

    # Stop: the coming orders go (the cancelled one stays cancelled).
    with page.expect_navigation():
        page.locator("button.stop-standing").click()
    _wait_for_section(page)
    assert "No standing order yet" in page.locator("#standing-orders").inner_text()
    remaining = _orders(web_client, org)
    assert [o["status"] for o in remaining.values()] == ["cancelled"]
    refused = [p for p in page.problems if "status of 422" in p]
    assert len(refused) == 1  # the standing order without a weekday, and nothing else
    assert [p for p in page.problems if p not in refused] == []
