"""The Shopify connector on SQLite and PostgreSQL, against a fake shop on loopback
(``helpers/fake_shopify.py``): signed webhooks make, update and cancel orders (idempotent by
the shop's order id, duplicates and stale versions dropped, forgeries refused, all logged),
linked to the address book; deliveries go back as a fulfilment with our tracking link and its
events through the GraphQL Admin API, under the outbound policy."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from helpers.fake_shopify import FakeShopify, order_payload
from helpers.service import OrgUsers, make_org
from lastmile.common.netguard import use_resolver
from lastmile.orders.models import Order
from lastmile.shops import apply, service
from lastmile.shops.models import ShopDelivery

WINDOW = [
    {"name": "Delivery date", "value": "2026-12-09"},
    {"name": "Delivery window", "value": "14-16"},
]


@pytest.fixture
def shop(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeShopify]:
    with FakeShopify() as fake, use_resolver(fake.resolver):
        monkeypatch.setattr(client.app.state.settings, "shopify_api_origin", fake.origin)  # type: ignore[attr-defined]
        yield fake


def _connect(client: TestClient, org: OrgUsers, shop: FakeShopify) -> dict[str, Any]:
    r = client.post(
        "/api/v1/shop-connections",
        json={
            "shop": f"https://{shop.host.upper()}/admin",
            "access_token": shop.token,
            "webhook_secret": shop.secret,
        },
        headers=org.admin,
    )
    assert r.status_code == 201, r.text
    data: dict[str, Any] = r.json()
    return data


def _send(
    client: TestClient,
    conn: dict[str, Any],
    shop: FakeShopify,
    topic: str,
    order: dict[str, Any],
    **kw: Any,
) -> Any:
    body, headers = shop.webhook(topic, order, **kw)
    return client.post(f"/api/v1/shopify/webhooks/{conn['id']}", content=body, headers=headers)


def _log(client: TestClient, org: OrgUsers, conn: dict[str, Any]) -> list[dict[str, Any]]:
    r = client.get(f"/api/v1/shop-connections/{conn['id']}/deliveries", headers=org.dispatcher)
    assert r.status_code == 200, r.text
    rows: list[dict[str, Any]] = r.json()
    return rows


def _settled(client: TestClient, org: OrgUsers, conn: dict[str, Any]) -> list[dict[str, Any]]:
    """The log once the queue has applied everything accepted."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        rows = _log(client, org, conn)
        if all(r["outcome"] != "accepted" for r in rows):
            return rows
        time.sleep(0.05)
    raise AssertionError(f"webhooks not applied: {_log(client, org, conn)}")


def _order(client: TestClient, org: OrgUsers, shop_order_id: int) -> dict[str, Any]:
    r = client.get(
        "/api/v1/orders", params={"q": f"shopify-{shop_order_id}"}, headers=org.dispatcher
    )
    (found,) = r.json()["items"]
    data: dict[str, Any] = found
    return data


def _move(client: TestClient, org: OrgUsers, order_id: str, *statuses: str) -> None:
    for status in statuses:
        r = client.post(
            f"/api/v1/orders/{order_id}/transitions", json={"to": status}, headers=org.dispatcher
        )
        assert r.status_code == 200, r.text


