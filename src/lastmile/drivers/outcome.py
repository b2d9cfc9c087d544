"""How a delivery ended, as the driver reported it: when, how it was handed over (signed by
whom, left with which neighbour, left where), or why it failed.

The customer's tracking page and the order page show it. It reads the order's status history
(``orders.service``) and the driver's own event as the phone sent it (this slice's
``device_events``), because only the device event keeps the handover's parts apart (the
history's note joins them into one line for people). Kept out of ``drivers/service.py`` (the
driver API), which only writes them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from lastmile.drivers.models import DeviceEvent
from lastmile.orders import service as orders

ENDINGS = ("delivered", "failed")
DRIVER_ACTOR = "driver:"


@dataclass(frozen=True)
class Outcome:
    """The last time the order was delivered or not delivered."""

    status: str
    """``delivered`` or ``failed``."""
    at: datetime
    """When it happened, by the reporting device's clock (UTC)."""
    way: str | None = None
    """How it was handed over (``core.model.HANDOVERS``), if the driver said."""
    recipient: str = ""
    """Who signed, or the neighbour who took it (empty once erased)."""
    place: str = ""
    """Where it was left (a safe place)."""
    reason: str | None = None
    """Why it failed (``drivers.schemas.FAIL_REASONS``)."""


def outcome_of(*, session: Session, org_id: str, order_id: str, status: str) -> Outcome | None:
    """How the order reached ``status`` (delivered or failed) the last time, or ``None`` if it
    never did. A dispatcher's change has a time and a reason only; a driver's has the rest."""
    if status not in ENDINGS:
        return None
    ends = [
        e
        for e in orders.history(session=session, org_id=org_id, order_id=order_id)
        if e.to_status == status
    ]
    if not ends:
        return None
    last = ends[-1]
    found = Outcome(status=status, at=last.at, reason=last.reason)
    if not last.actor.startswith(DRIVER_ACTOR):
        return found
    # The device event is stored with the same time as the history row it caused.
    candidates = session.scalars(
        select(DeviceEvent).where(
            DeviceEvent.org_id == org_id,
            DeviceEvent.driver_id == last.actor.removeprefix(DRIVER_ACTOR),
            DeviceEvent.type == status,
            DeviceEvent.occurred_at >= last.at - timedelta(seconds=1),
            DeviceEvent.occurred_at <= last.at + timedelta(seconds=1),
        )
    )
    payload = next((c.payload for c in candidates if c.payload.get("order_id") == order_id), None)
    if payload is None:
        return found
    way = payload.get("handover")
    note = str(payload.get("note") or "").strip()
    return Outcome(
        status=status,
        at=last.at,
        way=way if isinstance(way, str) else None,
        recipient=str(payload.get("recipient") or "").strip(),
        place=note if way == "safe_place" else "",
        reason=last.reason,
    )
