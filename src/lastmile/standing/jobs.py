"""Background work of standing orders: the orders of the coming days are made every hour
(each organisation's business date turns at its own midnight; making is idempotent, so an
hourly round is as good as a daily one and catches up after downtime at once)."""

from __future__ import annotations

import logging

from lastmile.common.jobs import JobContext
from lastmile.core.errors import LastmileError
from lastmile.standing import service

log = logging.getLogger(__name__)


def generate_standing_orders(context: JobContext, *, org_id: str | None = None) -> None:
    """The ``generate_standing_orders`` job: for one organisation, or every organisation
    with standing orders, make the orders due within ``standing_orders_days_ahead`` days."""
    days_ahead = context.settings.standing_orders_days_ahead
    with context.sessions() as session:
        org_ids = [org_id] if org_id else service.org_ids_with_standing_orders(session=session)
    for one in org_ids:
        try:
            with context.sessions() as session:
                done = service.generate(session=session, org_id=one, days_ahead=days_ahead)
        except LastmileError as error:  # one organisation's trouble does not stop the round
            log.warning("standing orders of %s not made: %s", one, error.message)
            continue
        if done.made or done.updated or done.removed:
            log.info(
                "standing orders of %s: %d made, %d updated, %d removed (until %s)",
                one, done.made, done.updated, done.removed, done.until,
            )  # fmt: skip


JOBS = {"generate_standing_orders": generate_standing_orders}
