"""Report deliveries back to the shop: when one of its orders leaves with the driver, a
fulfilment with our tracking link (Shopify e-mails it to the customer if the connection says
so); then the fulfilment's events: out for delivery, delivered, a failed attempt.

State-reconciling and idempotent: the job compares what the order's status calls for with
what was reported (``ShopOrder.fulfillment_id`` / ``reported``) and sends only the rest, so a
retry or a duplicate job sends nothing twice.
"""

from __future__ import annotations

import logging
import threading

from sqlalchemy import select
from sqlalchemy.orm import Session

from lastmile.common.clock import utcnow
from lastmile.common.netguard import Policy
from lastmile.config import Settings
from lastmile.integrations.shop import shopify
from lastmile.orders import service as orders
from lastmile.orders.lifecycle import OrderStatus
from lastmile.orgs.models import Organisation
from lastmile.shops import service as shops
from lastmile.shops.models import ShopConnection, ShopOrder
from lastmile.tracking import service as tracking

log = logging.getLogger(__name__)

S = OrderStatus
ON_THE_WAY = frozenset({S.OUT_FOR_DELIVERY, S.ARRIVED, S.DELIVERED, S.FAILED})
"""Statuses in which the order has left with the driver: the shop gets its fulfilment."""
EVENTS = {
    S.OUT_FOR_DELIVERY: "OUT_FOR_DELIVERY",
    S.ARRIVED: "OUT_FOR_DELIVERY",
    S.DELIVERED: "DELIVERED",
    S.FAILED: "ATTEMPTED_DELIVERY",
}
"""The fulfilment event each status reports (Shopify's FulfillmentEventStatus)."""


def moved_order(kind: str, payload: dict[str, object]) -> str | None:
    """The order a committed event moved on the way to its customer (out for delivery,
    arrived, delivered, failed), if it did: the after-commit pipeline (``jobs/pipeline.py``)
    queues :data:`lastmile.shops.jobs.REPORT` for those. Decided from the event alone (no
    query); the job passes by orders that did not come from a shop."""
    if kind != orders.EVENT_STATUS_CHANGED or payload.get("to") not in ON_THE_WAY:
        return None
    order_id = payload.get("order_id")
    return order_id if isinstance(order_id, str) else None


MESSAGES = {
    "OUT_FOR_DELIVERY": "Out for delivery",
    "DELIVERED": "Delivered",
    "ATTEMPTED_DELIVERY": "Delivery attempted: nobody could take it",
}


def report_orders(
    *, session: Session, settings: Settings, org_id: str, order_ids: list[str]
) -> list[str]:
    """Bring the shop up to date for these orders; the errors met (also stored on the shop
    order and the connection). Orders that did not come from a shop are passed by."""
    errors: list[str] = []
    ids = [
        link.id
        for link in shops.shop_orders_of(session=session, org_id=org_id, order_ids=order_ids)
    ]
    session.rollback()  # nothing held: each shop order is read again under its lock
    for link_id in ids:
        with _lock(link_id):
            error = _report(session, settings, link_id)
        if error:
            errors.append(error)
    return errors


_locks: dict[str, threading.Lock] = {}
_locks_guard = threading.Lock()


def _lock(link_id: str) -> threading.Lock:
    """One report at a time per shop order in this process (jobs run in parallel threads, and
    several commits of one driver batch queue several jobs); across processes the row lock
    below does the same on PostgreSQL."""
    with _locks_guard:
        return _locks.setdefault(link_id, threading.Lock())


def _report(session: Session, settings: Settings, link_id: str) -> str | None:
    """Report one shop order, holding its row (``FOR UPDATE``) until the single commit at
    the end, so that two jobs never both create a fulfilment or send an event twice."""
    link = session.scalar(select(ShopOrder).where(ShopOrder.id == link_id).with_for_update())
    if link is None:
        session.rollback()
        return None
    connection = session.get(ShopConnection, link.connection_id)
    order = orders.get(session=session, org_id=link.org_id, order_id=link.order_id)
    status = OrderStatus(order.status)
    if connection is None or not connection.active or status not in ON_THE_WAY:
        session.rollback()
        return None
    shop = shopify.Shop(
        host=connection.shop_host,
        access_token=connection.access_token,
        origin=settings.shopify_api_origin,
    )
    policy = Policy.from_settings(settings)
    error: str | None = None
    try:
        if link.fulfillment_id is None:
            org = session.get(Organisation, link.org_id)
            _, token = tracking.create_link(
                session=session, org_id=link.org_id, order_id=order.id, purpose="shop", commit=False
            )
            link.fulfillment_id = shopify.fulfil(
                shop,
                policy,
                order_id=link.shop_order_id,
                tracking_url=settings.public_url.rstrip("/") + f"/t/{token}",
                tracking_number=order.external_id,
                company=org.name if org else "lastmile",
                notify_customer=connection.notify_customer,
            )
        # The way there first, then where it ended (a job that runs late still tells both).
        for wanted in dict.fromkeys(("OUT_FOR_DELIVERY", EVENTS[status])):
            if wanted in link.reported:
                continue
            shopify.report(
                shop,
                policy,
                fulfillment_id=link.fulfillment_id,
                status=wanted,
                happened_at=utcnow().isoformat(),
                message=MESSAGES[wanted],
            )
            link.reported = [*link.reported, wanted]
    except shopify.ShopifyError as exc:
        error = str(exc)
        log.warning("shopify report for %s failed: %s", link.order_id, exc)
    link.report_error = error[:1000] if error else None
    session.commit()  # what was done (fulfilment id, events sent) is kept even after an error
    shops.record_call(session=session, connection_id=connection.id, error=error)
    return error
