"""Forward simulation of one vehicle's route: times, waiting, loads, breaks.

This is the planner's own clock, used to turn a sequence of orders into stops (with driver
breaks placed), to explain unassigned orders and to evaluate insertions. It is deliberately
*not* used by :func:`lastmile.core.planning.check`, which recomputes everything on its own.

Break policy (PyVRP has no native breaks): a break is taken at the stop where the driver is
when its window is open (after the first stop whose departure is inside or after the window
start), or right away if driving on would pass the end of the window. The solver is given
the break durations as time the vehicle cannot use (see ``solve``), so there is room for them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from lastmile.core.model import Location, Order, OrderKind, Problem, Stop, StopKind, Vehicle


def shipment_amount(pickup: Order, delivery: Order) -> tuple[float, ...]:
    """What a paired pickup carries to its delivery: the larger of the two stated demands."""
    return tuple(max(a, b) for a, b in zip(pickup.demand, delivery.demand, strict=True))


def load_changes(problem: Problem, orders: Sequence[Order]) -> list[tuple[float, ...]]:
    """The load change at each order of a route (delivery negative, pickup positive)."""
    changes: list[tuple[float, ...]] = []
    for order in orders:
        pickup = problem.pickup_of(order.id)
        if order.deliver_to is not None:
            changes.append(shipment_amount(order, problem.order(order.deliver_to)))
        elif pickup is not None:
            amount = shipment_amount(pickup, order)
            changes.append(tuple(-a for a in amount))
        elif order.kind is OrderKind.PICKUP:
            changes.append(order.demand)
        else:
            changes.append(tuple(-d for d in order.demand))
    return changes


def initial_load(problem: Problem, orders: Sequence[Order]) -> tuple[float, ...]:
    """Goods loaded at the start: every plain delivery on the route."""
    total = [0.0] * len(problem.dimensions)
    for order in orders:
        if order.kind is OrderKind.DELIVERY and problem.pickup_of(order.id) is None:
            for k, d in enumerate(order.demand):
                total[k] += d
    return tuple(round(x, 6) for x in total)


@dataclass(frozen=True)
class RouteTiming:
    stops: tuple[Stop, ...]
    start_time: int
    end_time: int
    distance_m: int
    late_s: int
    """Sum over stops (and breaks) of how late service started past the window end."""
    overtime_s: int
    """How far the route ends past the shift end or exceeds the max duration."""
    overtime_excess_s: int
    """Overtime beyond what the vehicle allows (``max_overtime_s``): a violation."""
    load_excess: float
    """Largest amount by which the load exceeds capacity in any dimension at any point."""
    start_load: tuple[float, ...]

    @property
    def feasible(self) -> bool:
        return self.late_s == 0 and self.overtime_excess_s == 0 and self.load_excess <= 1e-9


def simulate(
    problem: Problem,
    vehicle: Vehicle,
    orders: Sequence[Order],
    start_time: int | None = None,
    *,
    include_breaks: bool = True,
) -> RouteTiming:
    """Drive ``orders`` in sequence with ``vehicle`` leaving at ``start_time`` (default: shift start)."""
    t = vehicle.shift.start if start_time is None else start_time
    begin = t
    here: Location = vehicle.start
    load = list(initial_load(problem, orders))
    start_load = tuple(load)
    changes = load_changes(problem, orders)
    capacity = vehicle.capacity
    excess = max((load[k] - capacity[k] for k in range(len(load))), default=0.0)
    pending = sorted(vehicle.breaks, key=lambda b: b.window.start) if include_breaks else []
    stops: list[Stop] = []
    distance = 0
    late = 0

    def take_breaks(now: int, next_travel: int) -> int:
        nonlocal late
        while pending:
            brk = pending[0]
            if now < brk.window.start and now + next_travel <= brk.window.end:
                break
            pending.pop(0)
            b_start = max(now, brk.window.start)
            late += max(0, b_start - brk.window.end)
            now = b_start + brk.duration_s
            stops.append(Stop(None, b_start, b_start, now, tuple(load), StopKind.BREAK))
        return now

    for order, change in zip(orders, changes, strict=True):
        travel_s, travel_m = problem.travel(vehicle, here, order.location)
        t = take_breaks(t, travel_s)
        arrival = t + travel_s
        start = arrival
        windows = order.effective_windows
        usable = [w for w in windows if w.end >= arrival]
        if usable:
            start = max(arrival, usable[0].start)
        else:
            late += arrival - windows[-1].end
        t = start + order.service_s
        for k, c in enumerate(change):
            load[k] = round(load[k] + c, 6)
        excess = max(excess, max((load[k] - capacity[k] for k in range(len(load))), default=0.0))
        distance += travel_m
        stops.append(Stop(order.id, arrival, start, t, tuple(load), StopKind.ORDER, travel_m))
        here = order.location

    if vehicle.end is not None:
        travel_s, travel_m = problem.travel(vehicle, here, vehicle.end)
    else:
        travel_s, travel_m = 0, 0
    if pending and t + travel_s > pending[0].window.start:
        t = take_breaks(t, 10**9)
    end = t + travel_s
    distance += travel_m
    overtime = max(0, end - vehicle.shift.end)
    if vehicle.max_duration_s is not None:
        overtime = max(overtime, end - begin - vehicle.max_duration_s)
    return RouteTiming(
        stops=tuple(stops),
        start_time=begin,
        end_time=end,
        distance_m=distance,
        late_s=late,
        overtime_s=overtime,
        overtime_excess_s=max(0, overtime - vehicle.max_overtime_s),
        load_excess=excess,
        start_load=start_load,
    )


def route_cost(vehicle: Vehicle, distance_m: int, start_time: int, end_time: int) -> float:
    """Currency cost of a route: fixed + distance + time (+ overtime premium)."""
    hours = (end_time - start_time) / 3600
    nominal_end = vehicle.shift.end
    overtime_h = max(0, end_time - nominal_end) / 3600
    cost = (
        vehicle.fixed_cost
        + distance_m / 1000 * vehicle.cost_per_km
        + hours * vehicle.cost_per_hour
        + overtime_h * vehicle.overtime_cost_per_hour
    )
    return round(cost, 2)
