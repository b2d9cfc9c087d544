"""What drivers' devices send: events (idempotent by client key), GPS positions, POD files."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Float, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from lastmile.common.ids import new_id
from lastmile.db.base import Base, OrgScoped, UTCDateTime


class DeviceEvent(OrgScoped, Base):
    """A driver action as the device sent it, kept once per idempotency key."""

    __tablename__ = "device_events"
    __table_args__ = (UniqueConstraint("org_id", "idempotency_key"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=lambda: new_id("dev"))
    idempotency_key: Mapped[str] = mapped_column(String(100))
    driver_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("drivers.id", ondelete="CASCADE"), index=True
    )
    type: Mapped[str] = mapped_column(String(32))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime())
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    response: Mapped[dict[str, Any]] = mapped_column(default=dict)
    """What the server answered the first time (a replay gets the same answer)."""


class Position(OrgScoped, Base):
    __tablename__ = "positions"
    __table_args__ = (
        Index("ix_positions_driver_time", "driver_id", "recorded_at"),
        # A route's newest point (every GPS batch, tracking pages near the stop) and its track.
        Index("ix_positions_route_time", "route_id", "recorded_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    driver_id: Mapped[str] = mapped_column(String(32), ForeignKey("drivers.id", ondelete="CASCADE"))
    route_id: Mapped[str | None] = mapped_column(
        String(32), ForeignKey("routes.id", ondelete="SET NULL"), default=None
    )
    lon: Mapped[float] = mapped_column(Float)
    lat: Mapped[float] = mapped_column(Float)
    accuracy_m: Mapped[float | None] = mapped_column(Float, default=None)
    speed_ms: Mapped[float | None] = mapped_column(Float, default=None)
    heading: Mapped[float | None] = mapped_column(Float, default=None)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ProofOfDelivery(OrgScoped, Base):
    """A photo or signature file; the bytes live in the POD store (files in the data dir)."""

    __tablename__ = "pods"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=lambda: new_id("pod"))
    order_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("orders.id", ondelete="CASCADE"), index=True
    )
    event_key: Mapped[str | None] = mapped_column(String(100), default=None)
    kind: Mapped[str] = mapped_column(String(16))
    """photo or signature."""
    storage_key: Mapped[str] = mapped_column(String(300))
    content_type: Mapped[str] = mapped_column(String(100))
    size_bytes: Mapped[int] = mapped_column()
    sha256: Mapped[str] = mapped_column(String(64))
    recipient: Mapped[str] = mapped_column(String(200), default="")
