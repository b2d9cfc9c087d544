"""Reads and writes of the embedded runner's job table (the jobs slice owns it).

Each function opens its own short transaction on the engine (not an ORM session): a job is
enqueued from after-commit hooks of other sessions, which must not see or join this write.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, delete, insert, select, update

from lastmile.common.clock import utcnow
from lastmile.jobs.models import StoredJob


@dataclass(frozen=True)
class Pending:
    id: int
    name: str
    kwargs: dict[str, Any]
    run_at: datetime
    attempts: int


def add(engine: Engine, *, name: str, kwargs: dict[str, Any], delay_s: float) -> int:
    """Store a job due ``delay_s`` from now; returns its id."""
    with engine.begin() as conn:
        job_id = conn.execute(
            insert(StoredJob)
            .values(
                name=name,
                kwargs=kwargs,
                run_at=utcnow() + timedelta(seconds=max(0.0, delay_s)),
                attempts=0,
                status="queued",
                created_at=utcnow(),
            )
            .returning(StoredJob.id)
        ).scalar_one()
    return int(job_id)


def get(engine: Engine, job_id: int) -> Pending | None:
    """The queued job ``job_id``; None once it has finished, failed for good or was removed."""
    with engine.connect() as conn:
        row = conn.execute(
            select(StoredJob).where(StoredJob.id == job_id, StoredJob.status == "queued")
        ).first()
    return _pending(row) if row is not None else None


def queued(engine: Engine) -> list[Pending]:
    """Every job still to run, oldest first (resumed when the server starts)."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(StoredJob).where(StoredJob.status == "queued").order_by(StoredJob.id)
        ).all()
    return [_pending(row) for row in rows]


def finish(engine: Engine, job_id: int) -> None:
    """A job that ran to completion is removed."""
    with engine.begin() as conn:
        conn.execute(delete(StoredJob).where(StoredJob.id == job_id))


def failed(engine: Engine, job_id: int, *, error: str, retry_in_s: float | None) -> None:
    """Record a failed run: due again in ``retry_in_s``, or given up (``None``)."""
    values: dict[str, Any] = {"attempts": StoredJob.attempts + 1, "last_error": error[:1000]}
    if retry_in_s is None:
        values["status"] = "failed"
    else:
        values["run_at"] = utcnow() + timedelta(seconds=retry_in_s)
    with engine.begin() as conn:
        conn.execute(update(StoredJob).where(StoredJob.id == job_id).values(**values))


def _pending(row: Any) -> Pending:
    return Pending(
        id=row.id, name=row.name, kwargs=dict(row.kwargs), run_at=row.run_at, attempts=row.attempts
    )
