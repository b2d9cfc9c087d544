"""Routes and stops: one row per vehicle's day and one per visit, from the solve to the end of
the day. The plan, the driver app, live ETAs, tracking and KPIs all read these rows (through
:mod:`lastmile.routes.service`), so what was solved and what is running cannot drift apart."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import Date, Enum, Float, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from lastmile.common.ids import new_id
from lastmile.db.base import Base, OrgScoped, UTCDateTime


class RouteStatus(StrEnum):
    """Where a route is in its day (``planned`` routes are not sent to any driver yet)."""

    PLANNED = "planned"
    DISPATCHED = "dispatched"
    STARTED = "started"
    FINISHED = "finished"


class StopStatus(StrEnum):
    """What happened at a stop, as the driver reported it."""

    PENDING = "pending"
    ARRIVED = "arrived"
    DONE = "done"
    FAILED = "failed"
    SKIPPED = "skipped"


class StopKind(StrEnum):
    """An order's visit or the driver's break."""

    ORDER = "order"
    BREAK = "break"


def _stored_as_text(enum: type[StrEnum]) -> Enum:
    """The enum's values in the VARCHAR(16) column the tables always had (no CHECK constraint,
    no native type: no data migration, and a new status is one line here)."""
    return Enum(
        enum,
        native_enum=False,
        create_constraint=False,
        length=16,
        values_callable=lambda members: [m.value for m in members],
    )


class Route(OrgScoped, Base):
    __tablename__ = "routes"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=lambda: new_id("rte"))
    plan_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("plans.id", ondelete="CASCADE"), index=True
    )
    vehicle_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("vehicles.id", ondelete="CASCADE")
    )
    driver_id: Mapped[str | None] = mapped_column(
        String(32), ForeignKey("drivers.id", ondelete="SET NULL"), default=None, index=True
    )
    date: Mapped[date] = mapped_column(Date)
    status: Mapped[RouteStatus] = mapped_column(
        _stored_as_text(RouteStatus), default=RouteStatus.PLANNED
    )
    distance_m: Mapped[int] = mapped_column(default=0)
    duration_s: Mapped[int] = mapped_column(default=0)
    cost: Mapped[float] = mapped_column(Float, default=0.0)
    start_s: Mapped[int] = mapped_column(default=0)
    end_s: Mapped[int] = mapped_column(default=0)
    eta_computed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    """When ``lastmile.live`` last predicted this route (its stops' rows are in ``stop_etas``);
    readers use the stored prediction while it is fresh and never write one themselves."""
    eta_origin: Mapped[str | None] = mapped_column(String(16), default=None)
    """Where that prediction had the vehicle: arrived, position, last_stop or start."""
    eta_end_s: Mapped[int | None] = mapped_column(default=None)
    eta_overtime_s: Mapped[int] = mapped_column(default=0)
    eta_pace_travel: Mapped[float] = mapped_column(Float, default=1.0)
    eta_pace_service: Mapped[float] = mapped_column(Float, default=1.0)
    track_removed_m: Mapped[float] = mapped_column(Float, default=0.0, server_default="0")
    """Length of the GPS track whose positions the retention job deleted (``drivers.retention``):
    the driven distance is this plus the path of the positions still stored, so the KPIs of
    an old day stay what they were."""


class Stop(OrgScoped, Base):
    __tablename__ = "stops"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=lambda: new_id("stp"))
    route_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("routes.id", ondelete="CASCADE"), index=True
    )
    order_id: Mapped[str | None] = mapped_column(
        String(32), ForeignKey("orders.id", ondelete="CASCADE"), default=None, index=True
    )
    sequence: Mapped[int] = mapped_column()
    kind: Mapped[StopKind] = mapped_column(_stored_as_text(StopKind), default=StopKind.ORDER)
    arrival_s: Mapped[int] = mapped_column()
    start_s: Mapped[int] = mapped_column()
    departure_s: Mapped[int] = mapped_column()
    status: Mapped[StopStatus] = mapped_column(
        _stored_as_text(StopStatus), default=StopStatus.PENDING
    )
    dispatched_arrival_s: Mapped[int | None] = mapped_column(default=None)
    """The arrival the driver and the customer were given when the route was dispatched (or
    when the stop joined a dispatched route): what the KPIs' arrival error and planned-vs-actual
    compare with, however often the rest of the day is re-planned."""
    moved_from_route_id: Mapped[str | None] = mapped_column(String(32), default=None)
    """The route this stop was on before a dispatcher moved it (re-optimising the rest of the
    day): that route's driver may still report on it from a phone that was offline."""


class StopEta(OrgScoped, Base):
    """The latest prediction of one stop still to serve (one row per stop, replaced when
    ``lastmile.live`` recomputes the route; written only through ``routes.service``)."""

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
    """The ETA window promised to the customer (inside the booked window while the prediction
    is; it changes only when the prediction leaves it or it can be narrowed)."""
    pace_travel: Mapped[float] = mapped_column(Float, default=1.0)
    pace_service: Mapped[float] = mapped_column(Float, default=1.0)
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime())
