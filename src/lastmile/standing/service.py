"""Standing orders: the only module that queries or commits them, their occurrences and the
organisation's closed days.

A standing order is a rule (``core.recurrence``) and an order template for one customer at
one of their addresses. :func:`generate` makes the real orders of the dates due from the
organisation's business today (``orgs.clock``) to ``days_ahead`` days later: through
``orders.service`` (so they are ordinary orders: planned, dispatched, delivered like any),
linked to the customer through ``customers.service``, and recorded in an occurrence row
per (standing order, date), which makes generating again harmless. Each order's
``external_id`` is ``SO-<standing order id>-<YYYYMMDD>`` and its history names the standing
order as the actor that made it.

Changes of the rule reach the future occurrences that nobody touched: an order still
``new``/``ready`` whose fields equal what the rule last gave it (``applied``) is updated,
or removed when its date is no longer due (paused, closed, another weekday). An order edited
by hand (anywhere), planned or further, or in the past is never changed by the rule.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import delete as delete_rows
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from lastmile.core import recurrence
from lastmile.core.errors import FieldIssue, InputError, LastmileError, NotFound
from lastmile.customers import service as customers
from lastmile.customers.models import CustomerAddress
from lastmile.orders import service as orders
from lastmile.orders.lifecycle import EDITABLE, OrderStatus
from lastmile.orders.plausible import Limits
from lastmile.orders.schemas import OrderUpdate
from lastmile.orgs import clock as org_clock
from lastmile.orgs import service as orgs
from lastmile.standing.models import ClosedDay, StandingOccurrence, StandingOrder
from lastmile.standing.schemas import (
    OccurrenceRead,
    OccurrenceState,
    StandingOrderIn,
    StandingOrderUpdate,
)
from lastmile.standing.template import (
    Template,
    actor_of,
    changes_for,
    rule_of,
    snapshot,
    untouched,
)
from lastmile.standing.template import state as occurrence_state

log = logging.getLogger(__name__)

MAX_DAYS_AHEAD = 120
"""Most days ahead orders are made (and listed) for."""
# --- reading -------------------------------------------------------------------------------


def get(*, session: Session, org_id: str, standing_order_id: str) -> StandingOrder:
    row = session.scalar(
        select(StandingOrder).where(
            StandingOrder.org_id == org_id, StandingOrder.id == standing_order_id
        )
    )
    if row is None:
        raise NotFound(f"standing order {standing_order_id!r} not found")
    return row


def list_standing(
    *, session: Session, org_id: str, customer_id: str | None = None
) -> list[StandingOrder]:
    """The organisation's standing orders (or one customer's), oldest first."""
    query = select(StandingOrder).where(StandingOrder.org_id == org_id)
    if customer_id is not None:
        customers.get(session=session, org_id=org_id, customer_id=customer_id)
        query = query.where(StandingOrder.customer_id == customer_id)
    return list(session.scalars(query.order_by(StandingOrder.created_at, StandingOrder.id)))


def today(*, session: Session, org_id: str) -> date:
    """The organisation's business date (a simulation organisation's clock included)."""
    return org_clock.today(orgs.get(session=session, org_id=org_id))


def closed_days(
    *, session: Session, org_id: str, first: date | None = None, last: date | None = None
) -> list[ClosedDay]:
    query = select(ClosedDay).where(ClosedDay.org_id == org_id)
    if first is not None:
        query = query.where(ClosedDay.date >= first)
    if last is not None:
        query = query.where(ClosedDay.date <= last)
    return list(session.scalars(query.order_by(ClosedDay.date)))


def _occurrence_rows(
    session: Session, row: StandingOrder, first: date, last: date
) -> dict[date, StandingOccurrence]:
    return {
        o.date: o
        for o in session.scalars(
            select(StandingOccurrence).where(
                StandingOccurrence.org_id == row.org_id,
                StandingOccurrence.standing_order_id == row.id,
                StandingOccurrence.date >= first,
                StandingOccurrence.date <= last,
            )
        )
    }


def occurrences(
    *, session: Session, org_id: str, standing_order_id: str, first: date, last: date
) -> list[OccurrenceRead]:
    """Each date of the standing order from ``first`` to ``last`` and what became of it:
    the rule's dates (paused and closed ones too) and every date an order was made for."""
    row = get(session=session, org_id=org_id, standing_order_id=standing_order_id)
    rule = rule_of(row)
    made = _occurrence_rows(session, row, first, last)
    closed = {c.date for c in closed_days(session=session, org_id=org_id, first=first, last=last)}
    found = orders.get_many(
        session=session, org_id=org_id, order_ids=[o.order_id for o in made.values() if o.order_id]
    )
    items = []
    for day in sorted(set(recurrence.dates(rule, first, last)) | set(made)):
        occurrence = made.get(day)
        if occurrence is None:
            state: OccurrenceState = (
                "paused" if rule.paused_on(day) else "closed" if day in closed else "upcoming"
            )
            items.append(
                OccurrenceRead(
                    date=day,
                    state=state,
                    order_id=None,
                    external_id=None,
                    order_status=None,
                    order_date=None,
                )
            )
            continue
        order = found.get(occurrence.order_id) if occurrence.order_id else None
        items.append(
            OccurrenceRead(
                date=day,
                state=occurrence_state(occurrence, order),
                order_id=order.id if order else None,
                external_id=order.external_id if order else None,
                order_status=OrderStatus(order.status) if order else None,
                order_date=order.date if order else None,
            )
        )
    return items


