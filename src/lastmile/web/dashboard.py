"""The dispatcher dashboard under ``/app`` (issue 4): one router that gathers the pages of
every slice (orders, plans, live, settings, login) and the home redirects.

Every write goes through the same service functions as the JSON API; the browser calls the
public ``/api/v1`` routes itself where they exist (with the session cookie and the
``X-CSRF-Token`` header from the page's meta tag). Documented in ``docs/dashboard.md``.
"""

from __future__ import annotations

from importlib import resources

from fastapi import APIRouter
from fastapi.responses import RedirectResponse, Response

from lastmile.customers.pages import router as customer_pages
from lastmile.live.pages import router as live_pages
from lastmile.notifications.pages import router as notification_pages
from lastmile.orders.pages import router as order_pages
from lastmile.plans.pages import router as plan_pages
from lastmile.plans.week_pages import router as week_pages
from lastmile.shops.pages import router as shop_pages
from lastmile.standing.pages import router as standing_pages
from lastmile.web.account import router as login_pages
from lastmile.web.basemap import router as basemap_routes
from lastmile.web.order_page import router as order_page
from lastmile.web.running_day import router as running_day
from lastmile.web.settings import router as settings_pages
from lastmile.web.setup import router as setup_pages

router = APIRouter(include_in_schema=False)


for pages in (
    login_pages,
    order_pages,
    running_day,  # before the order page: /app/orders/new is not an order id
    order_page,
    customer_pages,
    standing_pages,
    shop_pages,
    basemap_routes,
    plan_pages,
    week_pages,
    live_pages,
    settings_pages,
    notification_pages,
    setup_pages,
):
    router.include_router(pages)


@router.get("/")
def root() -> RedirectResponse:
    """The dashboard is the home page."""
    return RedirectResponse("/app/orders", status_code=307)


@router.get("/favicon.ico", response_model=None)
def favicon() -> Response:
    """The icon for pages that name none (the pilot report, the API docs): browsers ask for
    ``/favicon.ico`` on their own, and a 404 there is a console error on every such page."""
    icon = resources.files("lastmile.web").joinpath("static", "dashboard", "favicon.svg")
    return Response(
        icon.read_bytes(),
        media_type="image/svg+xml",
        headers={"Cache-Control": "public, max-age=86400"},
    )


@router.get("/app", response_model=None)
def app_home() -> RedirectResponse:
    return RedirectResponse("/app/orders", status_code=307)
