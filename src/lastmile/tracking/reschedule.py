"""Another delivery window after a failed one: the customer picks one of the next day's
bookable slots (``lastmile.live``) on the tracking page, where the organisation allows it.
Kept apart from :mod:`lastmile.tracking.service` (what the page shows) because it is the
only part that books something."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from lastmile.config import Settings
from lastmile.core.errors import Conflict
from lastmile.core.times import clock_span, format_clock_exact
from lastmile.orders import service as orders
from lastmile.orders.lifecycle import OrderStatus
from lastmile.orders.schemas import OrderUpdate
from lastmile.orgs import clock as org_clock
from lastmile.tracking.models import TrackingLink
from lastmile.tracking.service import CUSTOMER, may_reschedule, org_of


@dataclass(frozen=True)
class Slot:
    day: date
    start_s: int
    end_s: int

    @property
    def key(self) -> str:
        return f"{self.day.isoformat()}/{self.start_s}-{self.end_s}"

    @property
    def label(self) -> str:
        return f"{format_clock_exact(self.start_s)}-{format_clock_exact(self.end_s)}"


def reschedule_offers(
    *, session: Session, settings: Settings, link: TrackingLink, now: datetime | None = None
) -> list[Slot]:
    """The windows of the next delivery day that ``lastmile.live`` says can still be kept."""
    from lastmile.core.model import Location
    from lastmile.live import service as live

    now = now or org_clock.now_of(session=session, org_id=link.org_id)
    org = org_of(session, link.org_id)
    order = orders.get(session=session, org_id=link.org_id, order_id=link.order_id)
    if not may_reschedule(org, order) or order.lat is None or order.lon is None:
        return []
    today = now.astimezone(ZoneInfo(org.timezone)).date()
    day = max(order.date, today) + timedelta(days=1)
    answer = live.slot_offers(
        session=session,
        settings=settings,
        org_id=org.id,
        day=day,
        location=Location(order.lon, order.lat),
        demand=dict(order.demand),
        service_s=order.service_s,
        now=now,
    )
    return [
        Slot(day, offer.window.start, offer.window.end)
        for offer in answer.offers
        if offer.available
    ]


def reschedule(
    *,
    session: Session,
    settings: Settings,
    link: TrackingLink,
    key: str,
    now: datetime | None = None,
) -> Slot:
    """Book the slot ``key`` (from :func:`reschedule_offers`, checked again now): the order is
    rescheduled to that day (it goes back to ``ready`` for planning) with the slot as its
    only window."""
    offers = {
        s.key: s for s in reschedule_offers(session=session, settings=settings, link=link, now=now)
    }
    slot = offers.get(key)
    if slot is None:
        raise Conflict("this delivery window is no longer available; please choose another")
    orders.transition(
        session=session,
        org_id=link.org_id,
        order_id=link.order_id,
        to_status=OrderStatus.RESCHEDULED,
        actor=CUSTOMER,
        new_date=slot.day,
        note=f"customer chose {slot.day.isoformat()} {slot.label} on the tracking page",
        commit=False,
    )
    orders.update(
        session=session,
        org_id=link.org_id,
        order_id=link.order_id,
        order_in=OrderUpdate.model_validate({"windows": [clock_span(slot.start_s, slot.end_s)]}),
        actor=CUSTOMER,
    )  # commits both
    return slot
