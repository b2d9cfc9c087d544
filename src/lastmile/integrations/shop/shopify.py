"""Shopify: webhook signatures and the GraphQL Admin API calls that report a delivery back.

Speaks the Admin API version :data:`API_VERSION` (pinned: Shopify keeps a version for a year;
moving to a newer one is a deliberate change here and in ``docs/connectors/shopify.md``).
Built against Shopify's documentation of webhooks (``X-Shopify-Hmac-Sha256``: the base64
HMAC-SHA256 of the raw body with the webhook signing secret) and of ``fulfillmentCreate`` /
``fulfillmentEventCreate`` on an order's fulfillment orders; tested against a fake shop on
loopback (``tests/helpers/fake_shopify.py``), since a real shop cannot run here.

Every call goes out under the outbound policy (``common/netguard.py``): the shop's host is
resolved once, refused if it is not public, and connected to as checked.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from dataclasses import dataclass
from typing import Any

import httpx

from lastmile.common.netguard import BLOCKED, Policy, guarded

API_VERSION = "2025-07"
"""The Admin API version every call names (``/admin/api/2025-07/graphql.json``)."""
SHOP_HOST = re.compile(r"^[a-z0-9][a-z0-9-]{0,60}\.myshopify\.com$")
"""A shop's own host: ``<name>.myshopify.com`` (custom domains do not serve the Admin API)."""
TIMEOUT_S = 10.0
OPEN_STATUSES = frozenset({"OPEN", "IN_PROGRESS"})
"""Fulfillment orders that can still be fulfilled."""


def normal_host(text: str) -> str:
    """``https://My-Shop.myshopify.com/admin`` -> ``my-shop.myshopify.com``; ValueError if it is
    not a ``*.myshopify.com`` host."""
    host = text.strip().lower()
    host = re.sub(r"^https?://", "", host).split("/", 1)[0].rstrip(".")
    if not SHOP_HOST.fullmatch(host):
        raise ValueError("must be your shop's *.myshopify.com address, e.g. my-shop.myshopify.com")
    return host


