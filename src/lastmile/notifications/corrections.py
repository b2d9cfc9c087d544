"""Correction messages: the customer hears again when the promised time moves.

``lastmile.live`` keeps a stop's promise inside the booked window and moves it only when the
prediction leaves it (``docs/live-operations.md``). Every message that quotes a window records
it in the log (``promise_from`` / ``promise_to``). When a route's new ETAs change a promise
(an ``eta.updated`` event whose stop says ``promise_changed``), the new promise is compared
with the last one this customer was told for that day:

* a promise that only narrowed inside the one told is not news;
* one that moved by more than the organisation's ``correction_threshold_min`` (default 15
  minutes; either end) is: the customer gets ``eta_changed`` with the new window, or
  ``delayed`` when the new expected time is after the booked window (the real time, never a
  clipped promise);
* before any window was told (no message yet), nothing is corrected: the next message quotes
  the current promise anyway.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from lastmile.notifications.models import Notification
from lastmile.orders.lifecycle import OrderStatus
from lastmile.orders.models import Order
from lastmile.orgs.models import Organisation

TOLD = ("sending", "sent", "queued")
"""Log statuses of a message that reached (or will reach) the customer."""


EN_ROUTE = (OrderStatus.DISPATCHED, OrderStatus.OUT_FOR_DELIVERY)
"""Order statuses whose promise may still be corrected."""


@dataclass(frozen=True)
class Moved:
    """A stop whose promise changed, from an ``eta.updated`` event (``id``: its order)."""

    id: str
    stop_id: str


def moved_stops(payload: dict[str, Any]) -> list[Moved]:
    """The stops of an ``eta.updated`` payload whose promise changed."""
    stops = payload.get("stops")
    if not isinstance(stops, list):
        return []
    return [
        Moved(str(s["order_id"]), str(s.get("stop_id", "")))
        for s in stops
        if isinstance(s, dict) and s.get("promise_changed") and s.get("order_id")
    ]


def last_told(
    *, session: Session, org: Organisation, order: Order
) -> tuple[datetime, datetime] | None:
    """The last window this order's recipient was told (messages from the day before its
    delivery date on: not a window of a day before a rescheduling)."""
    since = datetime.combine(order.date - timedelta(days=1), time(0), ZoneInfo(org.timezone))
    org_id, order_id = org.id, order.id
    row = session.execute(
        select(Notification.promise_from, Notification.promise_to)
        .where(
            Notification.org_id == org_id,
            Notification.order_id == order_id,
            Notification.audience == "recipient",
            Notification.status.in_(TOLD),
            Notification.promise_from.is_not(None),
            Notification.promise_to.is_not(None),
            Notification.created_at >= since,
        )
        .order_by(Notification.created_at.desc(), Notification.id.desc())
        .limit(1)
    ).first()
    if row is None or row[0] is None or row[1] is None:
        return None
    return (row[0], row[1])


def moved_beyond(
    told: tuple[datetime, datetime], new: tuple[datetime, datetime], threshold: timedelta
) -> bool:
    """Whether ``new`` is news against ``told``: not a narrowing inside it, and an end moved
    by more than ``threshold``."""
    if told[0] <= new[0] and new[1] <= told[1]:
        return False
    return max(abs(new[0] - told[0]), abs(new[1] - told[1])) > threshold
