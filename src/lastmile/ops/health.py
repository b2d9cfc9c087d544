"""``/healthz`` (the process answers), ``/readyz`` (it can do its work) and ``/metrics``.

``/healthz`` never touches the database: a liveness probe that fails only when the process is
stuck, so a supervisor restarts it. ``/readyz`` checks what a request needs (database
reachable, schema at the newest migration, job queue reachable, road network loaded) and
answers 503 naming what is missing, so a proxy or an upgrade script waits for it. Neither
needs a login, and neither says more than ``ok``/what failed: no versions of components, no
connection strings.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import Engine, text

from lastmile.common.metrics import MULTIPROC_ENV, forget_exited_processes
from lastmile.config import Settings
from lastmile.db.engine import alembic_config

router = APIRouter(tags=["operations"])


@router.get("/healthz", operation_id="healthz")
def healthz() -> dict[str, str]:
    """Liveness: the process answers (no database access)."""
    return {"status": "ok"}


@router.get(
    "/readyz",
    operation_id="readyz",
    responses={503: {"description": "Not ready: the failing checks are named"}},
)
def readyz(request: Request) -> JSONResponse:
    """Readiness: database, migrations, job queue and road network are all usable."""
    checks = readiness(
        settings=request.app.state.settings,
        engine=request.app.state.engine,
        jobs=getattr(request.app.state, "jobs", None),
    )
    ready = all(v == "ok" for v in checks.values())
    return JSONResponse(
        {"status": "ready" if ready else "not ready", "checks": checks},
        status_code=200 if ready else 503,
    )


def readiness(*, settings: Settings, engine: Engine, jobs: object | None) -> dict[str, str]:
    """Each check's verdict: ``ok`` or a short reason (what an operator would look at)."""
    checks: dict[str, str] = {}
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
            current = set(MigrationContext.configure(conn).get_current_heads())
    except Exception as exc:
        checks["database"] = f"unreachable: {type(exc).__name__}"
        checks["migrations"] = "unknown (no database)"
    else:
        checks["database"] = "ok"
        newest = set(ScriptDirectory.from_config(alembic_config(engine)).get_heads())
        checks["migrations"] = (
            "ok"
            if current == newest
            else f"database at {sorted(current) or 'none'}, code needs {sorted(newest)}: run `lastmile admin migrate`"
        )
    checks["queue"] = _queue_check(settings, engine, jobs)
    checks["roads"] = _roads_check(settings)
    return checks


def _queue_check(settings: Settings, engine: Engine, jobs: object | None) -> str:
    if jobs is None:
        return "not started"
    if not settings.uses_queue:
        return "ok"
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1 FROM procrastinate_jobs LIMIT 1"))
    except Exception as exc:
        return f"unreachable: {type(exc).__name__}"
    return "ok"


def _roads_check(settings: Settings) -> str:
    if not settings.use_roads:
        return "ok"
    from lastmile.integrations.configured import road_network_loaded

    return "ok" if road_network_loaded(settings) else "loading"


@router.get(
    "/metrics",
    operation_id="metrics",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE_LATEST: {}}, "description": "Prometheus text"}},
)
def metrics(request: Request) -> Response:
    """Prometheus metrics of all lastmile processes on this machine (see docs/operations.md)."""
    if os.environ.get(MULTIPROC_ENV):
        from prometheus_client import multiprocess

        forget_exited_processes()
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    else:
        registry = CollectorRegistry()
        registry.register(_Everything())
    registry.register(QueueDepth(request.app.state.settings, request.app.state.engine))
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)


class _Everything(Collector):
    """The default registry's metrics (single-process mode), next to the per-scrape ones."""

    def collect(self) -> Iterator[Any]:
        yield from REGISTRY.collect()


class QueueDepth(Collector):
    """Jobs waiting and running in the PostgreSQL queue, read at scrape time (one query)."""

    def __init__(self, settings: Settings, engine: Engine) -> None:
        self.settings = settings
        self.engine = engine

    def collect(self) -> Iterator[GaugeMetricFamily]:
        if not self.settings.uses_queue:
            return
        family = GaugeMetricFamily(
            "lastmile_queue_jobs",
            "Jobs in the PostgreSQL queue by status (todo = waiting, doing = running).",
            labels=["status"],
        )
        counts = {"todo": 0, "doing": 0}
        try:
            with self.engine.connect() as conn:
                rows = conn.execute(
                    text(
                        "SELECT status::text, count(*) FROM procrastinate_jobs"
                        " WHERE status IN ('todo', 'doing') GROUP BY status"
                    )
                ).all()
        except Exception:
            return
        counts.update({str(status): int(n) for status, n in rows})
        for status, n in sorted(counts.items()):
            family.add_metric([status], n)
        yield family
