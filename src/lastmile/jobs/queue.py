"""Production job queue: procrastinate on PostgreSQL, consumed by ``lastmile worker``.

One procrastinate task, ``lastmile.run_job``, carries a job name from the explicit registry
and its keyword arguments. Failed jobs are retried with exponential backoff; jobs held by a
worker that stopped sending heartbeats (crashed, killed) are put back in the queue by a
periodic task, so they run again on another worker. Procrastinate takes each job with
``SELECT ... FOR UPDATE SKIP LOCKED``, so no job runs on two workers at once, and job
functions are idempotent (a plan that is already done is not solved again).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import procrastinate
from sqlalchemy import Engine, inspect

from lastmile.common.jobs import JobContext
from lastmile.config import Settings
from lastmile.db import create_db_engine, session_factory
from lastmile.db.engine import exclusive
from lastmile.events.bus import psycopg_conninfo
from lastmile.jobs.pipeline import follow_commits
from lastmile.jobs.registry import PERIODIC

log = logging.getLogger(__name__)

STALLED_AFTER_S = 30


def make_app(settings: Settings) -> procrastinate.App:
    app = procrastinate.App(
        connector=procrastinate.PsycopgConnector(
            conninfo=psycopg_conninfo(settings.resolved_database_url)
        )
    )
    state: dict[str, Any] = {}

    def enqueue(name: str, *, delay_s: float = 0, **kwargs: Any) -> None:
        task = app.configure_task(
            "lastmile.run_job", schedule_in={"seconds": int(delay_s)} if delay_s > 0 else None
        )
        task.defer(name=name, kwargs=kwargs)

    def context() -> JobContext:
        if "context" not in state:
            engine = create_db_engine(settings.resolved_database_url)
            follow_commits(engine, enqueue)
            state["context"] = JobContext(settings, session_factory(engine), enqueue)
        ctx: JobContext = state["context"]
        return ctx

    app.lastmile_enqueue = enqueue  # type: ignore[attr-defined]

    @app.task(
        name="lastmile.run_job",
        retry=procrastinate.RetryStrategy(max_attempts=5, exponential_wait=2),
    )
    def run_job(name: str, kwargs: dict[str, Any]) -> None:
        from lastmile.jobs.registry import run

        run(context(), name, kwargs)

    @app.periodic(cron="* * * * *")
    @app.task(
        name="lastmile.retry_stalled_jobs", queueing_lock="retry_stalled_jobs", pass_context=True
    )
    async def retry_stalled_jobs(job_context: procrastinate.JobContext, timestamp: int) -> None:
        stalled = await job_context.app.job_manager.get_stalled_jobs()
        for job in stalled:
            log.warning("retrying job %s of a stalled worker", job.id)
            await job_context.app.job_manager.retry_job(job)

    for name, every_s in PERIODIC.items():
        _periodic(app, name, every_s, context)
    return app


def _periodic(
    app: procrastinate.App, name: str, every_s: int, context: Callable[[], JobContext]
) -> None:
    """``name`` as a periodic procrastinate task (one worker takes each tick)."""
    hours = max(1, every_s // 3600)
    cron = "7 * * * *" if hours == 1 else f"7 */{hours} * * *"

    @app.periodic(cron=cron, periodic_id=name)
    @app.task(name=f"lastmile.periodic.{name}", queueing_lock=f"periodic_{name}")
    def tick(timestamp: int) -> None:
        from lastmile.jobs.registry import run

        run(context(), name, {})


def ensure_schema(app: procrastinate.App, engine: Engine) -> None:
    """Create procrastinate's tables once (its schema is not managed by our migrations); one
    process at a time, so that servers and workers starting together do not race."""
    if inspect(engine).has_table("procrastinate_jobs"):
        return
    with exclusive(engine, "lastmile.procrastinate_schema"):
        if not inspect(engine).has_table("procrastinate_jobs"):
            app.schema_manager.apply_schema()


class ProcrastinateRunner:
    """Enqueues into procrastinate from a server process (sync)."""

    def __init__(self, settings: Settings, engine: Engine) -> None:
        self._app = make_app(settings)
        self._app.open()
        ensure_schema(self._app, engine)

    def start(self) -> None:
        """Nothing to resume here: procrastinate's workers take stored jobs themselves."""

    def enqueue(self, name: str, *, delay_s: float = 0, **kwargs: Any) -> None:
        self._app.lastmile_enqueue(name, delay_s=delay_s, **kwargs)  # type: ignore[attr-defined]

    def shutdown(self) -> None:
        self._app.close()


def run_worker(settings: Settings, *, concurrency: int = 1) -> None:
    """Run jobs until stopped (SIGINT/SIGTERM)."""
    app = make_app(settings)
    with app.open():
        engine = create_db_engine(settings.resolved_database_url)
        ensure_schema(app, engine)
        engine.dispose()
    app.run_worker(
        concurrency=concurrency, stalled_worker_timeout=STALLED_AFTER_S, update_heartbeat_interval=5
    )
