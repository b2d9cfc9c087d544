"""Background work of the address book: orders that arrive by CSV or API for an address the
book knows are placed where that address is, before anything is geocoded."""

from __future__ import annotations

from lastmile.common.jobs import JobContext
from lastmile.customers import service
from lastmile.orders import jobs as order_jobs


def geocode_orders(context: JobContext, *, org_id: str, batch: int = order_jobs.BATCH) -> None:
    """The ``geocode_orders`` job: first the address book (a known address, placed or
    confirmed once, is never looked up again: the order takes its location and is linked
    to its customer when the contact details agree), then the geocoder for the rest."""
    with context.sessions() as session:
        service.place_from_address_book(session=session, org_id=org_id)
    order_jobs.geocode_orders(context, org_id=org_id, batch=batch)
