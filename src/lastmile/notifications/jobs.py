"""The notification job: messages for order status changes, and queued ones when due."""

from __future__ import annotations

from lastmile.jobs.context import JobContext
from lastmile.notifications import service


def send_notifications(
    context: JobContext,
    *,
    org_id: str,
    event_ids: list[int] | None = None,
    notification_ids: list[str] | None = None,
) -> None:
    """With ``event_ids``: the messages those ``order.status_changed`` events call for (and
    any queued message that is due). With ``notification_ids``: send those queued messages
    once their quiet hours are over. Safe to run twice: every message is claimed once."""

    def later(notification_id: str, delay_s: float) -> None:
        context.run_later(
            service.JOB, delay_s=delay_s, org_id=org_id, notification_ids=[notification_id]
        )

    with context.sessions() as session:
        if event_ids:
            service.handle_events(
                session=session, org_id=org_id, event_ids=event_ids, schedule=later
            )
        else:
            service.send_due(session=session, org_id=org_id, notification_ids=notification_ids)


JOBS = {service.JOB: send_notifications}
"""What ``jobs/registry.py`` registers from here."""
