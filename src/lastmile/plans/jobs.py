"""Background work of the plans slice (takes ids, not ORM objects)."""

from __future__ import annotations

from lastmile.common.jobs import JobContext
from lastmile.plans import service


def solve_plan(context: JobContext, *, plan_id: str) -> None:
    """Solve a queued plan (idempotent: finished plans are skipped)."""
    service.solve_plan(sessions=context.sessions, settings=context.settings, plan_id=plan_id)
