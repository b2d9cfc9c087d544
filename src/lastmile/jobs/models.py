"""The embedded runner's job table: jobs survive a restart of the single server process.

On PostgreSQL, procrastinate keeps its own job tables; this one is only written by
:class:`lastmile.jobs.runner.InlineRunner` (``jobs=inline``, the SQLite default).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from lastmile.db.base import Base, Timestamped, UTCDateTime


class StoredJob(Timestamped, Base):
    __tablename__ = "stored_jobs"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(50))
    """A name from ``jobs/registry.py``."""
    kwargs: Mapped[dict[str, Any]] = mapped_column(default=dict)
    run_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    """Not before this time (retries and delayed follow-ups wait across a restart too)."""
    attempts: Mapped[int] = mapped_column(default=0)
    """Failed runs so far; the job is retried with exponential backoff up to a limit."""
    status: Mapped[str] = mapped_column(String(10), default="queued")
    """``queued`` (runs, or resumes at the next start) or ``failed`` (gave up; kept to look at)."""
    last_error: Mapped[str | None] = mapped_column(String(1000), default=None)
