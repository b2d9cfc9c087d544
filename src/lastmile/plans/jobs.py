"""Background work of the plans slice (takes ids, not ORM objects)."""

from __future__ import annotations

from lastmile.common.jobs import JobContext
from lastmile.plans import service
from lastmile.plans import week as weeks


def solve_plan(context: JobContext, *, plan_id: str) -> None:
    """Solve a queued plan (idempotent: finished plans are skipped)."""
    service.solve_plan(sessions=context.sessions, settings=context.settings, plan_id=plan_id)


def solve_week(context: JobContext, *, week_id: str) -> None:
    """Solve a queued multi-day plan into one plan per day (idempotent)."""
    weeks.solve_week(sessions=context.sessions, settings=context.settings, week_id=week_id)
