"""Webhook API bodies."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field, HttpUrl


class WebhookCreate(BaseModel):
    url: HttpUrl
    event_types: list[str] = Field(
        default_factory=list, max_length=50, description="Event types to send; empty = all."
    )


class WebhookRead(BaseModel):
    id: str
    url: str
    event_types: list[str]
    active: bool
    created_at: datetime


class WebhookCreated(WebhookRead):
    secret: str = Field(
        description="HMAC-SHA256 key of the X-Lastmile-Signature header; shown once."
    )


class DeliveryRead(BaseModel):
    id: str
    event_id: int
    status: str
    attempts: int
    last_status_code: int | None
    last_error: str | None
    next_attempt_at: datetime | None
    delivered_at: datetime | None
    created_at: datetime