def next_dates(*, session: Session, row: StandingOrder, count: int = 5) -> list[date]:
    """The next dates an order is (or will be) due for: not paused, closed, cancelled or
    skipped."""
    first = today(session=session, org_id=row.org_id)
    items = occurrences(
        session=session, org_id=row.org_id, standing_order_id=row.id, first=first,
        last=first + timedelta(days=400),
    )  # fmt: skip
    due = [i.date for i in items if i.state in ("upcoming", "made", "edited", "planned")]
    return due[:count]


def of_order(
    *, session: Session, org_id: str, order_id: str
) -> tuple[StandingOrder, StandingOccurrence] | None:
    """The standing order that made ``order_id``, and the rule's date it was made for."""
    found = session.execute(
        select(StandingOrder, StandingOccurrence)
        .join(StandingOccurrence, StandingOccurrence.standing_order_id == StandingOrder.id)
        .where(StandingOccurrence.org_id == org_id, StandingOccurrence.order_id == order_id)
    ).first()
    return None if found is None else (found[0], found[1])


def org_ids_with_standing_orders(*, session: Session) -> list[str]:
    """Every organisation that has a standing order (the daily job's round)."""
    return sorted(set(session.scalars(select(StandingOrder.org_id).distinct())))


# --- writing -------------------------------------------------------------------------------


def _issue(field: str, value: object, message: str) -> FieldIssue:
    return FieldIssue(None, field, None if value is None else str(value), message)


def _check(session: Session, row: StandingOrder, sent: set[str], first_day: date) -> None:
    """The stored rule as a whole is usable; 422 naming the field otherwise."""
    issues = []
    if row.frequency == "weekly" and not row.weekdays:
        issues.append(
            _issue("weekdays", None, 'a weekly standing order needs weekdays, e.g. ["tue", "fri"]')
        )
    if row.frequency == "monthly" and row.month_day is None:
        issues.append(_issue("month_day", None, "a monthly standing order needs month_day (1-31)"))
    if row.ends_on is not None and row.ends_on < row.starts_on:
        issues.append(_issue("ends_on", row.ends_on, f"is before starts_on ({row.starts_on})"))
    if "starts_on" in sent and row.starts_on < first_day:
        issues.append(
            _issue(
                "starts_on",
                row.starts_on,
                f"is before today ({first_day}): past dates are not made",
            )
        )
    if (row.paused_from is None) != (row.paused_until is None):
        missing = "paused_until" if row.paused_until is None else "paused_from"
        issues.append(_issue(missing, None, "a pause needs both paused_from and paused_until"))
    elif row.paused_from and row.paused_until and row.paused_until < row.paused_from:
        issues.append(
            _issue("paused_until", row.paused_until, f"is before paused_from ({row.paused_from})")
        )
    if row.starts_on > first_day + timedelta(days=366):
        issues.append(
            _issue("starts_on", row.starts_on, "is more than a year ahead: check the year")
        )
    limits = Limits.of(session=session, org_id=row.org_id, today=first_day)
    issues += [_issue(f"demand.{dim}", None, why) for dim, why in limits.demand_issues(row.demand)]
    if row.address_id is not None:
        address = _address(session, row, row.address_id)
        if address.lon is None or address.lat is None:
            issues.append(
                _issue("address_id", address.id, f"{address.address!r} is not on the map yet: "
                       "place its pin on the customer's page first")
            )  # fmt: skip
    if issues:
        raise InputError(issues=issues, source="standing order")


def _address(session: Session, row: StandingOrder, address_id: str) -> CustomerAddress:
    try:
        return customers.get_address(
            session=session, org_id=row.org_id, customer_id=row.customer_id, address_id=address_id
        )
    except NotFound as error:
        raise InputError(
            issues=[_issue("address_id", address_id, "is not one of this customer's addresses")],
            source="standing order",
        ) from error