def test_orders_arrive_change_cancel_and_go_back_fulfilled(
    client: TestClient, shop: FakeShopify
) -> None:
    org = make_org(client, "Blumen Beck")
    conn = _connect(client, org, shop)
    assert conn["shop"] == shop.host and conn["api_version"] == "2025-07"
    assert conn["webhook_url"].endswith(f"/api/v1/shopify/webhooks/{conn['id']}")
    listed = client.get("/api/v1/shop-connections", headers=org.dispatcher).text
    assert shop.token not in listed and shop.secret not in listed  # write-only
    assert conn["access_token_hint"] == "••••" + shop.token[-4:]

    first = order_payload(
        5001, 1001, updated_at="2026-12-07T18:00:00+01:00",
        note_attributes=[*WINDOW, {"name": "Delivery instructions", "value": "back door"}],
        items=[("Red roses (12 stems)", 1), ("Card", 2)],
    )  # fmt: skip
    r = _send(client, conn, shop, "orders/create", first, webhook_id="wh-1")
    assert r.status_code == 200 and r.json()["outcome"] == "accepted"
    assert (
        _send(client, conn, shop, "orders/create", first, webhook_id="wh-1").json()["outcome"]
        == "duplicate"
    )
    _settled(client, org, conn)
    order = _order(client, org, 5001)
    assert order["date"] == "2026-12-09" and order["windows"] == [
        {"start": "14:00", "end": "16:00"}
    ]
    assert order["description"] == "#1001: 1 x Red roses (12 stems), 2 x Card"
    assert order["demand"] == {"parcels": 3.0} and order["notes"] == "back door"
    assert (order["customer"], order["email"], order["phone"]) == (
        "Anna Beck",
        "anna@example.li",
        "+423 111 11 11",
    )
    assert order["status"] == "ready" and order["address_verdict"] == "given"
    assert abs(order["lon"] - 9.5174) < 0.001

    (anna,) = client.get("/api/v1/customers", headers=org.dispatcher).json()["items"]
    assert anna["external_ref"] == f"shopify:{shop.host}:7001" and anna["orders"] == 1
    looked_up = anna["addresses"][0]["geocoded_at"]
    assert looked_up is not None

    # An edit: a new window; then an older version arriving late is dropped.
    edited = {**first, "updated_at": "2026-12-07T19:00:00+01:00", "note_attributes": [
        {"name": "delivery_date", "value": "09.12.2026"}, {"name": "Delivery Window", "value": "16:00 - 18:00"}]}  # fmt: skip
    assert _send(client, conn, shop, "orders/updated", edited).json()["outcome"] == "accepted"
    _settled(client, org, conn)
    late = {**first, "updated_at": "2026-12-07T18:30:00+01:00"}
    r = _send(client, conn, shop, "orders/updated", late)
    assert r.status_code == 200 and r.json()["outcome"] == "stale"
    assert "an older version" in r.json()["reason"]
    r = _send(client, conn, shop, "orders/updated", edited)  # Shopify's echo of the same version
    assert r.json()["outcome"] == "stale" and "the same version" in r.json()["reason"]
    order = _order(client, org, 5001)
    assert order["windows"] == [{"start": "16:00", "end": "18:00"}] and order["notes"] == ""

    # The same customer again, the address typed differently: not looked up again.
    second = order_payload(5002, 1002, updated_at="2026-12-07T20:00:00+01:00", address1="landstrasse 19",
                           city="VADUZ", note_attributes=WINDOW)  # fmt: skip
    third = order_payload(5003, 1003, updated_at="2026-12-07T20:05:00+01:00", customer_id=7002,
                          first_name="Bruno", last_name="Frick", address1="Foppastrasse 3",
                          zip_code="9497", city="Triesenberg", note_attributes=WINDOW)  # fmt: skip
    for payload in (second, third):
        assert _send(client, conn, shop, "orders/create", payload).json()["outcome"] == "accepted"
    _settled(client, org, conn)
    again = client.get(f"/api/v1/customers/{anna['id']}", headers=org.dispatcher).json()
    assert len(again["addresses"]) == 1 and again["addresses"][0]["geocoded_at"] == looked_up
    assert again["orders"] == 2
    assert (_order(client, org, 5002)["lon"], _order(client, org, 5002)["lat"]) == (
        order["lon"],
        order["lat"],
    )

    # Cancelled in the shop: cancelled here.
    cancelled = {
        **third,
        "updated_at": "2026-12-07T21:00:00+01:00",
        "cancelled_at": "2026-12-07T21:00:00+01:00",
    }
    assert _send(client, conn, shop, "orders/cancelled", cancelled).json()["outcome"] == "accepted"
    _settled(client, org, conn)
    assert _order(client, org, 5003)["status"] == "cancelled"

    # A forgery and another topic are refused, and logged with the reason.
    body, headers = shop.webhook(
        "orders/create",
        order_payload(5009, 1009, updated_at="2026-12-07T22:00:00Z"),
        secret="guessed-secret",
    )
    r = client.post(f"/api/v1/shopify/webhooks/{conn['id']}", content=body, headers=headers)
    assert r.status_code == 401
    r = _send(
        client, conn, shop, "products/update", {"id": 1, "updated_at": "2026-12-07T22:00:00Z"}
    )
    assert r.status_code == 200 and r.json()["outcome"] == "refused"
    log = _settled(client, org, conn)
    outcomes = [(row["shop_order_name"], row["outcome"]) for row in reversed(log)]
    assert outcomes == [
        ("#1001", "applied"), ("#1001", "duplicate"), ("#1001", "applied"), ("#1001", "stale"), ("#1001", "stale"),
        ("#1002", "applied"), ("#1003", "applied"), ("#1003", "applied"), ("", "refused"), ("", "refused"),
    ]  # fmt: skip
    assert "signature" in log[1]["reason"] and "products/update" in log[0]["reason"]
    with client.app.state.sessions() as session:  # type: ignore[attr-defined]
        assert (
            session.scalar(
                select(func.count()).select_from(Order).where(Order.external_id == "shopify-5009")
            )
            == 0
        )

    # Out with the driver: one fulfilment with our tracking link; then delivered.
    shop.add_order(5001, "#1001")
    _move(client, org, order["id"], "planned", "dispatched")
    time.sleep(0.3)
    assert shop.calls == []  # nothing to report before it leaves
    _move(client, org, order["id"], "out_for_delivery")
    _wait(lambda: "mutation lastmileFulfillmentEvent" in shop.operations())
    (made,) = shop.fulfillments.values()
    assert made["tracking"]["number"] == "shopify-5001" and made["notify_customer"] is True
    assert made["tracking"]["url"].startswith(
        client.app.state.settings.public_url.rstrip("/") + "/t/"
    )  # type: ignore[attr-defined]
    assert (
        client.get(
            made["tracking"]["url"].split("://", 1)[1].split("/", 1)[1].join(["/", ""])
        ).status_code
        == 200
    )
    _move(client, org, order["id"], "delivered")
    _wait(lambda: [e["status"] for e in made["events"]] == ["OUT_FOR_DELIVERY", "DELIVERED"])
    assert shop.operations() == [
        "query lastmileFulfillmentOrders", "mutation lastmileFulfillmentCreate",
        "mutation lastmileFulfillmentEvent", "mutation lastmileFulfillmentEvent",
    ]  # fmt: skip
    assert shop.refused == [] and all(c["errors"] is None for c in shop.calls)
    conn = client.get(f"/api/v1/shop-connections/{conn['id']}", headers=org.admin).json()
    assert conn["last_error"] is None


