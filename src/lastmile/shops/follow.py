"""After every commit that moved orders on the way to their customers (out for delivery,
arrived, delivered, failed), queue the job that reports them to their shop.

Like the notifications' listener: the events are noticed when flushed (their type and target
status are known then, no query), handed over after the commit, dropped on a rollback. The
job passes by orders that did not come from a shop (one indexed query).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine
from sqlalchemy import event as sa_event
from sqlalchemy.orm import Session

from lastmile.db.engine import LastmileSession
from lastmile.events.models import Event
from lastmile.orders.service import EVENT_STATUS_CHANGED
from lastmile.shops.jobs import REPORT
from lastmile.shops.report import ON_THE_WAY

log = logging.getLogger(__name__)
_STASH = "lastmile_shop_orders_moved"


def follow_events(engine: Engine, enqueue: Callable[..., None]) -> Callable[[], None]:
    """Install the hooks on sessions of ``engine``; returns a function that removes them."""

    def after_flush(session: Session, _: Any) -> None:
        if session.get_bind() is not engine:
            return
        for row in session.new:
            if (
                isinstance(row, Event)
                and row.type == EVENT_STATUS_CHANGED
                and (row.payload or {}).get("to") in ON_THE_WAY
            ):
                session.info.setdefault(_STASH, []).append((row.org_id, row.payload["order_id"]))

    def after_commit(session: Session) -> None:
        found: list[tuple[str, str]] | None = session.info.pop(_STASH, None)
        if not found:
            return
        groups: dict[str, set[str]] = {}
        for org_id, order_id in found:
            groups.setdefault(org_id, set()).add(order_id)
        for org_id, order_ids in groups.items():
            try:
                enqueue(REPORT, org_id=org_id, order_ids=sorted(order_ids))
            except Exception:  # the change is committed; never fail the caller's request
                log.exception("could not queue the shop report for %s", org_id)

    def after_rollback(session: Session) -> None:
        session.info.pop(_STASH, None)

    hooks: list[tuple[str, Callable[..., None]]] = [
        ("after_flush", after_flush),
        ("after_commit", after_commit),
        ("after_rollback", after_rollback),
    ]
    for name, hook in hooks:
        sa_event.listen(LastmileSession, name, hook)

    def remove() -> None:
        for name, hook in hooks:
            sa_event.remove(LastmileSession, name, hook)

    return remove
