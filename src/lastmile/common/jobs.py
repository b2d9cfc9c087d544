"""What a job function gets: settings and a way to open database sessions (in common: each
slice's jobs.py takes it, and the job runner in ``lastmile.jobs`` above them all passes it)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from lastmile.config import Settings

Enqueue = Callable[..., None]
"""``enqueue(name, *, delay_s=0, **kwargs)``: schedule another job (retries, follow-ups)."""


@dataclass(frozen=True)
class JobContext:
    settings: Settings
    sessions: sessionmaker[Session]
    enqueue: Enqueue

    def run_later(self, name: str, *, delay_s: float = 0, **kwargs: Any) -> None:
        self.enqueue(name, delay_s=delay_s, **kwargs)
