"""Request and response bodies of the orders API. Units: seconds, WGS84 degrees, local dates.

Time windows are public as ``{"start": "HH:MM", "end": "HH:MM"}`` in the organisation's local
time (``HH:MM:SS`` is accepted too; ``24:00`` is the end of the day). They are stored as
seconds since local midnight, the unit of the planner.
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from lastmile.core.model import Handover
from lastmile.core.times import format_clock_exact, parse_clock
from lastmile.orders.lifecycle import OrderStatus
from lastmile.orders.models import Order, OrderEvent


def _iso_date(value: Any) -> Any:
    """Only ``YYYY-MM-DD`` (Pydantic alone would also take timestamps and datetimes)."""
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value
    if isinstance(value, str) and len(value) == 10 and value[4] == "-" and value[7] == "-":
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            pass
    raise ValueError("must be a date as YYYY-MM-DD")


def _clock(value: Any) -> Any:
    if not isinstance(value, str):
        raise ValueError("must be a time of day as 'HH:MM'")
    parse_clock(value)  # raises ValueError with a readable message
    return value.strip()


def _finite(value: float) -> float:
    if not math.isfinite(value):
        raise ValueError("must be a finite number")
    return value


class _Input(BaseModel):
    """A request body: unknown fields refused. (NUL characters never reach it: every request
    holding one is refused by ``lastmile.common.nul`` first.)"""

    model_config = ConfigDict(extra="forbid")


IsoDate = Annotated[dt.date, BeforeValidator(_iso_date)]
Clock = Annotated[str, BeforeValidator(_clock)]
Lon = Annotated[float, Field(strict=True, ge=-180, le=180, description="Longitude, WGS84 degrees.")]
Lat = Annotated[float, Field(strict=True, ge=-90, le=90, description="Latitude, WGS84 degrees.")]
Amount = Annotated[float, Field(strict=True, ge=0), AfterValidator(_finite)]
Dimension = Annotated[str, Field(min_length=1, max_length=50, pattern=r"^[a-z][a-z0-9_]*$")]
Skill = Annotated[str, Field(min_length=1, max_length=50)]
ExternalId = Annotated[
    str,
    Field(min_length=1, max_length=100, pattern=r"^\S(.*\S)?$", description="The shop's order id."),
]
Kind = Literal["delivery", "pickup"]

MAX_WINDOWS = 10
MAX_RANGE_DAYS = 35
"""A flexible order's range spans at most this many days (five weeks, as far ahead as the
planners we are compared with go)."""


def check_range(
    day: dt.date | None, earliest: dt.date | None, latest: dt.date | None
) -> list[tuple[str, str]]:
    """(field, what is wrong) for a date range; one rule for the API, the CSV import and the
    dashboard form. ``day`` is the order's date (the range's start unless ``earliest``)."""
    if earliest is not None and latest is None:
        return [("latest_date", "is needed with earliest_date (the last day it may come)")]
    if latest is None:
        return []
    first = earliest or day
    if first is None:
        return []
    if latest < first:
        return [("latest_date", f"is before the earliest date {first.isoformat()}")]
    if (latest - first).days + 1 > MAX_RANGE_DAYS:
        return [("latest_date", f"makes a range of more than {MAX_RANGE_DAYS} days")]
    if day is not None and earliest is not None and not earliest <= day <= latest:
        return [
            (
                "latest_date",
                f"the date {day.isoformat()} is outside the range "
                f"{earliest.isoformat()}..{latest.isoformat()}",
            )
        ]
    return []


class Window(_Input):
    """Service may start between ``start`` and ``end``, local time of the order's date."""

    start: Clock = Field(examples=["08:00"])
    end: Clock = Field(examples=["12:00"])

    @model_validator(mode="after")
    def _ordered(self) -> Window:
        if parse_clock(self.end) <= parse_clock(self.start):
            raise ValueError(
                f"the window ends ({self.end}) before or when it starts ({self.start})"
            )
        return self

    def seconds(self) -> list[int]:
        return [parse_clock(self.start), parse_clock(self.end)]

    @classmethod
    def from_seconds(cls, pair: list[int]) -> Window:
        return cls(start=format_clock_exact(pair[0]), end=format_clock_exact(pair[1]))


