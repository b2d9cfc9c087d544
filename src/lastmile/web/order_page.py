"""One order's page (``/app/orders/{id}``): everything the shop knows about a delivery.

It combines slices (orders: the order and its status history; drivers: proofs of delivery;
notifications: messages sent; tracking: the customer's instructions, rating and page views;
analytics: "where is my order" contacts), so it lives in ``web/`` and only calls services.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from lastmile.analytics import service as analytics
from lastmile.common.web import AppSettings, DbSession
from lastmile.core import recurrence
from lastmile.core.times import format_clock
from lastmile.customers import service as customers
from lastmile.drivers import service as drivers
from lastmile.events import service as events
from lastmile.live import service as live
from lastmile.notifications import service as notifications
from lastmile.orders import service as orders
from lastmile.orders.lifecycle import UNRESOLVED_VERDICTS, OrderStatus, location_words
from lastmile.pageframe.layout import STATUS_WORDS, Viewer, amounts_text, render, staff_page
from lastmile.shops import service as shops
from lastmile.standing import service as standing
from lastmile.standing.template import rule_of
from lastmile.tracking import service as tracking

router = APIRouter(include_in_schema=False)

POD_WORDS = {"signature": "Signature", "photo": "Photo"}
INSTRUCTION_WORDS = {
    "safe_place": "leave at a safe place",
    "gate_code": "gate code",
    "neighbour": "leave with a neighbour",
    "other": "other",
}


def _actor(actor: str) -> str:
    """``user:…`` / ``driver:…`` / ``system:geocoder`` in words."""
    kind = actor.split(":", 1)[0]
    return {
        "user": "dispatcher",
        "api_key": "shop system (API)",
        "driver": "driver",
        "system": "lastmile",
    }.get(kind, kind or "—")


def can_insert(session: Any, org_id: str, order: Any) -> bool:
    """A ready, placed order whose day has running routes can go into them now."""
    return (
        order.status == OrderStatus.READY.value
        and order.lon is not None
        and not order.deliver_to
        and bool(live.running_routes(session=session, org_id=org_id, day=order.date))
    )


@router.get("/app/orders/{order_id}", response_model=None)
def order_page(
    request: Request, order_id: str, session: DbSession, settings: AppSettings
) -> Response:
    """Status history, proof of delivery, messages sent, tracking, instructions, rating and
    contacts of one order."""
    viewer = staff_page(request, session, settings)
    if not isinstance(viewer, Viewer):
        return viewer
    org_id = viewer.org_id
    order = orders.get(session=session, org_id=org_id, order_id=order_id)
    zone = ZoneInfo(viewer.timezone)

    def local(when: dt.datetime | str | None) -> str:
        """A moment in the organisation's time zone, 24-hour."""
        if when is None or when == "":
            return ""
        moment = dt.datetime.fromisoformat(when) if isinstance(when, str) else when
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=dt.UTC)
        return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M")

    history = orders.history(session=session, org_id=org_id, order_id=order.id)
    return render(
        request,
        "dashboard/order.html",
        viewer,
        settings,
        nav="orders",
        order=order,
        history=history,
        pods=drivers.list_pods(session=session, org_id=org_id, order_id=order.id),
        messages=notifications.list_notifications(
            session=session, org_id=org_id, order_id=order.id, limit=100
        ),
        tracked=tracking.order_tracking(session=session, org_id=org_id, order_id=order.id),
        contacts=[
            e.payload
            for e in events.of_type(
                session=session,
                org_id=org_id,
                type=analytics.EVENT_CONTACT,
                after=order.created_at - dt.timedelta(minutes=1),
            )
            if e.payload.get("order_id") == order.id
        ],
        unresolved=order.lon is None and order.address_verdict in UNRESOLVED_VERDICTS,
        location_words=location_words,
        status_words=STATUS_WORDS,
        pod_words=POD_WORDS,
        instruction_words=INSTRUCTION_WORDS,
        actor=_actor,
        local=local,
        clock=format_clock,
        amounts=amounts_text(order.demand),
        booked=customers.customer_of_order(session=session, org_id=org_id, order_id=order.id),
        from_shop=next(
            iter(shops.shop_orders_of(session=session, org_id=org_id, order_ids=[order.id])), None
        ),
        insertable=can_insert(session, org_id, order),
        from_standing=_standing_words(session, org_id, order.id),
    )


def _standing_words(session: Session, org_id: str, order_id: str) -> dict[str, Any] | None:
    """The standing order that made the order, in words, and the rule's date it was for."""
    found = standing.of_order(session=session, org_id=org_id, order_id=order_id)
    if found is None:
        return None
    row, occurrence = found
    return {
        "customer_id": row.customer_id,
        "words": row.name or recurrence.describe(rule_of(row)),
        "date": occurrence.date,
    }
