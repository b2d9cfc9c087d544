"""What a standing order gives an order, and what became of an order it made: pure functions
of the rows (no queries; ``service`` reads and writes them).

An occurrence's ``applied`` is the :func:`snapshot` of its order as the rule last set it; an
order whose snapshot still equals it is :func:`untouched` and follows the rule's changes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from lastmile.core import recurrence
from lastmile.customers.models import Customer, CustomerAddress
from lastmile.orders.lifecycle import EDITABLE, OrderStatus
from lastmile.orders.models import Order
from lastmile.orders.schemas import OrderCreate, Window
from lastmile.standing.models import StandingOccurrence, StandingOrder
from lastmile.standing.schemas import OccurrenceState

SNAPSHOT_FIELDS = (
    "date", "address", "lon", "lat", "windows", "service_s", "demand", "required", "value",
    "description", "notes", "customer", "phone", "email",
)  # fmt: skip
"""An order's fields a standing order sets: equal to ``applied`` means untouched."""
_PLANNED = frozenset(
    {OrderStatus.PLANNED, OrderStatus.DISPATCHED, OrderStatus.OUT_FOR_DELIVERY, OrderStatus.ARRIVED}
)


def actor_of(row: StandingOrder) -> str:
    """Who made an order, in its history: the standing order."""
    return f"standing_order:{row.id}"


def external_id_of(row: StandingOrder, day: date) -> str:
    return f"SO-{row.id}-{day:%Y%m%d}"


def rule_of(row: StandingOrder) -> recurrence.Rule:
    return recurrence.Rule(
        frequency="monthly" if row.frequency == "monthly" else "weekly",
        starts_on=row.starts_on,
        ends_on=row.ends_on,
        weekdays=tuple(row.weekdays),
        every_weeks=row.every_weeks,
        month_day=row.month_day,
        paused_from=row.paused_from,
        paused_until=row.paused_until,
    )


def snapshot(order: Order) -> dict[str, Any]:
    """The order's fields a standing order sets, as JSON (compared with ``applied``)."""
    values = {name: getattr(order, name) for name in SNAPSHOT_FIELDS}
    values["date"] = order.date.isoformat()
    values["windows"] = [list(w) for w in order.windows]
    values["demand"] = dict(sorted(order.demand.items()))
    return values


def untouched(occurrence: StandingOccurrence, order: Order) -> bool:
    return snapshot(order) == occurrence.applied


def state(occurrence: StandingOccurrence, order: Order | None) -> OccurrenceState:
    if order is None:
        return "skipped"
    status = OrderStatus(order.status)
    if status == OrderStatus.CANCELLED:
        return "cancelled"
    if status in _PLANNED:
        return "planned"
    if status not in EDITABLE:
        return "done"
    return "made" if untouched(occurrence, order) else "edited"


@dataclass(frozen=True)
class Template:
    row: StandingOrder
    customer: Customer
    address: CustomerAddress

    def order(self, day: date) -> OrderCreate:
        row, address = self.row, self.address
        return OrderCreate(
            external_id=external_id_of(row, day),
            date=day,
            address=address.address,
            lon=address.lon,
            lat=address.lat,
            windows=[Window.from_seconds(w) for w in row.windows],
            service_s=row.service_s,
            demand=row.demand,
            required=row.required,
            value=row.value,
            description=row.description,
            notes="\n".join(t for t in (address.instructions.strip(), row.notes.strip()) if t),
            customer=self.customer.name,
            phone=self.customer.phone,
            email=self.customer.email,
        )

    def for_day(self, day: date) -> dict[str, Any]:
        """What the rule gives an order of ``day`` now, in the snapshot's terms."""
        made = self.order(day)
        values = made.model_dump(include=set(SNAPSHOT_FIELDS))
        values["date"] = day.isoformat()
        values["windows"] = [list(w) for w in self.row.windows]
        values["demand"] = dict(sorted(made.demand.items()))
        if made.service_s is None:
            values.pop("service_s")  # the organisation's default: whatever the order got
        return values


def changes_for(applied: dict[str, Any], wanted: dict[str, Any]) -> dict[str, Any]:
    """The fields of an untouched order to change (as ``OrderUpdate`` takes them)."""
    changes: dict[str, Any] = {}
    for name, value in wanted.items():
        if applied.get(name) == value:
            continue
        if name == "windows":
            changes[name] = [Window.from_seconds(w) for w in value]
        elif name == "date":
            changes[name] = date.fromisoformat(value)
        else:
            changes[name] = value
    if ("lon" in changes) != ("lat" in changes):
        changes["lon"], changes["lat"] = wanted["lon"], wanted["lat"]
    return changes
