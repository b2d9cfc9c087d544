"""Tracking links and what the customer's page shows. The only module that queries or commits
tracking rows.

A link is ``/t/<token>``: 32 random bytes, URL-safe; only its SHA-256 is stored, so a copy of
the database does not open anyone's page. A link expires ``ttl_days`` after the order's
delivery date (organisation setting ``tracking.ttl_days``, default 7), long enough to see the
proof of delivery and rate. A new link can be made at any time; older ones stay valid until
they expire.

The ETA window (see ``docs/tracking-and-notifications.md``) is ``lastmile.live``'s promise
for the stop: the one ETA the driver app, the dashboard and the messages show too.
"""

from __future__ import annotations

import hashlib
import math
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lastmile.common.clock import utcnow
from lastmile.common.names import first_name
from lastmile.config import Settings
from lastmile.core.errors import (
    Conflict,
    FieldIssue,
    InputError,
    LastmileError,
    NotFound,
)
from lastmile.core.geo import haversine_m
from lastmile.core.model import Location
from lastmile.core.times import local_hhmm
from lastmile.drivers.models import Position, ProofOfDelivery
from lastmile.drivers.outcome import Outcome, outcome_of
from lastmile.fleet.models import Driver
from lastmile.live import customer_eta
from lastmile.orders import service as orders
from lastmile.orders.lifecycle import OrderStatus
from lastmile.orders.models import Order
from lastmile.orders.schemas import OrderUpdate
from lastmile.orgs import clock as org_clock
from lastmile.orgs.models import Organisation
from lastmile.orgs.service import shop_phone
from lastmile.routes import service as routes
from lastmile.routes.models import Route, Stop
from lastmile.tracking import counters
from lastmile.tracking.models import CustomerInput, TrackingLink, TrackingView

DEFAULT_TTL_DAYS = 7
DEFAULT_MAP_STOPS = 3
ROUND_S = 5 * 60

INSTRUCTION_KINDS = ("safe_place", "gate_code", "neighbour", "other")
CUSTOMER = "customer:tracking"
"""The actor of changes the customer makes on the tracking page."""
NOTES_MARK = "Customer instructions:"
"""The line of ``Order.notes`` the tracking page writes (the driver app shows order notes)."""


class LinkExpired(LastmileError):
    """The link was real but has expired (the page says so, and nothing else)."""

    code = "link_expired"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def org_settings(org: Organisation, section: str) -> dict[str, Any]:
    value = (org.settings or {}).get(section)
    return dict(value) if isinstance(value, dict) else {}


def _int_setting(values: dict[str, Any], name: str, default: int, low: int, high: int) -> int:
    raw = values.get(name, default)
    try:
        number = int(raw)
    except (TypeError, ValueError):
        return default
    return min(max(number, low), high)


def map_stops(org: Organisation) -> int:
    """How many stops away the vehicle appears on the customer's map."""
    return _int_setting(org_settings(org, "tracking"), "map_stops", DEFAULT_MAP_STOPS, 0, 50)


def ttl_days(org: Organisation) -> int:
    return _int_setting(org_settings(org, "tracking"), "ttl_days", DEFAULT_TTL_DAYS, 1, 365)


def org_of(session: Session, org_id: str) -> Organisation:
    org = session.get(Organisation, org_id)
    if org is None:
        raise NotFound("organisation not found")
    return org


# --- links ---------------------------------------------------------------------------------


def create_link(
    *,
    session: Session,
    org_id: str,
    order_id: str,
    purpose: str = "staff",
    now: datetime | None = None,
    commit: bool = True,
) -> tuple[TrackingLink, str]:
    """A new link for an order: the row and the token (shown once, never stored)."""
    order = orders.get(session=session, org_id=org_id, order_id=order_id)
    org = org_of(session, org_id)
    now = now or utcnow()  # link expiry is real time, in every organisation
    zone = ZoneInfo(org.timezone)
    end_of_day = datetime.combine(order.date + timedelta(days=1), time(0), zone).astimezone(UTC)
    expires = max(now, end_of_day) + timedelta(days=ttl_days(org))
    token = secrets.token_urlsafe(32)
    link = TrackingLink(
        org_id=org_id,
        order_id=order.id,
        token_hash=hash_token(token),
        expires_at=expires,
        purpose=purpose[:20],
    )
    session.add(link)
    if commit:
        session.commit()
    else:
        session.flush()
    return link, token


