"""The shop page in the dashboard (Debian chromium, the app under uvicorn): an admin connects
a (fake) Shopify shop by pasting its address, token and secret; the secrets are not shown
again; the fake shop posts signed webhooks over HTTP to the URL the page shows, and the log
says what became of each; *Check connection* asks the shop. Screenshots go to
``test-artifacts/shop/``."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from helpers.browser import chromium
from helpers.fake_shopify import FakeShopify, order_payload
from helpers.live import serve_app
from helpers.service import PASSWORD, make_org, sqlite_settings
from lastmile.app import create_app
from lastmile.common.netguard import use_resolver

pytestmark = pytest.mark.browser
ARTIFACTS = Path(__file__).parents[2] / "test-artifacts" / "shop"


@pytest.fixture(scope="module")
def shop() -> Iterator[FakeShopify]:
    with FakeShopify() as fake, use_resolver(fake.resolver):
        yield fake


@pytest.fixture(scope="module")
def live(
    tmp_path_factory: pytest.TempPathFactory, shop: FakeShopify
) -> Iterator[tuple[TestClient, str]]:
    settings = sqlite_settings(tmp_path_factory.mktemp("shop-data"), shopify_api_origin=shop.origin)
    with TestClient(create_app(settings)) as client, serve_app(client.app) as url:
        yield client, url


def test_connect_a_shop_and_read_what_arrived(
    live: tuple[TestClient, str], shop: FakeShopify
) -> None:
    client, url = live
    make_org(client, "Blumen Page")
    with chromium() as browser:
        context = browser.new_context(viewport={"width": 1366, "height": 900}, base_url=url)
        page = context.new_page()
        problems: list[str] = []
        page.on("pageerror", lambda exc: problems.append(str(exc)))
        page.goto("/app/shop")
        page.fill("#email", "admin@blumen-page.example")
        page.fill("#password", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url("**/app/shop")
        page.fill("#connect-shop input[name=shop]", f"https://{shop.host}/admin")
        page.fill("#connect-shop input[name=access_token]", shop.token)
        page.fill("#connect-shop input[name=webhook_secret]", shop.secret)
        page.click("#connect-shop button[type=submit]")
        page.wait_for_selector(".shop-connection")
        text = page.locator(".shop-connection").inner_text()
        assert shop.host in text and shop.token not in text and shop.secret not in text
        assert "••••" + shop.token[-4:] in text
        hook_url = page.locator(".webhook-url").inner_text()
        assert hook_url.startswith("http://localhost:8000/api/v1/shopify/webhooks/shp_")

        # The shop posts over HTTP to that path on this server.
        target = url + "/api/v1/shopify/webhooks/" + hook_url.rsplit("/", 1)[1]
        sent = order_payload(9001, 1001, updated_at="2026-12-07T18:00:00+01:00", note_attributes=[
            {"name": "Delivery date", "value": "2026-12-09"}, {"name": "Delivery time", "value": "9-12"}])  # fmt: skip
        for topic, body, webhook_id, secret in [
            ("orders/create", sent, "wh-a", None),
            ("orders/create", sent, "wh-a", None),
            ("orders/create", sent, "wh-b", "not-the-secret"),
        ]:
            data, headers = shop.webhook(topic, body, webhook_id=webhook_id, secret=secret)
            httpx.post(target, content=data, headers=headers, timeout=10)
        deadline = time.monotonic() + 60
        while True:
            page.reload()
            results = page.locator(".shop-log tbody tr td:nth-child(4)").all_inner_texts()
            if "applied" in results or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert results == ["refused", "duplicate (dropped)", "applied"]
        assert "signature" in page.locator(".shop-log tbody tr").first.inner_text()
        page.click(".check-shop")
        page.wait_for_selector(".check-result.ok")
        assert "Blumen Test" in page.locator(".check-result").inner_text()
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "01-log.png"), full_page=True)
        page.click(".shop-log a:has-text('open')")
        page.wait_for_url("**/app/orders/ord_*")
        assert "#1001" in page.locator("#order-what").inner_text()
        assert "Shopify order #1001" in page.locator("#order-shop").inner_text()
        page.click("#order-address-book")
        page.wait_for_url("**/app/customers/cus_*")
        assert page.locator("#customer-name").inner_text() == "Anna Beck"
        assert problems == []
        context.close()