def _wait(condition: Any) -> None:
    deadline = time.monotonic() + 60
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("the shop was not told")
        time.sleep(0.05)


def test_the_answer_only_queues_the_work(client: TestClient, shop: FakeShopify) -> None:
    """Receiving stores the body and answers; the order is made later, by the job."""
    org = make_org(client, "Quick Shop")
    conn = _connect(client, org, shop)
    body, headers = shop.webhook(
        "orders/create", order_payload(6001, 2001, updated_at="2026-12-07T18:00:00Z")
    )
    with client.app.state.sessions() as session:  # type: ignore[attr-defined]
        received = service.receive(
            session=session, connection_id=conn["id"], body=body,
            headers={k.lower(): v for k, v in headers.items()},
        )  # fmt: skip
        assert (received.status, received.outcome, received.queue) == (200, "accepted", True)
        assert (
            session.scalar(
                select(func.count()).select_from(Order).where(Order.org_id == org.org_id)
            )
            == 0
        )
        apply.apply(session=session, delivery_id=received.delivery_id or "", geocoder=None)
        apply.apply(
            session=session, delivery_id=received.delivery_id or "", geocoder=None
        )  # again: nothing
        assert (
            session.scalar(
                select(func.count()).select_from(Order).where(Order.org_id == org.org_id)
            )
            == 1
        )
        row = session.get(ShopDelivery, received.delivery_id)
        assert row is not None and row.outcome == "applied" and row.body is None


def test_unreadable_attributes_are_named_and_nothing_is_made(
    client: TestClient, shop: FakeShopify
) -> None:
    org = make_org(client, "Picky Shop")
    conn = _connect(client, org, shop)
    bad = order_payload(
        7001,
        3001,
        updated_at="2026-12-07T18:00:00Z",
        note_attributes=[{"name": "Delivery date", "value": "32.13.2026"}],
    )
    assert _send(client, conn, shop, "orders/create", bad).json()["outcome"] == "accepted"
    (row,) = _settled(client, org, conn)
    assert (
        row["outcome"] == "failed"
        and "'Delivery date'" in row["reason"]
        and "32.13.2026" in row["reason"]
    )
    assert client.get("/api/v1/orders", headers=org.dispatcher).json()["total"] == 0
    # Fixed in the shop: the edit arrives and makes the order.
    fixed = {
        **bad,
        "updated_at": "2026-12-07T18:05:00Z",
        "note_attributes": [{"name": "Delivery date", "value": "2026-12-10"}],
    }
    _send(client, conn, shop, "orders/updated", fixed)
    _settled(client, org, conn)
    assert _order(client, org, 7001)["date"] == "2026-12-10"


