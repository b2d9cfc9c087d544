"""Baseline-vs-pilot comparisons: two scopes of delivery days and the pilot's objectives."""

from __future__ import annotations

from typing import Any

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from lastmile.common.ids import new_id
from lastmile.db.base import Base, OrgScoped


class Comparison(OrgScoped, Base):
    """A pilot judged against a baseline. The KPIs are not stored: every report recomputes them
    from the stored events, like every other KPI answer."""

    __tablename__ = "kpi_comparisons"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=lambda: new_id("cmp"))
    name: Mapped[str] = mapped_column(String(200))
    baseline: Mapped[dict[str, Any]] = mapped_column(default=dict)
    """The baseline's scope: ``from``, ``to`` and optional ``depot_id``, ``driver_id``,
    ``vehicle_id`` (the KPI filters)."""
    pilot: Mapped[dict[str, Any]] = mapped_column(default=dict)
    """The pilot's scope, same shape."""
    objectives: Mapped[list[Any]] = mapped_column(default=list)
    """``[{"metric", "op": "at_least"|"at_most", "target", "relative"}]``."""
    created_by: Mapped[str] = mapped_column(String(100), default="")
