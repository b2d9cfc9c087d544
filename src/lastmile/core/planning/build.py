"""Assemble a :class:`~lastmile.core.model.Problem` from orders, fleet and a travel provider."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from lastmile.core.errors import ModelError
from lastmile.core.model import Location, Order, OrderKind, Problem, TravelMatrix, Vehicle
from lastmile.core.roads.provider import TravelTimeProvider


def validate_problem(
    orders: Sequence[Order], vehicles: Sequence[Vehicle], dimensions: Sequence[str]
) -> None:
    """Refuse problems that are inconsistent as a whole, with a message naming the culprit."""
    if not vehicles:
        raise ModelError("no vehicles: add at least one vehicle")
    ids = [o.id for o in orders]
    seen: set[str] = set()
    for order_id in ids:
        if order_id in seen:
            raise ModelError(f"order id {order_id!r} appears more than once")
        seen.add(order_id)
    vehicle_ids: set[str] = set()
    for vehicle in vehicles:
        if vehicle.id in vehicle_ids:
            raise ModelError(f"vehicle id {vehicle.id!r} appears more than once")
        vehicle_ids.add(vehicle.id)
        if len(vehicle.capacity) != len(dimensions):
            raise ModelError(
                f"vehicle {vehicle.id}: capacity has {len(vehicle.capacity)} values "
                f"but the problem has dimensions {list(dimensions)}"
            )
    by_id = {o.id: o for o in orders}
    targets: set[str] = set()
    for order in orders:
        if len(order.demand) != len(dimensions):
            raise ModelError(
                f"order {order.id}: demand has {len(order.demand)} values "
                f"but the problem has dimensions {list(dimensions)}"
            )
        if any(d < 0 for d in order.demand):
            raise ModelError(f"order {order.id}: demand must not be negative")
        if order.deliver_to is None:
            continue
        if order.kind is not OrderKind.PICKUP:
            raise ModelError(f"order {order.id}: only a pickup can name a delivery (deliver_to)")
        target = by_id.get(order.deliver_to)
        if target is None:
            raise ModelError(f"order {order.id}: deliver_to {order.deliver_to!r} is not an order")
        if target.kind is not OrderKind.DELIVERY or target.deliver_to is not None:
            raise ModelError(f"order {order.id}: deliver_to must name a plain delivery order")
        if order.deliver_to in targets:
            raise ModelError(f"order {order.deliver_to}: is the delivery of two pickups")
        targets.add(order.deliver_to)
        if len(order.effective_windows) > 1 or len(target.effective_windows) > 1:
            raise ModelError(
                f"orders {order.id}->{target.id}: a paired pickup and delivery take one time "
                "window each"
            )
        if order.required != target.required:
            raise ModelError(
                f"orders {order.id}->{target.id}: a pair is either required or optional as a whole"
            )


def collect_locations(orders: Iterable[Order], vehicles: Iterable[Vehicle]) -> list[Location]:
    """Distinct locations, vehicles first, in a stable order."""
    seen: dict[Location, None] = {}
    for vehicle in vehicles:
        seen.setdefault(vehicle.start, None)
        if vehicle.end is not None:
            seen.setdefault(vehicle.end, None)
    for order in orders:
        seen.setdefault(order.location, None)
    return list(seen)


def build_problem(
    orders: Sequence[Order],
    vehicles: Sequence[Vehicle],
    dimensions: Sequence[str],
    provider: TravelTimeProvider,
) -> Problem:
    """Validate the inputs and compute one travel matrix per profile the fleet uses."""
    validate_problem(orders, vehicles, dimensions)
    locations = collect_locations(orders, vehicles)
    matrices: dict[str, TravelMatrix] = {}
    for profile in sorted({v.profile for v in vehicles}):
        matrices[profile.value] = provider.matrix(locations, profile)
    return Problem(
        orders=tuple(orders),
        vehicles=tuple(vehicles),
        dimensions=tuple(dimensions),
        locations=tuple(locations),
        matrices=matrices,
    )
