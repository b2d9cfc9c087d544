"""What the fleet can carry, for the slices that check orders against it (part of the fleet
slice's service layer: it reads the ``vehicles`` table)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from lastmile.fleet.models import Vehicle


def largest_capacity(*, session: Session, org_id: str) -> dict[str, float]:
    """Per dimension, the most one active vehicle carries (empty: no vehicles yet)."""
    found: dict[str, float] = {}
    rows = select(Vehicle.capacity).where(Vehicle.org_id == org_id, Vehicle.active.is_(True))
    for capacity in session.scalars(rows):
        for dim, amount in capacity.items():
            found[dim] = max(found.get(dim, 0.0), float(amount))
    return found
