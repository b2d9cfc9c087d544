"""The latest predicted times of each remaining stop (one row per stop, replaced on recompute)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from lastmile.common.ids import new_id
from lastmile.db.base import Base, OrgScoped, UTCDateTime


class StopEta(OrgScoped, Base):
    __tablename__ = "stop_etas"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=lambda: new_id("eta"))
    stop_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("stops.id", ondelete="CASCADE"), unique=True
    )
    route_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("routes.id", ondelete="CASCADE"), index=True
    )
    order_id: Mapped[str | None] = mapped_column(String(32), default=None)
    arrival_s: Mapped[int] = mapped_column(Integer)
    """Predicted arrival, seconds since local midnight of the route's date."""
    start_s: Mapped[int] = mapped_column(Integer)
    departure_s: Mapped[int] = mapped_column(Integer)
    level: Mapped[str] = mapped_column(String(16), default="on_time")
    """on_time, at_risk, late."""
    late_s: Mapped[int] = mapped_column(Integer, default=0)
    promise_start_s: Mapped[int | None] = mapped_column(Integer, default=None)
    promise_end_s: Mapped[int | None] = mapped_column(Integer, default=None)
    """The ETA window promised to the customer (changes only when the ETA leaves it or it
    can be narrowed)."""
    pace_travel: Mapped[float] = mapped_column(Float, default=1.0)
    pace_service: Mapped[float] = mapped_column(Float, default=1.0)
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime())
