"""Record events in the same transaction as the change they describe, and wake listeners.

The ``events`` table is the source of truth: SSE clients and webhooks read from it, so a
notification that is missed (a process restarting) loses nothing. The bus only says "there is
something new for organisation X": in-process for SQLite, PostgreSQL ``NOTIFY`` (which is
transactional: sent on commit, never for a rolled-back change) for production.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, select, text
from sqlalchemy import event as sa_event
from sqlalchemy.orm import Session

from lastmile.common.netguard import Policy, UrlRefused, check_url
from lastmile.core.errors import FieldIssue, InputError
from lastmile.db.engine import LastmileSession
from lastmile.events.models import Event, Webhook, WebhookDelivery
from lastmile.events.types import CATALOGUE

CHANNEL = "lastmile_events"
PENDING = "lastmile_pending"


@dataclass
class Committed:
    """What one commit made visible: events (org id, event id) and webhook deliveries."""

    events: list[tuple[str, int]] = field(default_factory=list)
    deliveries: list[str] = field(default_factory=list)
    types: dict[int, str] = field(default_factory=dict)
    """event id -> its type (listeners pick their events without a query)."""
    payloads: dict[int, dict[str, Any]] = field(default_factory=dict)


Listener = Callable[[Committed], None]
_listeners: dict[int, tuple[Engine, Listener]] = {}
_lock = threading.Lock()


def add_listener(engine: Engine, listener: Listener) -> Callable[[], None]:
    """Call ``listener`` after every commit on ``engine`` that recorded events.

    Returns a function that removes it. The after-commit pipeline (``jobs/pipeline.py``) is the
    one listener of each process; listeners must be quick and must not raise.
    """
    key = id(listener)
    with _lock:
        _listeners[key] = (engine, listener)

    def remove() -> None:
        with _lock:
            _listeners.pop(key, None)

    return remove


@sa_event.listens_for(LastmileSession, "after_commit")
def _after_commit(session: Session) -> None:
    pending: Committed | None = session.info.pop(PENDING, None)
    if pending is None:
        return
    bind = session.get_bind()
    with _lock:
        targets = [listener for engine, listener in _listeners.values() if engine is bind]
    for listener in targets:
        listener(pending)


@sa_event.listens_for(LastmileSession, "after_rollback")
def _after_rollback(session: Session) -> None:
    session.info.pop(PENDING, None)


def record(*, session: Session, org_id: str, type: str, payload: dict[str, Any]) -> Event:
    """Add an event to the current transaction (committed by the caller's service). ``type``
    is one of :data:`lastmile.events.types.CATALOGUE` (a new type is added there first)."""
    if type not in CATALOGUE:
        raise ValueError(f"unknown event type {type!r}: add it to lastmile.events.types")
    row = Event(org_id=org_id, type=type, payload=payload)
    session.add(row)
    session.flush()
    if session.get_bind().dialect.name == "postgresql":
        session.execute(
            text("SELECT pg_notify(:channel, :message)"),
            {"channel": CHANNEL, "message": f"{org_id}:{row.id}"},
        )
    pending: Committed = session.info.setdefault(PENDING, Committed())
    pending.events.append((org_id, row.id))
    pending.types[row.id] = type
    pending.payloads[row.id] = payload
    for hook in session.scalars(
        select(Webhook).where(Webhook.org_id == org_id, Webhook.active.is_(True))
    ):
        if not hook.event_types or type in hook.event_types:
            delivery = WebhookDelivery(org_id=org_id, webhook_id=hook.id, event_id=row.id)
            session.add(delivery)
            session.flush()
            pending.deliveries.append(delivery.id)
    return row


def of_type(*, session: Session, org_id: str, type: str, after: datetime) -> list[Event]:
    """Events of one type recorded after ``after``, oldest first (e.g. an order's contacts)."""
    return list(
        session.scalars(
            select(Event)
            .where(Event.org_id == org_id, Event.type == type, Event.created_at >= after)
            .order_by(Event.id)
        )
    )


def since(*, session: Session, org_id: str, after_id: int, limit: int = 500) -> list[Event]:
    """Events of one organisation after ``after_id``, oldest first."""
    return list(
        session.scalars(
            select(Event)
            .where(Event.org_id == org_id, Event.id > after_id)
            .order_by(Event.id)
            .limit(limit)
        )
    )


def by_ids(*, session: Session, org_id: str, ids: list[int]) -> list[Event]:
    """The organisation's events with these ids (those that exist), oldest first."""
    return list(
        session.scalars(
            select(Event).where(Event.org_id == org_id, Event.id.in_(ids)).order_by(Event.id)
        )
    )


def latest_id(*, session: Session, org_id: str) -> int:
    row = session.scalar(
        select(Event.id).where(Event.org_id == org_id).order_by(Event.id.desc()).limit(1)
    )
    return int(row or 0)


WEBHOOK_SCHEMES = frozenset({"http", "https"})


def create_webhook(
    *, session: Session, org_id: str, url: str, event_types: list[str], policy: Policy
) -> Webhook:
    """A new webhook. A URL that can never be delivered under the outbound ``policy``
    (loopback, private or metadata addresses) is refused now; names are checked again on
    every delivery."""
    import secrets

    unknown = [t for t in event_types if t not in CATALOGUE]
    if unknown:
        raise InputError(
            issues=[FieldIssue(None, "event_types", unknown[0], "not an event type (docs/api.md)")],
            source="webhook",
        )
    try:
        check_url(url, policy, schemes=WEBHOOK_SCHEMES)
    except UrlRefused as exc:
        raise InputError(issues=[FieldIssue(None, "url", url, str(exc))], source="webhook") from exc
    hook = Webhook(
        org_id=org_id, url=url, secret=secrets.token_urlsafe(32), event_types=event_types
    )
    session.add(hook)
    session.commit()
    return hook


def list_webhooks(*, session: Session, org_id: str) -> list[Webhook]:
    return list(
        session.scalars(
            select(Webhook).where(Webhook.org_id == org_id).order_by(Webhook.created_at)
        )
    )


def get_webhook(*, session: Session, org_id: str, webhook_id: str) -> Webhook:
    from lastmile.core.errors import NotFound

    hook = session.scalar(select(Webhook).where(Webhook.org_id == org_id, Webhook.id == webhook_id))
    if hook is None:
        raise NotFound("webhook not found")
    return hook


def delete_webhook(*, session: Session, org_id: str, webhook_id: str) -> None:
    session.delete(get_webhook(session=session, org_id=org_id, webhook_id=webhook_id))
    session.commit()


def deliveries(
    *, session: Session, org_id: str, webhook_id: str, limit: int = 100
) -> list[WebhookDelivery]:
    get_webhook(session=session, org_id=org_id, webhook_id=webhook_id)
    return list(
        session.scalars(
            select(WebhookDelivery)
            .where(WebhookDelivery.org_id == org_id, WebhookDelivery.webhook_id == webhook_id)
            .order_by(WebhookDelivery.created_at.desc())
            .limit(limit)
        )
    )


PERSONAL_KEYS = ("note", "recipient", "location", "customer", "address", "phone", "email")


def erase_personal_data(*, session: Session, org_id: str, order_ids: Sequence[str]) -> int:
    """Drop the personal fields (notes, recipient, location, contact) from the logged events
    about these orders; type, time and status changes stay. Returns the events touched.
    Does not commit (and records nothing: the erasure itself is not an event to replay)."""
    wanted = set(order_ids)
    touched = 0
    for event in session.scalars(select(Event).where(Event.org_id == org_id)):
        payload = event.payload or {}
        if payload.get("order_id") in wanted and any(k in payload for k in PERSONAL_KEYS):
            event.payload = {k: v for k, v in payload.items() if k not in PERSONAL_KEYS}
            touched += 1
    return touched
