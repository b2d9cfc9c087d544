"""Live events (Server-Sent Events) and webhooks."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import StreamingResponse

from lastmile.auth.deps import Caller
from lastmile.auth.principal import STAFF
from lastmile.common.netguard import Policy
from lastmile.common.secrets import mask_password
from lastmile.common.web import AppSettings, DbSession
from lastmile.events import service
from lastmile.events.follow import MAX_EVENT_ID, Opened, follow, resume_cursor
from lastmile.events.models import Event, Webhook
from lastmile.events.schemas import DeliveryRead, WebhookCreate, WebhookCreated, WebhookRead
from lastmile.orgs.models import Role

router = APIRouter(prefix="/api/v1", tags=["events"])


def _format(event: Event) -> str:
    data = json.dumps(
        {
            "id": event.id,
            "type": event.type,
            "created_at": event.created_at.isoformat(),
            "data": event.payload,
        },
        separators=(",", ":"),
    )
    return f"id: {event.id}\nevent: {event.type}\ndata: {data}\n\n"


@router.get(
    "/events",
    operation_id="stream_events",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}, "description": "Server-Sent Events"}},
)
async def stream_events(
    request: Request,
    caller: Caller,
    session: DbSession,
    last_event_id: Annotated[
        int | None,
        Query(
            ge=0,
            le=MAX_EVENT_ID,
            description="Replay events after this id (or send the Last-Event-ID header).",
        ),
    ] = None,
    types: Annotated[list[str] | None, Query(description="Only these event types.")] = None,
    last_event_header: Annotated[str | None, Header(alias="Last-Event-ID")] = None,
) -> StreamingResponse:
    """Live events of the caller's organisation (order status, positions, plan progress)."""
    caller.require(*STAFF)
    session.close()  # the login check's connection goes back to the pool: a stream holds none
    start = resume_cursor(last_event_id, last_event_header)
    wanted = set(types or ())
    events = follow(
        request,
        bus=request.app.state.bus,
        sessions=request.app.state.sessions,
        org_id=caller.org_id,
        start=start,
    )

    async def stream() -> AsyncIterator[str]:
        async for item in events:
            if isinstance(item, Opened):
                yield f"retry: 2000\n: connected, events after {item.cursor}\n\n"
            elif item is None:
                yield ": keep-alive\n\n"
            elif not wanted or item.type in wanted:
                yield _format(item)

    return StreamingResponse(
        stream(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


def _read(hook: Webhook) -> WebhookRead:
    return WebhookRead(
        id=hook.id,
        url=mask_password(hook.url),
        event_types=hook.event_types,
        active=hook.active,
        created_at=hook.created_at,
    )


@router.get("/webhooks", response_model=list[WebhookRead], operation_id="list_webhooks")
def list_webhooks(caller: Caller, session: DbSession) -> list[WebhookRead]:
    """Webhooks of the organisation (admin)."""
    caller.require(Role.ADMIN)
    return [_read(h) for h in service.list_webhooks(session=session, org_id=caller.org_id)]


@router.post(
    "/webhooks", response_model=WebhookCreated, status_code=201, operation_id="create_webhook"
)
def create_webhook(
    body: WebhookCreate, caller: Caller, session: DbSession, settings: AppSettings
) -> WebhookCreated:
    """Register a URL to receive signed order events (admin). The secret is shown once.

    Only public addresses (see ``LASTMILE_OUTBOUND_ALLOWED_NETWORKS``)."""
    caller.require(Role.ADMIN)
    hook = service.create_webhook(
        session=session,
        org_id=caller.org_id,
        url=str(body.url),
        event_types=body.event_types,
        policy=Policy.from_settings(settings),
    )
    return WebhookCreated(**_read(hook).model_dump(), secret=hook.secret)


@router.delete("/webhooks/{webhook_id}", status_code=204, operation_id="delete_webhook")
def delete_webhook(webhook_id: str, caller: Caller, session: DbSession) -> None:
    """Remove a webhook (admin)."""
    caller.require(Role.ADMIN)
    service.delete_webhook(session=session, org_id=caller.org_id, webhook_id=webhook_id)


@router.get(
    "/webhooks/{webhook_id}/deliveries",
    response_model=list[DeliveryRead],
    operation_id="list_webhook_deliveries",
)
def list_deliveries(webhook_id: str, caller: Caller, session: DbSession) -> list[DeliveryRead]:
    """The delivery log of a webhook, newest first (admin)."""
    caller.require(Role.ADMIN)
    return [
        DeliveryRead(
            id=d.id,
            event_id=d.event_id,
            status=d.status,
            attempts=d.attempts,
            last_status_code=d.last_status_code,
            last_error=d.last_error,
            next_attempt_at=d.next_attempt_at,
            delivered_at=d.delivered_at,
            created_at=d.created_at,
        )
        for d in service.deliveries(session=session, org_id=caller.org_id, webhook_id=webhook_id)
    ]
