"""The retention job: every hour, delete what the retention settings no longer keep.

GPS positions after ``retention_positions_days``, proof-of-delivery files after
``retention_pod_days`` (``drivers.retention``: KPIs unchanged), and the limiter's counters
of finished windows (``auth.throttle``). A periodic job (``jobs.registry.PERIODIC``): with the
queue a procrastinate periodic task (one worker runs each round, at minute 7), in the
embedded mode a timer of the server's inline runner (first round a minute after start).
"""

from __future__ import annotations

import logging
from datetime import timedelta

from lastmile.auth import throttle
from lastmile.common.clock import utcnow
from lastmile.common.jobs import JobContext
from lastmile.drivers import retention
from lastmile.drivers.pod_store import store_for

log = logging.getLogger(__name__)

COUNTERS_KEPT = timedelta(days=7)
"""Limiter rows idle this long are deleted (every window is at most two days)."""


def apply_retention(context: JobContext) -> dict[str, int]:
    """Delete what is older than the settings keep; returns what went (also logged)."""
    settings = context.settings
    now = utcnow()
    done: dict[str, int] = {}
    if settings.retention_positions_days > 0:
        gone = retention.remove_positions(
            context.sessions, before=now - timedelta(days=settings.retention_positions_days)
        )
        done.update(positions=gone.positions, routes=gone.routes)
    if settings.retention_pod_days > 0:
        gone = retention.remove_pod_files(
            context.sessions,
            store_for(settings),
            before=now - timedelta(days=settings.retention_pod_days),
        )
        done.update(pod_files=gone.pod_files, pod_bytes=gone.pod_bytes)
    with context.sessions() as session:
        done["counters"] = throttle.forget_old(session, older_than=COUNTERS_KEPT)
        session.commit()
    log.info("retention: %s", ", ".join(f"{k} {v}" for k, v in done.items()))
    return done


def retention_job(context: JobContext) -> None:
    """The registered job (``apply_retention``)."""
    apply_retention(context)
