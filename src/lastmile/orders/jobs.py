"""Background work of the orders slice: bulk geocoding of imported addresses."""

from __future__ import annotations

from sqlalchemy.orm import Session

from lastmile.common.jobs import JobContext
from lastmile.core.errors import Conflict
from lastmile.integrations.configured import geocoder_for
from lastmile.integrations.geocode import Geocoder
from lastmile.orders import service
from lastmile.orders.lifecycle import ACCEPTED_VERDICTS
from lastmile.orders.models import Order

BATCH = 500
"""Orders read per query (one transaction each), until none is left."""


def geocode_orders(context: JobContext, *, org_id: str, batch: int = BATCH) -> None:
    """Geocode every order of ``org_id`` that waits for coordinates (status ``new``).

    Accepted verdicts (exact, corrected) store the location and make the order ``ready``;
    ambiguous / not_found / outside_area store only the verdict, so the dispatcher sees the
    order needs a look (and later runs pass it by). Works through batches until no order is
    left, however many were imported. Idempotent: a second run finds nothing left to do.
    """
    geocoder = geocoder_for(context.settings)
    seen: set[str] = set()
    while True:
        with context.sessions() as session:
            pending = [
                order
                for order in service.list_needing_geocoding(
                    session=session, org_id=org_id, limit=batch + len(seen)
                )
                if order.id not in seen
            ][:batch]
            if not pending:
                return
            for order in pending:
                seen.add(order.id)  # each order once per run, whatever the geocoder answers
                try:
                    geocode_order(session=session, order=order, geocoder=geocoder)
                except Conflict:
                    session.rollback()  # the order moved on meanwhile (planned, cancelled)


def geocode_order(*, session: Session, order: Order, geocoder: Geocoder) -> Order:
    """Look up one order's address and store the verdict (and the location when accepted).

    The one way an order is geocoded: by the import's job, and at once when a person
    edits an address in the dashboard (``PATCH /orders/{id}`` with a new address).
    """
    result = geocoder.geocode(order.address)
    accepted = result.verdict.value in ACCEPTED_VERDICTS and result.location is not None
    return service.set_location(
        session=session,
        org_id=order.org_id,
        order_id=order.id,
        lon=result.location.lon if accepted and result.location else None,
        lat=result.location.lat if accepted and result.location else None,
        verdict=result.verdict.value,
        actor="system:geocoder",
    )
