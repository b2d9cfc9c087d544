"""A fake Shopify shop on loopback: the GraphQL Admin API (a subset of its schema, written from
Shopify's documentation of API version 2025-07) and signed webhooks.

Our calls are parsed and validated against that schema by graphql-core and executed, so a
misspelled field, a wrong argument type or a missing required input fails as it would at
Shopify (``errors``). The fake also checks the path (``/admin/api/2025-07/graphql.json``),
the ``Host`` and the ``X-Shopify-Access-Token``, and records every call. ``webhook`` signs a
body the way Shopify does (base64 HMAC-SHA256 of the raw body with the webhook secret).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from graphql import build_schema, graphql_sync

API_VERSION = "2025-07"

SDL = """
scalar DateTime
scalar URL

type Query {
  order(id: ID!): Order
  shop: Shop!
}

type Mutation {
  fulfillmentCreate(fulfillment: FulfillmentInput!, message: String): FulfillmentCreatePayload
  fulfillmentEventCreate(fulfillmentEvent: FulfillmentEventInput!): FulfillmentEventCreatePayload
}

type Shop { name: String! myshopifyDomain: String! }

type Order {
  id: ID!
  name: String!
  fulfillmentOrders(first: Int, after: String): FulfillmentOrderConnection!
  fulfillments(first: Int): [Fulfillment!]!
}

type FulfillmentOrderConnection { nodes: [FulfillmentOrder!]! }

enum FulfillmentOrderStatus { OPEN IN_PROGRESS CANCELLED INCOMPLETE CLOSED SCHEDULED ON_HOLD }

type FulfillmentOrder { id: ID! status: FulfillmentOrderStatus! }

enum FulfillmentDisplayStatus { FULFILLED IN_TRANSIT OUT_FOR_DELIVERY DELIVERED ATTEMPTED_DELIVERY }
enum FulfillmentStatus { CANCELLED ERROR FAILURE SUCCESS OPEN PENDING }

type Fulfillment { id: ID! status: FulfillmentStatus! displayStatus: FulfillmentDisplayStatus }

type UserError { field: [String!] message: String! }

input FulfillmentOrderLineItemInput { id: ID! quantity: Int! }

input FulfillmentOrderLineItemsInput {
  fulfillmentOrderId: ID!
  fulfillmentOrderLineItems: [FulfillmentOrderLineItemInput!]
}

input FulfillmentTrackingInput {
  number: String
  url: URL
  company: String
  numbers: [String!]
  urls: [URL!]
}

input FulfillmentInput {
  lineItemsByFulfillmentOrder: [FulfillmentOrderLineItemsInput!]!
  notifyCustomer: Boolean
  trackingInfo: FulfillmentTrackingInput
}

type FulfillmentCreatePayload { fulfillment: Fulfillment userErrors: [UserError!]! }

enum FulfillmentEventStatus {
  ATTEMPTED_DELIVERY CARRIER_PICKED_UP CONFIRMED DELAYED DELIVERED FAILURE IN_TRANSIT
  LABEL_PRINTED LABEL_PURCHASED OUT_FOR_DELIVERY PICKED_UP READY_FOR_PICKUP
}

input FulfillmentEventInput {
  fulfillmentId: ID!
  status: FulfillmentEventStatus!
  happenedAt: DateTime
  message: String
  estimatedDeliveryAt: DateTime
  address1: String
  city: String
  country: String
  province: String
  zip: String
  latitude: Float
  longitude: Float
}

type FulfillmentEvent { id: ID! status: FulfillmentEventStatus! message: String }

