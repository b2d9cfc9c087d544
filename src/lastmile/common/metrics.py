"""Prometheus metrics of every lastmile process, correct with several processes.

Server processes (``lastmile serve --workers N``), their planning child processes and
``lastmile worker`` each write their samples to files in one directory (prometheus-client's
multiprocess mode, ``PROMETHEUS_MULTIPROC_DIR``), and ``/metrics`` on any server process adds
them all up. The directory must be set before ``prometheus_client`` is first imported, so the
CLI calls :func:`use_directory` before it starts anything (``lastmile serve``/``worker``);
without it (tests, ``lastmile plan``) the metrics simply live in the one process.

Labels are kept few and bounded: the route *template* (``/api/v1/orders/{order_id}``), never
the raw path, so one scraper does not grow a series per order id.
"""

from __future__ import annotations

import os
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from prometheus_client import Counter, Gauge, Histogram

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


class Metrics:
    """Every lastmile metric, each created on first use: a metric created before
    :func:`use_directory` would stay in its process only."""

    @cached_property
    def requests(self) -> Counter:
        from prometheus_client import Counter

        return Counter(
            "lastmile_http_requests_total",
            "HTTP requests answered, by method, route template and status code.",
            ["method", "route", "status"],
        )

    @cached_property
    def request_seconds(self) -> Histogram:
        from prometheus_client import Histogram

        return Histogram(
            "lastmile_http_request_duration_seconds",
            "Time to the response's first byte, by method and route template.",
            ["method", "route"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
        )

    @cached_property
    def sse_clients(self) -> Gauge:
        from prometheus_client import Gauge

        return Gauge(
            "lastmile_sse_clients",
            "Server-Sent Event streams open now (dashboards, driver apps), all live processes.",
            multiprocess_mode="livesum",
        )

    @cached_property
    def job_seconds(self) -> Histogram:
        from prometheus_client import Histogram

        return Histogram(
            "lastmile_job_duration_seconds",
            "Run time of background jobs, by job name.",
            ["job"],
            buckets=(0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0, 300.0, 1800.0),
        )

    @cached_property
    def job_failures(self) -> Counter:
        from prometheus_client import Counter

        return Counter(
            "lastmile_job_failures_total",
            "Background job runs that raised an error (a queued job may be retried), by job.",
            ["job"],
        )

    @cached_property
    def positions(self) -> Counter:
        from prometheus_client import Counter

        return Counter(
            "lastmile_positions_ingested_total", "GPS positions accepted from driver apps."
        )

    @cached_property
    def plans(self) -> Counter:
        from prometheus_client import Counter

        return Counter(
            "lastmile_plans_solved_total",
            "Plans the planner finished, by outcome (done, failed).",
            ["outcome"],
        )


METRICS = Metrics()


def use_directory(directory: Path) -> None:
    """Make this process and every process it starts write metrics into ``directory``.

    Files of processes that no longer run are removed first (their counters restart from
    zero, which Prometheus' ``rate()`` handles); files of running processes are kept, so a
    server restarting next to a running worker does not wipe the worker's numbers.
    """
    directory.mkdir(parents=True, exist_ok=True)
    for path in directory.glob("*.db"):
        pid = path.stem.rsplit("_", 1)[-1]
        if pid.isdigit() and not _alive(int(pid)):
            path.unlink(missing_ok=True)
    os.environ[MULTIPROC_ENV] = str(directory.resolve())
    from prometheus_client import values

    # prometheus-client picks its storage when first imported; it may already be imported.
    values.ValueClass = values.get_value_class()  # type: ignore[no-untyped-call]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def forget_exited_processes() -> None:
    """Drop the live gauges (open SSE streams) of processes that are gone, e.g. a server
    process that crashed: their streams are closed, whatever their last sample said."""
    directory = os.environ.get(MULTIPROC_ENV)
    if not directory:
        return
    from prometheus_client import multiprocess

    for path in Path(directory).glob("gauge_live*_*.db"):
        pid = path.stem.rsplit("_", 1)[-1]
        if pid.isdigit() and not _alive(int(pid)):
            multiprocess.mark_process_dead(int(pid), directory)  # type: ignore[no-untyped-call]
