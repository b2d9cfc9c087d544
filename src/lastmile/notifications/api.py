"""Notifications for staff: settings, the message log, usage against the cap, gift recipients.

Committed order status changes and moved promises become notification jobs through the one
after-commit pipeline (``jobs/pipeline.py``); see ``docs/tracking-and-notifications.md``.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from lastmile.auth.deps import Caller
from lastmile.auth.principal import STAFF
from lastmile.common.netguard import Policy
from lastmile.common.web import AppSettings, DbSession
from lastmile.notifications import service
from lastmile.notifications import settings as notification_settings
from lastmile.notifications.schemas import (
    NotificationRead,
    RecipientsBody,
    RecipientsRead,
    SettingsBody,
    Usage,
)
from lastmile.orgs.models import Role

router = APIRouter(prefix="/api/v1", tags=["notifications"])


@router.get("/notifications/settings", operation_id="get_notification_settings")
def get_settings(caller: Caller, session: DbSession) -> SettingsBody:
    """The organisation's notification and tracking settings."""
    caller.require(*STAFF)
    return notification_settings.get_settings(session=session, org_id=caller.org_id)


@router.put("/notifications/settings", operation_id="put_notification_settings")
def put_settings(
    body: SettingsBody, caller: Caller, session: DbSession, settings: AppSettings
) -> SettingsBody:
    """Replace the organisation's notification and tracking settings (admins).

    SMS and chat URLs: an apprise service with its provider's fixed host, or json/form/xml
    to a public address (see ``LASTMILE_OUTBOUND_ALLOWED_NETWORKS``)."""
    caller.require(Role.ADMIN)
    return notification_settings.update_settings(
        session=session,
        org_id=caller.org_id,
        body=body,
        policy=Policy.from_settings(settings),
    )


@router.get("/notifications", operation_id="list_notifications")
def list_notifications(
    caller: Caller,
    session: DbSession,
    order_id: str | None = None,
    status: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[NotificationRead]:
    """The message log, newest first: every message sent, queued, failed or suppressed."""
    caller.require(*STAFF)
    rows = service.list_notifications(
        session=session, org_id=caller.org_id, order_id=order_id, status=status, limit=limit
    )
    return [NotificationRead.model_validate(r) for r in rows]


@router.get("/notifications/usage", operation_id="notification_usage")
def get_usage(
    caller: Caller,
    session: DbSession,
    month: Annotated[str | None, Query(pattern=r"^\d{4}-\d{2}$")] = None,
) -> Usage:
    """Messages and cost per channel in a month, and the monthly cap."""
    caller.require(*STAFF)
    return service.usage(session=session, org_id=caller.org_id, month=month)


@router.get("/orders/{order_id}/recipients", operation_id="get_order_recipients")
def get_recipients(order_id: str, caller: Caller, session: DbSession) -> RecipientsRead:
    """Language and gift buyer of an order."""
    caller.require(*STAFF)
    row = service.get_recipients(session=session, org_id=caller.org_id, order_id=order_id)
    return RecipientsRead.model_validate(row)


@router.put("/orders/{order_id}/recipients", operation_id="put_order_recipients")
def put_recipients(
    order_id: str, body: RecipientsBody, caller: Caller, session: DbSession
) -> RecipientsRead:
    """Set the language and, for a gift, the buyer (who only hears that it was delivered)."""
    caller.require(*STAFF)
    row = service.set_recipients(
        session=session, org_id=caller.org_id, order_id=order_id, body=body
    )
    return RecipientsRead.model_validate(row)
