"""What still refers to a vehicle or a driver in the slices above fleet, asked before one is
deleted.

Routes (``routes``) use vehicles and drivers; device events and positions (``drivers``) record
what a driver did. Deleting either would delete that record (their foreign keys cascade), so
a delete is refused (409) while anything refers to it. fleet sits below those slices and
cannot ask them itself: the app hands the fleet API their answers
(``app.state.fleet_references``, set in ``lastmile.app`` from ``drivers.history.for_fleet``),
and the delete functions take them as a required argument, so no caller deletes unasked.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from fastapi import Request
from sqlalchemy.orm import Session


class VehicleRoutes(Protocol):
    def __call__(self, *, session: Session, org_id: str, vehicle_id: str) -> int:
        """How many routes use the vehicle."""


class DriverHistory(Protocol):
    def __call__(self, *, session: Session, org_id: str, driver_id: str) -> bool:
        """Whether the driver had a route or recorded anything (events, positions)."""


@dataclass(frozen=True)
class References:
    vehicle_routes: VehicleRoutes
    driver_has_history: DriverHistory


def fleet_references(request: Request) -> References:
    """The answers the app was built with (a FastAPI dependency)."""
    found: References = request.app.state.fleet_references
    return found
