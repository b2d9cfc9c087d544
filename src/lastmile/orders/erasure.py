"""Erasure of a customer's personal data on their request: finding their orders and blanking
what names a person (moved out of ``orders.service``, which re-exports both)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from lastmile.orders.models import Order, OrderEvent


def _digits(phone: str) -> str:
    """``+423 111-22`` and ``00423 11122`` -> ``42311122``: one phone written two ways."""
    return "".join(c for c in phone if c.isdigit()).lstrip("0")


def find_customer_orders(
    *, session: Session, org_id: str, email: str | None = None, phone: str | None = None
) -> list[str]:
    """Ids of the organisation's orders whose customer has this e-mail (any case) or phone
    (any spacing, ``+`` or ``00``); an empty search finds nothing."""
    wanted_email = (email or "").strip().lower()
    wanted_phone = _digits(phone or "")
    if not wanted_email and not wanted_phone:
        return []
    found: list[str] = []
    rows = session.execute(
        select(Order.id, Order.email, Order.phone).where(Order.org_id == org_id)
    ).all()
    for order_id, order_email, order_phone in rows:
        if (wanted_email and order_email.strip().lower() == wanted_email) or (
            wanted_phone and _digits(order_phone) == wanted_phone
        ):
            found.append(order_id)
    return sorted(found)


ERASED = "(erased)"
"""What an erased order's customer name reads afterwards (so lists show why it is empty)."""


def erase_personal_data(*, session: Session, org_id: str, order_ids: Sequence[str]) -> int:
    """Blank what names a person on these orders: customer, phone, e-mail, address text,
    notes, description, their history's notes; coordinates are cut to 3 decimals (about
    100 m: the street, not the door). Status, dates, windows, quantities and times stay, so
    KPIs still count the orders. Does not commit (the caller erases all slices in one go)."""
    orders = list(
        session.scalars(select(Order).where(Order.org_id == org_id, Order.id.in_(order_ids)))
    )
    for order in orders:
        order.customer = ERASED
        order.phone = ""
        order.email = ""
        order.address = ""
        order.notes = ""
        order.description = ""  # "birthday cake for Maria" names a person too
        if order.lon is not None and order.lat is not None:
            order.lon, order.lat = round(order.lon, 3), round(order.lat, 3)
    for event in session.scalars(
        select(OrderEvent).where(OrderEvent.org_id == org_id, OrderEvent.order_id.in_(order_ids))
    ):
        event.note = ""
        if event.lon is not None and event.lat is not None:
            event.lon, event.lat = round(event.lon, 3), round(event.lat, 3)
    return len(orders)