def _check_windows(windows: list[Window]) -> list[Window]:
    ordered = sorted(windows, key=lambda w: parse_clock(w.start))
    for before, after in itertools.pairwise(ordered):
        if parse_clock(after.start) < parse_clock(before.end):
            raise ValueError(
                f"windows overlap ({before.start}-{before.end} and {after.start}-{after.end}); merge them"
            )
    return ordered


Windows = Annotated[list[Window], Field(max_length=MAX_WINDOWS), AfterValidator(_check_windows)]

_COMMON_DESCRIPTIONS = {
    "address": "Postal address as one line.",
    "windows": "Delivery windows, local time; empty = any time of the day.",
    "service_s": "Time spent at the stop, seconds.",
    "demand": "Amount per capacity dimension, e.g. {'parcels': 2, 'weight_kg': 17.5}.",
}


class OrderCreate(_Input):
    """A new order; sending one whose ``external_id`` exists updates or confirms it."""

    external_id: ExternalId
    date: IsoDate | None = Field(
        default=None, description="Delivery date; default: today in the organisation's time zone."
    )
    earliest_date: IsoDate | None = Field(
        default=None,
        description="Flexible orders: the first day it may be delivered (default: `date`). "
        "Needs `latest_date`.",
    )
    latest_date: IsoDate | None = Field(
        default=None,
        validate_default=True,
        description="Flexible orders: the last day it may be delivered; a multi-day plan "
        f"chooses the day. At most {MAX_RANGE_DAYS} days from the first.",
    )
    address: str = Field(default="", max_length=500, description=_COMMON_DESCRIPTIONS["address"])
    lon: Lon | None = None
    lat: Lat | None = None
    windows: Windows = Field(default_factory=list, description=_COMMON_DESCRIPTIONS["windows"])
    service_s: int | None = Field(
        default=None,
        strict=True,
        ge=0,
        le=86_400,
        description=_COMMON_DESCRIPTIONS["service_s"]
        + " Omitted: the organisation's default service time (an existing order keeps its own).",
    )
    demand: dict[Dimension, Amount] = Field(
        default_factory=dict, description=_COMMON_DESCRIPTIONS["demand"]
    )
    required: bool = Field(
        default=True, strict=True, description="False: plan only if worth the detour (see value)."
    )
    value: Amount = Field(
        default=0.0, description="What serving an optional order is worth (currency)."
    )
    skills: list[Skill] = Field(
        default_factory=list, max_length=20, description="Skills the vehicle/driver needs."
    )
    kind: Kind = "delivery"
    deliver_to: ExternalId | None = Field(
        default=None, description="For a pickup: external_id of the delivery its goods go to."
    )
    notes: str = Field(default="", max_length=2000)
    description: str = Field(
        default="", max_length=2000, description='What to deliver, in words ("bread basket").'
    )
    customer: str = Field(default="", max_length=200)
    phone: str = Field(default="", max_length=50)
    email: str = Field(default="", max_length=320)
    pod_policy: list[Handover] | None = Field(
        default=None,
        min_length=1,
        max_length=5,
        description="Ways this order may be handed over (signature, signature_photo, photo, "
        "safe_place, neighbour); the first is the usual one. Omitted or null: the "
        "organisation's policy.",
    )

    @field_validator("latest_date")
    @classmethod
    def _latest(cls, value: dt.date | None, info: ValidationInfo) -> dt.date | None:
        # Runs on the default too (validate_default), so that an earliest_date without a
        # latest_date is refused here, naming the field that is missing.
        for _field, why in check_range(
            info.data.get("date"), info.data.get("earliest_date"), value
        ):
            raise ValueError(why)
        return value

    @model_validator(mode="after")
    def _consistent(self) -> OrderCreate:
        _check_location(self.lon, self.lat, self.address, partial=False)
        if self.deliver_to is not None and self.kind != "pickup":
            raise ValueError("deliver_to is only for orders of kind 'pickup'")
        if self.deliver_to == self.external_id:
            raise ValueError("a pickup cannot deliver to itself")
        return self


