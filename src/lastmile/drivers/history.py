"""Whether a driver has a history: routes (``routes``), device events or positions (this
slice's tables). fleet asks before deleting a driver, through ``fleet/references.py``."""

from __future__ import annotations

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from lastmile.drivers.models import DeviceEvent, Position
from lastmile.fleet.references import References
from lastmile.routes import service as routes


def has_history(*, session: Session, org_id: str, driver_id: str) -> bool:
    """A route, a device event or a position of the driver (deleting would erase it)."""
    if routes.driver_has_routes(session=session, org_id=org_id, driver_id=driver_id):
        return True
    return bool(
        session.scalar(
            select(
                exists().where(DeviceEvent.org_id == org_id, DeviceEvent.driver_id == driver_id)
                | exists().where(Position.org_id == org_id, Position.driver_id == driver_id)
            )
        )
    )


def for_fleet() -> References:
    """What fleet asks before deleting a vehicle or a driver (the app hands it over)."""
    return References(vehicle_routes=routes.vehicle_routes, driver_has_history=has_history)
