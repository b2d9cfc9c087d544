"""Tracking for staff: make a customer link on demand, see views, instructions and ratings.

``routers`` is what the app registers for issue 6: this API, the public tracking pages and
the notifications API.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Query, Request

from lastmile.auth.deps import Caller
from lastmile.auth.principal import STAFF
from lastmile.common.web import DbSession, public_url_of
from lastmile.integrations.notify.base import NotifySettings
from lastmile.tracking import service
from lastmile.tracking.schemas import OrderTrackingRead, TrackingKpis, TrackingLinkRead

router = APIRouter(prefix="/api/v1", tags=["tracking"])


@router.post(
    "/orders/{order_id}/tracking-link", status_code=201, operation_id="create_tracking_link"
)
def create_tracking_link(
    order_id: str, caller: Caller, session: DbSession, request: Request
) -> TrackingLinkRead:
    """A new customer tracking link for the order (the token is shown only in this answer)."""
    caller.require(*STAFF)
    link, token = service.create_link(session=session, org_id=caller.org_id, order_id=order_id)
    path = f"/t/{token}"
    mail = NotifySettings()
    base = public_url_of(mail.public_url, "public_url" in mail.model_fields_set, request)
    return TrackingLinkRead(url=base + path, path=path, expires_at=link.expires_at)


@router.get("/orders/{order_id}/tracking", operation_id="get_order_tracking")
def get_order_tracking(order_id: str, caller: Caller, session: DbSession) -> OrderTrackingRead:
    """Views of the order's tracking page, the customer's instructions and rating."""
    caller.require(*STAFF)
    found = service.order_tracking(session=session, org_id=caller.org_id, order_id=order_id)
    return OrderTrackingRead.model_validate(found, from_attributes=True)


@router.get("/tracking/kpis", operation_id="tracking_kpis")
def tracking_kpis(
    caller: Caller,
    session: DbSession,
    date_from: Annotated[dt.date, Query(alias="from")],
    date_to: Annotated[dt.date, Query(alias="to")],
) -> TrackingKpis:
    """Tracking views and ratings of the orders delivered in a date range."""
    caller.require(*STAFF)
    found = service.kpis(session=session, org_id=caller.org_id, day_from=date_from, day_to=date_to)
    return TrackingKpis.model_validate(found, from_attributes=True)


def _routers() -> list[APIRouter]:
    from lastmile.notifications.api import router as notifications_router
    from lastmile.tracking.pages import router as pages_router

    return [router, pages_router, notifications_router]


routers = _routers()
