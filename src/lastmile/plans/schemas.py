"""Plan API bodies. A plan's document has the same shape as the CLI's ``plan.json``."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, Field


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
