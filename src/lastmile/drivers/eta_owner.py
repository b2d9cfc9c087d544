"""What the driver API asks of the one ETA owner (``lastmile.live``), handed over by the app.

``live`` sits above ``drivers`` (its state of a running route reads the drivers' positions and
device events), so the driver API cannot import it. The app gives it live's functions instead
(``app.state.driver_etas``, set in ``lastmile.app`` from ``live.etas.for_driver_api``): a stop
event or a GPS batch still recomputes the route's ETAs in the request's own transaction,
before it commits, so every reader sees them at once; the driver's route shows live's times.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Protocol

from fastapi import Request
from sqlalchemy.orm import Session

from lastmile.config import Settings
from lastmile.routes.models import Route


class ExpectedArrivals(Protocol):
    def __call__(
        self, *, session: Session, settings: Settings, org_id: str, route: Route
    ) -> dict[str, str]:
        """Stop id -> its expected arrival (ISO 8601, local time) now. Never writes."""


class OnStopDone(Protocol):
    def __call__(
        self, *, session: Session, settings: Settings, org_id: str, route_id: str
    ) -> object:
        """Recompute the route's ETAs after a stop event or a start (the caller commits)."""


class OnPosition(Protocol):
    def __call__(
        self,
        *,
        session: Session,
        settings: Settings,
        org_id: str,
        route_id: str,
        lon: float,
        lat: float,
        at: dt.datetime,
    ) -> object:
        """Recompute the route's ETAs from its newest GPS point (throttled; the caller
        commits)."""


@dataclass(frozen=True)
class DriverEtas:
    expected: ExpectedArrivals
    on_stop_done: OnStopDone
    on_position: OnPosition


def driver_etas(request: Request) -> DriverEtas:
    """The ETA owner the app was built with (a FastAPI dependency)."""
    owner: DriverEtas = request.app.state.driver_etas
    return owner