def _check_location(
    lon: float | None, lat: float | None, address: str | None, *, partial: bool
) -> None:
    if (lon is None) != (lat is None):
        raise ValueError("give both lon and lat, or neither")
    if not partial and lon is None and not (address or "").strip():
        raise ValueError("an order needs an address or coordinates (lon, lat)")


_NOT_NULL = (
    "date", "address", "windows", "service_s", "demand", "required", "value", "skills",
    "kind", "notes", "description", "customer", "phone", "email",
)  # fmt: skip


class OrderUpdate(_Input):
    """A partial change (PATCH): only the fields sent change. ``lon``/``lat`` null clears them."""

    date: IsoDate | None = None
    earliest_date: IsoDate | None = Field(
        default=None, description="null (with latest_date null): a one-day order again."
    )
    latest_date: IsoDate | None = None
    address: str | None = Field(default=None, max_length=500)
    lon: Lon | None = None
    lat: Lat | None = None
    windows: Windows | None = None
    service_s: int | None = Field(default=None, strict=True, ge=0, le=86_400)
    demand: dict[Dimension, Amount] | None = None
    required: bool | None = Field(default=None, strict=True)
    value: Amount | None = None
    skills: list[Skill] | None = Field(default=None, max_length=20)
    kind: Kind | None = None
    deliver_to: ExternalId | None = None
    notes: str | None = Field(default=None, max_length=2000)
    description: str | None = Field(default=None, max_length=2000)
    customer: str | None = Field(default=None, max_length=200)
    phone: str | None = Field(default=None, max_length=50)
    email: str | None = Field(default=None, max_length=320)
    pod_policy: list[Handover] | None = Field(
        default=None,
        min_length=1,
        max_length=5,
        description="Ways this order may be handed over (signature, photo, safe_place, "
        "neighbour); the first is the usual one. null: back to the organisation's policy.",
    )

    @field_validator(*_NOT_NULL, mode="before")
    @classmethod
    def _not_null(cls, value: Any) -> Any:
        # Defaults are not validated, so this only sees an explicit null.
        if value is None:
            raise ValueError("may not be null (leave the field out to keep it)")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> OrderUpdate:
        if ("lon" in self.model_fields_set) != ("lat" in self.model_fields_set):
            raise ValueError("change lon and lat together")
        _check_location(self.lon, self.lat, None, partial=True)
        return self


class OrderRead(BaseModel):
    id: str
    external_id: str
    date: dt.date
    earliest_date: dt.date | None = Field(
        description="Flexible orders: the range of days it may be delivered (else null)."
    )
    latest_date: dt.date | None
    status: OrderStatus
    address: str
    lon: float | None
    lat: float | None
    address_verdict: str | None = Field(
        description="How the location was obtained: 'given' (sent with the order) or the geocoder's verdict."
    )
    windows: list[Window]
    service_s: int
    demand: dict[str, float]
    required: bool
    value: float
    skills: list[str]
    kind: Kind
    deliver_to: str | None
    notes: str
    description: str
    customer: str
    phone: str
    email: str
    pod_policy: list[Handover] | None = Field(
        description="The order's own ways of handing over; null: the organisation's policy."
    )
    created_at: dt.datetime
    updated_at: dt.datetime

    @classmethod
    def of(cls, order: Order) -> OrderRead:
        return cls(
            id=order.id,
            external_id=order.external_id,
            date=order.date,
            earliest_date=order.earliest_date,
            latest_date=order.latest_date,
            status=OrderStatus(order.status),
            address=order.address,
            lon=order.lon,
            lat=order.lat,
            address_verdict=order.address_verdict,
            windows=[Window.from_seconds(w) for w in order.windows],
            service_s=order.service_s,
            demand=order.demand,
            required=order.required,
            value=order.value,
            skills=order.skills,
            kind="pickup" if order.kind == "pickup" else "delivery",
            deliver_to=order.deliver_to,
            notes=order.notes,
            description=order.description,
            customer=order.customer,
            phone=order.phone,
            email=order.email,
            pod_policy=order.pod_policy,  # type: ignore[arg-type]
            created_at=order.created_at,
            updated_at=order.updated_at,
        )