def test_reports_go_out_only_where_the_outbound_policy_allows(
    client: TestClient, shop: FakeShopify
) -> None:
    org = make_org(client, "Guarded Shop")
    conn = _connect(client, org, shop)
    _send(
        client,
        conn,
        shop,
        "orders/create",
        order_payload(8001, 4001, updated_at="2026-12-07T18:00:00Z"),
    )
    _settled(client, org, conn)
    order = _order(client, org, 8001)
    shop.add_order(8001, "#4001")
    with use_resolver(
        lambda host, port: ["169.254.169.254"]
    ):  # the shop's name now points at metadata
        _move(client, org, order["id"], "planned", "dispatched", "out_for_delivery")
        deadline = time.monotonic() + 60
        while not client.get(f"/api/v1/shop-connections/{conn['id']}", headers=org.admin).json()[
            "last_error"
        ]:
            assert time.monotonic() < deadline
            time.sleep(0.05)
    error = client.get(f"/api/v1/shop-connections/{conn['id']}", headers=org.admin).json()[
        "last_error"
    ]
    assert "refused" in error and "not a public address" in error
    assert shop.calls == []
    # The name points at the shop again: the queue's retry gets through (and no retry is
    # left running after the test).
    _wait(lambda: "mutation lastmileFulfillmentEvent" in shop.operations())
    _wait(
        lambda: (
            client.get(f"/api/v1/shop-connections/{conn['id']}", headers=org.admin).json()[
                "last_error"
            ]
            is None
        )
    )


def test_connections_are_admins_and_their_organisations_own(
    client: TestClient, shop: FakeShopify
) -> None:
    mine, theirs = make_org(client, "Mine Shop"), make_org(client, "Their Shop")
    conn = _connect(client, theirs, shop)
    body = {
        "shop": "x.myshopify.com",
        "access_token": "shpat_12345678",
        "webhook_secret": "12345678",
    }
    assert (
        client.post("/api/v1/shop-connections", json=body, headers=mine.dispatcher).status_code
        == 403
    )
    assert client.get("/api/v1/shop-connections", headers=mine.driver).status_code == 403
    r = client.post(
        "/api/v1/shop-connections", json={**body, "shop": "shop.example.com"}, headers=mine.admin
    )
    assert r.status_code == 422 and "myshopify.com" in r.text
    for method, url in [
        ("GET", f"/api/v1/shop-connections/{conn['id']}"),
        ("PATCH", f"/api/v1/shop-connections/{conn['id']}"),
        ("DELETE", f"/api/v1/shop-connections/{conn['id']}"),
        ("POST", f"/api/v1/shop-connections/{conn['id']}/check"),
        ("GET", f"/api/v1/shop-connections/{conn['id']}/deliveries"),
    ]:
        r = client.request(method, url, json={} if method == "PATCH" else None, headers=mine.admin)
        assert r.status_code == 404, (method, url, r.text)
    assert client.get("/api/v1/shop-connections", headers=mine.admin).json() == []
    r = client.post(f"/api/v1/shop-connections/{conn['id']}/check", headers=theirs.admin)
    assert r.json() == {"ok": True, "shop_name": "Blumen Test", "error": None}
    assert shop.operations() == ["query lastmileShop"]
    r = client.patch(
        f"/api/v1/shop-connections/{conn['id']}",
        json={"access_token": "shpat_wrong_token"},
        headers=theirs.admin,
    )
    assert r.json()["access_token_hint"] == "••••oken"
    r = client.post(f"/api/v1/shop-connections/{conn['id']}/check", headers=theirs.admin)
    assert r.json()["ok"] is False and "access token" in r.json()["error"]
    assert (
        client.post("/api/v1/shopify/webhooks/shp_nosuchconnection0000", content=b"{}").status_code
        == 404
    )
    # Paused: Shopify is told to come back later (503), and it is logged.
    client.patch(
        f"/api/v1/shop-connections/{conn['id']}", json={"active": False}, headers=theirs.admin
    )
    r = _send(
        client, conn, shop, "orders/create", order_payload(1, 1, updated_at="2026-12-07T18:00:00Z")
    )
    assert r.status_code == 503 and "paused" in r.json()["reason"]
    assert _log(client, theirs, conn)[0]["outcome"] == "refused"
    r = client.post(f"/api/v1/shopify/webhooks/{conn['id']}", content=b"x" * 2_000_001)
    assert r.status_code == 413
