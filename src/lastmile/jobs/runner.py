"""Job runners.

``InlineRunner`` (embedded SQLite mode): threads in the server process, and a separate
process for CPU-heavy jobs such as planning. ``ProcrastinateRunner`` (``jobs/queue.py``,
PostgreSQL): jobs go into procrastinate's queue and ``lastmile worker`` processes run them.
"""

from __future__ import annotations

import logging
import multiprocessing
import threading
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor
from datetime import timedelta
from typing import Any, Protocol

from sqlalchemy.orm import Session, sessionmaker

from lastmile.common import clock
from lastmile.config import Settings
from lastmile.jobs.context import JobContext
from lastmile.jobs.registry import PROCESS_JOBS

log = logging.getLogger(__name__)


class JobRunner(Protocol):
    def enqueue(self, name: str, *, delay_s: float = 0, **kwargs: Any) -> None: ...

    def shutdown(self) -> None: ...


def _run_in_child(
    settings_json: str, name: str, kwargs: dict[str, Any], clock_offset_s: float = 0.0
) -> None:
    """Entry point of a job in a fresh process: its own engine and sessions, and the
    server's clock (``clock.shifted`` reaches the child too). Follow-up jobs it schedules run
    inline in that process (there are none for planning today)."""
    with clock.shifted(timedelta(seconds=clock_offset_s) - clock.offset()):
        _run_job_here(settings_json, name, kwargs)


def _run_job_here(settings_json: str, name: str, kwargs: dict[str, Any]) -> None:
    from lastmile.db import create_db_engine, session_factory
    from lastmile.events.service import Committed, add_listener
    from lastmile.jobs.registry import run

    settings = Settings.model_validate_json(settings_json)
    engine = create_db_engine(settings.resolved_database_url)
    sessions = session_factory(engine)

    def enqueue(job: str, *, delay_s: float = 0, **job_kwargs: Any) -> None:
        run(JobContext(settings, sessions, enqueue), job, job_kwargs)

    def on_commit(committed: Committed) -> None:
        for delivery_id in committed.deliveries:
            enqueue("deliver_webhook", delivery_id=delivery_id)

    add_listener(engine, on_commit)
    try:
        run(JobContext(settings, sessions, enqueue), name, kwargs)
    finally:
        engine.dispose()


class InlineRunner:
    def __init__(self, settings: Settings, sessions: sessionmaker[Session]) -> None:
        self._context = JobContext(settings, sessions, self.enqueue)
        self._settings_json = settings.model_dump_json()
        self._threads: Executor = ThreadPoolExecutor(
            max_workers=4, thread_name_prefix="lastmile-job"
        )
        self._processes: Executor = ProcessPoolExecutor(
            max_workers=1, mp_context=multiprocessing.get_context("spawn")
        )
        self._timers: set[threading.Timer] = set()
        self._closed = False

    def enqueue(self, name: str, *, delay_s: float = 0, **kwargs: Any) -> None:
        if self._closed:
            return
        if delay_s > 0:
            timer = threading.Timer(delay_s, lambda: self.enqueue(name, **kwargs))
            timer.daemon = True
            self._timers.add(timer)
            timer.start()
            return
        from lastmile.jobs.registry import run

        if name in PROCESS_JOBS:
            future: Future[None] = self._processes.submit(
                _run_in_child,
                self._settings_json,
                name,
                kwargs,
                clock.offset().total_seconds(),
            )
        else:
            future = self._threads.submit(run, self._context, name, kwargs)
        future.add_done_callback(lambda f: _log_failure(name, f))

    def shutdown(self) -> None:
        self._closed = True
        for timer in self._timers:
            timer.cancel()
        self._threads.shutdown(wait=False, cancel_futures=True)
        self._processes.shutdown(wait=False, cancel_futures=True)


def _log_failure(name: str, future: Future[None]) -> None:
    if future.cancelled():
        return
    error = future.exception()
    if error is not None:
        log.error("job %s failed: %s", name, error, exc_info=error)
