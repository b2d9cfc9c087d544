"""Request and response bodies of the shop connectors' API (docs/connectors/shopify.md)."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, Field, field_validator

from lastmile.integrations.shop.shopify import API_VERSION, normal_host
from lastmile.orders.schemas import _Input
from lastmile.shops.models import ShopConnection, ShopDelivery


def hint(secret: str) -> str:
    """What the owner sees of a secret: its last four characters."""
    return "••••" + secret[-4:] if len(secret) > 8 else "••••"


class ConnectionIn(_Input):
    """A shop to take orders from (Shopify)."""

    shop: str = Field(
        min_length=3, max_length=255, description="The shop's my-shop.myshopify.com address."
    )
    access_token: str = Field(
        min_length=8, max_length=500, description="Admin API access token (shpat_…); write-only."
    )
    webhook_secret: str = Field(
        min_length=8, max_length=500, description="The key webhooks are signed with; write-only."
    )
    notify_customer: bool = Field(
        default=True, strict=True, description="Shopify e-mails the customer the tracking link."
    )

    @field_validator("shop")
    @classmethod
    def _host(cls, value: str) -> str:
        return normal_host(value)


class ConnectionUpdate(_Input):
    """A partial change; a secret sent replaces the stored one."""

    access_token: str | None = Field(default=None, min_length=8, max_length=500)
    webhook_secret: str | None = Field(default=None, min_length=8, max_length=500)
    notify_customer: bool | None = Field(default=None, strict=True)
    active: bool | None = Field(default=None, strict=True)


class ConnectionRead(BaseModel):
    id: str
    platform: str
    shop: str
    webhook_url: str = Field(description="Paste this into the shop's webhook settings.")
    topics: list[str]
    api_version: str
    access_token_hint: str = Field(description="Last four characters only.")
    webhook_secret_hint: str = Field(description="Last four characters only.")
    active: bool
    notify_customer: bool
    last_error: str | None
    created_at: dt.datetime

    @classmethod
    def of(cls, row: ShopConnection, public_url: str) -> ConnectionRead:
        from lastmile.shops.service import TOPICS

        return cls(
            id=row.id,
            platform=row.platform,
            shop=row.shop_host,
            webhook_url=public_url.rstrip("/") + f"/api/v1/shopify/webhooks/{row.id}",
            topics=sorted(TOPICS),
            api_version=API_VERSION,
            access_token_hint=hint(row.access_token),
            webhook_secret_hint=hint(row.webhook_secret),
            active=row.active,
            notify_customer=row.notify_customer,
            last_error=row.last_error,
            created_at=row.created_at,
        )


class DeliveryRead(BaseModel):
    """One webhook as it arrived, and what became of it."""

    id: str
    received_at: dt.datetime
    topic: str
    webhook_id: str
    shop_order_id: str
    shop_order_name: str
    outcome: str = Field(
        description="accepted (queued), applied, duplicate, stale, refused or failed."
    )
    reason: str
    order_id: str | None

    @classmethod
    def of(cls, row: ShopDelivery) -> DeliveryRead:
        return cls(
            id=row.id,
            received_at=row.received_at,
            topic=row.topic,
            webhook_id=row.webhook_id,
            shop_order_id=row.shop_order_id,
            shop_order_name=row.shop_order_name,
            outcome=row.outcome,
            reason=row.reason,
            order_id=row.order_id,
        )


class ConnectionCheck(BaseModel):
    ok: bool
    shop_name: str | None = None
    error: str | None = None