def create(
    *,
    session: Session,
    org_id: str,
    customer_id: str,
    standing_in: StandingOrderIn,
    days_ahead: int,
) -> StandingOrder:
    """A new standing order for the customer; its orders of the coming days are made at once."""
    customers.get(session=session, org_id=org_id, customer_id=customer_id)
    first_day = today(session=session, org_id=org_id)
    values = standing_in.model_dump()
    values["windows"] = [w.seconds() for w in standing_in.windows]
    values["starts_on"] = standing_in.starts_on or first_day
    row = StandingOrder(org_id=org_id, customer_id=customer_id, **values)
    if row.address_id is None:
        found = customers.addresses_of(session=session, org_id=org_id, customer_ids=[customer_id])
        if not found[customer_id]:
            raise InputError(
                issues=[_issue("address_id", None, "the customer has no address yet")],
                source="standing order",
            )
        row.address_id = found[customer_id][0].id
    _check(session, row, standing_in.model_fields_set, first_day)
    session.add(row)
    session.commit()
    generate(session=session, org_id=org_id, days_ahead=days_ahead, standing_order_ids=[row.id])
    return row


def update(
    *,
    session: Session,
    org_id: str,
    standing_order_id: str,
    standing_in: StandingOrderUpdate,
    days_ahead: int,
) -> StandingOrder:
    """Change the rule or the template; the untouched future orders follow at once."""
    row = get(session=session, org_id=org_id, standing_order_id=standing_order_id)
    sent = set(standing_in.model_fields_set)
    for name in sent:
        value = getattr(standing_in, name)
        if name == "windows":
            value = [w.seconds() for w in standing_in.windows or []]
        elif name == "demand":
            value = dict(sorted((value or {}).items()))
        setattr(row, name, value)
    if "frequency" in sent and row.frequency == "weekly" and "month_day" not in sent:
        row.month_day = None
    try:
        with session.no_autoflush:  # an unknown address id is refused, never flushed
            _check(session, row, sent, today(session=session, org_id=org_id))
    except InputError:
        session.rollback()
        raise
    session.commit()
    generate(session=session, org_id=org_id, days_ahead=days_ahead, standing_order_ids=[row.id])
    return row


def delete(*, session: Session, org_id: str, standing_order_id: str, actor: str) -> int:
    """Remove the standing order and its orders from today on that are not planned yet
    (edited ones too: the customer stopped it). Past, planned and delivered orders stay.
    Returns the orders removed."""
    row = get(session=session, org_id=org_id, standing_order_id=standing_order_id)
    first = today(session=session, org_id=org_id)
    made = _occurrence_rows(session, row, first, date.max)
    found = orders.get_many(
        session=session, org_id=org_id, order_ids=[o.order_id for o in made.values() if o.order_id]
    )
    removed = 0
    for order in found.values():
        if OrderStatus(order.status) in EDITABLE:
            orders.delete(session=session, org_id=org_id, order_id=order.id, actor=actor)
            removed += 1
    session.delete(get(session=session, org_id=org_id, standing_order_id=standing_order_id))
    session.commit()
    return removed


def skip(
    *, session: Session, org_id: str, standing_order_id: str, day: date, actor: str
) -> OccurrenceRead:
    """Leave out one date: its order is cancelled (still at the depot only), or, not made yet,
    the date is marked so that it never is. The rule stays as it is."""
    row = get(session=session, org_id=org_id, standing_order_id=standing_order_id)
    first = today(session=session, org_id=org_id)
    occurrence = _occurrence_rows(session, row, day, day).get(day)
    if occurrence is None:
        if day < first or not rule_of(row).falls_on(day):
            raise InputError(
                issues=[_issue("date", day, f"is not a coming date of this standing order ({recurrence.describe(rule_of(row))})")],
                source="standing order",
            )  # fmt: skip
        session.add(StandingOccurrence(org_id=org_id, standing_order_id=row.id, date=day))
        session.commit()
    elif occurrence.order_id is not None:
        order = orders.get(session=session, org_id=org_id, order_id=occurrence.order_id)
        if order.status != OrderStatus.CANCELLED:
            orders.transition(
                session=session, org_id=org_id, order_id=order.id,
                to_status=OrderStatus.CANCELLED, actor=actor, note="skipped (standing order)",
            )  # fmt: skip
    (item,) = occurrences(
        session=session, org_id=org_id, standing_order_id=row.id, first=day, last=day
    )
    return item


def set_closed_day(
    *, session: Session, org_id: str, day: date, note: str, days_ahead: int
) -> ClosedDay:
    """Close a day for the whole organisation: standing orders make nothing for it (their
    untouched orders already made for it are removed)."""
    row = session.scalar(select(ClosedDay).where(ClosedDay.org_id == org_id, ClosedDay.date == day))
    if row is None:
        row = ClosedDay(org_id=org_id, date=day)
        session.add(row)
    row.note = note.strip()
    session.commit()
    generate(session=session, org_id=org_id, days_ahead=days_ahead)
    return row