class OrderPage(BaseModel):
    items: list[OrderRead]
    total: int = Field(description="Orders matching the filters, all pages together.")
    limit: int
    offset: int


class OrderWriteResult(BaseModel):
    """One order of ``POST /orders``: what happened to it."""

    result: Literal["created", "updated", "unchanged"]
    existed: bool = Field(description="True if an order with this external_id was already there.")
    order: OrderRead


class OrderWriteResponse(BaseModel):
    items: list[OrderWriteResult]
    created: int
    updated: int
    unchanged: int


class TransitionRequest(_Input):
    to: OrderStatus
    note: str = Field(default="", max_length=2000)
    reason: str | None = Field(
        default=None, min_length=1, max_length=50, description="Why, e.g. for 'failed': 'not_home'."
    )
    at: dt.datetime | None = Field(
        default=None, description="When it happened (with a time zone); default: now."
    )
    lon: Lon | None = None
    lat: Lat | None = None
    date: IsoDate | None = Field(
        default=None,
        description="For 'rescheduled': the new delivery date (default: the day after the current one).",
    )

    @model_validator(mode="after")
    def _consistent(self) -> TransitionRequest:
        _check_location(self.lon, self.lat, None, partial=True)
        if self.at is not None and self.at.tzinfo is None:
            raise ValueError("at needs a time zone (e.g. 2026-11-24T10:15:00Z)")
        if self.date is not None and self.to != OrderStatus.RESCHEDULED:
            raise ValueError("date is only for 'rescheduled'")
        return self


class OrderEventRead(BaseModel):
    id: str
    order_id: str
    from_status: OrderStatus | None
    to_status: OrderStatus
    at: dt.datetime
    actor: str
    lon: float | None
    lat: float | None
    note: str
    reason: str | None
    created_at: dt.datetime

    @classmethod
    def of(cls, row: OrderEvent) -> OrderEventRead:
        return cls(
            id=row.id,
            order_id=row.order_id,
            from_status=OrderStatus(row.from_status) if row.from_status else None,
            to_status=OrderStatus(row.to_status),
            at=row.at,
            actor=row.actor,
            lon=row.lon,
            lat=row.lat,
            note=row.note,
            reason=row.reason,
            created_at=row.created_at,
        )


class ImportIssue(BaseModel):
    field: str | None
    value: str | None
    message: str


class ImportRow(BaseModel):
    row: int = Field(description="Row as a spreadsheet shows it: the header is row 1.")
    external_id: str | None
    status: Literal["created", "updated", "unchanged", "invalid"]
    order_id: str | None = Field(
        default=None,
        description="The stored order (absent for invalid rows and dry runs of new orders).",
    )
    errors: list[ImportIssue] = Field(default_factory=list)


class ImportReport(BaseModel):
    dry_run: bool
    applied: bool = Field(description="True if the valid rows were written.")
    date: dt.date | None = Field(description="Delivery date of rows without a date column.")
    rows: list[ImportRow]
    created: int
    updated: int
    unchanged: int
    invalid: int
    warnings: list[str] = Field(default_factory=list)


class GeocodeAnswer(BaseModel):
    """The offline geocoder's verdict on one address (``GET /api/v1/geocode``)."""

    input: str
    verdict: str = Field(description="exact, corrected, ambiguous, not_found or outside_area")
    address: str | None
    lon: float | None
    lat: float | None
    confidence: float
    changes: list[str]
    reason: str = Field(default="", description="why there is no answer (when there is none)")
    candidates: list[dict[str, Any]]
