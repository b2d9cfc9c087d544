"""``lastmile serve`` and ``lastmile worker``."""

from __future__ import annotations

from typing import Annotated

import typer
import uvicorn

from lastmile.config import Settings


def checked_settings(*, database: bool = True) -> Settings:
    """The settings, checked before anything starts; wrong ones stop the command with every
    problem named (exit code 2), e.g. ``LASTMILE_PLAN_TIME_LIMIT_S: Input should be greater
    than 0 (got '-1')``."""
    from lastmile.config import get_settings
    from lastmile.ops.preflight import ConfigError, check, load_settings

    try:
        load_settings()
        settings = get_settings()
        check(settings, database=database)
    except ConfigError as exc:
        typer.echo("lastmile cannot start, the configuration is wrong:", err=True)
        for problem in exc.problems:
            typer.echo(f"  - {problem}", err=True)
        typer.echo("Settings are described in docs/settings.md.", err=True)
        raise typer.Exit(2) from None
    return settings


def _prepare_process(settings: Settings) -> None:
    """Metrics shared by every process of this install, and the configured log format."""
    from lastmile.common import metrics
    from lastmile.common.logs import configure

    metrics.use_directory(settings.resolved_metrics_dir)
    configure(settings.resolved_log_format, settings.log_level)


def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port.")] = 8000,
    workers: Annotated[
        int, typer.Option(help="Server processes (PostgreSQL only; SQLite uses one).")
    ] = 1,
) -> None:
    """Start the web server (API at /api/v1, OpenAPI docs at /docs)."""
    settings = checked_settings()
    if workers > 1 and not settings.is_postgres:
        typer.echo(
            "Several server processes need PostgreSQL (LASTMILE_DATABASE_URL); starting one.",
            err=True,
        )
        workers = 1
    _prepare_process(settings)
    from lastmile.common.logs import config

    typer.echo(
        f"lastmile on http://{host}:{port}  (API docs: http://{host}:{port}/docs, database: {settings.resolved_database_url.split('@')[-1]})"
    )
    uvicorn.run(
        "lastmile.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_config=config(settings.resolved_log_format, settings.log_level),
        log_level=settings.log_level.lower(),
        access_log=False,  # lastmile writes its own, with route, duration and request id
        # A server process imports the planner (numpy, scipy, PyVRP) before it answers
        # uvicorn's health check; on a busy machine that takes longer than uvicorn's 5 s, and a
        # process killed for it only restarts the same slow import, forever.
        timeout_worker_healthcheck=60,
        # The client address comes from X-Forwarded-For only via LASTMILE_TRUSTED_PROXIES
        # (lastmile.common.web.client_address); uvicorn's own handling trusts any loopback peer.
        proxy_headers=False,
    )


def worker(
    concurrency: Annotated[int, typer.Option(help="Jobs run at once by this worker.")] = 1,
) -> None:
    """Run background jobs from the PostgreSQL queue (planning, webhooks, notifications)."""
    settings = checked_settings()
    if not settings.is_postgres:
        typer.echo(
            "lastmile worker needs PostgreSQL (LASTMILE_DATABASE_URL); with SQLite, jobs run inside `lastmile serve`.",
            err=True,
        )
        raise typer.Exit(2)
    _prepare_process(settings)
    from lastmile.jobs.queue import run_worker

    run_worker(settings, concurrency=concurrency)
