"""Plan API bodies. A plan's document has the same shape as the CLI's ``plan.json``."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator


class PlanCreate(BaseModel):
    date: dt.date
    order_ids: list[str] | None = Field(
        default=None,
        max_length=10_000,
        description="Plan only these orders (default: every ready order of the date).",
    )
    vehicle_ids: list[str] | None = Field(
        default=None,
        max_length=1_000,
        description="Use only these vehicles (default: every active vehicle).",
    )
    time_limit_s: float | None = Field(
        default=None, gt=0, le=600, description="Search time in seconds."
    )
    objective: Literal["cheapest", "balanced"] = Field(
        default="cheapest",
        description="cheapest: the lowest-cost day, using as few vehicles as that needs; "
        "balanced: spread the orders over all the chosen vehicles, no route more than "
        "`balance_pct` above the mean in stops or in working hours.",
    )
    balance_pct: float = Field(
        default=20, ge=0, le=200, description="With `balanced`: the allowed margin, in percent."
    )


class PlanCreated(BaseModel):
    id: str
    status: str


class PlanRead(BaseModel):
    """Status, progress and, once done, the plan document (``plan.json`` fields at top level)."""

    id: str
    date: dt.date
    status: str = Field(description="queued, running, done or failed")
    progress: float
    error: str | None
    created_at: dt.datetime
    finished_at: dt.datetime | None
    dispatched_at: dt.datetime | None
    routes: list[dict[str, Any]] = Field(default_factory=list)
    unassigned: list[dict[str, Any]] = Field(default_factory=list)
    totals: dict[str, Any] = Field(default_factory=dict)
    document: dict[str, Any] | None = Field(
        default=None, description="The whole plan.json document."
    )
    week_id: str | None = Field(
        default=None, description="The multi-day plan this day belongs to (`/plan-weeks`)."
    )


class PlanSummary(BaseModel):
    id: str
    date: dt.date
    status: str
    progress: float
    created_at: dt.datetime
    dispatched_at: dt.datetime | None


class DispatchRequest(BaseModel):
    assignments: dict[str, str] = Field(
        default_factory=dict,
        description="vehicle id -> driver id; default: each vehicle's usual driver.",
    )


class DispatchResult(BaseModel):
    plan_id: str
    routes: list[dict[str, Any]]
    orders_dispatched: int


class WeekCreate(BaseModel):
    """A multi-day plan: every day from ``start`` to ``end`` (except ``skip_weekdays``)."""

    start: dt.date
    end: dt.date
    skip_weekdays: list[int] = Field(
        default_factory=list,
        max_length=6,
        description="ISO weekdays not to plan (6 = Saturday, 7 = Sunday).",
    )
    vehicle_ids: list[str] | None = Field(
        default=None,
        max_length=1_000,
        description="Vehicles working every day (default: every active vehicle).",
    )
    day_vehicle_ids: dict[dt.date, list[str]] | None = Field(
        default=None,
        max_length=14,
        description="Vehicles of a given day (date -> vehicle ids), instead of `vehicle_ids`.",
    )
    time_limit_s: float | None = Field(
        default=None,
        gt=0,
        le=600,
        description="Search time for the whole plan, all days together (the budget of one day).",
    )
    balance_pct: float = Field(
        default=20,
        ge=0,
        le=200,
        description="No day more than this many percent above the mean, in stops.",
    )
    route_balance_pct: float | None = Field(
        default=None,
        ge=0,
        le=200,
        description="Within each day, spread the orders over the vans like the `balanced` "
        "objective of a day plan (null: the cheapest day).",
    )

    @field_validator("skip_weekdays")
    @classmethod
    def _weekdays(cls, value: list[int]) -> list[int]:
        if any(not 1 <= d <= 7 for d in value):
            raise ValueError("ISO weekdays are 1 (Monday) to 7 (Sunday)")
        return sorted(set(value))


class WeekDaySummary(BaseModel):
    date: dt.date
    plan_id: str
    stops: int
    hours: float
    vans: int
    vans_offered: int
    unassigned: int
    cost: float
    routes: list[dict[str, Any]] = Field(description="vehicle_id, stops, hours per van.")


class WeekRead(BaseModel):
    """A multi-day plan: status and, once done, each day's plan (an ordinary plan: dispatch
    it with ``POST /plans/{plan_id}/dispatch``), the balance and the checker's findings."""

    id: str
    start: dt.date
    end: dt.date
    status: str = Field(description="queued, running, done or failed")
    progress: float
    error: str | None
    created_at: dt.datetime
    finished_at: dt.datetime | None
    days: list[WeekDaySummary] = Field(default_factory=list)
    balance_pct: float | None = None
    max_above_mean_pct: float | None = Field(
        default=None, description="The busiest day's stops above the mean, in percent."
    )
    check: list[dict[str, str]] = Field(
        default_factory=list,
        description="The independent checker's findings over the whole plan (empty: none).",
    )
    not_planned: list[str] = Field(
        default_factory=list,
        description="External ids of ready orders in these dates whose range has no plan day.",
    )
