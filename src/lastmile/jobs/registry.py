"""Every background job by name. Explicit: importing a module never registers anything.

Job functions take a :class:`JobContext` and keyword arguments that are plain ids and
numbers (never ORM objects), so they can cross process boundaries and be retried.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from lastmile.common.jobs import JobContext

JobFunction = Callable[..., None]


def registry() -> dict[str, JobFunction]:
    from lastmile.customers.jobs import geocode_orders  # the address book first
    from lastmile.events.jobs import deliver_webhook
    from lastmile.jobs.retention import retention_job
    from lastmile.notifications.jobs import jobs as notification_jobs
    from lastmile.plans.jobs import solve_plan, solve_week
    from lastmile.tracking.service import create_link

    return {
        "solve_plan": solve_plan,
        "solve_week": solve_week,
        "deliver_webhook": deliver_webhook,
        "geocode_orders": geocode_orders,
        "apply_retention": retention_job,  # #17: positions and proof files past retention
        **notification_jobs(issue_link=create_link),  # issue 6
        **__import__("lastmile.shops.jobs", fromlist=["JOBS"]).JOBS,  # issue 18
        **__import__("lastmile.standing.jobs", fromlist=["JOBS"]).JOBS,  # issue 18 (b)
    }


PERIODIC = {"generate_standing_orders": 3600, "apply_retention": 3600}
"""Jobs every process that runs jobs starts on a timer, name -> every how many seconds (the
embedded runner on a timer of its own, procrastinate as periodic tasks). Each takes no
arguments and is idempotent: a round run twice, or late, does no harm."""


PROCESS_JOBS = frozenset({"solve_plan", "solve_week", "geocode_orders"})
"""CPU-heavy jobs the embedded runner runs in a separate process (API stays responsive)."""


def run(context: JobContext, name: str, kwargs: dict[str, Any]) -> None:
    """Run one job here and now, timed (``lastmile_job_duration_seconds``) and counted when
    it fails (``lastmile_job_failures_total``); the error goes on to the runner's retry."""
    from lastmile.common.metrics import METRICS

    job = registry()[name]
    started = time.perf_counter()
    try:
        job(context, **kwargs)
    except BaseException:
        METRICS.job_failures.labels(name).inc()
        raise
    finally:
        METRICS.job_seconds.labels(name).observe(time.perf_counter() - started)
