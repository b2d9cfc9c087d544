"""Shop connections and the webhooks they receive: the only module (with ``apply.py`` and
``report.py`` of this slice) that queries or commits the connectors' tables.

Receiving is quick on purpose (Shopify wants an answer within 5 s): check the signature, drop
duplicates and stale versions, store the body, answer; the order is made by a job
(``shops.jobs.apply_shop_order``). Every arrival is logged with its outcome and reason.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from lastmile.common.clock import utcnow
from lastmile.core.errors import FieldIssue, InputError, NotFound
from lastmile.integrations.shop import shopify
from lastmile.shops.models import ShopConnection, ShopDelivery, ShopOrder
from lastmile.shops.schemas import ConnectionIn, ConnectionUpdate

TOPICS = frozenset({"orders/create", "orders/updated", "orders/cancelled"})
MAX_BODY = 2_000_000
"""Largest webhook body read (a Shopify order with hundreds of lines stays far below)."""


# --- connections ---------------------------------------------------------------------------


def list_connections(*, session: Session, org_id: str) -> list[ShopConnection]:
    return list(
        session.scalars(
            select(ShopConnection)
            .where(ShopConnection.org_id == org_id)
            .order_by(ShopConnection.created_at)
        )
    )


def get_connection(*, session: Session, org_id: str, connection_id: str) -> ShopConnection:
    row = session.scalar(
        select(ShopConnection).where(
            ShopConnection.org_id == org_id, ShopConnection.id == connection_id
        )
    )
    if row is None:
        raise NotFound("shop connection not found")
    return row


def create_connection(*, session: Session, org_id: str, body: ConnectionIn) -> ShopConnection:
    if session.scalar(
        select(ShopConnection.id).where(
            ShopConnection.org_id == org_id, ShopConnection.shop_host == body.shop
        )
    ):
        raise InputError(
            issues=[
                FieldIssue(None, "shop", body.shop, "is connected already (change it instead)")
            ],
            source="shop connection",
        )
    row = ShopConnection(
        org_id=org_id,
        platform="shopify",
        shop_host=body.shop,
        access_token=body.access_token.strip(),
        webhook_secret=body.webhook_secret.strip(),
        notify_customer=body.notify_customer,
    )
    session.add(row)
    session.commit()
    return row


def update_connection(
    *, session: Session, org_id: str, connection_id: str, body: ConnectionUpdate
) -> ShopConnection:
    row = get_connection(session=session, org_id=org_id, connection_id=connection_id)
    if body.access_token is not None:
        row.access_token = body.access_token.strip()
        row.last_error = None
    if body.webhook_secret is not None:
        row.webhook_secret = body.webhook_secret.strip()
    if body.notify_customer is not None:
        row.notify_customer = body.notify_customer
    if body.active is not None:
        row.active = body.active
    session.commit()
    return row


def delete_connection(*, session: Session, org_id: str, connection_id: str) -> None:
    """Disconnect the shop: its log and links go; the orders it made stay."""
    row = get_connection(session=session, org_id=org_id, connection_id=connection_id)
    session.delete(row)
    session.commit()


def record_call(*, session: Session, connection_id: str, error: str | None) -> None:
    """Remember the last failed call to the shop (None: the last one worked)."""
    row = session.get(ShopConnection, connection_id)
    if row is not None and row.last_error != error:
        row.last_error = error[:1000] if error else None
        session.commit()


def deliveries(
    *, session: Session, org_id: str, connection_id: str, limit: int = 100
) -> list[ShopDelivery]:
    """The connection's log, newest first."""
    get_connection(session=session, org_id=org_id, connection_id=connection_id)
    return list(
        session.scalars(
            select(ShopDelivery)
            .where(ShopDelivery.org_id == org_id, ShopDelivery.connection_id == connection_id)
            .order_by(ShopDelivery.received_at.desc(), ShopDelivery.id.desc())
            .limit(limit)
        )
    )


# --- receiving -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Received:
    """What the webhook endpoint answers: the HTTP status, and the delivery to apply later."""

    status: int
    outcome: str
    reason: str
    delivery_id: str | None = None
    queue: bool = False


def _parse_time(value: object) -> datetime | None:
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        return None
    return moment if moment.tzinfo else None


