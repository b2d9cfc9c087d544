"""Job runners.

``InlineRunner`` (embedded SQLite mode): threads in the server process, and a separate
process for CPU-heavy jobs such as planning; every job is first stored in the database
(``jobs/store.py``) and removed once it ran, so jobs queued, waiting for a retry or
running when the server stops (even killed) run again when it starts. ``ProcrastinateRunner``
(``jobs/queue.py``, PostgreSQL): jobs go into procrastinate's queue and ``lastmile worker``
processes run them.
"""

from __future__ import annotations

import logging
import multiprocessing
import queue
import threading
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor
from datetime import timedelta
from typing import Any, Protocol

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from lastmile.common import clock
from lastmile.common.jobs import JobContext
from lastmile.config import Settings
from lastmile.jobs import store
from lastmile.jobs.registry import PERIODIC, PROCESS_JOBS

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 5
"""Runs of a failing job before it is given up (as procrastinate's retry strategy)."""
RETRY_BASE_S = 2.0
"""Wait before the n-th retry: ``RETRY_BASE_S ** n`` seconds."""
PERIODIC_FIRST_S = 60.0
"""Wait before the first round of each periodic job after the server starts (it serves
first; a round then catches up on whatever the downtime missed)."""


class JobRunner(Protocol):
    def start(self) -> None: ...

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
    from lastmile.jobs.pipeline import follow_commits
    from lastmile.jobs.registry import run

    settings = Settings.model_validate_json(settings_json)
    engine = create_db_engine(settings.resolved_database_url)
    sessions = session_factory(engine)

    def enqueue(job: str, *, delay_s: float = 0, **job_kwargs: Any) -> None:
        run(JobContext(settings, sessions, enqueue), job, job_kwargs)

    follow_commits(engine, enqueue)
    try:
        run(JobContext(settings, sessions, enqueue), name, kwargs)
    finally:
        engine.dispose()


class InlineRunner:
    """Runs stored jobs in this process; one server process per database (embedded mode)."""

    def __init__(self, settings: Settings, sessions: sessionmaker[Session], engine: Engine) -> None:
        self._engine = engine
        self._context = JobContext(settings, sessions, self.enqueue)
        self._settings_json = settings.model_dump_json()
        self._threads: Executor = ThreadPoolExecutor(
            max_workers=4, thread_name_prefix="lastmile-job"
        )
        self._processes: Executor = ProcessPoolExecutor(
            max_workers=1, mp_context=multiprocessing.get_context("spawn")
        )
        self._timers: set[threading.Timer] = set()
        self._lock = threading.RLock()
        self._closed = False
        self._to_store: queue.Queue[tuple[str, dict[str, Any], float] | None] = queue.Queue()
        self._writer = threading.Thread(target=self._store_jobs, name="lastmile-job-store")
        self._writer.daemon = True
        self._writer.start()

    def start(self) -> None:
        """Resume the jobs a previous run of the server left: queued, waiting or running."""
        now = clock.utcnow()
        for job in store.queued(self._engine):
            self._schedule(job.id, job.name, job.kwargs, (job.run_at - now).total_seconds())
        for name, every_s in PERIODIC.items():
            self._repeat(name, every_s, PERIODIC_FIRST_S)

    def _repeat(self, name: str, every_s: float, delay_s: float) -> None:
        """Run the periodic job ``name`` in ``delay_s`` seconds, then every ``every_s``
        (unstored: the timer is set again at every start)."""
        with self._lock:
            if self._closed:
                return
            timer = threading.Timer(delay_s, self._tick, (name, every_s))
            timer.daemon = True
            self._timers.add(timer)
            timer.start()

    def _tick(self, name: str, every_s: float) -> None:
        with self._lock:
            self._timers = {t for t in self._timers if t.is_alive()}
            if self._closed:
                return
            self._submit(None, name, {})
        self._repeat(name, every_s, every_s)

    def enqueue(self, name: str, *, delay_s: float = 0, **kwargs: Any) -> None:
        """Hand the job to the writer thread, which stores it, then runs it when due.

        Never writes in the caller's thread: jobs are enqueued from after-commit hooks, and
        on SQLite a caller that still holds another open write transaction in this thread
        would wait for itself. Stored even while shutting down (``shutdown`` drains, and
        after it jobs are stored here, to run at the next start)."""
        if self._closed:
            store.add(self._engine, name=name, kwargs=kwargs, delay_s=delay_s)
            return
        self._to_store.put((name, kwargs, delay_s))

    def _store_jobs(self) -> None:
        while (item := self._to_store.get()) is not None:
            name, kwargs, delay_s = item
            try:
                job_id = store.add(self._engine, name=name, kwargs=kwargs, delay_s=delay_s)
            except Exception:
                log.exception("could not store job %s; running it unstored", name)
                job_id = None
            self._schedule(job_id, name, kwargs, delay_s)

    def _schedule(
        self, job_id: int | None, name: str, kwargs: dict[str, Any], delay_s: float
    ) -> None:
        with self._lock:
            if self._closed:
                return
            if delay_s <= 0:
                self._submit(job_id, name, kwargs)
                return
            timer = threading.Timer(delay_s, self._fire, (job_id, name, kwargs))
            timer.daemon = True
            self._timers.add(timer)
            timer.start()

    def _fire(self, job_id: int | None, name: str, kwargs: dict[str, Any]) -> None:
        with self._lock:
            self._timers = {t for t in self._timers if t.is_alive()}
            if self._closed:
                return
            self._submit(job_id, name, kwargs)

    def _submit(self, job_id: int | None, name: str, kwargs: dict[str, Any]) -> None:
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
            future = self._threads.submit(self._run_stored, job_id, name, kwargs, run)
        future.add_done_callback(lambda f: self._done(job_id, name, kwargs, f))

    def _run_stored(self, job_id: int | None, name: str, kwargs: dict[str, Any], run: Any) -> None:
        if job_id is not None and store.get(self._engine, job_id) is None:
            return  # removed meanwhile (finished by an earlier run, or deleted by hand)
        run(self._context, name, kwargs)

    def _done(
        self, job_id: int | None, name: str, kwargs: dict[str, Any], future: Future[None]
    ) -> None:
        if future.cancelled():
            return  # the server stopped first: the stored job resumes at the next start
        error = future.exception()
        if job_id is None:
            if error is not None:
                log.error("job %s failed: %s", name, error, exc_info=error)
            return
        try:
            if error is None:
                store.finish(self._engine, job_id)
                return
            log.error("job %s failed: %s", name, error, exc_info=error)
            job = store.get(self._engine, job_id)
            attempts = (job.attempts if job else 0) + 1
            retry = RETRY_BASE_S**attempts if attempts < MAX_ATTEMPTS else None
            store.failed(
                self._engine, job_id, error=f"{type(error).__name__}: {error}", retry_in_s=retry
            )
            if retry is not None:
                self._schedule(job_id, name, kwargs, retry)
        except Exception:  # the database is gone (shutting down): the row stays queued
            log.exception("could not record the outcome of job %s", name)

    def shutdown(self) -> None:
        self._to_store.put(None)
        self._writer.join(timeout=10)  # jobs enqueued so far are stored before we stop
        with self._lock:
            self._closed = True
            for timer in self._timers:
                timer.cancel()
        self._threads.shutdown(wait=False, cancel_futures=True)
        self._processes.shutdown(wait=False, cancel_futures=True)
