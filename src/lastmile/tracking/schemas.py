"""Tracking links and what staff see of the customers' use of them."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel


class TrackingLinkRead(BaseModel):
    """A new customer link; the token in it is shown only this once."""

    url: str
    """Absolute URL (``LASTMILE_PUBLIC_URL`` + path)."""
    path: str
    """``/t/<token>``."""
    expires_at: datetime


class OrderTrackingRead(BaseModel):
    views: int
    links: int
    instruction_kind: str | None
    instruction_text: str
    rating: int | None
    comment: str


class TrackingKpis(BaseModel):
    views: int
    """Views of tracking pages of orders in the date range."""
    orders_viewed: int
    ratings: int
    average_rating: float | None
