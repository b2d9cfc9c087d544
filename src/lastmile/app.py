"""Builds the ASGI app: settings, database, event bus, job runner, routers."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib import resources
from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.routing import iter_route_contexts
from fastapi.staticfiles import StaticFiles
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker
from starlette.types import Scope

from lastmile import __version__
from lastmile.auth import org_limits
from lastmile.common.bodycap import Cap
from lastmile.config import Settings, get_settings
from lastmile.db import create_db_engine, migrate, session_factory
from lastmile.drivers.pod_store import too_large
from lastmile.events.bus import LocalBus, PostgresBus, psycopg_conninfo
from lastmile.integrations.configured import provider_for
from lastmile.jobs.pipeline import follow_commits
from lastmile.jobs.runner import InlineRunner, JobRunner
from lastmile.tracking import counters as tracking_counters


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    pool = (
        {"pool_size": settings.db_pool_size, "max_overflow": settings.db_pool_size}
        if settings.is_postgres
        else {}
    )
    engine = create_db_engine(settings.resolved_database_url, **pool)
    migrate(engine)
    org_limits.configure(settings)
    sessions = session_factory(engine)
    bus: LocalBus = (
        PostgresBus(psycopg_conninfo(settings.resolved_database_url))
        if settings.is_postgres
        else LocalBus()
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        bus.start()
        runner = _make_runner(settings, sessions, engine)
        app.state.jobs = runner

        remove_listener = follow_commits(engine, runner.enqueue, bus.publish)
        if settings.use_roads:
            # /readyz says "loading" until the road network is in memory; the first plan or
            # ETA of the day then does not wait for it.
            threading.Thread(target=provider_for, args=(settings,), daemon=True).start()
        runner.start()  # inline: resumes the jobs stored before a restart
        try:
            yield
        finally:
            remove_listener()
            tracking_counters.flush(
                engine
            )  # views and hits counted in memory (tracking/counters.py)
            runner.shutdown()
            bus.stop()
            engine.dispose()

    app = FastAPI(
        title="lastmile",
        version=__version__,
        summary="Last-mile delivery planning and operations API. Units: seconds, metres, WGS84 [lon, lat].",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.sessions = sessions
    app.state.bus = bus
    _wire_slices(app)

    from lastmile.common.web import install_error_handlers

    install_error_handlers(app)
    from lastmile.common.bodycap import CapBody
    from lastmile.common.nul import RefuseNul
    from lastmile.ops.middleware import RequestMiddleware

    app.add_middleware(RefuseNul)  # inside RequestMiddleware: its 422s get a request id too
    app.add_middleware(CapBody, cap_of=_upload_cap)
    app.add_middleware(RequestMiddleware, settings=settings)
    for router in _routers():
        app.include_router(router)
    from lastmile.ops.openapi import install as install_openapi

    install_openapi(app)
    static = Path(str(resources.files("lastmile") / "web" / "static"))
    app.mount("/static", StaticFiles(directory=static), name="static")
    _build_routes_now(app)
    return app


def _build_routes_now(app: FastAPI) -> None:
    """Have FastAPI build every route's parameters and validators here, in the thread that
    creates the app, rather than lazily on the first request that walks past each router.

    FastAPI builds a route's validators inside ``warnings.catch_warnings()`` (to silence a
    pydantic warning), and that context manager swaps the process-wide filter list: it is not
    thread-safe. Built on a request thread, it raced the road-loading thread's numba compiler,
    which uses ``catch_warnings`` too: one thread's exit restored the other's filters mid-build,
    and the silenced warning escaped (an error under the test suite's ``filterwarnings``; a
    stray warning in production). No request thread builds a route after this."""
    for _ in iter_route_contexts(app.routes):
        pass


def _wire_slices(app: FastAPI) -> None:
    """Hand lower slices what they ask of higher ones, which they cannot import (the slice
    map of docs/design.md): the driver API gets the one ETA owner (``live``); the fleet API
    asks routes and drivers what still refers to a vehicle or driver before deleting it."""
    from lastmile.drivers.history import for_fleet
    from lastmile.live.etas import for_driver_api

    app.state.driver_etas = for_driver_api()
    app.state.fleet_references = for_fleet()


POD_UPLOAD = "/api/v1/driver/pod"
FORM_OVERHEAD = 64 * 1024
"""What a POD upload's body may hold besides the file: its other form fields, boundaries."""


def _upload_cap(scope: Scope) -> Cap | None:
    """Proof-of-delivery uploads are capped before they are read (``common.bodycap``); the
    limit is read per request, so a changed setting applies at once."""
    if scope.get("method") != "POST" or scope.get("path") != POD_UPLOAD:
        return None
    limit = int(scope["app"].state.settings.pod_max_bytes)
    return Cap(
        max_bytes=limit + FORM_OVERHEAD,
        detail=too_large(limit),
        code="pod_too_large",
    )


def _make_runner(settings: Settings, sessions: sessionmaker[Session], engine: Engine) -> JobRunner:
    if settings.uses_queue:
        from lastmile.jobs.queue import ProcrastinateRunner

        return ProcrastinateRunner(settings, engine)
    return InlineRunner(settings, sessions, engine)


def _routers() -> list[APIRouter]:
    """Every router, explicitly (importing a module registers nothing by itself)."""
    from lastmile.analytics.api import router as analytics_router
    from lastmile.analytics.pages import router as kpi_pages_router
    from lastmile.auth.api import router as auth_router
    from lastmile.auth.members_api import router as members_router
    from lastmile.auth.organisation_api import router as organisation_router
    from lastmile.customers.api import router as address_book_router
    from lastmile.drivers.api import router as drivers_router
    from lastmile.drivers.pages import router as driver_app_router
    from lastmile.events.api import router as events_router
    from lastmile.fleet.api import router as fleet_router
    from lastmile.live.api import router as live_router
    from lastmile.ops.api import router as customers_router
    from lastmile.ops.health import router as health_router
    from lastmile.orders.api import router as orders_router
    from lastmile.plans.api import router as plans_router
    from lastmile.shops.api import router as shops_router
    from lastmile.standing.api import router as standing_router
    from lastmile.tracking.api import routers as tracking_routers
    from lastmile.web.dashboard import router as dashboard_router

    return [
        health_router,
        customers_router,
        auth_router,
        organisation_router,
        members_router,
        orders_router,
        address_book_router,
        standing_router,
        fleet_router,
        plans_router,
        events_router,
        drivers_router,
        live_router,
        *tracking_routers,
        analytics_router,
        shops_router,
        driver_app_router,
        kpi_pages_router,
        dashboard_router,
    ]