def resolve(*, session: Session, token: str, now: datetime | None = None) -> TrackingLink:
    """The link of ``token``: :class:`NotFound` if unknown, :class:`LinkExpired` if expired."""
    if not token or len(token) > 200 or "\x00" in token:
        raise NotFound("no such tracking link")
    link = session.scalar(select(TrackingLink).where(TrackingLink.token_hash == hash_token(token)))
    if link is None:
        raise NotFound("no such tracking link")
    if link.expires_at <= (now or utcnow()):
        raise LinkExpired("this tracking link has expired")
    return link


# --- what the page shows -------------------------------------------------------------------


@dataclass(frozen=True)
class Pod:
    id: str
    kind: str
    content_type: str


@dataclass(frozen=True)
class Progress:
    """Everything the customer may see of one order (and nothing else)."""

    order_id: str
    status: str
    date: date
    timezone: str
    address: str
    destination: tuple[float, float] | None
    eta_from: datetime | None = None
    eta_to: datetime | None = None
    stops_away: int | None = None
    delay_s: int = 0
    late_minutes: int = 0  # expected after the booked window by this much
    route_started: bool = False
    show_map: bool = False
    vehicle: tuple[float, float] | None = None
    driver: str = ""
    pods: list[Pod] = field(default_factory=list)
    can_instruct: bool = False
    can_rate: bool = False
    can_reschedule: bool = False
    instruction_kind: str | None = None
    instruction_text: str = ""
    rating: int | None = None
    comment: str = ""
    outcome: Outcome | None = None
    """When and how it was delivered, or why not (delivered / failed only)."""
    shop_phone: str = ""

    def local(self, moment: datetime | None) -> str:
        return local_hhmm(moment, ZoneInfo(self.timezone))

    def local_date(self, moment: datetime) -> str:
        return moment.astimezone(ZoneInfo(self.timezone)).date().isoformat()


def _floor(moment: datetime) -> datetime:
    seconds = int(moment.timestamp())
    return datetime.fromtimestamp(seconds - seconds % ROUND_S, UTC)


def _ceil(moment: datetime) -> datetime:
    seconds = math.ceil(moment.timestamp())
    return datetime.fromtimestamp(seconds + (-seconds) % ROUND_S, UTC)


def stop_of(*, session: Session, org_id: str, order: Order) -> tuple[Route, Stop] | None:
    """The order's stop on its dispatched route of its delivery date, if any."""
    return routes.stop_of(session=session, org_id=org_id, order=order)


