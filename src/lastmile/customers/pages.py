"""The dashboard's address book: the customer list (search, add) and one customer's page
(details, addresses with their pins, orders, and a new order in a few clicks). The pages
write through the public ``/api/v1/customers`` routes (``static/dashboard/customers.js``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from lastmile.common.web import AppSettings, DbSession
from lastmile.core.times import format_clock
from lastmile.customers import service
from lastmile.orders.lifecycle import location_words
from lastmile.pageframe.layout import Viewer, json_script, org_today, render, staff_page

router = APIRouter(include_in_schema=False)

PAGE_SIZE = 50


def shop_origin(ref: str | None) -> str:
    """``shopify:<shop>:<customer id>`` (how ``external_ref`` finds the customer again) in
    words: which shop the customer came from."""
    if not ref:
        return ""
    kind, _, rest = ref.partition(":")
    shop, _, number = rest.partition(":")
    if kind == "shopify" and shop:
        return f"From the Shopify shop {shop} (customer number {number.rsplit('/', 1)[-1]})."
    return "From a connected shop."


@router.get("/app/customers", response_model=None)
def customers_page(
    request: Request,
    session: DbSession,
    settings: AppSettings,
    q: Annotated[str, Query(max_length=200)] = "",
    offset: Annotated[int, Query(ge=0, le=1_000_000_000)] = 0,
) -> Response:
    """Customers by name with their addresses; search; add a customer."""
    viewer = staff_page(request, session, settings)
    if not isinstance(viewer, Viewer):
        return viewer
    rows, total = service.list_customers(
        session=session, org_id=viewer.org_id, q=q, limit=PAGE_SIZE, offset=offset
    )
    ids = [c.id for c in rows]
    return render(
        request,
        "dashboard/customers.html",
        viewer,
        settings,
        nav="customers",
        customers=rows,
        addresses=service.addresses_of(session=session, org_id=viewer.org_id, customer_ids=ids),
        counts=service.order_counts(session=session, org_id=viewer.org_id, customer_ids=ids),
        total=total,
        q=q,
        offset=offset,
        page_size=PAGE_SIZE,
    )


@router.get("/app/customers/{customer_id}", response_model=None)
def customer_page(
    request: Request, customer_id: str, session: DbSession, settings: AppSettings
) -> Response:
    """One customer: details, addresses on a map (confirm or move a pin), orders, new order."""
    viewer = staff_page(request, session, settings)
    if not isinstance(viewer, Viewer):
        return viewer
    customer = service.get(session=session, org_id=viewer.org_id, customer_id=customer_id)
    addresses = service.addresses_of(
        session=session, org_id=viewer.org_id, customer_ids=[customer.id]
    )[customer.id]
    return render(
        request,
        "dashboard/customer.html",
        viewer,
        settings,
        nav="customers",
        customer=customer,
        addresses=addresses,
        orders=service.orders_of(session=session, org_id=viewer.org_id, customer_id=customer.id),
        today=org_today(viewer),
        clock=format_clock,
        location_words=location_words,
        pins=json_script(
            [
                {
                    "id": a.id,
                    "label": a.label or a.address,
                    "address": a.address,
                    "lon": a.lon,
                    "lat": a.lat,
                    "confirmed": a.confirmed,
                }
                for a in addresses
            ]
        ),
        customer_json=json_script({"id": customer.id, "name": customer.name}),
        shop_origin=shop_origin(customer.external_ref),
    )
