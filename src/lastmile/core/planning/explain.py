"""Why an order is not planned, and what would make it fit.

Two stages. :func:`screen_orders` runs *before* solving and takes out orders that no vehicle
could serve even on an otherwise empty route (demand above every capacity, a skill nobody
has, a window nobody can reach within a shift). :func:`explain_dropped` runs *after* solving
for the orders the solver left out, by trying every insertion position on every route and
reporting the cheapest relaxation (minutes late, minutes of overtime, capacity short).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from lastmile.core.model import (
    Location,
    Order,
    Problem,
    Route,
    Unassigned,
    UnassignedReason,
    Vehicle,
)
from lastmile.core.planning.timing import RouteTiming, route_cost, shipment_amount, simulate
from lastmile.core.times import format_clock
from lastmile.core.units import format_minutes


def _amount(problem: Problem, order: Order) -> tuple[float, ...]:
    if order.deliver_to is not None:
        return shipment_amount(order, problem.order(order.deliver_to))
    return order.demand


def _unit(order: Order, problem: Problem) -> list[Order]:
    """The orders that travel together: a pickup with its delivery, or the order alone."""
    if order.deliver_to is not None:
        return [order, problem.order(order.deliver_to)]
    return [order]


def _just_in_time_start(problem: Problem, vehicle: Vehicle, first: Order) -> int:
    """Leave as late as still reaches the first window's opening (shortest route duration)."""
    travel_s, _ = problem.travel(vehicle, vehicle.start, first.location)
    return max(vehicle.shift.start, first.effective_windows[0].start - travel_s)


def screen_orders(problem: Problem) -> tuple[list[Order], list[Unassigned]]:
    """Split orders into those worth giving to the solver and those no vehicle can ever serve."""
    delivered_by = {o.deliver_to: o for o in problem.orders if o.deliver_to is not None}
    servable: list[Order] = []
    out: dict[str, Unassigned] = {}
    for order in problem.orders:
        if order.id in delivered_by:
            continue  # judged together with its pickup
        verdict = _screen_unit(problem, _unit(order, problem))
        if verdict is None:
            servable.extend(_unit(order, problem))
            continue
        out[order.id] = verdict
        if order.deliver_to is not None:
            out[order.deliver_to] = Unassigned(
                order.deliver_to,
                UnassignedReason.PAIR_UNASSIGNED,
                f"its pickup {order.id} cannot be planned: {verdict.message}",
            )
    return servable, [out[o.id] for o in problem.orders if o.id in out]


def _screen_unit(problem: Problem, unit: list[Order]) -> Unassigned | None:
    head = unit[0]
    needed = frozenset().union(*(o.skills for o in unit))
    skilled = [v for v in problem.vehicles if needed <= v.skills]
    if not skilled:
        return Unassigned(
            head.id,
            UnassignedReason.NO_VEHICLE_WITH_SKILL,
            f"no vehicle has the skills {sorted(needed)}",
        )
    amount = _amount(problem, head)
    big_enough = [
        v for v in skilled if all(a <= c + 1e-9 for a, c in zip(amount, v.capacity, strict=True))
    ]
    if not big_enough:
        widest = {
            dim: max(v.capacity[k] for v in skilled) for k, dim in enumerate(problem.dimensions)
        }
        over = [
            f"{dim} {amount[k]:g} > {widest[dim]:g}"
            for k, dim in enumerate(problem.dimensions)
            if amount[k] > widest[dim] + 1e-9
        ]
        return Unassigned(
            head.id,
            UnassignedReason.DEMAND_EXCEEDS_CAPACITY,
            "demand larger than any suitable vehicle: " + ", ".join(over),
        )
    best: tuple[int, RouteTiming, Vehicle] | None = None
    for vehicle in big_enough:
        timing = simulate(
            problem,
            vehicle,
            unit,
            _just_in_time_start(problem, vehicle, head),
            include_breaks=False,
        )
        if timing.late_s == 0 and timing.overtime_excess_s == 0:
            return None
        score = timing.late_s + timing.overtime_excess_s
        if best is None or score < best[0]:
            best = (score, timing, vehicle)
    assert best is not None
    _, timing, vehicle = best
    if timing.late_s > 0:
        window = head.effective_windows[-1]
        return Unassigned(
            head.id,
            UnassignedReason.WINDOW_UNREACHABLE,
            f"window ends {format_clock(window.end)} but the earliest any vehicle can be "
            f"there is {format_minutes(timing.late_s)} later ({vehicle.id})",
            late_s_to_fit=timing.late_s,
            best_vehicle_id=vehicle.id,
        )
    return Unassigned(
        head.id,
        UnassignedReason.ROUTE_TOO_LONG,
        f"even alone, the round trip does not fit in any shift: {vehicle.id} would need "
        f"{format_minutes(timing.overtime_excess_s)} of overtime",
        overtime_s_to_fit=timing.overtime_excess_s,
        best_vehicle_id=vehicle.id,
    )


EXPLAIN_POSITIONS = 6
"""Positions per route tried when explaining a dropped order (the nearest by detour)."""


@dataclass(frozen=True)
class Insertion:
    """Putting an order (or pickup+delivery pair) into a route, and what it costs."""

    vehicle_id: str
    positions: tuple[int, ...]
    """Index in the route's order sequence where each unit member is inserted."""
    timing: RouteTiming
    added_cost: float

    @property
    def feasible(self) -> bool:
        return self.timing.feasible


