"""Live operations API bodies. Times are ISO 8601 local date-times of the route's day."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, Field

from lastmile.orders.schemas import Window


class Pace(BaseModel):
    travel: float = Field(description="Observed / planned travel time today (0.7-1.6).")
    service: float = Field(description="Observed / planned service time today (0.7-1.6).")


class StopEtaRead(BaseModel):
    stop_id: str
    order_id: str | None
    external_id: str | None
    kind: str = Field(description="order or break")
    status: str = Field(description="pending or arrived")
    eta: str = Field(description="Predicted arrival.")
    service_start: str
    departure: str
    planned_arrival: str
    level: str = Field(description="on_time, at_risk or late")
    minutes_late: int
    promise: list[str] | None = Field(description="The ETA window to tell the customer [from, to].")
    windows: list[list[str]] = Field(description="The order's delivery windows.")


class RouteEtasRead(BaseModel):
    route_id: str
    vehicle_id: str
    driver_id: str | None
    status: str
    computed_at: dt.datetime
    now: str
    origin: str = Field(
        description="Where the prediction starts: arrived, position, last_stop, start."
    )
    pace: Pace
    end: str = Field(description="Predicted end of the route.")
    overtime_s: int
    stops: list[StopEtaRead]


class Inserted(BaseModel):
    order_id: str
    order_status: str
    route_id: str
    vehicle_id: str
    driver_id: str | None
    stop_id: str
    sequence: int
    eta: str | None
    added_cost: float = Field(description="Marginal cost of the insertion (currency).")
    added_distance_m: int
    added_s: int = Field(
        default=0, description="How much later the route's remaining work ends, seconds."
    )


class ReoptimiseRequest(BaseModel):
    route_ids: list[str] | None = Field(
        default=None,
        max_length=1000,
        description="Only these routes (default: every running route).",
    )
    time_limit_s: float = Field(default=2.0, gt=0, le=60, description="Search time in seconds.")
    preview: bool = Field(
        default=False, description="Only say what would change; nothing is written."
    )


class RouteChangeRead(BaseModel):
    route_id: str
    vehicle_id: str
    before: list[str] = Field(description="Remaining order ids in visit order, before.")
    after: list[str] = Field(description="Remaining order ids in visit order, after.")
    cost_before: float
    cost_after: float
    distance_before_m: int
    distance_after_m: int
    end_before: str = Field(description="When the route's remaining work ends, before.")
    end_after: str = Field(description="When it ends after re-optimising.")
    moved_in: list[str] = Field(description="Orders that come to this route from another.")


class ReoptimiseResult(BaseModel):
    plan_id: str
    changed: bool
    message: str
    cost_before: float
    cost_after: float
    routes_changed: list[str]
    orders_moved: int
    applied: bool = Field(default=False, description="False for a preview or no improvement.")
    changes: list[RouteChangeRead] = Field(default_factory=list)


class SlotRead(BaseModel):
    start: str
    end: str
    available: bool
    cost: float | None = Field(description="Marginal cost of delivering in this slot (currency).")
    reason: str = Field(description="Why it is not available (empty when it is).")


class SlotsRead(BaseModel):
    date: dt.date
    location: list[float] = Field(description="[lon, lat]")
    address: str | None
    verdict: str | None = Field(description="The geocoder's verdict when an address was given.")
    based_on: str = Field(description="routes (the day's running routes) or fleet (no plan yet)")
    slots: list[SlotRead]


class SlotBooking(BaseModel):
    external_id: str = Field(min_length=1, max_length=100, pattern=r"^\S(.*\S)?$")
    date: dt.date
    window: Window
    address: str = Field(default="", max_length=500)
    lon: float | None = Field(default=None, ge=-180, le=180)
    lat: float | None = Field(default=None, ge=-90, le=90)
    demand: dict[str, float] = Field(default_factory=dict)
    service_s: int = Field(default=300, ge=0, le=8 * 3600)
    customer: str = Field(default="", max_length=200)
    phone: str = Field(default="", max_length=50)
    email: str = Field(default="", max_length=320)
    notes: str = Field(default="", max_length=2000)


class SlotBooked(BaseModel):
    result: str = Field(description="created, or existing (the same external_id was booked before)")
    order_id: str
    external_id: str
    status: str
    window: list[str]
    inserted: bool
    route_id: str | None = None
    stop_id: str | None = None
    eta: str | None = None
    added_cost: float | None = None
    message: str = ""


class MoveRequest(BaseModel):
    """Move a stop of a dispatched day, or take it off its route."""

    order_id: str = Field(max_length=32)
    to_route_id: str | None = Field(
        default=None,
        max_length=32,
        description="A running route of the plan (its own to re-order it); null takes the "
        "order off its route (back to ready; not for goods in a van that has left).",
    )
    position: int = Field(default=0, ge=0, le=10000, description="0-based among stops to do.")
    preview: bool = Field(default=False, description="Only check; nothing is written.")


class MoveViolation(BaseModel):
    code: str
    message: str
    route_id: str | None
    order_id: str | None
    external_id: str | None


class MoveResult(BaseModel):
    applied: bool
    ok: bool = Field(description="The independent check found nothing wrong.")
    cost_before: float
    cost_after: float
    violations: list[MoveViolation]
    changed_routes: list[str] = Field(description="Routes whose drivers were told at once.")
