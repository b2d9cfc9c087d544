"""A baseline the owner types in: the figures of the time before lastmile (a spreadsheet, the
old tool's monthly report), so that a pilot can be judged against how the business really ran
before, not only against earlier lastmile data.

Figures come per period (a month, a week) and per KPI of the catalogue; a KPI may be missing
from some periods. Combining periods: totals (deliveries, failed attempts, total cost,
distance, hours) are added up; every other KPI (rates, averages, per-stop figures) is the mean
of the periods that have it, weighted by their deliveries when every such period gives them,
else by their number of days.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from lastmile.core.errors import FieldIssue, InputError
from lastmile.core.kpi import BY_NAME, Metric

TOTALS = frozenset({"delivered", "failed_attempts", "cost_total", "actual_km", "actual_hours"})
"""KPIs that add up over periods."""

MAX_PERIODS = 60


@dataclass(frozen=True)
class TypedPeriod:
    start: date
    end: date
    orders: int | None
    """Deliveries in the period, when known (weights the averages)."""
    figures: dict[str, float] = field(default_factory=dict)

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1


@dataclass(frozen=True)
class TypedBaseline:
    """The typed-in periods; duck-types as the KPI result a comparison's baseline needs
    (``orders`` and :meth:`metric_values`)."""

    periods: tuple[TypedPeriod, ...]

    @property
    def orders(self) -> int:
        return sum(p.orders or 0 for p in self.periods)

    def metric_values(self) -> dict[str, float | None]:
        return {name: self._combined(name) for name in BY_NAME}

    def _combined(self, name: str) -> float | None:
        having = [p for p in self.periods if name in p.figures]
        if not having:
            return None
        if name in TOTALS:
            return sum(p.figures[name] for p in having)
        by_orders = all(p.orders for p in having)
        weights = [float(p.orders or 0) if by_orders else float(p.days) for p in having]
        return sum(w * p.figures[name] for w, p in zip(weights, having, strict=True)) / sum(weights)

    def to_json(self) -> list[dict[str, Any]]:
        return [
            {
                "from": p.start.isoformat(),
                "to": p.end.isoformat(),
                "orders": p.orders,
                "values": dict(p.figures),
            }
            for p in self.periods
        ]

    @classmethod
    def from_json(cls, rows: list[dict[str, Any]]) -> TypedBaseline:
        return cls(
            tuple(
                TypedPeriod(
                    start=date.fromisoformat(str(r["from"])),
                    end=date.fromisoformat(str(r["to"])),
                    orders=int(r["orders"]) if r.get("orders") is not None else None,
                    figures={str(k): float(v) for k, v in dict(r.get("values") or {}).items()},
                )
                for r in rows
            )
        )


def figure_problem(metric: Metric, value: float) -> str | None:
    """Why a typed figure cannot be right, or None: rates are fractions (0-1), ratings 1-5,
    nothing is negative or infinite."""
    if not math.isfinite(value):
        return "must be a finite number"
    if value < 0:
        return "cannot be negative"
    if metric.unit == "rate" and value > 1:
        return "is a rate: a fraction between 0 and 1 (95 % is 0.95)"
    if metric.unit == "stars" and not 1 <= value <= 5:
        return "is a rating from 1 to 5 stars"
    return None


def checked_typed_scope(baseline: dict[str, Any], scope_keys: Iterable[str]) -> dict[str, Any]:
    """A typed-in baseline checked figure by figure (issues name
    ``baseline.typed[i].values.<kpi>``), its ``from``/``to`` widened to cover every period."""
    issues: list[FieldIssue] = []
    for key in scope_keys:
        if baseline.get(key):
            issues.append(
                FieldIssue(
                    None, f"baseline.{key}", None, "a typed-in baseline covers the whole business"
                )
            )
    periods = list(baseline["typed"])
    if not periods:
        issues.append(FieldIssue(None, "baseline.typed", None, "needs at least one period"))
    for i, period in enumerate(periods):
        where = f"baseline.typed[{i}]"
        if period["to"] < period["from"]:
            issues.append(FieldIssue(None, f"{where}.to", period["to"], "is before from"))
        for metric_name, value in period["values"].items():
            metric = BY_NAME.get(metric_name)
            problem = (
                "not a KPI of the catalogue"
                if metric is None
                else figure_problem(metric, float(value))
            )
            if problem:
                issues.append(
                    FieldIssue(None, f"{where}.values.{metric_name}", str(value), problem)
                )
    if issues:
        raise InputError(issues, "comparison")
    return {
        **baseline,
        "from": min(p["from"] for p in periods),
        "to": max(p["to"] for p in periods),
    }
