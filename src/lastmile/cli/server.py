"""``lastmile serve`` and ``lastmile worker``."""

from __future__ import annotations

from typing import Annotated

import typer
import uvicorn

from lastmile.config import get_settings


def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port.")] = 8000,
    workers: Annotated[
        int, typer.Option(help="Server processes (PostgreSQL only; SQLite uses one).")
    ] = 1,
) -> None:
    """Start the web server (API at /api/v1, OpenAPI docs at /docs)."""
    settings = get_settings()
    if workers > 1 and not settings.is_postgres:
        typer.echo(
            "Several server processes need PostgreSQL (LASTMILE_DATABASE_URL); starting one.",
            err=True,
        )
        workers = 1
    typer.echo(
        f"lastmile on http://{host}:{port}  (API docs: http://{host}:{port}/docs, database: {settings.resolved_database_url.split('@')[-1]})"
    )
    uvicorn.run(
        "lastmile.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="info",
        # The client address comes from X-Forwarded-For only via LASTMILE_TRUSTED_PROXIES
        # (lastmile.common.web.client_address); uvicorn's own handling trusts any loopback peer.
        proxy_headers=False,
    )


def worker(
    concurrency: Annotated[int, typer.Option(help="Jobs run at once by this worker.")] = 1,
) -> None:
    """Run background jobs from the PostgreSQL queue (planning, webhooks, notifications)."""
    settings = get_settings()
    if not settings.is_postgres:
        typer.echo(
            "lastmile worker needs PostgreSQL (LASTMILE_DATABASE_URL); with SQLite, jobs run inside `lastmile serve`.",
            err=True,
        )
        raise typer.Exit(2)
    from lastmile.jobs.queue import run_worker

    run_worker(settings, concurrency=concurrency)
