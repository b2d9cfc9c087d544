"""What the driver app's live stream tells one driver about the organisation's events.

Everything that concerns the driver's routes becomes a ``route.changed`` (the app reloads its
route): a route dispatched to them, a dispatcher's edit, a status change of one of their orders
made by someone else (a cancellation), and new ETAs of their route (the app shows the one ETA
of ``lastmile.live``; the reload is quiet, ETAs are not news).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy.orm import Session

from lastmile.events import types as event_types
from lastmile.orders import service as orders
from lastmile.orders.lifecycle import OrderStatus
from lastmile.routes import service as routes


@dataclass(frozen=True)
class Interest:
    """What concerns one driver: their recent routes and the orders on them."""

    driver_id: str
    route_ids: frozenset[str]
    order_routes: dict[str, str]


def interest(*, session: Session, org_id: str, driver_id: str) -> Interest:
    since = orders.org_today(session=session, org_id=org_id) - timedelta(days=1)
    ids = [
        r.id
        for r in routes.of_driver(session=session, org_id=org_id, driver_id=driver_id, since=since)
    ]
    order_routes = routes.order_routes(session=session, org_id=org_id, route_ids=ids)
    return Interest(driver_id=driver_id, route_ids=frozenset(ids), order_routes=order_routes)


MEMBERSHIP_TYPES = frozenset({event_types.ROUTE_DISPATCHED, event_types.ROUTE_CHANGED})
"""Events after which the stream reloads which routes and orders are the driver's."""

RELEVANT_TYPES = frozenset(
    {
        event_types.ROUTE_DISPATCHED,
        event_types.ROUTE_CHANGED,
        event_types.ROUTE_STARTED,
        event_types.ROUTE_FINISHED,
        event_types.ORDER_STATUS_CHANGED,
        event_types.ETA_UPDATED,
    }
)
"""Event types that may concern a driver (everything else is never sent to the app)."""


def driver_view(event_type: str, payload: dict[str, Any], who: Interest) -> dict[str, Any] | None:
    """What the driver app is told about an organisation event: a ``route.changed`` payload
    (``route_id``, ``change``), or ``None`` when it does not concern this driver."""
    if event_type not in RELEVANT_TYPES:
        return None
    route_id = payload.get("route_id")
    if event_type == event_types.ROUTE_DISPATCHED:
        if payload.get("driver_id") != who.driver_id:
            return None
        return {"route_id": route_id, "change": "dispatched", "plan_id": payload.get("plan_id")}
    if event_type == event_types.ORDER_STATUS_CHANGED:
        order_id = payload.get("order_id")
        if not isinstance(order_id, str) or order_id not in who.order_routes:
            return None
        if payload.get("actor") == f"driver:{who.driver_id}":
            return None  # the app's own change
        if payload.get("to") == OrderStatus.DISPATCHED.value:
            return None  # part of a dispatch, announced by route.dispatched
        return {
            "route_id": who.order_routes[order_id],
            "change": "order_status",
            "order_id": order_id,
            "status": payload.get("to"),
        }
    if payload.get("driver_id") != who.driver_id and route_id not in who.route_ids:
        return None
    if event_type == event_types.ETA_UPDATED:
        return {"route_id": route_id, "change": "etas"}
    change = {
        event_types.ROUTE_STARTED: "started",
        event_types.ROUTE_FINISHED: "finished",
    }.get(event_type, payload.get("change", "changed"))
    return {**payload, "route_id": route_id, "change": change}
