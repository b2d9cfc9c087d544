"""Background work of the orders slice: bulk geocoding of imported addresses."""

from __future__ import annotations

from lastmile.common.geocoding import geocoder_for
from lastmile.core.errors import Conflict
from lastmile.jobs.context import JobContext
from lastmile.orders import service
from lastmile.orders.lifecycle import ACCEPTED_VERDICTS


def geocode_orders(context: JobContext, *, org_id: str, batch: int = 500) -> None:
    """Geocode every order of ``org_id`` that waits for coordinates (status ``new``).

    Accepted verdicts (exact, corrected) store the location and make the order ``ready``;
    ambiguous / not_found / outside_area store only the verdict, so the dispatcher sees the
    order needs a look. Idempotent: a second run finds nothing left to do.
    """
    geocoder = geocoder_for(context.settings)
    with context.sessions() as session:
        pending = service.list_needing_geocoding(session=session, org_id=org_id, limit=batch)
        for order in pending:
            if order.address_verdict is not None and order.address_verdict not in ACCEPTED_VERDICTS:
                continue  # already judged unresolved: waits for a person, not for a retry
            result = geocoder.geocode(order.address)
            accepted = result.verdict.value in ACCEPTED_VERDICTS and result.location is not None
            try:
                service.set_location(
                    session=session,
                    org_id=org_id,
                    order_id=order.id,
                    lon=result.location.lon if accepted and result.location else None,
                    lat=result.location.lat if accepted and result.location else None,
                    verdict=result.verdict.value,
                    actor="system:geocoder",
                )
            except Conflict:
                session.rollback()  # the order moved on meanwhile (planned, cancelled): leave it
