"""The stored predictions of the running routes: where the routes slice keeps what
``lastmile.live`` (the one owner of ETAs) last predicted for each route and stop.

Only ``lastmile.live`` writes here, when something happened (a stop event, a GPS batch, an
edit, an insert); everyone else reads through ``lastmile.live`` (which reads here), and a read
never writes. Writes are flushed, never committed: the caller owns the transaction.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from lastmile.routes.models import Route, StopEta


@dataclass(frozen=True)
class RouteSummary:
    """What a prediction says about the route as a whole."""

    computed_at: dt.datetime
    origin: str
    end_s: int
    overtime_s: int
    pace_travel: float
    pace_service: float


def stored(*, session: Session, org_id: str, route_ids: Sequence[str]) -> dict[str, StopEta]:
    """stop id -> its stored prediction, for the stops of ``route_ids``."""
    if not route_ids:
        return {}
    return {
        row.stop_id: row
        for row in session.scalars(
            select(StopEta).where(StopEta.org_id == org_id, StopEta.route_id.in_(list(route_ids)))
        )
    }


def summary(route: Route) -> RouteSummary | None:
    """The route-level part of its stored prediction (``None``: never predicted)."""
    if route.eta_computed_at is None or route.eta_end_s is None:
        return None
    return RouteSummary(
        computed_at=route.eta_computed_at,
        origin=route.eta_origin or "start",
        end_s=route.eta_end_s,
        overtime_s=route.eta_overtime_s,
        pace_travel=route.eta_pace_travel,
        pace_service=route.eta_pace_service,
    )


def new_row(*, session: Session, route: Route, stop_id: str) -> StopEta:
    """A prediction row for a stop that had none (added to the session; fields set by the
    caller before the flush)."""
    row = StopEta(org_id=route.org_id, stop_id=stop_id, route_id=route.id)
    session.add(row)
    return row


def drop(*, session: Session, row: StopEta) -> None:
    """A stop that is no longer predicted (done, moved away, removed)."""
    session.delete(row)


def note(*, route: Route, summary: RouteSummary) -> None:
    """Store the route-level part of a new prediction."""
    route.eta_computed_at = summary.computed_at
    route.eta_origin = summary.origin
    route.eta_end_s = summary.end_s
    route.eta_overtime_s = summary.overtime_s
    route.eta_pace_travel = summary.pace_travel
    route.eta_pace_service = summary.pace_service