def _sequences(
    base: Sequence[Order], unit: Sequence[Order]
) -> list[tuple[tuple[int, ...], list[Order]]]:
    out: list[tuple[tuple[int, ...], list[Order]]] = []
    n = len(base)
    if len(unit) == 1:
        for i in range(n + 1):
            out.append(((i,), [*base[:i], unit[0], *base[i:]]))
        return out
    pickup, delivery = unit
    for i in range(n + 1):
        for j in range(i, n + 1):
            seq = [*base[:i], pickup, *base[i:j], delivery, *base[j:]]
            out.append(((i, j), seq))
    return out


def insertions(
    problem: Problem,
    routes: Sequence[Route],
    order: Order,
    *,
    locked_prefix: dict[str, int] | None = None,
    nearest_positions: int | None = None,
) -> list[Insertion]:
    """Every way of putting ``order`` (with its paired delivery) into the routes.

    Vehicles without a route are tried with an empty one. ``locked_prefix`` maps a vehicle
    id to the number of leading stops that must stay in place (already served).
    ``nearest_positions`` limits a single order to that many positions per route, those with
    the smallest detour in distance: each try re-simulates the whole route, and explaining
    hundreds of dropped orders on long routes would otherwise take minutes.
    """
    unit = _unit(order, problem)
    needed = frozenset().union(*(o.skills for o in unit))
    by_vehicle = {r.vehicle_id: r for r in routes}
    by_id = {o.id: o for o in problem.orders}
    result: list[Insertion] = []
    for vehicle in problem.vehicles:
        if not needed <= vehicle.skills:
            continue
        route = by_vehicle.get(vehicle.id)
        base = [by_id[oid] for oid in route.order_ids] if route else []
        start = route.start_time if route else None
        old_cost = route.cost if route else 0.0
        frozen = (locked_prefix or {}).get(vehicle.id, 0)
        options = _sequences(base, unit)
        if nearest_positions is not None and len(unit) == 1:
            options = _nearest(problem, vehicle, base, unit[0], options, nearest_positions)
        for positions, seq in options:
            if positions[0] < frozen:
                continue
            begin = start if start is not None else _just_in_time_start(problem, vehicle, seq[0])
            timing = simulate(problem, vehicle, seq, begin)
            cost = route_cost(vehicle, timing.distance_m, timing.start_time, timing.end_time)
            result.append(Insertion(vehicle.id, positions, timing, round(cost - old_cost, 2)))
    return result


def _nearest(
    problem: Problem,
    vehicle: Vehicle,
    base: Sequence[Order],
    order: Order,
    options: list[tuple[tuple[int, ...], list[Order]]],
    keep: int,
) -> list[tuple[tuple[int, ...], list[Order]]]:
    """The ``keep`` positions with the smallest added distance (one O(n) pass)."""
    stops: list[Location] = [vehicle.start, *(o.location for o in base)]

    def detour(position: int) -> int:
        before = stops[position]
        after = stops[position + 1] if position + 1 < len(stops) else vehicle.end
        into = problem.travel(vehicle, before, order.location)[1]
        if after is None:  # open route: the new stop may become the last
            return into
        out = problem.travel(vehicle, order.location, after)[1]
        return into + out - problem.travel(vehicle, before, after)[1]

    ranked = sorted(options, key=lambda option: detour(option[0][0]))
    return ranked[:keep]


def explain_dropped(
    problem: Problem, routes: Sequence[Route], dropped: Sequence[Order]
) -> list[Unassigned]:
    """Reasons for orders the solver left out, with the smallest relaxation that fits them."""
    delivered_by = {o.deliver_to for o in dropped if o.deliver_to is not None}
    out: list[Unassigned] = []
    for order in dropped:
        if order.id in delivered_by:
            pickup = next(o for o in dropped if o.deliver_to == order.id)
            out.append(
                Unassigned(
                    order.id,
                    UnassignedReason.PAIR_UNASSIGNED,
                    f"its pickup {pickup.id} is not planned",
                )
            )
            continue
        options = insertions(problem, routes, order, nearest_positions=EXPLAIN_POSITIONS)
        feasible = [o for o in options if o.feasible]
        if feasible and not order.required:
            cheapest = min(feasible, key=lambda o: o.added_cost)
            out.append(
                Unassigned(
                    order.id,
                    UnassignedReason.NOT_WORTH_IT,
                    f"optional: serving it adds {cheapest.added_cost:.2f} "
                    f"(on {cheapest.vehicle_id}), more than its value {order.value:.2f}",
                    best_vehicle_id=cheapest.vehicle_id,
                )
            )
            continue
        out.append(_fleet_full(order, options))
    return out


def _fleet_full(order: Order, options: Sequence[Insertion]) -> Unassigned:
    message = "not enough capacity or time left in the fleet"
    fits_load = [o for o in options if o.timing.load_excess <= 1e-9]
    if not fits_load:
        return Unassigned(order.id, UnassignedReason.FLEET_FULL, message + " (all vehicles full)")
    best = min(
        fits_load, key=lambda o: (o.timing.late_s + o.timing.overtime_excess_s, o.added_cost)
    )
    late, over = best.timing.late_s, best.timing.overtime_excess_s
    hints = []
    if late:
        hints.append(f"{format_minutes(late)} late")
    if over:
        hints.append(f"{format_minutes(over)} of overtime")
    if hints:
        message += f"; it would fit on {best.vehicle_id} with " + " and ".join(hints)
    return Unassigned(
        order.id,
        UnassignedReason.FLEET_FULL,
        message,
        late_s_to_fit=late or None,
        overtime_s_to_fit=over or None,
        best_vehicle_id=best.vehicle_id,
    )
