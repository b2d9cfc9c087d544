"""Driver API bodies (the contract of the driver app, ``docs/api-driver.md``).

The inputs are deliberately loose at the type level (``occurred_at`` is a string, numbers
may be anything JSON calls a number): one bad event or point of a batch that a phone kept
offline for hours must be *rejected on its own* with a field and a message, not turn the
whole batch into a 422 that the app would retry for ever. The service checks every rule.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr

from lastmile.core.model import HANDOVERS, Handover
from lastmile.drivers.models import ProofOfDelivery

EventType = Literal["route_started", "route_finished", "arrived", "delivered", "failed"]
FailReason = Literal["not_home", "wrong_address", "refused", "access_problem", "damaged", "other"]
PodKind = Literal["photo", "signature"]

EVENT_TYPES: tuple[str, ...] = get_args(EventType)
FAIL_REASONS: tuple[str, ...] = get_args(FailReason)
POD_KINDS: tuple[str, ...] = get_args(PodKind)
__all__ = ["HANDOVERS", "POD_KINDS"]

MAX_EVENTS = 500
MAX_POSITIONS = 1000


class _Loose(BaseModel):
    """Unknown fields are ignored, so an older server accepts a newer app's extra fields."""

    model_config = ConfigDict(extra="ignore")


# --- route -----------------------------------------------------------------------------------


class Navigation(BaseModel):
    osm: str
    google: str
    apple: str
    geo: str


class DriverStop(BaseModel):
    id: str = Field(description="The stop id (what events name in stop_id).")
    kind: Literal["order", "break"]
    sequence: int
    status: Literal["pending", "arrived", "delivered", "failed"]
    eta: str = Field(
        description="Expected arrival (lastmile.live's prediction, the same the dispatcher and "
        "the customer see; the planned one for stops already done), ISO 8601 local time."
    )
    planned_arrival: str | None = Field(
        default=None, description="Arrival in the plan as it stands, ISO 8601 local time."
    )
    service_s: int = Field(description="Planned time at the stop (for a break: its length).")
    order_id: str | None = None
    external_id: str | None = None
    order_kind: Literal["delivery", "pickup"] | None = None
    order_status: str | None = Field(default=None, description="The order's own status.")
    address: str | None = None
    lon: float | None = None
    lat: float | None = None
    windows: list[tuple[str, str]] | None = Field(
        default=None, description='Local "HH:MM" pairs when service may start; empty = any time.'
    )
    notes: str | None = None
    description: str | None = Field(default=None, description='What to deliver ("bread basket").')
    customer: str | None = None
    phone: str | None = None
    items: dict[str, float] | None = Field(default=None, description="{dimension: amount}")
    pod_required: list[PodKind] | None = Field(
        default=None, description="Proofs the first (usual) way of handing over needs."
    )
    handover: list[Handover] | None = Field(
        default=None,
        description="The ways this delivery may be handed over (the order's proof-of-delivery "
        "policy, else the organisation's); the first is the usual one.",
    )
    navigation: Navigation | None = None


class RoutePoint(BaseModel):
    lon: float | None
    lat: float | None


class RouteStart(RoutePoint):
    departure: str


class RouteEnd(RoutePoint):
    arrival: str


class VehicleRef(BaseModel):
    id: str
    name: str


class DriverRoute(BaseModel):
    id: str
    plan_id: str
    date: dt.date
    status: Literal["dispatched", "started", "finished"]
    vehicle: VehicleRef
    start: RouteStart
    end: RouteEnd
    stops: list[DriverStop]


class RouteResponse(BaseModel):
    server_time: dt.datetime = Field(
        description="The server's clock (to spot a wrong phone clock)."
    )
    language: str = Field(
        default="en",
        description="The organisation's language (en, de): the words the app shows, from "
        "/driver/texts/<language>.json.",
    )
    route: DriverRoute | None


# --- events ----------------------------------------------------------------------------------


class DriverEventIn(_Loose):
    key: str = Field(description="Client-generated idempotency key, 8-100 characters.")
    type: str = Field(description="route_started, route_finished, arrived, delivered or failed.")
    occurred_at: str = Field(description="When it happened: ISO 8601 with a UTC offset.")
    stop_id: str | None = Field(default=None, description="Needed for arrived/delivered/failed.")
    route_id: str | None = Field(
        default=None,
        description="For route_started/route_finished: which route (default: the driver's "
        "route of the day of occurred_at).",
    )
    lon: float | None = None
    lat: float | None = None
    reason: str | None = Field(default=None, description="Needed for failed.")
    note: str = ""
    recipient: str = ""
    barcodes: list[str] = Field(default_factory=list)
    handover: str | None = Field(
        default=None,
        description="For delivered: signature, signature_photo, photo, safe_place (note says where) or "
        "neighbour (recipient is the neighbour's name); must be allowed by the stop's "
        "`handover`. Omitted: the stop's usual way.",
    )


class EventBatch(_Loose):
    events: list[DriverEventIn] = Field(max_length=MAX_EVENTS)


class EventError(BaseModel):
    field: str
    message: str


class EventResult(BaseModel):
    key: str
    status: Literal["applied", "duplicate", "rejected"]
    error: EventError | None = None
    order_status: str | None = None


class EventResults(BaseModel):
    results: list[EventResult]


# --- positions -------------------------------------------------------------------------------


class PositionIn(_Loose):
    lon: float
    lat: float
    recorded_at: str = Field(description="ISO 8601 with a UTC offset.")
    accuracy_m: float | None = None
    speed_ms: float | None = None
    heading: float | None = Field(default=None, description="Degrees clockwise from north.")


class PositionBatch(_Loose):
    positions: list[PositionIn] = Field(max_length=MAX_POSITIONS)


class PositionIssue(BaseModel):
    index: int
    field: str
    message: str


class PositionResult(BaseModel):
    accepted: int
    rejected: list[PositionIssue]
    _newest: tuple[str, float, float, dt.datetime] | None = PrivateAttr(default=None)

    def newest(self) -> tuple[str, float, float, dt.datetime] | None:
        """(route id, lon, lat, recorded_at) of the batch's newest accepted point (kept on
        the server: the ETA recompute starts from it without reading it back)."""
        return self._newest

    def note_newest(self, point: tuple[str, float, float, dt.datetime] | None) -> None:
        self._newest = point


# --- proof of delivery -----------------------------------------------------------------------


class PodRead(BaseModel):
    id: str
    order_id: str
    kind: PodKind
    sha256: str
    size_bytes: int
    content_type: str
    event_key: str | None
    recipient: str
    created_at: dt.datetime

    @classmethod
    def of(cls, row: ProofOfDelivery) -> PodRead:
        return cls(
            id=row.id,
            order_id=row.order_id,
            kind="photo" if row.kind == "photo" else "signature",
            sha256=row.sha256,
            size_bytes=row.size_bytes,
            content_type=row.content_type,
            event_key=row.event_key,
            recipient=row.recipient,
            created_at=row.created_at,
        )
