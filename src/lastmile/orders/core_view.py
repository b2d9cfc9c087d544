"""The one conversion of order rows into the planner's orders (``core.Order``).

Planning a day, editing a plan, inserting a same-day order and re-optimising the rest of a
running day all hand orders to the core; they read them here, so that every field reaches the
solver the same way. A pickup's ``deliver_to`` names its delivery by external id; the core
pairs by order id, and only within the orders handed over together: a pickup whose delivery
is not among them (delivered already, on another route) is planned as a plain pickup, and
a delivery whose pickup is done is a plain delivery (its goods are on board).
"""

from __future__ import annotations

from collections.abc import Sequence

from lastmile.core.errors import Conflict
from lastmile.core.model import Location, Order, OrderKind, TimeWindow
from lastmile.orders.models import Order as OrderRow


def core_orders(
    rows: Sequence[OrderRow], dimensions: tuple[str, ...], *, tags: frozenset[str] = frozenset()
) -> list[Order]:
    """``rows`` as the planner's orders, demands in ``dimensions``; ``tags`` are added to each
    order's skills (re-optimising keeps an order on the kind of route it was on)."""
    by_external = {o.external_id: o.id for o in rows}
    result = []
    for o in rows:
        if o.lon is None or o.lat is None:
            raise Conflict(f"order {o.external_id!r} has no coordinates")
        result.append(
            Order(
                id=o.id,
                external_id=o.external_id,
                location=Location(o.lon, o.lat),
                demand=tuple(float(o.demand.get(d, 0.0)) for d in dimensions),
                service_s=o.service_s,
                windows=tuple(sorted(TimeWindow(int(a), int(b)) for a, b in o.windows)),
                required=o.required,
                value=o.value,
                skills=frozenset(o.skills) | tags,
                kind=OrderKind(o.kind),
                deliver_to=by_external.get(o.deliver_to) if o.deliver_to else None,
                address=o.address,
                notes=o.notes,
            )
        )
    return result
