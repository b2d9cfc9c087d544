"""The customer's view of a stop's ETA: ``live``'s prediction (the one ETA) and the promise it
keeps inside the booked window, with how many stops are still before it. The tracking page and
the customer messages both read it (moved here from ``tracking``, so that ``notifications``,
which sits below ``tracking``, need not ask the tracking page for it)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.orm import Session

from lastmile.config import Settings
from lastmile.live import etas as live
from lastmile.orders.models import Order
from lastmile.orgs.models import Organisation
from lastmile.routes import service as routes
from lastmile.routes.models import Route, RouteStatus, Stop, StopKind, StopStatus

DONE_STOP_STATUSES = (StopStatus.ARRIVED, *routes.CLOSED)


@dataclass(frozen=True)
class Eta:
    eta: datetime
    eta_from: datetime
    eta_to: datetime
    stops_away: int
    delay_s: int  # expected arrival minus the arrival given at dispatch
    started: bool
    late_s: int = 0  # how far the expected service start is past the booked window


def eta_of(
    *,
    session: Session,
    settings: Settings,
    org: Organisation,
    route: Route,
    stop: Stop,
    now: datetime,
    pairs: list[tuple[Stop, Order | None]] | None = None,
) -> Eta:
    """The customer's view of ``stop``: ``lastmile.live``'s prediction (the one ETA) and the
    promise it keeps inside the booked window, with how many stops are still before it.
    ``pairs``: the route's ``stops_with_orders`` when the caller has them (one query less)."""
    return _views(
        session=session, settings=settings, org=org, route=route, now=now, pairs=pairs, only=stop
    )[stop.id]


def route_etas(
    *,
    session: Session,
    settings: Settings,
    org: Organisation,
    route: Route,
    now: datetime,
    pairs: list[tuple[Stop, Order | None]] | None = None,
) -> dict[str, Eta]:
    """:func:`eta_of` for every order stop of ``route``, from one prediction. A message round
    over a route asks for all of them; asked one by one, each asked for the whole route's
    prediction again, and a round grew with the square of the stops (6 minutes for 8 routes
    of 60 stops in the pages benchmark)."""
    return _views(
        session=session, settings=settings, org=org, route=route, now=now, pairs=pairs, only=None
    )


def _views(
    *,
    session: Session,
    settings: Settings,
    org: Organisation,
    route: Route,
    now: datetime,
    pairs: list[tuple[Stop, Order | None]] | None,
    only: Stop | None,
) -> dict[str, Eta]:
    if pairs is None:
        pairs = routes.stops_with_orders(session=session, org_id=org.id, route_id=route.id)
    stops = [s for s, _ in pairs if s.kind == StopKind.ORDER]
    started = route.status in (RouteStatus.STARTED, RouteStatus.FINISHED) or any(
        s.status in DONE_STOP_STATUSES for s in stops
    )
    known = live.current(
        session=session, settings=settings, org_id=org.id, routes=[route], now=now,
        stops={route.id: pairs},
    )  # fmt: skip
    etas = known[route.id]
    views: dict[str, Eta] = {}
    for stop in [only] if only is not None else stops:
        stops_away = sum(
            1 for s in stops if s.sequence < stop.sequence and s.status == StopStatus.PENDING
        )
        views[stop.id] = _view(etas, stop, stops_away, started, now)
    return views


def _view(etas: live.RouteEtas, stop: Stop, stops_away: int, started: bool, now: datetime) -> Eta:
    row = etas.of_stop(stop.id)
    arrival = row.arrival_s if row is not None else stop.arrival_s
    eta = max(etas.moment(arrival).astimezone(UTC), now)
    if row is not None and row.promise is not None:
        eta_from = etas.moment(row.promise[0]).astimezone(UTC)
        eta_to = etas.moment(row.promise[1]).astimezone(UTC)
    else:
        eta_from = eta_to = eta
    promised = (
        stop.dispatched_arrival_s if stop.dispatched_arrival_s is not None else stop.arrival_s
    )
    return Eta(
        eta=eta,
        eta_from=eta_from,
        eta_to=eta_to,
        stops_away=stops_away,
        delay_s=arrival - promised,
        started=started,
        late_s=row.late_s if row is not None and row.level == "late" else 0,
    )