def signature(secret: str, body: bytes) -> str:
    """The ``X-Shopify-Hmac-Sha256`` value of ``body``: base64 of its HMAC-SHA256."""
    digest = hmac.new(secret.encode(), body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def signed(secret: str, body: bytes, header: str | None) -> bool:
    """Whether ``header`` is the signature of the raw ``body`` (compared in constant time)."""
    if not header or not secret:
        return False
    return hmac.compare_digest(signature(secret, body).encode(), header.strip().encode())


class ShopifyError(Exception):
    """A call failed: no connection, refused by the outbound policy, HTTP error, GraphQL or
    user errors. The message says which, for the connector's log."""


@dataclass(frozen=True)
class Shop:
    """Where and how to call one shop."""

    host: str
    access_token: str
    origin: str = "https://{shop}"
    """``https://{shop}``; a test points it at a fake shop (``http://{shop}:PORT``)."""

    @property
    def endpoint(self) -> str:
        return self.origin.format(shop=self.host).rstrip("/") + (
            f"/admin/api/{API_VERSION}/graphql.json"
        )


ORDER_QUERY = """
query lastmileFulfillmentOrders($id: ID!) {
  order(id: $id) {
    id
    fulfillmentOrders(first: 20) { nodes { id status } }
    fulfillments(first: 10) { id status }
  }
}
"""
FULFILLMENT_CREATE = """
mutation lastmileFulfillmentCreate($fulfillment: FulfillmentInput!, $message: String) {
  fulfillmentCreate(fulfillment: $fulfillment, message: $message) {
    fulfillment { id status }
    userErrors { field message }
  }
}
"""
EVENT_CREATE = """
mutation lastmileFulfillmentEvent($fulfillmentEvent: FulfillmentEventInput!) {
  fulfillmentEventCreate(fulfillmentEvent: $fulfillmentEvent) {
    fulfillmentEvent { id status }
    userErrors { field message }
  }
}
"""
SHOP_QUERY = "query lastmileShop { shop { name myshopifyDomain } }"


def call(shop: Shop, policy: Policy, query: str, variables: dict[str, Any]) -> dict[str, Any]:
    """One GraphQL request; the ``data`` object, or :class:`ShopifyError`."""
    with guarded(policy) as checked:
        try:
            with httpx.Client(timeout=TIMEOUT_S, follow_redirects=False, trust_env=False) as client:
                response = client.post(
                    shop.endpoint,
                    json={"query": query, "variables": variables},
                    headers={"X-Shopify-Access-Token": shop.access_token},
                )
        except httpx.HTTPError as exc:
            if checked.blocked:
                raise ShopifyError(f"refused: {checked.blocked[-1][:200]} {BLOCKED}") from exc
            raise ShopifyError(f"no connection to {shop.host}") from exc
    if response.status_code == 401:
        raise ShopifyError("the shop refused the access token (401): paste a new one")
    if response.status_code == 403:
        raise ShopifyError(
            "the access token lacks a permission (403): it needs read_orders, the fulfillment-order scopes and write_fulfillments"
        )
    if response.status_code >= 400:
        raise ShopifyError(f"HTTP {response.status_code} from {shop.host}")
    try:
        body = response.json()
    except ValueError as exc:
        raise ShopifyError("the shop's answer is not JSON") from exc
    if body.get("errors"):
        raise ShopifyError(
            "GraphQL: " + "; ".join(str(e.get("message", e)) for e in body["errors"])[:500]
        )
    data: dict[str, Any] = body.get("data") or {}
    return data


def _user_errors(payload: dict[str, Any] | None) -> None:
    errors = (payload or {}).get("userErrors") or []
    if errors:
        raise ShopifyError("; ".join(str(e.get("message")) for e in errors)[:500])


def order_gid(order_id: int | str) -> str:
    return f"gid://shopify/Order/{order_id}"


def fulfil(
    shop: Shop,
    policy: Policy,
    *,
    order_id: int | str,
    tracking_url: str,
    tracking_number: str,
    company: str,
    notify_customer: bool = True,
) -> str:
    """Fulfil every open fulfillment order of the shop's order with our tracking link; the
    fulfillment's id. An order already fulfilled (a retry after a lost answer) gives the
    existing fulfillment's id instead of a second one."""
    data = call(shop, policy, ORDER_QUERY, {"id": order_gid(order_id)})
    order = data.get("order")
    if not order:
        raise ShopifyError(f"the shop has no order {order_id}")
    open_ones = [
        n["id"] for n in order["fulfillmentOrders"]["nodes"] if n.get("status") in OPEN_STATUSES
    ]
    if not open_ones:
        existing = [f["id"] for f in order.get("fulfillments") or []]
        if existing:
            return str(existing[0])
        raise ShopifyError("the order has nothing left to fulfil (no open fulfillment order)")
    data = call(
        shop,
        policy,
        FULFILLMENT_CREATE,
        {
            "fulfillment": {
                "lineItemsByFulfillmentOrder": [{"fulfillmentOrderId": i} for i in open_ones],
                "notifyCustomer": notify_customer,
                "trackingInfo": {
                    "url": tracking_url,
                    "number": tracking_number,
                    "company": company,
                },
            },
            "message": "Out for delivery",
        },
    )
    payload = data.get("fulfillmentCreate")
    _user_errors(payload)
    fulfillment = (payload or {}).get("fulfillment") or {}
    if not fulfillment.get("id"):
        raise ShopifyError("fulfillmentCreate answered without a fulfillment")
    return str(fulfillment["id"])


def report(
    shop: Shop, policy: Policy, *, fulfillment_id: str, status: str, happened_at: str, message: str
) -> None:
    """A fulfillment event: ``OUT_FOR_DELIVERY``, ``DELIVERED``, ``ATTEMPTED_DELIVERY``."""
    data = call(
        shop,
        policy,
        EVENT_CREATE,
        {
            "fulfillmentEvent": {
                "fulfillmentId": fulfillment_id,
                "status": status,
                "happenedAt": happened_at,
                "message": message,
            }
        },
    )
    _user_errors(data.get("fulfillmentEventCreate"))


def shop_name(shop: Shop, policy: Policy) -> str:
    """The shop's name (a connection test: the host answers and the token is accepted)."""
    data = call(shop, policy, SHOP_QUERY, {})
    return str((data.get("shop") or {}).get("name") or shop.host)
