"""The one after-commit pipeline: what happens once a transaction that recorded events is
committed (and never for one rolled back).

Every process that writes (a server, a job process, a ``lastmile worker``) installs it once on
its engine: live clients are woken (the server's event bus), webhook deliveries are enqueued,
and the notification job is enqueued for the events that may call for a customer message
(order status changes, promises that moved), and the shop report job for orders of a shop
that left with their driver. Before, notifications and the shop connector had hooks of their
own next to the events' ones, and only the server had them; now a status change made by a job
notifies the customer and reports to the shop too.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine

from lastmile.events import service as events
from lastmile.notifications import service as notifications
from lastmile.shops import jobs as shop_jobs
from lastmile.shops import report as shop_report

log = logging.getLogger(__name__)

Enqueue = Callable[..., None]
"""A job runner's ``enqueue(name, *, delay_s=0, **kwargs)``."""
Publish = Callable[[str, int], None]
"""The event bus's ``publish(org_id, event_id)``."""


def after_commit(committed: events.Committed, enqueue: Enqueue, publish: Publish | None) -> None:
    """Hand what one commit made visible to everyone who waits for it (quick; never raises:
    the change is committed, the caller's request must not fail now)."""
    if publish is not None:
        for org_id, event_id in committed.events:
            publish(org_id, event_id)
    for delivery_id in committed.deliveries:
        _safely(enqueue, "deliver_webhook", delivery_id=delivery_id)
    wanted: dict[str, list[int]] = {}
    for org_id, event_id in committed.events:
        kind, payload = committed.types.get(event_id, ""), committed.payloads.get(event_id, {})
        if notifications.wants(kind, payload):
            wanted.setdefault(org_id, []).append(event_id)
    for org_id, event_ids in wanted.items():
        _safely(enqueue, notifications.JOB, org_id=org_id, event_ids=sorted(set(event_ids)))
    moved: dict[str, set[str]] = {}
    for org_id, event_id in committed.events:
        kind, payload = committed.types.get(event_id, ""), committed.payloads.get(event_id, {})
        order_id = shop_report.moved_order(kind, payload)
        if order_id is not None:
            moved.setdefault(org_id, set()).add(order_id)
    for org_id, order_ids in moved.items():
        _safely(enqueue, shop_jobs.REPORT, org_id=org_id, order_ids=sorted(order_ids))


def _safely(enqueue: Enqueue, name: str, **kwargs: Any) -> None:
    try:
        enqueue(name, **kwargs)
    except Exception:  # committed already; a job that cannot be queued is logged
        log.exception("could not enqueue %s", name)


def follow_commits(
    engine: Engine, enqueue: Enqueue, publish: Publish | None = None
) -> Callable[[], None]:
    """Install the pipeline on ``engine``; returns a function that removes it."""
    return events.add_listener(engine, lambda committed: after_commit(committed, enqueue, publish))
