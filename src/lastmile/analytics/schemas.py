"""KPI answers (the fields mirror ``lastmile.core.kpi``; docs/kpis.md has every formula)."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class _Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class CostRead(_Out):
    driver_time: float
    overtime: float
    distance: float
    fixed: float
    messages: float
    total: float
    per_delivery: float | None
    failed_attempts: float


class ScorecardRead(_Out):
    driver_id: str
    stops: int
    delivered: int
    failed: int
    success_rate: float | None
    on_time_rate: float | None
    pod_compliance: float | None
    avg_distance_from_stop_m: float | None


class KpiFilters(BaseModel):
    from_: dt.date = Field(alias="from")
    to: dt.date
    driver_id: str | None = None
    vehicle_id: str | None = None
    depot_id: str | None = None

    model_config = ConfigDict(populate_by_name=True)


class KpiRead(_Out):
    filters: KpiFilters
    orders: int
    delivered: int
    failed_attempts: int
    cost: CostRead
    first_attempt_success_rate: float | None
    on_time_rate: float | None
    avg_delivery_time_s: float | None
    p90_delivery_time_s: float | None
    stops_per_hour: float | None
    km_per_stop: float | None
    planned_km: float
    actual_km: float
    planned_hours: float
    actual_hours: float
    avg_arrival_error_s: float | None
    failure_reasons: dict[str, int]
    avg_rating: float | None
    ratings: int
    tracking_views_per_order: float | None
    contacts_per_order: float | None
    drivers: list[ScorecardRead]


class ContactCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    channel: Literal["phone", "email", "chat", "other"] = "phone"
    note: str = Field(default="", max_length=2000, pattern=r"^[^\x00]*$")


class ContactRead(BaseModel):
    order_id: str
    channel: str
    note: str
    at: dt.datetime
    actor: str