def receive(
    *, session: Session, connection_id: str, body: bytes, headers: Mapping[str, str]
) -> Received:
    """Check and log one webhook; an accepted one is stored for the job (``queue``)."""
    connection = session.get(ShopConnection, connection_id)
    if connection is None:
        raise NotFound("no such shop connection")
    topic = headers.get("x-shopify-topic", "")[:100]
    webhook_id = headers.get("x-shopify-webhook-id", "")[:200]
    row = ShopDelivery(
        org_id=connection.org_id, connection_id=connection.id, topic=topic, webhook_id=webhook_id
    )

    def logged(status: int, outcome: str, reason: str) -> Received:
        row.outcome, row.reason = outcome, reason
        session.add(row)
        session.commit()
        return Received(status, outcome, reason, row.id)

    if not shopify.signed(connection.webhook_secret, body, headers.get("x-shopify-hmac-sha256")):
        return logged(
            401,
            "refused",
            "the signature (X-Shopify-Hmac-Sha256) does not match the webhook secret",
        )
    sender = headers.get("x-shopify-shop-domain", "").strip().lower()
    if sender and sender != connection.shop_host:
        return logged(401, "refused", f"sent for {sender[:100]}, not {connection.shop_host}")
    if not connection.active:
        return logged(503, "refused", "the connection is paused")
    if topic not in TOPICS:
        return logged(200, "refused", f"topic {topic or '(none)'!r} is not one lastmile handles")
    if not webhook_id:
        return logged(400, "refused", "no X-Shopify-Webhook-Id header")
    try:
        order = json.loads(body)
    except ValueError:
        return logged(400, "refused", "the body is not JSON")
    if not isinstance(order, dict) or order.get("id") in (None, ""):
        return logged(400, "refused", "the body is not a Shopify order (no id)")
    row.shop_order_id = str(order["id"])[:40]
    row.shop_order_name = str(order.get("name") or "")[:100]
    row.shop_updated_at = _parse_time(order.get("updated_at"))
    if row.shop_updated_at is None:
        return logged(
            400,
            "refused",
            f"updated_at {str(order.get('updated_at'))[:40]!r} is not a date and time",
        )
    if session.scalar(
        select(ShopDelivery.id).where(
            ShopDelivery.connection_id == connection.id, ShopDelivery.dedup_key == webhook_id
        )
    ):
        return logged(200, "duplicate", f"webhook {webhook_id} arrived before")
    stale = stale_reason(session, connection.id, row.shop_order_id, row.shop_updated_at)
    if stale:
        return logged(200, "stale", stale)
    row.dedup_key, row.body = webhook_id, order
    try:
        result = logged(200, "accepted", "queued")
    except IntegrityError:  # the same webhook twice at the same moment: the other one won
        session.rollback()
        row = ShopDelivery(
            org_id=connection.org_id,
            connection_id=connection.id,
            topic=topic,
            webhook_id=webhook_id,
        )
        return logged(200, "duplicate", f"webhook {webhook_id} arrived before")
    return Received(result.status, result.outcome, result.reason, result.delivery_id, queue=True)


def stale_reason(
    session: Session, connection_id: str, shop_order_id: str, updated_at: datetime
) -> str | None:
    """Why a version of a shop order is older than (or the same as) the one applied, if it is."""
    applied = session.scalar(
        select(ShopOrder.shop_updated_at).where(
            ShopOrder.connection_id == connection_id, ShopOrder.shop_order_id == shop_order_id
        )
    )
    if applied is not None and updated_at == applied:
        return f"the same version (updated_at {updated_at.isoformat()}) was applied already"
    if applied is not None and updated_at < applied:
        return (
            f"an older version (updated_at {updated_at.isoformat()}) than the one applied "
            f"({applied.isoformat()})"
        )
    return None


def shop_orders_of(*, session: Session, org_id: str, order_ids: list[str]) -> list[ShopOrder]:
    """The shop orders behind these orders of ours (those that came from a shop)."""
    if not order_ids:
        return []
    return list(
        session.scalars(
            select(ShopOrder).where(ShopOrder.org_id == org_id, ShopOrder.order_id.in_(order_ids))
        )
    )


def mark(
    *, session: Session, delivery: ShopDelivery, outcome: str, reason: str, order_id: str | None
) -> None:
    """Settle a delivery after the job: its outcome, and the body dropped (it holds personal
    data, and the order now has it)."""
    delivery.outcome, delivery.reason, delivery.order_id = outcome, reason[:1000], order_id
    delivery.body = None
    delivery.applied_at = utcnow()
    session.commit()
