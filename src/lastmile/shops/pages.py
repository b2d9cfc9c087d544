"""The dashboard's shop page (``/app/shop``): connect a Shopify shop (host, access token,
webhook secret; secrets write-only), what to paste into the shop, a connection check, and
the log of what arrived. Writes go through ``/api/v1/shop-connections``
(``static/dashboard/shop.js``)."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import Response

from lastmile.common.web import AppSettings, DbSession
from lastmile.integrations.shop.shopify import API_VERSION
from lastmile.pageframe.layout import Viewer, render, staff_page
from lastmile.shops import service
from lastmile.shops.schemas import ConnectionRead

router = APIRouter(include_in_schema=False)

OUTCOME_WORDS = {
    "accepted": "queued",
    "applied": "applied",
    "duplicate": "duplicate (dropped)",
    "stale": "not newer (dropped)",
    "refused": "refused",
    "failed": "could not be applied",
}

TOPIC_WORDS = {
    "orders/create": "Order creation",
    "orders/updated": "Order update",
    "orders/cancelled": "Order cancellation",
}
"""Shopify's webhook topics as its admin names the events (what the owner picks there)."""


@router.get("/app/shop", response_model=None)
def shop_page(request: Request, session: DbSession, settings: AppSettings) -> Response:
    """Shop connections and the log of the webhooks each one received."""
    viewer = staff_page(request, session, settings)
    if not isinstance(viewer, Viewer):
        return viewer
    zone = ZoneInfo(viewer.timezone)
    rows = service.list_connections(session=session, org_id=viewer.org_id)

    def local(moment: dt.datetime) -> str:
        return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S")

    return render(
        request,
        "dashboard/shop.html",
        viewer,
        settings,
        nav="shop",
        connections=[
            (
                ConnectionRead.of(row, settings.public_url),
                service.deliveries(
                    session=session, org_id=viewer.org_id, connection_id=row.id, limit=100
                ),
            )
            for row in rows
        ],
        api_version=API_VERSION,
        outcome_words=OUTCOME_WORDS,
        topic_words=TOPIC_WORDS,
        local=local,
    )
