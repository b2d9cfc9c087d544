"""The address book in the dashboard (Debian chromium, the app under uvicorn): add a customer
with an address the map cannot place, search for them, drag the pin to the door, and make
two orders in a few clicks; both are placed at that door without geocoding.

The test only reads the API to check what the pages did. Screenshots go to
``test-artifacts/customers/``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from helpers.browser import watched_page
from helpers.service import PASSWORD, OrgUsers, make_org, sqlite_settings
from lastmile.app import create_app

pytestmark = pytest.mark.browser
ARTIFACTS = Path(__file__).parents[2] / "test-artifacts" / "customers"


@pytest.fixture(scope="module")
def web_client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    settings = sqlite_settings(tmp_path_factory.mktemp("customers-data"))
    with TestClient(create_app(settings)) as client:
        yield client


@pytest.fixture(scope="module")
def org(web_client: TestClient) -> OrgUsers:
    return make_org(web_client, "Backstube")


@pytest.fixture(scope="module")
def page(web_client: TestClient) -> Iterator[Any]:
    with watched_page(web_client.app, 1366, 900) as page:
        yield page


def _shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def test_customer_to_orders_in_a_few_clicks(
    page: Any, web_client: TestClient, org: OrgUsers
) -> None:
    page.goto("/app/customers")
    page.fill("#email", "dispatcher@backstube.example")
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/app/customers")
    assert "No customers yet" in page.locator("#customers-table").inner_text()

    form = page.locator("#new-customer")
    form.locator("input[name=name]").fill("Fritz Nigg")
    form.locator("input[name=phone]").fill("+423 999 88 77")
    form.locator("input[name=address]").fill("Nirgendwostrasse 99, 9490 Vaduz")
    form.locator("input[name=instructions]").fill("back door")
    form.locator("input[name=windows]").fill("8-12")
    form.locator("button[type=submit]").click()
    page.wait_for_url("**/app/customers/cus_*")
    assert page.locator("#customer-name").inner_text() == "Fritz Nigg"
    assert "drag the orange pin" in page.locator("#addresses-table").inner_text()
    assert page.locator("#new-order select option").first.is_disabled()
    assert "drag the orange pin" in page.locator("#no-placed-address").inner_text()
    _shot(page, "01-unplaced")

    # Search finds him by phone digits typed with other spacing.
    page.goto("/app/customers?q=99988")
    assert page.locator("#customers-table tbody tr").count() == 1
    page.click("#customers-table a:has-text('Fritz Nigg')")
    page.wait_for_url("**/app/customers/cus_*")

    # Drag the pin to the door: saved at once, then the order form offers the address.
    pin = page.locator(".leaflet-marker-icon").first
    box = pin.bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] - 2)
    page.mouse.down()
    page.mouse.move(box["x"] + 80, box["y"] + 40, steps=8)
    page.mouse.up()
    page.wait_for_selector("#addresses-table .ok")
    assert "pin confirmed" in page.locator("#addresses-table").inner_text()
    (customer,) = web_client.get("/api/v1/customers", headers=org.dispatcher).json()["items"]
    door = customer["addresses"][0]
    assert door["confirmed"] and door["lon"] is not None and door["geocoded_at"] is not None
    _shot(page, "02-placed")

    made = []
    for what in ("sourdough loaf", "croissants"):
        page.fill("#new-order input[name=description]", what)
        assert page.input_value("#new-order input[name=windows]") == "08:00-12:00"
        page.click("#new-order button[type=submit]")
        page.wait_for_url("**/app/orders/ord_*")
        assert what in page.locator("#order-what").inner_text()
        made.append(page.url.rsplit("/", 1)[1])
        page.go_back()
        page.wait_for_url("**/app/customers/cus_*")
        page.reload()
    orders = web_client.get(
        f"/api/v1/customers/{customer['id']}/orders", headers=org.dispatcher
    ).json()
    assert {o["id"] for o in orders} == set(made)
    for o in orders:
        assert (o["lon"], o["lat"]) == (door["lon"], door["lat"])
        assert o["address_verdict"] == "given" and o["status"] == "ready"
        assert o["customer"] == "Fritz Nigg" and o["notes"] == "back door"
        assert o["windows"] == [{"start": "08:00", "end": "12:00"}]
    assert page.locator("#customer-orders tbody tr").count() == 2

    # Edit the address: a label and a spelling fix keep the confirmed pin.
    page.click(".edit-address")
    editor = page.locator(".edit-address-form")
    editor.locator("input[name=label]").fill("home")
    editor.locator("input[name=address]").fill("nirgendwostrasse 99, 9490 VADUZ")
    with page.expect_navigation():
        editor.locator("button[type=submit]").click()
    assert "home" in page.locator("#addresses-table").inner_text()
    assert "pin confirmed" in page.locator("#addresses-table").inner_text()
    _shot(page, "03-orders")
    assert page.problems == []
