"""The dashboard's standing orders: a customer's (a section their page loads, with the coming
dates, new/edit/pause/stop and skipping a date) and the organisation's overview with its
closed days. The pages write through the public ``/api/v1/standing-orders`` and
``/api/v1/closed-days`` routes (``static/dashboard/standing.js``)."""

from __future__ import annotations

from datetime import date, timedelta

from fastapi import APIRouter, Request
from fastapi.responses import Response

from lastmile.common.web import AppSettings, DbSession
from lastmile.core import recurrence
from lastmile.core.times import format_clock
from lastmile.customers import service as customers
from lastmile.pageframe.layout import Viewer, amounts_text, render, staff_page
from lastmile.standing import service
from lastmile.standing.models import StandingOrder
from lastmile.standing.template import rule_of

router = APIRouter(include_in_schema=False)

SHOWN_DAYS = 42
"""The coming dates a customer's page shows: six weeks."""
STATE_WORDS = {
    "upcoming": "not made yet",
    "made": "order made",
    "edited": "order changed by hand",
    "planned": "planned",
    "done": "done",
    "cancelled": "skipped (cancelled)",
    "skipped": "skipped",
    "paused": "paused",
    "closed": "closed day",
}
SKIPPABLE = frozenset({"upcoming", "made", "edited"})


def windows_text(windows: list[list[int]]) -> str:
    """``[[28800, 36000]]`` -> ``08:00-10:00`` (what the form's window field reads)."""
    return "; ".join(f"{format_clock(a)}-{format_clock(b)}" for a, b in windows)


def _view(row: StandingOrder, today: date) -> dict[str, object]:
    summary = recurrence.describe(rule_of(row))
    return {
        "row": row,
        "title": summary[:1].upper() + summary[1:],
        "windows": windows_text(row.windows),
        "amounts": amounts_text(row.demand),
        "demand_text": ", ".join(f"{k}: {v:g}" for k, v in row.demand.items()),
        "paused_now": row.paused_until is not None and row.paused_until >= today,
    }


@router.get("/app/customers/{customer_id}/standing-orders", response_model=None)
def customer_standing_orders(
    request: Request, customer_id: str, session: DbSession, settings: AppSettings
) -> Response:
    """A customer's standing orders and their coming dates (a section of the customer page)."""
    viewer = staff_page(request, session, settings)
    if not isinstance(viewer, Viewer):
        return viewer
    customer = customers.get(session=session, org_id=viewer.org_id, customer_id=customer_id)
    today = service.today(session=session, org_id=viewer.org_id)
    rows = service.list_standing(session=session, org_id=viewer.org_id, customer_id=customer.id)
    addresses = customers.addresses_of(
        session=session, org_id=viewer.org_id, customer_ids=[customer.id]
    )[customer.id]
    last = today + timedelta(days=SHOWN_DAYS)
    return render(
        request,
        "dashboard/_standing_orders.html",
        viewer,
        settings,
        customer=customer,
        addresses=addresses,
        address_of={a.id: a for a in addresses},
        standing=[
            {
                **_view(row, today),
                "dates": service.occurrences(
                    session=session,
                    org_id=viewer.org_id,
                    standing_order_id=row.id,
                    first=today,
                    last=last,
                ),
            }
            for row in rows
        ],
        today=today,
        made_until=today + timedelta(days=settings.standing_orders_days_ahead),
        state_words=STATE_WORDS,
        skippable=SKIPPABLE,
        weekdays=list(zip(recurrence.WEEKDAYS, recurrence.DAY_NAMES, strict=True)),
        preferred=windows_text(customer.preferred_windows),
    )


@router.get("/app/standing-orders", response_model=None)
def standing_orders_page(request: Request, session: DbSession, settings: AppSettings) -> Response:
    """Every customer's standing orders in words, and the organisation's closed days."""
    viewer = staff_page(request, session, settings)
    if not isinstance(viewer, Viewer):
        return viewer
    today = service.today(session=session, org_id=viewer.org_id)
    rows = service.list_standing(session=session, org_id=viewer.org_id)
    ids = sorted({r.customer_id for r in rows})
    names = {
        c.id: c.name
        for c in (customers.get(session=session, org_id=viewer.org_id, customer_id=i) for i in ids)
    }
    return render(
        request,
        "dashboard/standing_orders.html",
        viewer,
        settings,
        nav="customers",
        standing=[
            {
                **_view(row, today),
                "customer": names.get(row.customer_id, ""),
                "next": service.next_dates(session=session, row=row, count=1),
            }
            for row in rows
        ],
        closed=service.closed_days(session=session, org_id=viewer.org_id, first=today),
        today=today,
        days_ahead=settings.standing_orders_days_ahead,
    )
