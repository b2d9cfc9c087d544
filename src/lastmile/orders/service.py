"""Orders: create (idempotent on ``external_id``), read, change, delete, status transitions.

The only module that queries or commits orders. Every query is scoped by ``org_id``; an order
of another organisation is "not found". Every change writes, in the same transaction, an
``order.*`` event (``events.service.record``); every status change also writes an
``OrderEvent`` history row (who, when, where).

Re-sending an order (API or import) with an ``external_id`` that exists:

* identical -> ``unchanged`` (nothing is written);
* different, order still ``new``/``ready`` -> ``updated`` (upsert);
* different, order planned or later -> :class:`Conflict` (409), except for the contact
  fields (``notes``, ``customer``, ``phone``, ``email``), which may change in any status.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Literal

from pydantic import ValidationError
from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from lastmile.auth import org_limits
from lastmile.common.clock import utcnow
from lastmile.common.ids import new_id
from lastmile.core.errors import Conflict, FieldIssue, IllegalTransition, InputError, NotFound
from lastmile.core.formats.orders_csv import ORDER_ALIASES
from lastmile.core.formats.table import match_columns, read_rows
from lastmile.core.times import clock_span
from lastmile.events import service as events
from lastmile.events import types as event_types
from lastmile.orders import lifecycle
from lastmile.orders.erasure import ERASED as ERASED  # re-exported
from lastmile.orders.erasure import erase_personal_data as erase_personal_data
from lastmile.orders.erasure import find_customer_orders as find_customer_orders
from lastmile.orders.import_rows import IMPORT_SOURCE as IMPORT_SOURCE  # re-exported
from lastmile.orders.import_rows import parse_valid_rows, validation_issue
from lastmile.orders.lifecycle import OrderStatus
from lastmile.orders.models import Order, OrderEvent
from lastmile.orders.plausible import Bounds, Limits, outside_hint
from lastmile.orders.schemas import (
    ImportIssue,
    ImportReport,
    ImportRow,
    OrderCreate,
    OrderUpdate,
    check_range,
)
from lastmile.orgs import clock as org_clock
from lastmile.orgs import service as orgs
from lastmile.orgs.models import Organisation

EVENT_CREATED = event_types.ORDER_CREATED
EVENT_UPDATED = event_types.ORDER_UPDATED
EVENT_DELETED = event_types.ORDER_DELETED
EVENT_STATUS_CHANGED = event_types.ORDER_STATUS_CHANGED

CONTACT_FIELDS = frozenset({"notes", "description", "customer", "phone", "email", "pod_policy"})
"""Fields that may change in any status (they do not affect a plan)."""

PLAN_FIELDS = (
    "date", "address", "lon", "lat", "windows", "service_s", "demand", "required", "value",
    "skills", "kind", "deliver_to",
)  # fmt: skip
"""Fields that shape a plan: they change only while the order is ``new`` or ``ready``."""

MAX_LIMIT = 500
_CHUNK = 500

WriteKind = Literal["created", "updated", "unchanged"]


@dataclass(frozen=True)
class WriteResult:
    """What a create did to one order."""

    order: Order
    result: WriteKind

    @property
    def existed(self) -> bool:
        return self.result != "created"


# --- reading -------------------------------------------------------------------------------


def get(*, session: Session, org_id: str, order_id: str) -> Order:
    order = session.scalar(select(Order).where(Order.org_id == org_id, Order.id == order_id))
    if order is None:
        raise NotFound(f"order {order_id!r} not found")
    return order


def get_many(*, session: Session, org_id: str, order_ids: Sequence[str]) -> dict[str, Order]:
    """order id -> order for those of ``order_ids`` that exist (a few queries for many)."""
    wanted = list(dict.fromkeys(order_ids))
    found: dict[str, Order] = {}
    for start in range(0, len(wanted), 500):
        found.update(
            (o.id, o)
            for o in session.scalars(
                select(Order).where(
                    Order.org_id == org_id, Order.id.in_(wanted[start : start + 500])
                )
            )
        )
    return found


def get_by_external_id(*, session: Session, org_id: str, external_id: str) -> Order | None:
    return session.scalar(
        select(Order).where(Order.org_id == org_id, Order.external_id == external_id)
    )


def list_orders(
    *,
    session: Session,
    org_id: str,
    date: date | None = None,
    statuses: Sequence[str] = (),
    q: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[Order], int]:
    """One page of orders (by date, then external id) and the total number that match."""
    if not 1 <= limit <= MAX_LIMIT:
        raise InputError(
            issues=[FieldIssue(None, "limit", str(limit), f"must be between 1 and {MAX_LIMIT}")],
            source="order list",
        )
    if offset < 0:
        raise InputError(
            issues=[FieldIssue(None, "offset", str(offset), "must be 0 or more")],
            source="order list",
        )
    query = select(Order).where(Order.org_id == org_id)
    if date is not None:
        query = query.where(Order.date == date)
    if statuses:
        query = query.where(Order.status.in_([lifecycle.parse_status(s).value for s in statuses]))
    if q and q.strip():
        text = q.strip().lower()
        pattern = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        query = query.where(
            or_(
                func.lower(Order.external_id).like(pattern, escape="\\"),
                func.lower(Order.address).like(pattern, escape="\\"),
                func.lower(Order.customer).like(pattern, escape="\\"),
            )
        )
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(
        query.order_by(Order.date, Order.external_id, Order.id).limit(limit).offset(offset)
    )
    return list(rows), int(total)


def history(*, session: Session, org_id: str, order_id: str) -> list[OrderEvent]:
    """The status history of an order in the order it was recorded (``at`` is when each
    change happened by the reporting device's clock, which may disagree)."""
    get(session=session, org_id=org_id, order_id=order_id)
    return list(
        session.scalars(
            select(OrderEvent)
            .where(OrderEvent.org_id == org_id, OrderEvent.order_id == order_id)
            .order_by(OrderEvent.created_at, OrderEvent.id)
        )
    )


def org_today(*, session: Session, org_id: str) -> date:
    """Today in the organisation's time zone (the default delivery date)."""
    return org_clock.today(orgs.get(session=session, org_id=org_id))


# --- geocoding hooks -------------------------------------------------------------------------


def list_needing_geocoding(
    *, session: Session, org_id: str, date: date | None = None, limit: int = 1000
) -> list[Order]:
    """Orders waiting for their address to be geocoded: ``new``, without coordinates, and not
    already judged unresolvable (those wait for a person, and must not fill every batch)."""
    query = select(Order).where(
        Order.org_id == org_id,
        Order.status == OrderStatus.NEW,
        Order.lon.is_(None),
        or_(
            Order.address_verdict.is_(None),
            Order.address_verdict.in_(sorted(lifecycle.ACCEPTED_VERDICTS)),
        ),
    )
    if date is not None:
        query = query.where(Order.date == date)
    return list(session.scalars(query.order_by(Order.date, Order.external_id).limit(limit)))


def set_location(
    *,
    session: Session,
    org_id: str,
    order_id: str,
    lon: float | None,
    lat: float | None,
    verdict: str,
    actor: str = "system",
    commit: bool = True,
) -> Order:
    """Store a geocoder's answer; an accepted verdict with coordinates makes the order ``ready``.

    For the geocoding job: ``verdict`` is the geocoder's (``exact``, ``corrected``,
    ``ambiguous``, ``not_found``, ``outside_area``); see ``lifecycle.ACCEPTED_VERDICTS``.
    """
    order = _locked(session, org_id, order_id)
    if OrderStatus(order.status) not in lifecycle.EDITABLE:
        raise Conflict(
            f"order {order.external_id!r} is {order.status}: its location can no longer change"
        )
    if (lon is None) != (lat is None):
        raise InputError(
            issues=[FieldIssue(None, "lon", None, "give both lon and lat, or neither")],
            source="location",
        )
    changes = _set(order, {"lon": lon, "lat": lat, "address_verdict": verdict})
    _settle_location_status(session, order, actor=actor)
    if changes:
        _record_updated(session, order, changes, actor)
    if commit:
        session.commit()
    return order


# --- creating ------------------------------------------------------------------------------


def create(*, session: Session, org_id: str, order_in: OrderCreate, actor: str) -> WriteResult:
    """Create one order, or confirm/update the one with the same ``external_id``."""
    return create_many(session=session, org_id=org_id, orders_in=[order_in], actor=actor)[0]


def create_many(
    *, session: Session, org_id: str, orders_in: Sequence[OrderCreate], actor: str
) -> list[WriteResult]:
    """Create or upsert several orders: all or nothing, one transaction."""
    if not orders_in:
        return []
    issues: list[FieldIssue] = []
    seen: dict[str, int] = {}
    for i, item in enumerate(orders_in):
        if item.external_id in seen:
            issues.append(
                FieldIssue(
                    None,
                    f"{i}.external_id",
                    item.external_id,
                    f"appears twice in the request (also item {seen[item.external_id]})",
                )
            )
        seen.setdefault(item.external_id, i)
    if issues:
        raise InputError(issues=issues, source="orders")
    today = (
        org_today(session=session, org_id=org_id)
        if any(o.date is None for o in orders_in)
        else None
    )
    for attempt in (1, 2):
        prepared = _prepare(session, org_id, orders_in, today)
        issues = [
            FieldIssue(None, f"{p.index}.deliver_to", p.desired["deliver_to"], p.missing_target)
            for p in prepared
            if p.missing_target
        ] + [
            FieldIssue(None, f"{p.index}.{f}", None, why)
            for p in prepared
            for f, why in p.implausible
        ]
        if issues:
            raise InputError(issues=issues, source="orders")
        conflicts = [p.conflict for p in prepared if p.conflict]
        if conflicts:
            raise Conflict("; ".join(conflicts))
        org_limits.spend_orders(session, org_id, sum(p.existing is None for p in prepared))
        try:
            results = _apply(session, org_id, prepared, actor)
            session.commit()
            return results
        except IntegrityError:
            # Someone created one of these external ids at the same time: compare again.
            session.rollback()
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


@dataclass
class _Prepared:
    """One incoming order compared with what is stored."""

    index: int
    external_id: str
    desired: dict[str, Any]
    existing: Order | None
    changes: dict[str, Any] = field(default_factory=dict)
    result: WriteKind = "created"
    conflict: str | None = None
    missing_target: str | None = None
    implausible: list[tuple[str, str]] = field(default_factory=list)


def _desired(order_in: OrderCreate, today: date | None, default_service_s: int) -> dict[str, Any]:
    day = order_in.date or order_in.earliest_date or today
    assert day is not None
    flexible = order_in.latest_date is not None
    return {
        "external_id": order_in.external_id,
        "date": day,
        "earliest_date": (order_in.earliest_date or day) if flexible else None,
        "latest_date": order_in.latest_date,
        "address": order_in.address.strip(),
        "lon": order_in.lon,
        "lat": order_in.lat,
        "windows": [w.seconds() for w in order_in.windows],
        "service_s": default_service_s if order_in.service_s is None else order_in.service_s,
        "demand": dict(sorted(order_in.demand.items())),
        "required": order_in.required,
        "value": order_in.value,
        "skills": sorted(set(order_in.skills)),
        "kind": order_in.kind,
        "deliver_to": order_in.deliver_to,
        "notes": order_in.notes,
        "description": order_in.description,
        "customer": order_in.customer,
        "phone": order_in.phone,
        "email": order_in.email,
        "pod_policy": _ordered_policy(order_in.pod_policy),
    }


def _ordered_policy(policy: Sequence[str] | None) -> list[str] | None:
    """A POD policy without repeats, the usual (first) way kept first."""
    return list(dict.fromkeys(policy)) if policy else None


def _changes(existing: Order, desired: dict[str, Any]) -> dict[str, Any]:
    """Column -> new value for what differs. A re-sent order without coordinates keeps the
    stored (e.g. geocoded) location as long as its address is the same."""
    changes: dict[str, Any] = {}
    same_range = (existing.earliest_date, existing.latest_date) == (
        desired["earliest_date"],
        desired["latest_date"],
    )
    for name, value in desired.items():
        if name in ("lon", "lat", "external_id"):
            continue
        if name == "date" and same_range and _in_range(existing.date, existing):
            continue  # a flexible order re-sent keeps the day a plan chose for it
        if getattr(existing, name) != value:
            changes[name] = value
    if desired["lon"] is not None:
        if (existing.lon, existing.lat) != (desired["lon"], desired["lat"]):
            changes.update(lon=desired["lon"], lat=desired["lat"], address_verdict="given")
    elif "address" in changes and (existing.lon is not None or existing.address_verdict):
        changes.update(lon=None, lat=None, address_verdict=None)
    return changes


def _in_range(day: date, order: Order) -> bool:
    if order.earliest_date is None or order.latest_date is None:
        return False
    return order.earliest_date <= day <= order.latest_date


def _blocked(status: str, changes: Iterable[str]) -> list[str]:
    """The changed fields that the order's status no longer allows."""
    if OrderStatus(status) in lifecycle.EDITABLE:
        return []
    return sorted(
        name for name in changes if name not in CONTACT_FIELDS and name != "address_verdict"
    )


def _prepare(
    session: Session, org_id: str, orders_in: Sequence[OrderCreate], today: date | None
) -> list[_Prepared]:
    ids = [o.external_id for o in orders_in]
    existing = _existing_by_external_id(session, org_id, ids)
    targets = {o.deliver_to for o in orders_in if o.deliver_to} - set(ids) - set(existing)
    known_targets = set(_existing_by_external_id(session, org_id, sorted(targets)))
    org = session.get(Organisation, org_id)
    default_service = orgs.default_service_s(org) if org is not None else 0
    limits = Limits.of(
        session=session, org_id=org_id, today=org_today(session=session, org_id=org_id)
    )
    prepared: list[_Prepared] = []
    for i, order_in in enumerate(orders_in):
        desired = _desired(order_in, today, default_service)
        item = _Prepared(i, order_in.external_id, desired, existing.get(order_in.external_id))
        item.implausible = limits.issues(desired["date"], desired["demand"]) + check_range(
            desired["date"], desired["earliest_date"], desired["latest_date"]
        )
        if item.existing is not None and order_in.service_s is None:
            desired["service_s"] = item.existing.service_s  # a re-sent order keeps its own
        target = order_in.deliver_to
        if target and target not in ids and target not in existing and target not in known_targets:
            item.missing_target = "names no order of this organisation or of this request"
        if item.existing is not None:
            item.changes = _changes(item.existing, desired)
            item.result = "updated" if item.changes else "unchanged"
            blocked = _blocked(item.existing.status, item.changes)
            if blocked:
                item.conflict = (
                    f"order {order_in.external_id!r} is already {item.existing.status}; "
                    f"{', '.join(blocked)} can change only while it is new or ready"
                )
        prepared.append(item)
    return prepared


def _existing_by_external_id(session: Session, org_id: str, ids: Sequence[str]) -> dict[str, Order]:
    found: dict[str, Order] = {}
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        for order in session.scalars(
            select(Order).where(Order.org_id == org_id, Order.external_id.in_(chunk))
        ):
            found[order.external_id] = order
    return found


def _apply(
    session: Session, org_id: str, prepared: Sequence[_Prepared], actor: str
) -> list[WriteResult]:
    results: list[WriteResult] = []
    now = org_clock.now_of(session=session, org_id=org_id)
    for item in prepared:
        if item.existing is None:
            order = _insert(session, org_id, item.desired, actor, now)
        else:
            order = item.existing
            if item.changes:
                _set(order, item.changes)
                _settle_location_status(session, order, actor=actor, at=now)
                _record_updated(session, order, sorted(item.changes), actor)
        results.append(WriteResult(order, item.result))
    return results


def _insert(
    session: Session, org_id: str, desired: dict[str, Any], actor: str, now: datetime
) -> Order:
    has_coordinates = desired["lon"] is not None
    status = lifecycle.status_for_location(has_coordinates=has_coordinates, verdict="given")
    order = Order(
        id=new_id("ord"),
        org_id=org_id,
        status=status.value,
        address_verdict="given" if has_coordinates else None,
        created_at=now,
        updated_at=now,
        **desired,
    )
    session.add(order)
    session.add(
        OrderEvent(
            created_at=_stamp(session),
            org_id=org_id,
            order_id=order.id,
            from_status=None,
            to_status=status.value,
            at=now,
            actor=actor,
        )
    )
    events.record(
        session=session,
        org_id=org_id,
        type=EVENT_CREATED,
        payload={
            "order_id": order.id,
            "external_id": order.external_id,
            "date": order.date.isoformat(),
            "status": status.value,
            "actor": actor,
        },
    )
    return order


def _set(order: Order, values: dict[str, Any]) -> list[str]:
    changed = []
    for name, value in values.items():
        if getattr(order, name) != value:
            setattr(order, name, value)
            changed.append(name)
    return changed


def _record_updated(session: Session, order: Order, changed: Sequence[str], actor: str) -> None:
    events.record(
        session=session,
        org_id=order.org_id,
        type=EVENT_UPDATED,
        payload={
            "order_id": order.id,
            "external_id": order.external_id,
            "changed": sorted(changed),
            "status": order.status,
            "actor": actor,
        },
    )


def _settle_location_status(
    session: Session, order: Order, *, actor: str, at: datetime | None = None
) -> None:
    """Move a not-yet-planned order between ``new`` and ``ready`` to match its location."""
    if OrderStatus(order.status) not in lifecycle.EDITABLE:
        return
    target = lifecycle.status_for_location(
        has_coordinates=order.lon is not None, verdict=order.address_verdict
    )
    if target != order.status:
        note = "location accepted" if target == OrderStatus.READY else "address needs geocoding"
        when = at or org_clock.now_of(session=session, org_id=order.org_id)
        _move(session, order, target, actor=actor, at=when, note=note)


# --- changing ------------------------------------------------------------------------------


def update(
    *, session: Session, org_id: str, order_id: str, order_in: OrderUpdate, actor: str
) -> Order:
    """Change the fields sent. A new address without coordinates sends the order back to
    ``new`` (to be geocoded); coordinates make it ``ready``."""
    order = _locked(session, org_id, order_id)
    sent = order_in.model_fields_set
    values: dict[str, Any] = {}
    for name in sent:
        value = getattr(order_in, name)
        if name == "windows":
            value = [w.seconds() for w in order_in.windows or []]
        elif name == "skills":
            value = sorted(set(value))
        elif name == "demand":
            value = dict(sorted(value.items()))
        elif name == "address":
            value = value.strip()
        elif name == "pod_policy":
            value = _ordered_policy(value)
        values[name] = value
    if "latest_date" in sent:
        if values["latest_date"] is None:
            values["earliest_date"] = None
        elif values.get("earliest_date", order.earliest_date) is None:
            values["earliest_date"] = values.get("date", order.date)
    elif "earliest_date" in sent and values["earliest_date"] is None:
        values["latest_date"] = None
    changes = {k: v for k, v in values.items() if getattr(order, k) != v}
    if "lon" in sent:
        changes.pop("lon", None)
        changes.pop("lat", None)
        if (order.lon, order.lat) != (order_in.lon, order_in.lat):
            verdict = "given" if order_in.lon is not None else None
            changes.update(lon=order_in.lon, lat=order_in.lat, address_verdict=verdict)
    elif "address" in changes and (order.lon is not None or order.address_verdict):
        changes.update(lon=None, lat=None, address_verdict=None)
    if not changes:
        return order
    blocked = _blocked(order.status, changes)
    if blocked:
        raise Conflict(
            f"order {order.external_id!r} is {order.status}: {', '.join(blocked)} can change "
            "only while it is new or ready (take it off the plan first)"
        )
    kind = changes.get("kind", order.kind)
    deliver_to = changes.get("deliver_to", order.deliver_to)
    issues: list[FieldIssue] = []
    if deliver_to is not None and kind != "pickup":
        issues.append(
            FieldIssue(None, "deliver_to", deliver_to, "is only for orders of kind 'pickup'")
        )
    if "deliver_to" in changes and deliver_to is not None:
        if deliver_to == order.external_id:
            issues.append(
                FieldIssue(None, "deliver_to", deliver_to, "a pickup cannot deliver to itself")
            )
        elif get_by_external_id(session=session, org_id=org_id, external_id=deliver_to) is None:
            issues.append(
                FieldIssue(None, "deliver_to", deliver_to, "names no order of this organisation")
            )
    limits = Limits.of(
        session=session, org_id=org_id, today=org_today(session=session, org_id=org_id)
    )
    issues += [
        FieldIssue(None, f, None, why)
        for f, why in limits.issues(changes.get("date"), changes.get("demand"))
    ]
    issues += [
        FieldIssue(None, f, None, why)
        for f, why in check_range(
            changes.get("date", order.date),
            changes.get("earliest_date", order.earliest_date),
            changes.get("latest_date", order.latest_date),
        )
    ]
    lon = changes.get("lon", order.lon)
    if lon is None and not changes.get("address", order.address):
        issues.append(FieldIssue(None, "address", "", "an order needs an address or coordinates"))
    if issues:
        raise InputError(issues=issues, source="order")
    _set(order, changes)
    _settle_location_status(session, order, actor=actor)
    _record_updated(session, order, sorted(changes), actor)
    session.commit()
    return order


def delete(*, session: Session, org_id: str, order_id: str, actor: str) -> None:
    """Delete an order that is ``new``, ``ready`` or ``cancelled``; later ones keep their
    history (cancel them instead)."""
    order = _locked(session, org_id, order_id)
    if OrderStatus(order.status) not in lifecycle.DELETABLE:
        allowed = ", ".join(sorted(s.value for s in lifecycle.DELETABLE))
        raise Conflict(
            f"order {order.external_id!r} is {order.status}: only {allowed} orders can be "
            "deleted (cancel it instead, or take it off the plan first)"
        )
    events.record(
        session=session,
        org_id=org_id,
        type=EVENT_DELETED,
        payload={
            "order_id": order.id,
            "external_id": order.external_id,
            "status": order.status,
            "actor": actor,
        },
    )
    session.delete(order)
    session.commit()


# --- status transitions --------------------------------------------------------------------


def transition(
    *,
    session: Session,
    org_id: str,
    order_id: str,
    to_status: OrderStatus | str,
    actor: str,
    at: datetime | None = None,
    lon: float | None = None,
    lat: float | None = None,
    note: str = "",
    reason: str | None = None,
    new_date: date | None = None,
    commit: bool = True,
) -> Order:
    """Move an order to ``to_status`` (see :mod:`lastmile.orders.lifecycle`).

    Writes the history row (``at``: when it happened, default now; ``lon``/``lat``: where)
    and an ``order.status_changed`` event. ``rescheduled`` takes ``new_date`` (default: the
    day after the order's date) and moves on to ``ready``/``new`` at once. ``commit=False``
    leaves the commit to a caller that changes more in the same transaction.
    Raises :class:`IllegalTransition` (409) for a move the lifecycle does not allow.
    """
    return transition_many(
        session=session,
        org_id=org_id,
        order_ids=[order_id],
        to_status=to_status,
        actor=actor,
        at=at,
        lon=lon,
        lat=lat,
        note=note,
        reason=reason,
        new_date=new_date,
        commit=commit,
    )[0]


def transition_many(
    *,
    session: Session,
    org_id: str,
    order_ids: Sequence[str],
    to_status: OrderStatus | str,
    actor: str,
    at: datetime | None = None,
    lon: float | None = None,
    lat: float | None = None,
    note: str = "",
    reason: str | None = None,
    new_date: date | None = None,
    commit: bool = True,
) -> list[Order]:
    """Move several orders to the same status: all or nothing.

    Every order is checked before any changes; one unknown id (:class:`NotFound`) or one
    illegal move (:class:`IllegalTransition`, listing each refused order) changes nothing.
    Returns the orders in the order of ``order_ids`` (repeated ids count once).
    """
    target = lifecycle.parse_status(to_status)
    when = at or org_clock.now_of(session=session, org_id=org_id)
    if when.tzinfo is None:
        raise InputError(
            issues=[FieldIssue(None, "at", when.isoformat(), "needs a time zone")],
            source="transition",
        )
    if new_date is not None and target != OrderStatus.RESCHEDULED:
        raise InputError(
            issues=[FieldIssue(None, "date", new_date.isoformat(), "is only for 'rescheduled'")],
            source="transition",
        )
    late = new_date and Limits.of(
        session=session, org_id=org_id, today=org_today(session=session, org_id=org_id)
    ).date_issue(new_date)
    if new_date is not None and late:
        raise InputError(
            issues=[FieldIssue(None, "date", new_date.isoformat(), late)], source="transition"
        )
    ids = list(dict.fromkeys(order_ids))
    orders = _locked_many(session, org_id, ids)
    missing = [i for i in ids if i not in orders]
    if missing:
        shown = ", ".join(repr(i) for i in missing[:10])
        raise NotFound(f"order(s) not found: {shown}" + (" ..." if len(missing) > 10 else ""))
    refused: list[str] = []
    for order_id in ids:
        order = orders[order_id]
        try:
            lifecycle.check(order.status, target)
        except IllegalTransition as exc:
            refused.append(f"{order.external_id!r}: {exc.message}")
            continue
        if target == OrderStatus.READY and order.lon is None:
            refused.append(
                f"{order.external_id!r}: has no coordinates; set lon and lat (or geocode) first"
            )
        if target == OrderStatus.RESCHEDULED and new_date is not None and new_date < order.date:
            refused.append(
                f"{order.external_id!r}: the new date {new_date.isoformat()} is before "
                f"its current date {order.date.isoformat()}"
            )
    if refused:
        head = refused[0] if len(refused) == 1 else f"{len(refused)} orders refused: "
        raise IllegalTransition(head if len(refused) == 1 else head + "; ".join(refused[:20]))
    for order_id in ids:
        order = orders[order_id]
        if target == OrderStatus.RESCHEDULED:
            order.date = new_date or order.date + timedelta(days=1)
            _move(
                session,
                order,
                target,
                actor=actor,
                at=when,
                lon=lon,
                lat=lat,
                note=note,
                reason=reason,
            )
            next_status = lifecycle.status_for_location(
                has_coordinates=order.lon is not None, verdict=order.address_verdict
            )
            _move(session, order, next_status, actor=actor, at=when, note="rescheduled")
        else:
            _move(
                session,
                order,
                target,
                actor=actor,
                at=when,
                lon=lon,
                lat=lat,
                note=note,
                reason=reason,
            )
    if commit:
        session.commit()
    return [orders[i] for i in ids]


def _move(
    session: Session,
    order: Order,
    target: OrderStatus,
    *,
    actor: str,
    at: datetime,
    lon: float | None = None,
    lat: float | None = None,
    note: str = "",
    reason: str | None = None,
) -> None:
    """The one place a status changes: checked, with its history row and event."""
    source = order.status
    lifecycle.check(source, target)
    order.status = target.value
    session.add(
        OrderEvent(
            created_at=_stamp(session),
            org_id=order.org_id,
            order_id=order.id,
            from_status=source,
            to_status=target.value,
            at=at,
            actor=actor,
            lon=lon,
            lat=lat,
            note=note,
            reason=reason,
        )
    )
    payload: dict[str, Any] = {
        "order_id": order.id,
        "external_id": order.external_id,
        "from": source,
        "to": target.value,
        "at": at.isoformat(),
        "actor": actor,
        "date": order.date.isoformat(),
    }
    if reason is not None:
        payload["reason"] = reason
    if note:
        payload["note"] = note
    if lon is not None and lat is not None:
        payload["location"] = [lon, lat]
    events.record(session=session, org_id=order.org_id, type=EVENT_STATUS_CHANGED, payload=payload)


_LAST_STAMP = "lastmile_orders_last_stamp"


def _stamp(session: Session) -> datetime:
    """A recording time that increases within a transaction, so that history rows written
    together (a rescheduling writes two) keep their order on every backend."""
    now = utcnow()
    last: datetime | None = session.info.get(_LAST_STAMP)
    if last is not None and now <= last:
        now = last + timedelta(microseconds=1)
    session.info[_LAST_STAMP] = now
    return now


def _locked(session: Session, org_id: str, order_id: str) -> Order:
    order = session.scalar(
        select(Order).where(Order.org_id == org_id, Order.id == order_id).with_for_update()
    )
    if order is None:
        raise NotFound(f"order {order_id!r} not found")
    return order


def _locked_many(session: Session, org_id: str, ids: Sequence[str]) -> dict[str, Order]:
    found: dict[str, Order] = {}
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        query = (
            select(Order)
            .where(Order.org_id == org_id, Order.id.in_(chunk))
            .order_by(Order.id)
            .with_for_update()
        )
        for order in session.scalars(query):
            found[order.id] = order
    return found


# --- CSV import ----------------------------------------------------------------------------


def import_csv(
    *,
    session: Session,
    org_id: str,
    text: str,
    actor: str,
    date: date | None = None,
    dry_run: bool = False,
    skip_invalid: bool = False,
    area: Callable[[], Bounds | None] = lambda: None,
) -> ImportReport:
    """Import an orders CSV (``core.formats.orders_csv``; coordinates optional).

    Each row's date is its ``date`` column, else ``date``, else today in the organisation's
    time zone. A file with an invalid row changes nothing unless ``skip_invalid`` (then the
    valid rows are written and the invalid ones reported); ``dry_run`` writes nothing. What is
    written is written in one transaction. Whole-file problems (no id column, an empty file)
    raise :class:`InputError`.
    """
    try:
        header, raw_rows = read_rows(text, source=IMPORT_SOURCE)
        columns = match_columns(header, ORDER_ALIASES, source=IMPORT_SOURCE)
        invalid: dict[int, list[FieldIssue]] = {}
        parsed = parse_valid_rows(header, raw_rows, invalid)
    except csv.Error as exc:  # e.g. a cell larger than the csv module's limit
        raise InputError(
            issues=[FieldIssue(None, None, None, f"not a readable CSV file: {exc}")],
            source=IMPORT_SOURCE,
        ) from None
    default_day = date or org_today(session=session, org_id=org_id)
    cells_by_row = dict(raw_rows)
    lon_column = columns.field_to_column.get("lon")
    lat_column = columns.field_to_column.get("lat")
    service_column = columns.field_to_column.get("service_s") or columns.field_to_column.get(
        "service_min"
    )
    dims = [d for d in parsed.dimensions if d not in parsed.missing_demand]

    candidates: list[tuple[int, OrderCreate]] = []
    for row in parsed.rows:
        cells = cells_by_row[row.row]
        has_coordinates = bool(
            lon_column and lat_column and cells.get(lon_column) and cells.get(lat_column)
        )
        order = row.order
        data: dict[str, Any] = {
            "external_id": order.id,
            "date": row.date or row.earliest_date or default_day,
            "earliest_date": row.earliest_date,
            "latest_date": row.latest_date,
            "address": order.address,
            "lon": order.location.lon if has_coordinates else None,
            "lat": order.location.lat if has_coordinates else None,
            "windows": [clock_span(w.start, w.end) for w in order.windows],
            # an empty or missing service time: the organisation's default
            "service_s": order.service_s
            if service_column and (cells.get(service_column) or "").strip()
            else None,
            "demand": {d: order.demand[parsed.dimensions.index(d)] for d in dims},
            "required": order.required,
            "value": order.value,
            "skills": sorted(order.skills),
            "kind": order.kind.value,
            "deliver_to": order.deliver_to,
            "notes": order.notes,
            "description": row.description,
            "customer": row.customer,
            "phone": row.phone,
            "email": row.email,
        }
        try:
            candidates.append((row.row, OrderCreate.model_validate(data)))
        except ValidationError as exc:
            invalid[row.row] = [
                validation_issue(row.row, error, columns.field_to_column, cells)
                for error in exc.errors()
            ]

    prepared = _prepare(session, org_id, [c for _, c in candidates], today=default_day)
    row_of = {p.index: candidates[p.index][0] for p in prepared}
    id_column = columns.field_to_column.get("id", "id")
    deliver_to_column = columns.field_to_column.get("deliver_to", "deliver_to")
    for p in prepared:
        row_no = row_of[p.index]
        if p.implausible:
            invalid[row_no] = [
                FieldIssue(
                    row_no, columns.field_to_column.get(f, f.removeprefix("demand.")), None, why
                )
                for f, why in p.implausible
            ]
        elif p.conflict:
            invalid[row_no] = [FieldIssue(row_no, id_column, p.external_id, p.conflict)]
        elif p.missing_target:  # its delivery's row is invalid
            message = "names an order that is not valid in this file"
            invalid[row_no] = [
                FieldIssue(row_no, deliver_to_column, p.desired["deliver_to"], message)
            ]
    valid = [p for p in prepared if not (p.conflict or p.missing_target or p.implausible)]

    rejected = bool(invalid) and not skip_invalid
    apply = not dry_run and not rejected
    written: dict[int, Order] = {}
    if apply and valid:
        org_limits.spend_orders(session, org_id, sum(p.existing is None for p in valid))
        try:
            for p, result in zip(valid, _apply(session, org_id, valid, actor), strict=True):
                written[p.index] = result.order
            session.commit()
        except IntegrityError:
            session.rollback()
            raise Conflict(
                "some of these orders were created by someone else at the same time; "
                "nothing was imported: send the file again (imports are idempotent)"
            ) from None

    report_rows: list[ImportRow] = []
    for p in valid:
        existing_id = p.existing.id if p.existing is not None else None
        stored = written.get(p.index)
        report_rows.append(
            ImportRow(
                row=row_of[p.index],
                external_id=p.external_id,
                status=p.result,
                order_id=stored.id if stored is not None else existing_id,
            )
        )
    external_ids = {row_no: cells.get(id_column, "") or None for row_no, cells in raw_rows}
    for row_no, issues in invalid.items():
        report_rows.append(
            ImportRow(
                row=row_no,
                external_id=external_ids.get(row_no),
                status="invalid",
                errors=[
                    ImportIssue(field=i.field, value=i.value, message=i.message) for i in issues
                ],
            )
        )
    report_rows.sort(key=lambda r: r.row)
    warnings = [f"column {c!r} is not used" for c in parsed.unknown_columns]
    located = [(n, c) for n, c in candidates if c.lon is not None and c.lat is not None]
    bounds = area() if located else None
    for row_no, order_in in located:
        hint = outside_hint(order_in.lon or 0.0, order_in.lat or 0.0, bounds)
        warnings += [f"row {row_no}: {hint}"] if hint else []
    return ImportReport(
        dry_run=dry_run,
        applied=apply,
        date=default_day,
        rows=report_rows,
        created=sum(1 for r in report_rows if r.status == "created"),
        updated=sum(1 for r in report_rows if r.status == "updated"),
        unchanged=sum(1 for r in report_rows if r.status == "unchanged"),
        invalid=len(invalid),
        warnings=warnings,
    )