def progress(
    *, session: Session, settings: Settings, link: TrackingLink, now: datetime | None = None
) -> Progress:
    """What the page of ``link`` shows: only its own order."""
    org = org_of(session, link.org_id)
    now = now or org_clock.now(org)
    order = orders.get(session=session, org_id=link.org_id, order_id=link.order_id)
    feedback = session.get(CustomerInput, order.id)
    status = order.status
    destination = (
        (order.lon, order.lat) if order.lon is not None and order.lat is not None else None
    )
    values: dict[str, Any] = {
        "order_id": order.id,
        "status": status,
        "date": order.date,
        "timezone": org.timezone,
        "address": order.address,
        "destination": destination,
        "can_instruct": status not in _CLOSED,
        "can_rate": status == OrderStatus.DELIVERED,
        "can_reschedule": may_reschedule(org, order),
        "outcome": outcome_of(session=session, org_id=org.id, order_id=order.id, status=status),
        "shop_phone": shop_phone(org),
    }
    if feedback is not None:
        values.update(
            instruction_kind=feedback.instruction_kind,
            instruction_text=feedback.instruction_text,
            rating=feedback.rating,
            comment=feedback.comment,
        )
    found = stop_of(session=session, org_id=org.id, order=order)
    if found is not None:
        route, stop = found
        if route.driver_id:
            driver = session.scalar(
                select(Driver).where(Driver.org_id == org.id, Driver.id == route.driver_id)
            )
            values["driver"] = first_name(driver.name) if driver else ""
        if status in _EN_ROUTE:
            pairs = routes.stops_with_orders(session=session, org_id=org.id, route_id=route.id)
            eta = customer_eta.eta_of(
                session=session, settings=settings, org=org, route=route, stop=stop, now=now,
                pairs=pairs,
            )  # fmt: skip
            values.update(
                eta_from=eta.eta_from,
                eta_to=eta.eta_to,
                stops_away=0 if status == OrderStatus.ARRIVED else eta.stops_away,
                delay_s=eta.delay_s,
                late_minutes=-(-eta.late_s // 60),
                route_started=eta.started,
            )
            near = status == OrderStatus.ARRIVED or eta.stops_away <= map_stops(org)
            if eta.started and near and status != OrderStatus.DISPATCHED:
                position = session.scalar(
                    select(Position)
                    .where(Position.org_id == org.id, Position.route_id == route.id)
                    .order_by(Position.recorded_at.desc(), Position.id.desc())
                    .limit(1)
                )
                places = [
                    (o.lon, o.lat)
                    for s, o in pairs
                    if o is not None and s.status not in routes.CLOSED and o.lon is not None
                    and o.lat is not None
                ]  # fmt: skip
                if position is not None and near_route(places, destination, position):
                    values.update(show_map=True, vehicle=(position.lon, position.lat))
    if status == OrderStatus.DELIVERED:
        values["pods"] = [
            Pod(id=p.id, kind=p.kind, content_type=p.content_type)
            for p in session.scalars(
                select(ProofOfDelivery)
                .where(ProofOfDelivery.org_id == org.id, ProofOfDelivery.order_id == order.id)
                .order_by(ProofOfDelivery.created_at)
            )
            if p.kind == "photo"
        ]
    return Progress(**values)


FAR_FROM_ROUTE_M = 50_000
"""A GPS point farther than this from every stop left (and the customer's door) is wrong
(a phone's stale or spoofed fix) and never shown to a customer."""


def near_route(
    places: list[tuple[float, float]],
    destination: tuple[float, float] | None,
    point: Position,
) -> bool:
    """Whether ``point`` is within :data:`FAR_FROM_ROUTE_M` of the route's open stops
    (``places``) or the customer's door (a route with no known place says nothing is near)."""
    if destination is not None:
        places = [*places, destination]
    here = Location(point.lon, point.lat)
    return any(haversine_m(here, Location(*p)) <= FAR_FROM_ROUTE_M for p in places)


_EN_ROUTE = (OrderStatus.DISPATCHED, OrderStatus.OUT_FOR_DELIVERY, OrderStatus.ARRIVED)
_CLOSED = (
    OrderStatus.DELIVERED,
    OrderStatus.RETURNED,
    OrderStatus.CANCELLED,
    OrderStatus.FAILED,
)


def pod_of(*, session: Session, link: TrackingLink, pod_id: str) -> ProofOfDelivery:
    """A proof-of-delivery photo of the link's own order, once it is delivered."""
    order = orders.get(session=session, org_id=link.org_id, order_id=link.order_id)
    row = session.scalar(
        select(ProofOfDelivery).where(
            ProofOfDelivery.org_id == link.org_id,
            ProofOfDelivery.order_id == link.order_id,
            ProofOfDelivery.id == pod_id,
            ProofOfDelivery.kind == "photo",
        )
    )
    if row is None or order.status != OrderStatus.DELIVERED:
        raise NotFound("no such photo")
    return row


# --- what the customer tells us ------------------------------------------------------------


def _input_row(session: Session, link: TrackingLink) -> CustomerInput:
    row = session.get(CustomerInput, link.order_id)
    if row is None:
        row = CustomerInput(org_id=link.org_id, order_id=link.order_id)
        session.add(row)
    return row


def save_instructions(
    *, session: Session, link: TrackingLink, kind: str, text: str, now: datetime | None = None
) -> CustomerInput:
    """Store the customer's delivery instructions and put them in the order's notes (one
    marked line, replaced on every change), which the driver app shows."""
    text = " ".join(text.split())
    if kind not in INSTRUCTION_KINDS:
        raise InputError(
            issues=[
                FieldIssue(None, "kind", kind, "must be one of " + ", ".join(INSTRUCTION_KINDS))
            ],
            source="instructions",
        )
    if not text or len(text) > 500 or "\x00" in text:
        raise InputError(
            issues=[FieldIssue(None, "text", None, "must be 1 to 500 characters")],
            source="instructions",
        )
    order = orders.get(session=session, org_id=link.org_id, order_id=link.order_id)
    if order.status in _CLOSED:
        raise Conflict("this delivery is finished; instructions can no longer change")
    row = _input_row(session, link)
    row.instruction_kind = kind
    row.instruction_text = text
    row.instructions_at = now or org_clock.now_of(session=session, org_id=link.org_id)
    label = kind.replace("_", " ")
    kept = [line for line in order.notes.splitlines() if not line.startswith(NOTES_MARK)]
    notes = "\n".join([*kept, f"{NOTES_MARK} {label}: {text}"]).strip()[:2000]
    session.flush()
    orders.update(
        session=session,
        org_id=link.org_id,
        order_id=order.id,
        order_in=OrderUpdate(notes=notes),
        actor=CUSTOMER,
    )  # commits both
    return row


def save_rating(
    *, session: Session, link: TrackingLink, rating: int, comment: str, now: datetime | None = None
) -> CustomerInput:
    """Store the customer's rating (1-5) and comment; sending again replaces them."""
    if not 1 <= rating <= 5:
        raise InputError(
            issues=[FieldIssue(None, "rating", str(rating), "must be 1 to 5")], source="rating"
        )
    comment = comment.strip()
    if len(comment) > 2000 or "\x00" in comment:
        raise InputError(
            issues=[FieldIssue(None, "comment", None, "must be at most 2000 characters")],
            source="rating",
        )
    order = orders.get(session=session, org_id=link.org_id, order_id=link.order_id)
    if order.status != OrderStatus.DELIVERED:
        raise Conflict("you can rate the delivery once it has been delivered")
    row = _input_row(session, link)
    row.rating, row.comment = rating, comment
    row.rated_at = now or org_clock.now_of(session=session, org_id=link.org_id)
    session.commit()
    return row


def may_reschedule(org: Organisation, order: Order) -> bool:
    """The customer may pick another window: the organisation allows it
    (``tracking.reschedule``), the delivery failed, and the address has coordinates."""
    allowed = bool(org_settings(org, "tracking").get("reschedule", False))
    return allowed and order.status == OrderStatus.FAILED and order.lon is not None


# --- staff ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class OrderTracking:
    views: int
    links: int
    instruction_kind: str | None
    instruction_text: str
    rating: int | None
    comment: str


def order_tracking(*, session: Session, org_id: str, order_id: str) -> OrderTracking:
    orders.get(session=session, org_id=org_id, order_id=order_id)
    counters.flush_for(session)
    count = session.scalar(
        select(func.count())
        .select_from(TrackingView)
        .where(TrackingView.org_id == org_id, TrackingView.order_id == order_id)
    )
    links = session.scalar(
        select(func.count())
        .select_from(TrackingLink)
        .where(TrackingLink.org_id == org_id, TrackingLink.order_id == order_id)
    )
    row = session.scalar(
        select(CustomerInput).where(
            CustomerInput.org_id == org_id, CustomerInput.order_id == order_id
        )
    )
    return OrderTracking(
        views=int(count or 0),
        links=int(links or 0),
        instruction_kind=row.instruction_kind if row else None,
        instruction_text=row.instruction_text if row else "",
        rating=row.rating if row else None,
        comment=row.comment if row else "",
    )


@dataclass(frozen=True)
class Kpis:
    views: int
    orders_viewed: int
    ratings: int
    average_rating: float | None


def kpis(*, session: Session, org_id: str, day_from: date, day_to: date) -> Kpis:
    """Tracking views and ratings of the orders with a delivery date in the range."""
    counters.flush_for(session)
    in_range = select(Order.id).where(
        Order.org_id == org_id, Order.date >= day_from, Order.date <= day_to
    )
    count, viewed = session.execute(
        select(func.count(), func.count(func.distinct(TrackingView.order_id))).where(
            TrackingView.org_id == org_id, TrackingView.order_id.in_(in_range)
        )
    ).one()
    ratings, average = session.execute(
        select(func.count(CustomerInput.rating), func.avg(CustomerInput.rating)).where(
            CustomerInput.org_id == org_id,
            CustomerInput.order_id.in_(in_range),
            CustomerInput.rating.is_not(None),
        )
    ).one()
    return Kpis(
        views=int(count or 0),
        orders_viewed=int(viewed or 0),
        ratings=int(ratings or 0),
        average_rating=round(float(average), 2) if average is not None else None,
    )


def erase_personal_data(*, session: Session, org_id: str, order_ids: Sequence[str]) -> int:
    """End these orders' tracking links (the page no longer opens) and blank the customer's
    delivery instructions and comment; view counts and the star rating stay (KPIs).
    Returns the links ended. Does not commit."""
    now = utcnow()
    links = list(
        session.scalars(
            select(TrackingLink).where(
                TrackingLink.org_id == org_id, TrackingLink.order_id.in_(order_ids)
            )
        )
    )
    for link in links:
        link.expires_at = min(link.expires_at, now)
    for row in session.scalars(
        select(CustomerInput).where(
            CustomerInput.org_id == org_id, CustomerInput.order_id.in_(order_ids)
        )
    ):
        row.instruction_text = ""
        row.comment = ""
    return len(links)
