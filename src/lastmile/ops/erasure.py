"""Erasing a customer's personal data on request (GDPR art. 17), keeping anonymous KPIs.

A customer asks a shop to forget them. Their orders stay (the business needs the count of
deliveries, on-time rates, costs), but everything that names or shows the person goes: name,
phone, e-mail, address text, notes, delivery instructions, messages sent to them, the
recipient names and the photos and signatures of the proofs, and the customer's entry in the
address book (with their addresses); coordinates are cut to about
100 m. Every slice blanks its own tables through its service, in one transaction; the POD files
are deleted only after that transaction committed.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy.orm import Session

from lastmile.core.errors import FieldIssue, InputError
from lastmile.customers import service as customers
from lastmile.drivers import service as drivers
from lastmile.drivers.pod_store import PodStore
from lastmile.events import service as events
from lastmile.notifications import service as notifications
from lastmile.orders import service as orders
from lastmile.tracking import service as tracking

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ErasureReport:
    """What was erased (counts only: the report itself names nobody)."""

    orders: int
    pod_files: int
    messages: int
    tracking_links: int
    events: int


def find_orders(
    *, session: Session, org_id: str, email: str | None = None, phone: str | None = None
) -> list[str]:
    """The organisation's orders of the customer with this e-mail or phone."""
    if not (email or "").strip() and not (phone or "").strip():
        raise InputError(
            [
                FieldIssue(
                    row=None, field="email", value="", message="give the customer's e-mail or phone"
                )
            ]
        )
    return orders.find_customer_orders(session=session, org_id=org_id, email=email, phone=phone)


def erase_customer(
    *, session: Session, store: PodStore, org_id: str, order_ids: list[str], actor: str
) -> ErasureReport:
    """Erase the personal data of these orders of the organisation (ids of other
    organisations are ignored) and commit; then delete the POD files."""
    count = orders.erase_personal_data(session=session, org_id=org_id, order_ids=order_ids)
    files = drivers.erase_personal_data(session=session, org_id=org_id, order_ids=order_ids)
    messages = notifications.erase_personal_data(
        session=session, org_id=org_id, order_ids=order_ids
    )
    links = tracking.erase_personal_data(session=session, org_id=org_id, order_ids=order_ids)
    logged = events.erase_personal_data(session=session, org_id=org_id, order_ids=order_ids)
    customers.erase_personal_data(session=session, org_id=org_id, order_ids=order_ids)
    session.commit()
    for key in files:
        store.delete(key)
    log.info(
        "erased the personal data of %d orders (%d POD files) for %s",
        count,
        len(files),
        actor,
        extra={"org_id": org_id, "orders": count, "pod_files": len(files)},
    )
    return ErasureReport(
        orders=count, pod_files=len(files), messages=messages, tracking_links=links, events=logged
    )
