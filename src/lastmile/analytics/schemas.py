"""KPI answers (the fields mirror ``lastmile.core.kpi``; docs/kpis.md has every formula)."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from lastmile.core.kpi import BY_NAME, METRICS


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
    pod_compliance: float | None
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


class MetricInfo(BaseModel):
    """A KPI of the catalogue: what trends, tiles and objectives can name."""

    name: str
    label: str
    unit: str = Field(
        description="rate (0-1), money, seconds, km, hours, per_hour, count, stars or ratio."
    )
    better: Literal["higher", "lower"] | None
    indicator: Literal["leading", "lagging"]


class SeriesPoint(BaseModel):
    from_: dt.date = Field(alias="from", serialization_alias="from")
    to: dt.date
    orders: int
    values: dict[str, float | None] = Field(description="Every catalogue metric of the period.")

    model_config = ConfigDict(populate_by_name=True)


class KpiSeriesRead(BaseModel):
    filters: KpiFilters
    bucket: Literal["day", "week"]
    metrics: list[MetricInfo]
    points: list[SeriesPoint]


class TypedPeriodIn(BaseModel):
    """One period of figures typed in from before lastmile (e.g. September from the old
    spreadsheet): KPIs of the catalogue in their API units (rates as fractions, durations in
    seconds, money in the organisation's currency)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    from_: dt.date = Field(alias="from")
    to: dt.date
    orders: int | None = Field(
        default=None, ge=0, le=10_000_000, description="Deliveries in the period, if known."
    )
    values: dict[str, float] = Field(
        min_length=1,
        max_length=len(METRICS),
        description="KPI name -> the figure of the period.",
    )


class ScopeIn(BaseModel):
    """A set of delivery days (and optionally one depot, driver or vehicle); for a baseline,
    alternatively figures typed in (``typed``), which then cover ``from`` .. ``to``."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    from_: dt.date = Field(alias="from")
    to: dt.date | None = Field(default=None, description="Last day (default: from).")
    depot_id: str | None = Field(default=None, max_length=64)
    driver_id: str | None = Field(default=None, max_length=64)
    vehicle_id: str | None = Field(default=None, max_length=64)
    typed: list[TypedPeriodIn] | None = Field(
        default=None,
        max_length=60,
        description="Baseline only: figures typed in per period instead of lastmile's data.",
    )

    def as_scope(self) -> dict[str, object]:
        out: dict[str, object] = {
            "from": self.from_.isoformat(),
            "to": (self.to or self.from_).isoformat(),
        }
        for key in ("depot_id", "driver_id", "vehicle_id"):
            if getattr(self, key):
                out[key] = getattr(self, key)
        if self.typed is not None:
            out["typed"] = [
                {
                    "from": p.from_.isoformat(),
                    "to": p.to.isoformat(),
                    "orders": p.orders,
                    "values": dict(p.values),
                }
                for p in self.typed
            ]
        return out


class ObjectiveIn(BaseModel):
    """``on_time_rate`` ``at_least`` 0.95, or ``cost_per_delivery`` ``at_most`` -0.15
    ``relative`` (the change against the baseline, as a fraction)."""

    model_config = ConfigDict(extra="forbid")

    metric: str = Field(json_schema_extra={"enum": [m.name for m in METRICS]})
    op: Literal["at_least", "at_most"]
    target: float = Field(allow_inf_nan=False, ge=-1e12, le=1e12)
    relative: bool = False

    @field_validator("metric")
    @classmethod
    def _known(cls, value: str) -> str:
        if value not in BY_NAME:
            raise ValueError(
                f"{value!r} is not a KPI of the catalogue (one of: {', '.join(BY_NAME)})"
            )
        return value


class ComparisonCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200, pattern=r"^[^\x00]*$")
    baseline: ScopeIn
    pilot: ScopeIn
    objectives: list[ObjectiveIn] = Field(default_factory=list, max_length=50)


class ComparisonRead(BaseModel):
    id: str
    name: str
    baseline: dict[str, Any]
    pilot: dict[str, Any]
    objectives: list[ObjectiveIn]
    created_at: dt.datetime
    created_by: str


class MetricChangeRead(BaseModel):
    metric: MetricInfo
    baseline: float | None
    pilot: float | None
    change: float | None = Field(description="pilot - baseline.")
    change_rate: float | None = Field(description="(pilot - baseline) / |baseline|.")
    improved: bool | None


class ObjectiveResultRead(BaseModel):
    objective: ObjectiveIn
    label: str = Field(description="The objective in words, e.g. 'On time at least 95 %'.")
    actual: float | None = Field(
        description="The pilot's value, or its change rate for a relative objective."
    )
    met: bool | None = Field(description="null when there is no data to judge.")


class ComparisonReport(BaseModel):
    comparison: ComparisonRead
    all_met: bool | None
    objectives: list[ObjectiveResultRead]
    changes: list[MetricChangeRead]
    baseline_orders: int
    pilot_orders: int
    warnings: list[str] = Field(
        default_factory=list,
        description="What makes the comparison weak, e.g. a baseline without any deliveries.",
    )
