"""Live events (Server-Sent Events) and webhooks."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import StreamingResponse
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from lastmile.auth.principal import STAFF
from lastmile.common.web import Caller, DbSession
from lastmile.events import service
from lastmile.events.bus import LocalBus
from lastmile.events.models import Event, Webhook
from lastmile.events.schemas import DeliveryRead, WebhookCreate, WebhookCreated, WebhookRead
from lastmile.orgs.models import Role

router = APIRouter(prefix="/api/v1", tags=["events"])
KEEPALIVE_S = 15.0


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
    last_event_id: Annotated[
        int | None,
        Query(ge=0, description="Replay events after this id (or send the Last-Event-ID header)."),
    ] = None,
    types: Annotated[list[str] | None, Query(description="Only these event types.")] = None,
    last_event_header: Annotated[str | None, Header(alias="Last-Event-ID")] = None,
) -> StreamingResponse:
    """Live events of the caller's organisation (order status, positions, plan progress)."""
    caller.require(*STAFF)
    sessions: sessionmaker[Session] = request.app.state.sessions
    bus: LocalBus = request.app.state.bus
    start = last_event_id
    if start is None and last_event_header and last_event_header.isdigit():
        start = int(last_event_header)
    wanted = set(types or ())
    org_id = caller.org_id

    def fetch(after: int) -> list[Event]:
        with sessions() as session:
            return service.since(session=session, org_id=org_id, after_id=after)

    def newest() -> int:
        with sessions() as session:
            return service.latest_id(session=session, org_id=org_id)

    async def stream() -> AsyncIterator[str]:
        async with bus.subscribe(org_id) as queue:
            cursor = start if start is not None else await run_in_threadpool(newest)
            yield f"retry: 2000\n: connected, events after {cursor}\n\n"
            while True:
                rows = await run_in_threadpool(fetch, cursor)
                for event in rows:
                    cursor = event.id
                    if not wanted or event.type in wanted:
                        yield _format(event)
                if len(rows) >= 500:
                    continue
                if await request.is_disconnected():
                    return
                try:
                    await asyncio.wait_for(queue.get(), timeout=KEEPALIVE_S)
                except TimeoutError:
                    yield ": keep-alive\n\n"
                while not queue.empty():
                    queue.get_nowait()

    return StreamingResponse(
        stream(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


def _read(hook: Webhook) -> WebhookRead:
    return WebhookRead(
        id=hook.id,
        url=hook.url,
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
def create_webhook(body: WebhookCreate, caller: Caller, session: DbSession) -> WebhookCreated:
    """Register a URL to receive signed order events (admin). The secret is shown once."""
    caller.require(Role.ADMIN)
    hook = service.create_webhook(
        session=session, org_id=caller.org_id, url=str(body.url), event_types=body.event_types
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
