"""Background work of the shop connectors: apply an accepted webhook; report deliveries."""

from __future__ import annotations

from lastmile.common.jobs import JobContext
from lastmile.integrations.configured import geocoder_for
from lastmile.shops import apply, report

APPLY = "apply_shop_order"
REPORT = "report_to_shop"


class ReportFailed(RuntimeError):
    """A call to the shop failed: the job runner retries with backoff (the error is also in
    the connection's ``last_error`` and the shop order's ``report_error``)."""


def apply_shop_order(context: JobContext, *, delivery_id: str) -> None:
    """Make or change the order an accepted webhook carries (idempotent)."""
    with context.sessions() as session:
        apply.apply(
            session=session, delivery_id=delivery_id, geocoder=geocoder_for(context.settings)
        )


def report_to_shop(context: JobContext, *, org_id: str, order_ids: list[str]) -> None:
    """Tell the shop what happened to these orders (fulfilment, tracking link, events)."""
    with context.sessions() as session:
        errors = report.report_orders(
            session=session, settings=context.settings, org_id=org_id, order_ids=order_ids
        )
    if errors:
        raise ReportFailed("; ".join(errors)[:500])


JOBS = {APPLY: apply_shop_order, REPORT: report_to_shop}
"""What ``jobs/registry.py`` registers from here."""
