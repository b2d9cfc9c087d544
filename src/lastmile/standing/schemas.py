"""Request and response bodies of the standing orders API. Units as in the orders API: local
dates ``YYYY-MM-DD``, windows as local ``HH:MM``, seconds, amounts per capacity dimension."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import BaseModel, Field, field_validator

from lastmile.core.recurrence import WEEKDAYS, Frequency
from lastmile.orders.lifecycle import OrderStatus
from lastmile.orders.schemas import Amount, Dimension, IsoDate, Window, Windows, _Input
from lastmile.standing.models import ClosedDay, StandingOrder

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]

_DESCRIPTIONS = {
    "frequency": "weekly (on weekdays, every every_weeks weeks) or monthly (on month_day).",
    "weekdays": 'For weekly: the days, e.g. ["tue", "fri"].',
    "every_weeks": "For weekly: 1 every week, 2 every other week (counted from the week of "
    "starts_on), up to 52.",
    "month_day": "For monthly: the day of the month, 1-31 (a shorter month uses its last day).",
    "starts_on": "First date it may fall on.",
    "ends_on": "Last date it may fall on; null: no end.",
    "paused_from": "First day of a pause (holidays); with paused_until.",
    "paused_until": "Last day of the pause.",
    "address_id": "Which of the customer's addresses; default: the first.",
    "windows": "Delivery windows, local time; empty = any time of the day.",
    "service_s": "Time at the stop, seconds; null: the organisation's default.",
    "demand": "Amount per capacity dimension, e.g. {'crates': 2}.",
    "description": 'What to deliver, in words ("2 bread baskets").',
    "notes": "For the driver (after the address's instructions).",
    "required": "The priority: true must be delivered; false only if worth the detour.",
    "value": "What an optional delivery is worth (currency).",
}


def _weekdays(value: list[str]) -> list[str]:
    return sorted(set(value), key=WEEKDAYS.index)


class StandingOrderIn(_Input):
    """A new standing order for a customer."""

    name: str = Field(
        default="", max_length=200, description='The owner\'s name for it: "Friday bread".'
    )
    address_id: str | None = Field(
        default=None, max_length=32, description=_DESCRIPTIONS["address_id"]
    )
    frequency: Frequency = Field(default="weekly", description=_DESCRIPTIONS["frequency"])
    weekdays: list[Weekday] = Field(
        default_factory=list, max_length=7, description=_DESCRIPTIONS["weekdays"]
    )
    every_weeks: int = Field(
        default=1, strict=True, ge=1, le=52, description=_DESCRIPTIONS["every_weeks"]
    )
    month_day: int | None = Field(
        default=None, strict=True, ge=1, le=31, description=_DESCRIPTIONS["month_day"]
    )
    starts_on: IsoDate | None = Field(
        default=None, description=_DESCRIPTIONS["starts_on"] + " Default: today."
    )
    ends_on: IsoDate | None = Field(default=None, description=_DESCRIPTIONS["ends_on"])
    paused_from: IsoDate | None = Field(default=None, description=_DESCRIPTIONS["paused_from"])
    paused_until: IsoDate | None = Field(default=None, description=_DESCRIPTIONS["paused_until"])
    windows: Windows = Field(default_factory=list, description=_DESCRIPTIONS["windows"])
    service_s: int | None = Field(
        default=None, strict=True, ge=0, le=86_400, description=_DESCRIPTIONS["service_s"]
    )
    demand: dict[Dimension, Amount] = Field(
        default_factory=dict, max_length=20, description=_DESCRIPTIONS["demand"]
    )
    description: str = Field(default="", max_length=2000, description=_DESCRIPTIONS["description"])
    notes: str = Field(default="", max_length=2000, description=_DESCRIPTIONS["notes"])
    required: bool = Field(default=True, strict=True, description=_DESCRIPTIONS["required"])
    value: Amount = Field(default=0.0, description=_DESCRIPTIONS["value"])

    @field_validator("weekdays")
    @classmethod
    def _sorted_days(cls, value: list[str]) -> list[str]:
        return _weekdays(value)


class StandingOrderUpdate(_Input):
    """A partial change (only the fields sent). ``ends_on``, ``paused_from``/``paused_until``
    and ``service_s`` may be null: no end, no pause, the organisation's default."""

    name: str | None = Field(default=None, max_length=200)
    address_id: str | None = Field(default=None, max_length=32)
    frequency: Frequency | None = None
    weekdays: list[Weekday] | None = Field(default=None, max_length=7)
    every_weeks: int | None = Field(default=None, strict=True, ge=1, le=52)
    month_day: int | None = Field(default=None, strict=True, ge=1, le=31)
    starts_on: IsoDate | None = None
    ends_on: IsoDate | None = None
    paused_from: IsoDate | None = None
    paused_until: IsoDate | None = None
    windows: Windows | None = None
    service_s: int | None = Field(default=None, strict=True, ge=0, le=86_400)
    demand: dict[Dimension, Amount] | None = Field(default=None, max_length=20)
    description: str | None = Field(default=None, max_length=2000)
    notes: str | None = Field(default=None, max_length=2000)
    required: bool | None = Field(default=None, strict=True)
    value: Amount | None = None

    @field_validator("weekdays")
    @classmethod
    def _sorted_days(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else _weekdays(value)

    @field_validator(
        "name", "address_id", "frequency", "weekdays", "every_weeks", "starts_on", "windows",
        "demand", "description", "notes", "required", "value", mode="before",
    )  # fmt: skip
    @classmethod
    def _not_null(cls, value: object) -> object:
        if value is None:
            raise ValueError("may not be null (leave the field out to keep it)")
        return value


class StandingOrderRead(BaseModel):
    id: str
    customer_id: str
    address_id: str | None = Field(description="null: its address was removed; choose another.")
    name: str
    frequency: Frequency
    weekdays: list[Weekday]
    every_weeks: int
    month_day: int | None
    starts_on: dt.date
    ends_on: dt.date | None
    paused_from: dt.date | None
    paused_until: dt.date | None
    windows: list[Window]
    service_s: int | None
    demand: dict[str, float]
    description: str
    notes: str
    required: bool
    value: float
    summary: str = Field(description='The rule in words: "every Tuesday and Friday".')
    next_dates: list[dt.date] = Field(description="The next dates an order is due (up to 5).")
    created_at: dt.datetime
    updated_at: dt.datetime

    @classmethod
    def of(cls, row: StandingOrder, summary: str, next_dates: list[dt.date]) -> StandingOrderRead:
        return cls(
            id=row.id,
            customer_id=row.customer_id,
            address_id=row.address_id,
            name=row.name,
            frequency="monthly" if row.frequency == "monthly" else "weekly",
            weekdays=row.weekdays,  # type: ignore[arg-type]
            every_weeks=row.every_weeks,
            month_day=row.month_day,
            starts_on=row.starts_on,
            ends_on=row.ends_on,
            paused_from=row.paused_from,
            paused_until=row.paused_until,
            windows=[Window.from_seconds(w) for w in row.windows],
            service_s=row.service_s,
            demand=row.demand,
            description=row.description,
            notes=row.notes,
            required=row.required,
            value=row.value,
            summary=summary,
            next_dates=next_dates,
            created_at=row.created_at,
            updated_at=row.updated_at,
        )


OccurrenceState = Literal[
    "upcoming", "made", "edited", "planned", "done", "cancelled", "skipped", "paused", "closed"
]


class OccurrenceRead(BaseModel):
    """One date of a standing order and what became of it."""

    date: dt.date
    state: OccurrenceState = Field(
        description="upcoming: not made yet (made when it comes within the days ahead); made: "
        "its order exists as the rule made it; edited: its order was changed by hand (the rule's "
        "changes no longer reach it); planned: on a plan or further (the rule's changes no "
        "longer reach it); done: delivered, failed or returned; cancelled / skipped: not "
        "delivered (skipped: before it was made); paused / closed: within the pause or on a "
        "closed day."
    )
    order_id: str | None
    external_id: str | None
    order_status: OrderStatus | None
    order_date: dt.date | None = Field(
        description="The order's date (moved by hand: not the rule's)."
    )


class OccurrencePage(BaseModel):
    standing_order_id: str
    first: dt.date
    last: dt.date
    made_until: dt.date = Field(description="Orders are made up to this date (the days ahead).")
    items: list[OccurrenceRead]


class GenerateResult(BaseModel):
    made: int = Field(description="Orders made.")
    updated: int = Field(description="Untouched future orders changed to follow the rule.")
    removed: int = Field(
        description="Untouched future orders removed (paused, closed, no longer due)."
    )
    failed: int = Field(
        description="Dates whose order could not be made now (the day's order limit, an amount "
        "no vehicle carries); tried again at the next round."
    )
    until: dt.date


class ClosedDayIn(_Input):
    note: str = Field(default="", max_length=200, description='"Christmas", "inventory".')


class ClosedDayRead(BaseModel):
    date: dt.date
    note: str

    @classmethod
    def of(cls, row: ClosedDay) -> ClosedDayRead:
        return cls(date=row.date, note=row.note)


DateParam = Annotated[dt.date, Field(description="A local date, YYYY-MM-DD.")]
