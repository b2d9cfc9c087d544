"""The notification job: messages for order status changes, and queued ones when due."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from lastmile.common.jobs import JobContext
from lastmile.notifications import service
from lastmile.notifications.links import IssueLink

MAX_ATTEMPTS = 5
RETRY_S = 0.5


def send_notifications(
    context: JobContext,
    *,
    issue_link: IssueLink,
    org_id: str,
    event_ids: list[int] | None = None,
    notification_ids: list[str] | None = None,
    attempt: int = 1,
) -> None:
    """With ``event_ids``: the messages those ``order.status_changed`` events call for (and
    any queued message that is due). With ``notification_ids``: send those queued messages
    once their quiet hours are over. Safe to run twice: every message is claimed once.
    ``issue_link`` makes the tracking link a message carries (bound by :func:`jobs`).

    An event that this job cannot see yet (the job started before the commit was visible to
    other connections) is looked for again a little later, a few times.
    """

    def later(notification_id: str, delay_s: float) -> None:
        context.run_later(
            service.JOB, delay_s=delay_s, org_id=org_id, notification_ids=[notification_id]
        )

    missing: list[int] = []
    with context.sessions() as session:
        if event_ids:
            service.handle_events(
                session=session,
                app=context.settings,
                org_id=org_id,
                event_ids=event_ids,
                issue_link=issue_link,
                schedule=later,
                missing=missing,
            )
        else:
            service.send_due(session=session, org_id=org_id, notification_ids=notification_ids)
    if missing and attempt < MAX_ATTEMPTS:
        context.run_later(
            service.JOB,
            delay_s=RETRY_S * 2 ** (attempt - 1),
            org_id=org_id,
            event_ids=missing,
            attempt=attempt + 1,
        )


def jobs(*, issue_link: IssueLink) -> dict[str, Callable[..., None]]:
    """What ``jobs/registry.py`` registers from here, given how tracking links are made
    (``tracking.service.create_link``: tracking sits above notifications)."""
    return {service.JOB: partial(send_notifications, issue_link=issue_link)}
