"""Apply an accepted Shopify webhook: the shop order becomes (or changes, or cancels) one of
our orders, linked to the address book's customer and address.

Idempotent by the shop's order id (``ShopOrder``), and by version: a body older than the one
applied is dropped as stale, even when it was queued before the newer one ran.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from lastmile.core.errors import Conflict, IllegalTransition, InputError, NotFound
from lastmile.customers import service as customers
from lastmile.integrations.geocode import Geocoder
from lastmile.orders import service as orders
from lastmile.orders.lifecycle import OrderStatus
from lastmile.orders.schemas import OrderCreate, OrderUpdate, Window
from lastmile.orgs.models import Organisation
from lastmile.shops import mapping
from lastmile.shops import service as shops
from lastmile.shops.models import ShopConnection, ShopDelivery, ShopOrder

ACTOR = "shop:shopify"
RESULT_WORDS = {
    "created": "order created",
    "updated": "order updated",
    "unchanged": "nothing changed",
}


def apply(*, session: Session, delivery_id: str, geocoder: Geocoder | None) -> None:
    """Apply one accepted delivery (a second run finds it settled and does nothing)."""
    delivery = session.get(ShopDelivery, delivery_id)
    if delivery is None or delivery.outcome != "accepted" or delivery.body is None:
        return
    connection = session.get(ShopConnection, delivery.connection_id)
    org = session.get(Organisation, delivery.org_id)
    if connection is None or org is None:
        return
    try:
        shop_order = mapping.read(
            delivery.body, timezone=org.timezone, shop_host=connection.shop_host
        )
    except mapping.MappingError as exc:
        shops.mark(
            session=session, delivery=delivery, outcome="failed", reason=str(exc), order_id=None
        )
        return
    stale = shops.stale_reason(
        session, connection.id, shop_order.shop_order_id, shop_order.updated_at
    )
    if stale:
        shops.mark(session=session, delivery=delivery, outcome="stale", reason=stale, order_id=None)
        return
    link = session.scalar(
        select(ShopOrder).where(
            ShopOrder.connection_id == connection.id,
            ShopOrder.shop_order_id == shop_order.shop_order_id,
        )
    )
    if shop_order.cancelled or delivery.topic == "orders/cancelled":
        _cancel(session, delivery, link, shop_order)
        return
    try:
        order_id, reason = _upsert(session, connection, link, shop_order, geocoder)
    except (InputError, NotFound) as exc:
        session.rollback()
        shops.mark(
            session=session, delivery=delivery, outcome="failed", reason=str(exc), order_id=None
        )
        return
    _remember(session, connection, link, shop_order, order_id)
    shops.mark(
        session=session, delivery=delivery, outcome="applied", reason=reason, order_id=order_id
    )


def _remember(
    session: Session,
    connection: ShopConnection,
    link: ShopOrder | None,
    shop_order: mapping.ShopifyOrder,
    order_id: str,
) -> None:
    if link is None:
        link = ShopOrder(
            org_id=connection.org_id,
            connection_id=connection.id,
            shop_order_id=shop_order.shop_order_id,
            order_id=order_id,
        )
        session.add(link)
    link.name, link.shop_updated_at, link.order_id = (
        shop_order.name,
        shop_order.updated_at,
        order_id,
    )
    session.commit()


def _upsert(
    session: Session,
    connection: ShopConnection,
    link: ShopOrder | None,
    shop_order: mapping.ShopifyOrder,
    geocoder: Geocoder | None,
) -> tuple[str, str]:
    """Create or update our order; (its id, what happened in words)."""
    org_id = connection.org_id
    customer = customers.find_or_create(
        session=session,
        org_id=org_id,
        external_ref=shop_order.customer_ref,
        name=shop_order.customer_name,
        phone=shop_order.phone,
        email=shop_order.email,
    )
    address = customers.address_for(
        session=session, customer=customer, address=shop_order.address, geocoder=geocoder
    )
    if shop_order.recipient and shop_order.recipient != customer.name and not address.label:
        address.label = f"for {shop_order.recipient}"[:100]
        session.commit()
    description = (
        f"{shop_order.name}: {shop_order.description}"
        if shop_order.description
        else shop_order.name
    )
    notes = "\n".join(t for t in (address.instructions, shop_order.notes) if t)
    external_id = external_id_of(shop_order)
    order_in = OrderCreate(
        external_id=external_id,
        date=shop_order.date,
        address=address.address,
        lon=address.lon,
        lat=address.lat,
        windows=[Window.from_seconds([a, b]) for a, b in shop_order.windows],
        demand={"parcels": float(shop_order.items)} if shop_order.items else {},
        description=description[:2000],
        notes=notes[:2000],
        customer=shop_order.recipient[:200],
        phone=shop_order.phone[:50],
        email=shop_order.email[:320],
    )
    reason = ""
    try:
        result = orders.create(session=session, org_id=org_id, order_in=order_in, actor=ACTOR)
        order = result.order
        reason = RESULT_WORDS[result.result]
    except Conflict as exc:  # planned already: only what does not change the plan
        session.rollback()
        existing = orders.get_by_external_id(
            session=session, org_id=org_id, external_id=external_id
        )
        if existing is None:
            raise
        order = orders.update(
            session=session,
            org_id=org_id,
            order_id=existing.id,
            order_in=OrderUpdate(
                description=order_in.description,
                notes=order_in.notes,
                customer=order_in.customer,
                phone=order_in.phone,
                email=order_in.email,
            ),
            actor=ACTOR,
        )
        reason = f"contact details updated; the rest kept ({exc})"[:1000]
    if order.lon is None and address.verdict and order.status == OrderStatus.NEW:
        # The address book looked it up already: the order waits for a pin, not a second lookup.
        orders.set_location(
            session=session, org_id=org_id, order_id=order.id, lon=None, lat=None,
            verdict=address.verdict, actor=ACTOR,
        )  # fmt: skip
        reason += "; the address needs its pin placed (customer's page)"
    customers.link_order(
        session=session,
        org_id=org_id,
        customer_id=customer.id,
        address_id=address.id,
        order_id=order.id,
    )
    return order.id, reason


def external_id_of(shop_order: mapping.ShopifyOrder) -> str:
    """Our order number for a shop order: ``shopify-<order id>`` (unique, never reused)."""
    return f"shopify-{shop_order.shop_order_id}"


def _cancel(
    session: Session,
    delivery: ShopDelivery,
    link: ShopOrder | None,
    shop_order: mapping.ShopifyOrder,
) -> None:
    if link is None:
        shops.mark(
            session=session, delivery=delivery, outcome="applied",
            reason="cancelled before it reached lastmile: nothing to cancel", order_id=None,
        )  # fmt: skip
        return
    order = orders.get(session=session, org_id=link.org_id, order_id=link.order_id)
    reason = "cancelled"
    if order.status != OrderStatus.CANCELLED:
        try:
            orders.transition(
                session=session, org_id=link.org_id, order_id=order.id,
                to_status=OrderStatus.CANCELLED, actor=ACTOR, note=f"cancelled in the shop ({shop_order.name})",
            )  # fmt: skip
        except (IllegalTransition, Conflict):
            session.rollback()
            reason = f"not cancelled: the order is already {order.status}"
    link.shop_updated_at = shop_order.updated_at
    session.commit()
    shops.mark(
        session=session, delivery=delivery, outcome="applied", reason=reason, order_id=order.id
    )