def remove_closed_day(*, session: Session, org_id: str, day: date, days_ahead: int) -> None:
    """Open a closed day again; standing orders make its orders (when it is within reach)."""
    row = session.scalar(select(ClosedDay).where(ClosedDay.org_id == org_id, ClosedDay.date == day))
    if row is None:
        raise NotFound(f"{day} is not a closed day")
    session.delete(row)
    session.commit()
    generate(session=session, org_id=org_id, days_ahead=days_ahead)


# --- making the orders ---------------------------------------------------------------------


@dataclass
class Generated:
    """What :func:`generate` did."""

    made: int = 0
    updated: int = 0
    removed: int = 0
    failed: int = 0
    until: date = date.min


def generate(
    *,
    session: Session,
    org_id: str,
    days_ahead: int,
    standing_order_ids: Sequence[str] | None = None,
) -> Generated:
    """Make the orders due from today to ``days_ahead`` days later (idempotent: a date made
    once, or skipped, is never made again), bring untouched ones in line with their rule,
    and remove untouched ones no longer due."""
    first = today(session=session, org_id=org_id)
    last = first + timedelta(days=max(0, min(days_ahead, MAX_DAYS_AHEAD)))
    result = Generated(until=last)
    query = select(StandingOrder).where(StandingOrder.org_id == org_id)
    if standing_order_ids is not None:
        query = query.where(StandingOrder.id.in_(list(standing_order_ids)))
    closed = {c.date for c in closed_days(session=session, org_id=org_id, first=first, last=last)}
    for row in list(session.scalars(query.order_by(StandingOrder.id))):
        _generate_one(session, row, first, last, closed, result)
    return result


def _generate_one(
    session: Session,
    row: StandingOrder,
    first: date,
    last: date,
    closed: set[date],
    result: Generated,
) -> None:
    due = set(recurrence.occurrences(rule_of(row), first, last, closed))
    made = _occurrence_rows(session, row, first, last)
    found = orders.get_many(
        session=session, org_id=row.org_id,
        order_ids=[o.order_id for o in made.values() if o.order_id],
    )  # fmt: skip
    template = _template(session, row)
    actor = actor_of(row)
    for day, occurrence in sorted(made.items()):
        order = found.get(occurrence.order_id) if occurrence.order_id else None
        if order is None or OrderStatus(order.status) not in EDITABLE:
            continue
        if not untouched(occurrence, order):
            continue
        try:
            if day not in due:
                # The occurrence goes in the same commit as its order: a date removed now is
                # made again if it becomes due again (a pause shortened).
                session.execute(
                    delete_rows(StandingOccurrence).where(StandingOccurrence.id == occurrence.id)
                )
                orders.delete(session=session, org_id=row.org_id, order_id=order.id, actor=actor)
                result.removed += 1
            elif template is not None:
                changes = changes_for(occurrence.applied, template.for_day(day))
                if changes:
                    orders.update(
                        session=session, org_id=row.org_id, order_id=order.id,
                        order_in=OrderUpdate(**changes), actor=actor,
                    )  # fmt: skip
                    occurrence.applied = snapshot(order)
                    session.commit()
                    result.updated += 1
        except LastmileError as error:  # changed meanwhile (planned, deleted): it keeps its own
            session.rollback()
            log.info("standing order %s, %s left as it is: %s", row.id, day, error.message)
    if template is None:
        return  # no address with a pin: nothing new is made until one is chosen
    for day in sorted(due - set(made)):
        try:
            written = orders.create(
                session=session, org_id=row.org_id, order_in=template.order(day), actor=actor
            )
            customers.link_order(
                session=session, org_id=row.org_id, customer_id=row.customer_id,
                address_id=row.address_id, order_id=written.order.id,
            )  # fmt: skip
            session.add(
                StandingOccurrence(
                    org_id=row.org_id,
                    standing_order_id=row.id,
                    date=day,
                    order_id=written.order.id,
                    applied=snapshot(written.order),
                )
            )
            session.commit()
        except IntegrityError:
            session.rollback()  # made at the same moment by another process: it is there
            continue
        except LastmileError as error:  # the day's order limit, a fleet too small now, ...
            session.rollback()  # that date waits for the next round; the others go on
            log.warning("standing order %s, %s: %s", row.id, day, error.message)
            result.failed += 1
            continue
        result.made += 1


def _template(session: Session, row: StandingOrder) -> Template | None:
    if row.address_id is None:
        return None
    address = session.get(CustomerAddress, row.address_id)
    if address is None or address.org_id != row.org_id or address.lon is None:
        return None
    return Template(
        row, customers.get(session=session, org_id=row.org_id, customer_id=row.customer_id), address
    )
