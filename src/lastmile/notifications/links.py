"""How a customer message gets its tracking link: handed in, not imported.

Links are the tracking slice's rows (``tracking.service.create_link``), and tracking sits
above notifications (its page shows what the messages offer), so the notification job is
given the function that makes them (``notifications/jobs.py``, wired in
``jobs/registry.py``)."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from sqlalchemy.orm import Session


class IssueLink(Protocol):
    """Make a tracking link for an order: the row and the token shown once."""

    def __call__(
        self, *, session: Session, org_id: str, order_id: str, purpose: str, now: datetime | None
    ) -> tuple[object, str]: ...
