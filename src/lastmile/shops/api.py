"""Shop connectors' API: connections (admins write, staff read), their log, a connection
test, and the public webhook endpoint Shopify posts to. Documented in
``docs/connectors/shopify.md``. Orders leaving with a driver are reported to their shop by the
after-commit pipeline (``jobs/pipeline.py``).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from lastmile.auth.deps import Caller
from lastmile.auth.principal import STAFF
from lastmile.common.netguard import Policy
from lastmile.common.web import AppSettings, DbSession
from lastmile.integrations.shop import shopify
from lastmile.orgs.models import Role
from lastmile.shops import service
from lastmile.shops.jobs import APPLY
from lastmile.shops.schemas import (
    ConnectionCheck,
    ConnectionIn,
    ConnectionRead,
    ConnectionUpdate,
    DeliveryRead,
)

router = APIRouter(prefix="/api/v1", tags=["shops"])


@router.get(
    "/shop-connections", response_model=list[ConnectionRead], operation_id="list_shop_connections"
)
def list_connections(
    caller: Caller, session: DbSession, settings: AppSettings
) -> list[ConnectionRead]:
    """The organisation's shops (secrets shown as their last four characters)."""
    caller.require(*STAFF)
    rows = service.list_connections(session=session, org_id=caller.org_id)
    return [ConnectionRead.of(r, settings.public_url) for r in rows]


@router.post(
    "/shop-connections",
    response_model=ConnectionRead,
    status_code=201,
    operation_id="create_shop_connection",
)
def create_connection(
    body: ConnectionIn, caller: Caller, session: DbSession, settings: AppSettings
) -> ConnectionRead:
    """Connect a Shopify shop: its host, Admin API access token and webhook secret (admins)."""
    caller.require(Role.ADMIN)
    row = service.create_connection(session=session, org_id=caller.org_id, body=body)
    return ConnectionRead.of(row, settings.public_url)


@router.get(
    "/shop-connections/{connection_id}",
    response_model=ConnectionRead,
    operation_id="get_shop_connection",
)
def get_connection(
    connection_id: str, caller: Caller, session: DbSession, settings: AppSettings
) -> ConnectionRead:
    """One shop connection, with the webhook URL to paste into the shop."""
    caller.require(*STAFF)
    row = service.get_connection(session=session, org_id=caller.org_id, connection_id=connection_id)
    return ConnectionRead.of(row, settings.public_url)


@router.patch(
    "/shop-connections/{connection_id}",
    response_model=ConnectionRead,
    operation_id="update_shop_connection",
)
def update_connection(
    connection_id: str,
    body: ConnectionUpdate,
    caller: Caller,
    session: DbSession,
    settings: AppSettings,
) -> ConnectionRead:
    """Replace a secret, pause or resume, customer e-mails on or off (admins)."""
    caller.require(Role.ADMIN)
    row = service.update_connection(
        session=session, org_id=caller.org_id, connection_id=connection_id, body=body
    )
    return ConnectionRead.of(row, settings.public_url)


@router.delete(
    "/shop-connections/{connection_id}",
    status_code=204,
    response_class=Response,
    operation_id="delete_shop_connection",
)
def delete_connection(connection_id: str, caller: Caller, session: DbSession) -> Response:
    """Disconnect the shop (admins); the orders it made stay."""
    caller.require(Role.ADMIN)
    service.delete_connection(session=session, org_id=caller.org_id, connection_id=connection_id)
    return Response(status_code=204)


@router.post(
    "/shop-connections/{connection_id}/check",
    response_model=ConnectionCheck,
    operation_id="check_shop_connection",
)
def check_connection(
    connection_id: str, caller: Caller, session: DbSession, settings: AppSettings
) -> ConnectionCheck:
    """Ask the shop its name with the stored token: does the connection work? (admins)"""
    caller.require(Role.ADMIN)
    row = service.get_connection(session=session, org_id=caller.org_id, connection_id=connection_id)
    shop = shopify.Shop(row.shop_host, row.access_token, settings.shopify_api_origin)
    try:
        name = shopify.shop_name(shop, Policy.from_settings(settings))
    except shopify.ShopifyError as exc:
        service.record_call(session=session, connection_id=row.id, error=str(exc))
        return ConnectionCheck(ok=False, error=str(exc))
    service.record_call(session=session, connection_id=row.id, error=None)
    return ConnectionCheck(ok=True, shop_name=name)


@router.get(
    "/shop-connections/{connection_id}/deliveries",
    response_model=list[DeliveryRead],
    operation_id="list_shop_deliveries",
)
def list_deliveries(
    connection_id: str,
    caller: Caller,
    session: DbSession,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[DeliveryRead]:
    """What arrived from the shop, newest first: accepted, applied, duplicate, stale, refused."""
    caller.require(*STAFF)
    rows = service.deliveries(
        session=session, org_id=caller.org_id, connection_id=connection_id, limit=limit
    )
    return [DeliveryRead.of(r) for r in rows]


@router.post(
    "/shopify/webhooks/{connection_id}",
    operation_id="receive_shopify_webhook",
    responses={
        200: {"description": "Accepted (queued), a duplicate or a stale version."},
        401: {"description": "The signature does not match, or another shop sent it."},
        404: {"description": "No such connection."},
    },
)
async def receive_webhook(connection_id: str, request: Request) -> JSONResponse:
    """Shopify's orders/create, orders/updated, orders/cancelled (HMAC-signed; no login)."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():  # read no more than the cap, whatever is sent
        size += len(chunk)
        if size > service.MAX_BODY:
            return JSONResponse({"outcome": "refused", "reason": "body too large"}, status_code=413)
        chunks.append(chunk)
    body = b"".join(chunks)
    headers = {k.lower(): v for k, v in request.headers.items()}

    def work() -> service.Received:  # database and queue calls block: off the event loop
        with request.app.state.sessions() as session:
            received = service.receive(
                session=session, connection_id=connection_id, body=body, headers=headers
            )
        if received.queue:
            request.app.state.jobs.enqueue(APPLY, delivery_id=received.delivery_id)
        return received

    received = await run_in_threadpool(work)
    return JSONResponse(
        {"outcome": received.outcome, "reason": received.reason}, status_code=received.status
    )
