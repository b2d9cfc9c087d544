"""The order state machine: which status may follow which. Pure: no database, no clock.

```
new ──> ready ──> planned ──> dispatched ──> out_for_delivery ──> arrived ──> delivered
 ^        │ ^        │            │                │                 │
 └────────┘ └────────┘            │                │                 └──> failed
 (address   (removed from         └──> ready       ├──> delivered (arrival not reported)
  changed)   a plan)         (taken off the route  └──> failed (never reached the stop)
                              before it left)
failed ──> rescheduled ──> ready | new     (a new date; the order re-enters planning)
failed ──> returned                        (the goods went back to the depot: final)
new | ready | planned | dispatched ──> cancelled  (final)
```

Final states: ``delivered``, ``returned``, ``cancelled``. Cancelling is possible only while
the goods are still at the depot (up to ``dispatched``); once they are on the road
(``out_for_delivery``, ``arrived``) the driver reports ``failed`` and the order is then
``returned`` or ``rescheduled``.

``rescheduled`` is passed through: the service moves a rescheduled order straight on to
``ready`` (it has coordinates) or ``new`` (it still needs geocoding) in the same transaction,
so planning only ever looks at ``ready`` orders and the history keeps the rescheduling.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum

from lastmile.core.errors import IllegalTransition


class OrderStatus(StrEnum):
    NEW = "new"
    """Received; the address is not validated yet (no coordinates)."""
    READY = "ready"
    """Coordinates known and accepted: can be planned."""
    PLANNED = "planned"
    """On a route of a plan that has not been dispatched."""
    DISPATCHED = "dispatched"
    """On a route sent to a driver; the goods are still at the depot."""
    OUT_FOR_DELIVERY = "out_for_delivery"
    """The driver left the depot with it."""
    ARRIVED = "arrived"
    """The driver is at the stop."""
    DELIVERED = "delivered"
    FAILED = "failed"
    """Not delivered (nobody home, refused, no access...); ``reason`` says why."""
    RESCHEDULED = "rescheduled"
    """Given a new date; passed through on the way back to ``ready``/``new``."""
    RETURNED = "returned"
    """The goods went back to the depot; the order is closed."""
    CANCELLED = "cancelled"


S = OrderStatus

TRANSITIONS: Mapping[OrderStatus, frozenset[OrderStatus]] = {
    S.NEW: frozenset({S.READY, S.CANCELLED}),
    S.READY: frozenset({S.PLANNED, S.NEW, S.CANCELLED}),
    S.PLANNED: frozenset({S.DISPATCHED, S.READY, S.CANCELLED}),
    S.DISPATCHED: frozenset({S.OUT_FOR_DELIVERY, S.READY, S.CANCELLED}),
    S.OUT_FOR_DELIVERY: frozenset({S.ARRIVED, S.DELIVERED, S.FAILED}),
    S.ARRIVED: frozenset({S.DELIVERED, S.FAILED}),
    S.FAILED: frozenset({S.RESCHEDULED, S.RETURNED}),
    S.RESCHEDULED: frozenset({S.READY, S.NEW}),
    S.DELIVERED: frozenset(),
    S.RETURNED: frozenset(),
    S.CANCELLED: frozenset(),
}
"""Every legal move: ``TRANSITIONS[from]`` is the set of statuses that may follow."""

FINAL: frozenset[OrderStatus] = frozenset(s for s, nexts in TRANSITIONS.items() if not nexts)
"""Statuses nothing follows."""

EDITABLE: frozenset[OrderStatus] = frozenset({S.NEW, S.READY})
"""Statuses in which everything about an order may change (it is not on any plan yet)."""

DELETABLE: frozenset[OrderStatus] = frozenset({S.NEW, S.READY, S.CANCELLED})
"""Statuses in which an order may be deleted; later ones keep their history (cancel instead)."""

ACCEPTED_VERDICTS: frozenset[str] = frozenset({"given", "exact", "corrected"})
"""Address verdicts that make an order ``ready`` (the others leave it ``new`` for a person)."""

UNRESOLVED_VERDICTS: frozenset[str] = frozenset({"ambiguous", "not_found", "outside_area"})
"""The geocoder could not place the address: the order waits for a person (no location)."""

LOCATION_WORDS: dict[str | None, str] = {
    "exact": "address checked",
    "corrected": "address corrected",
    "given": "placed on the map",
    "ambiguous": "several places match",
    "not_found": "not found on the map",
    "outside_area": "outside your map area",
    None: "not checked yet",
}
"""What a shop owner reads for an address verdict (the API keeps the codes)."""


def location_words(verdict: str | None) -> str:
    return LOCATION_WORDS.get(verdict, verdict or LOCATION_WORDS[None])


def parse_status(value: str) -> OrderStatus:
    """A status from its name, or :class:`IllegalTransition` naming the known ones."""
    try:
        return OrderStatus(value)
    except ValueError:
        known = ", ".join(s.value for s in OrderStatus)
        raise IllegalTransition(f"unknown order status {value!r}; known: {known}") from None


def allowed(status: OrderStatus | str) -> frozenset[OrderStatus]:
    """The statuses that may follow ``status``."""
    return TRANSITIONS[parse_status(status)]


def is_legal(from_status: OrderStatus | str, to_status: OrderStatus | str) -> bool:
    return parse_status(to_status) in allowed(from_status)


def check(from_status: OrderStatus | str, to_status: OrderStatus | str) -> OrderStatus:
    """Return ``to_status`` if it may follow ``from_status``; raise :class:`IllegalTransition`."""
    source, target = parse_status(from_status), parse_status(to_status)
    nexts = TRANSITIONS[source]
    if target not in nexts:
        options = ", ".join(sorted(s.value for s in nexts)) or "nothing (it is final)"
        raise IllegalTransition(
            f"an order cannot go from {source.value!r} to {target.value!r}; "
            f"from {source.value!r} it can go to: {options}"
        )
    return target


def status_for_location(*, has_coordinates: bool, verdict: str | None) -> OrderStatus:
    """Where an order that is not yet planned belongs: ``ready`` once its location is usable."""
    if has_coordinates and (verdict is None or verdict in ACCEPTED_VERDICTS):
        return S.READY
    return S.NEW


def needs_geocoding(*, status: str, lon: float | None, lat: float | None) -> bool:
    """True for an order waiting for its address to be geocoded (the geocoder's work list).

    Geocoding itself is not done here: the geocoding job lists these orders with
    ``orders.service.list_needing_geocoding`` and stores its answer with
    ``orders.service.set_location``.
    """
    return status == S.NEW and (lon is None or lat is None)