type FulfillmentEventCreatePayload { fulfillmentEvent: FulfillmentEvent userErrors: [UserError!]! }
"""
SCHEMA = build_schema(SDL)


def sign(secret: str, body: bytes) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


class FakeShopify:
    """One shop: orders with fulfillment orders, fulfillments made by our calls."""

    def __init__(
        self,
        host: str = "blumen-test.myshopify.com",
        token: str = "shpat_0123456789abcdef",
        secret: str = "whsec-test-signing-key-42",
    ) -> None:
        self.host, self.token, self.secret = host, token, secret
        self.calls: list[dict[str, Any]] = []
        """Every GraphQL call: operation, variables, errors (None when it went through)."""
        self.refused: list[str] = []
        """Requests refused before GraphQL (wrong path, host or token)."""
        self.orders: dict[str, dict[str, Any]] = {}
        self.fulfillments: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def origin(self) -> str:
        """``LASTMILE_SHOPIFY_API_ORIGIN`` for this fake."""
        return "http://{shop}:" + str(self.port)

    def __enter__(self) -> FakeShopify:
        self._thread.start()
        return self

    def __exit__(self, *_: Any) -> None:
        self._server.shutdown()
        self._server.server_close()

    def resolver(self, host: str, port: int) -> list[str]:
        """For ``netguard.use_resolver``: the shop's host is this loopback server."""
        if host == self.host:
            return ["127.0.0.1"]
        raise OSError(f"{host} does not resolve")

    # --- the shop's side ---------------------------------------------------------------------

    def add_order(self, order_id: int | str, name: str, fulfillment_orders: int = 1) -> None:
        self.orders[str(order_id)] = {
            "id": f"gid://shopify/Order/{order_id}",
            "name": name,
            "fulfillment_orders": [
                {"id": f"gid://shopify/FulfillmentOrder/{order_id}{i}", "status": "OPEN"}
                for i in range(fulfillment_orders)
            ],
            "fulfillments": [],
        }

    def webhook(
        self,
        topic: str,
        order: dict[str, Any],
        *,
        webhook_id: str | None = None,
        secret: str | None = None,
    ) -> tuple[bytes, dict[str, str]]:
        """A webhook as Shopify sends it: the body and its headers (signed)."""
        body = json.dumps(order).encode()
        return body, {
            "Content-Type": "application/json",
            "X-Shopify-Topic": topic,
            "X-Shopify-Hmac-Sha256": sign(secret or self.secret, body),
            "X-Shopify-Shop-Domain": self.host,
            "X-Shopify-API-Version": API_VERSION,
            "X-Shopify-Webhook-Id": webhook_id or str(uuid.uuid4()),
            "X-Shopify-Triggered-At": order.get("updated_at", ""),
        }

    def operations(self) -> list[str]:
        return [c["operation"] for c in self.calls if c["errors"] is None]

    # --- GraphQL resolvers -------------------------------------------------------------------

    def _order(self, info: Any, id: str) -> dict[str, Any] | None:
        found = self.orders.get(id.rsplit("/", 1)[-1])
        if found is None:
            return None
        return {
            "id": found["id"],
            "name": found["name"],
            "fulfillmentOrders": {"nodes": found["fulfillment_orders"]},
            "fulfillments": found["fulfillments"],
        }

    def _shop(self, info: Any) -> dict[str, str]:
        return {"name": "Blumen Test", "myshopifyDomain": self.host}

    def _fulfillment_create(
        self, info: Any, fulfillment: dict[str, Any], message: str | None = None
    ) -> dict[str, Any]:
        wanted = [p["fulfillmentOrderId"] for p in fulfillment["lineItemsByFulfillmentOrder"]]
        owners = [
            (order, fo)
            for order in self.orders.values()
            for fo in order["fulfillment_orders"]
            if fo["id"] in wanted
        ]
        if len(owners) != len(wanted) or len({id(o) for o, _ in owners}) != 1:
            return {
                "fulfillment": None,
                "userErrors": [
                    {"field": ["fulfillment"], "message": "Invalid fulfillment order ids"}
                ],
            }
        if any(fo["status"] not in ("OPEN", "IN_PROGRESS") for _, fo in owners):
            return {
                "fulfillment": None,
                "userErrors": [
                    {"field": ["fulfillment"], "message": "Fulfillment order is closed"}
                ],
            }
        for _, fo in owners:
            fo["status"] = "CLOSED"
        number = len(self.fulfillments) + 1
        made = {
            "id": f"gid://shopify/Fulfillment/{number}",
            "status": "SUCCESS",
            "displayStatus": "FULFILLED",
            "order": owners[0][0]["id"],
            "tracking": fulfillment.get("trackingInfo") or {},
            "notify_customer": fulfillment.get("notifyCustomer", False),
            "events": [],
        }
        self.fulfillments[made["id"]] = made
        owners[0][0]["fulfillments"].append(made)
        return {"fulfillment": made, "userErrors": []}

    def _event_create(self, info: Any, fulfillmentEvent: dict[str, Any]) -> dict[str, Any]:
        made = self.fulfillments.get(fulfillmentEvent["fulfillmentId"])
        if made is None:
            return {
                "fulfillmentEvent": None,
                "userErrors": [{"field": ["fulfillmentId"], "message": "Fulfillment not found"}],
            }
        event = {
            "id": f"gid://shopify/FulfillmentEvent/{len(made['events']) + 1}",
            **fulfillmentEvent,
        }
        made["events"].append(event)
        return {"fulfillmentEvent": event, "userErrors": []}

    # --- HTTP ----------------------------------------------------------------------------------

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        shop = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _answer(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                if self.path != f"/admin/api/{API_VERSION}/graphql.json":
                    shop.refused.append(f"path {self.path}")
                    return self._answer(404, {"errors": "Not Found"})
                if (self.headers.get("Host") or "").split(":")[0] != shop.host:
                    shop.refused.append(f"host {self.headers.get('Host')}")
                    return self._answer(404, {"errors": "Not Found"})
                if self.headers.get("X-Shopify-Access-Token") != shop.token:
                    shop.refused.append("token")
                    return self._answer(401, {"errors": "[API] Invalid API key or access token"})
                request = json.loads(raw)
                root = {
                    "order": shop._order,
                    "shop": shop._shop,
                    "fulfillmentCreate": shop._fulfillment_create,
                    "fulfillmentEventCreate": shop._event_create,
                }
                with shop._lock:
                    result = graphql_sync(
                        SCHEMA,
                        request["query"],
                        root_value=root,
                        variable_values=request.get("variables"),
                    )
                    errors = [e.message for e in result.errors or []] or None
                    operation = request["query"].split("(")[0].split("{")[0].strip()
                    shop.calls.append(
                        {
                            "operation": operation,
                            "variables": request.get("variables"),
                            "errors": errors,
                        }
                    )
                body: dict[str, Any] = {"data": result.data}
                if errors:
                    body["errors"] = [{"message": m} for m in errors]
                self._answer(200, body)

        return Handler


def order_payload(
    order_id: int,
    number: int,
    *,
    updated_at: str,
    created_at: str = "2026-12-07T18:00:00+01:00",
    address1: str = "Landstrasse 19",
    zip_code: str = "9490",
    city: str = "Vaduz",
    note_attributes: list[dict[str, str]] | None = None,
    items: list[tuple[str, int]] = (("Red roses (12 stems)", 1),),  # type: ignore[assignment]
    customer_id: int = 7001,
    first_name: str = "Anna",
    last_name: str = "Beck",
    note: str | None = None,
    cancelled_at: str | None = None,
) -> dict[str, Any]:
    """An order as Shopify's orders/* webhooks carry it (the REST Admin API's Order resource,
    the fields lastmile reads and their neighbours, as documented)."""
    return {
        "id": order_id,
        "admin_graphql_api_id": f"gid://shopify/Order/{order_id}",
        "name": f"#{number}",
        "order_number": number,
        "email": f"{first_name.lower()}@example.li",
        "contact_email": f"{first_name.lower()}@example.li",
        "phone": None,
        "created_at": created_at,
        "updated_at": updated_at,
        "cancelled_at": cancelled_at,
        "cancel_reason": "customer" if cancelled_at else None,
        "financial_status": "paid",
        "fulfillment_status": None,
        "currency": "CHF",
        "total_price": "59.00",
        "note": note,
        "note_attributes": note_attributes or [],
        "customer": {
            "id": customer_id,
            "email": f"{first_name.lower()}@example.li",
            "first_name": first_name,
            "last_name": last_name,
            "phone": "+423 111 11 11",
        },
        "shipping_address": {
            "first_name": first_name,
            "last_name": last_name,
            "name": f"{first_name} {last_name}",
            "address1": address1,
            "address2": "",
            "city": city,
            "zip": zip_code,
            "province": None,
            "country": "Liechtenstein",
            "country_code": "LI",
            "phone": "+423 111 11 11",
            "company": None,
            "latitude": None,
            "longitude": None,
        },
        "line_items": [
            {
                "id": order_id * 10 + i,
                "admin_graphql_api_id": f"gid://shopify/LineItem/{order_id * 10 + i}",
                "name": name,
                "title": name,
                "quantity": quantity,
                "current_quantity": quantity,
                "requires_shipping": True,
                "properties": [],
                "price": "29.50",
            }
            for i, (name, quantity) in enumerate(items)
        ],
        "shipping_lines": [{"code": "Local Delivery", "title": "Local Delivery", "price": "5.00"}],
    }
