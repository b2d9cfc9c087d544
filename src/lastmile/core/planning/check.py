"""Independent plan checker: recompute every time, load and constraint from scratch.

It trusts nothing the solver or the planner's own clock (:mod:`.timing`) computed: it reads
the raw travel matrices, walks each route and compares what it finds with what the plan
claims. Tests run it on every plan; the dashboard runs it on every manual edit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from lastmile.core.model import (
    Location,
    OrderKind,
    Plan,
    Problem,
    Route,
    StopKind,
    Vehicle,
)
from lastmile.core.times import format_clock
from lastmile.core.units import format_minutes

TOLERANCE_S = 1
"""Rounding slack when comparing claimed and recomputed times."""


class ViolationCode(StrEnum):
    ORDER_MISSING = "order_missing"
    ORDER_DUPLICATED = "order_duplicated"
    UNKNOWN_ORDER = "unknown_order"
    UNKNOWN_VEHICLE = "unknown_vehicle"
    VEHICLE_REUSED = "vehicle_reused"
    LATE = "late"
    TIME_MISMATCH = "time_mismatch"
    CAPACITY = "capacity"
    SKILL = "skill"
    SHIFT_START = "shift_start"
    SHIFT_END = "shift_end"
    MAX_DURATION = "max_duration"
    PAIR = "pair"
    BREAK = "break"
    DISTANCE_MISMATCH = "distance_mismatch"
    COST_MISMATCH = "cost_mismatch"
    WRONG_DAY = "wrong_day"
    """A multi-day plan serves the order on a day outside its date range."""
    DAY_BALANCE = "day_balance"
    """A day of a multi-day plan has more stops than the balance allows."""


@dataclass(frozen=True)
class Violation:
    code: ViolationCode
    message: str
    vehicle_id: str | None = None
    order_id: str | None = None
    amount: float = 0.0
    """How much (seconds late, units over capacity, ...), where that makes sense."""


@dataclass(frozen=True)
class RouteFigures:
    """What the checker recomputed for one route."""

    vehicle_id: str
    distance_m: int
    end_time: int
    late_s: int
    max_load: tuple[float, ...]


@dataclass
class CheckReport:
    violations: list[Violation] = field(default_factory=list)
    routes: list[RouteFigures] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.violations

    def codes(self) -> set[ViolationCode]:
        return {v.code for v in self.violations}

    def __str__(self) -> str:
        if self.ok:
            return "plan OK"
        return "\n".join(f"{v.code}: {v.message}" for v in self.violations)


def _travel(
    problem: Problem, index: dict[Location, int], vehicle: Vehicle, a: Location, b: Location
) -> tuple[int, int]:
    matrix = problem.matrices[vehicle.profile.value]
    i, j = index[a], index[b]
    seconds = int(matrix.durations_s[i][j])
    if vehicle.speed_factor != 1.0:
        seconds = round(seconds / vehicle.speed_factor)
    return seconds, int(matrix.distances_m[i][j])


def check(plan: Plan, problem: Problem, *, check_cost: bool = True) -> CheckReport:
    """Recompute ``plan`` against ``problem`` and list every violation found."""
    report = CheckReport()
    add = report.violations.append
    orders = {o.id: o for o in problem.orders}
    vehicles = {v.id: v for v in problem.vehicles}
    seen: dict[str, int] = {}
    for route in plan.routes:
        for oid in route.order_ids:
            seen[oid] = seen.get(oid, 0) + 1
    for u in plan.unassigned:
        seen[u.order_id] = seen.get(u.order_id, 0) + 1
    for oid, count in seen.items():
        if oid not in orders:
            add(
                Violation(
                    ViolationCode.UNKNOWN_ORDER, f"order {oid} is not in the problem", order_id=oid
                )
            )
        elif count > 1:
            add(
                Violation(
                    ViolationCode.ORDER_DUPLICATED,
                    f"order {oid} appears {count} times",
                    order_id=oid,
                )
            )
    for oid in orders:
        if oid not in seen:
            add(
                Violation(
                    ViolationCode.ORDER_MISSING,
                    f"order {oid} is neither routed nor unassigned",
                    order_id=oid,
                )
            )

    used: set[str] = set()
    for route in plan.routes:
        vehicle = vehicles.get(route.vehicle_id)
        if vehicle is None:
            add(
                Violation(
                    ViolationCode.UNKNOWN_VEHICLE, f"vehicle {route.vehicle_id} is not in the fleet"
                )
            )
            continue
        if vehicle.id in used:
            add(
                Violation(
                    ViolationCode.VEHICLE_REUSED, f"vehicle {vehicle.id} has two routes", vehicle.id
                )
            )
        used.add(vehicle.id)
        _check_route(problem, route, vehicle, report, check_cost)
    return report


def _check_route(
    problem: Problem, route: Route, vehicle: Vehicle, report: CheckReport, check_cost: bool
) -> None:
    add = report.violations.append
    vid = vehicle.id
    index = {loc: i for i, loc in enumerate(problem.locations)}
    orders = {o.id: o for o in problem.orders}
    delivery_of = {o.deliver_to: o.id for o in problem.orders if o.deliver_to is not None}
    route_orders = [orders[oid] for oid in route.order_ids if oid in orders]
    on_route = {o.id for o in route_orders}

    # Goods for plain deliveries are on board from the start.
    load = [0.0] * len(problem.dimensions)
    for o in route_orders:
        if o.kind is OrderKind.DELIVERY and o.id not in delivery_of:
            for k, d in enumerate(o.demand):
                load[k] += d
    max_load = list(load)

    def check_load(where: str) -> None:
        for k, dim in enumerate(problem.dimensions):
            max_load[k] = max(max_load[k], load[k])
            if load[k] > vehicle.capacity[k] + 1e-6:
                add(
                    Violation(
                        ViolationCode.CAPACITY,
                        f"{vid} would carry {load[k]:g} {dim} {where}; it holds {vehicle.capacity[k]:g}",
                        vid,
                        amount=load[k] - vehicle.capacity[k],
                    )
                )

    check_load("at the start")
    if route.start_time < vehicle.shift.start:
        add(
            Violation(
                ViolationCode.SHIFT_START,
                f"{vid} would leave at {format_clock(route.start_time)}, "
                f"before its shift starts at {format_clock(vehicle.shift.start)}",
                vid,
            )
        )

    t = route.start_time
    here = vehicle.start
    distance = 0
    late_total = 0
    position: dict[str, int] = {}
    breaks_taken = 0
    for stop_number, stop in enumerate(route.stops):
        if stop.kind is StopKind.BREAK:
            breaks_taken += 1
            duration = stop.departure - stop.start
            fitting = [
                b
                for b in vehicle.breaks
                if b.duration_s <= duration + TOLERANCE_S and b.window.contains(stop.start)
            ]
            if stop.start + TOLERANCE_S < t or not fitting:
                add(
                    Violation(
                        ViolationCode.BREAK,
                        f"{vid}: the break at {format_clock(stop.start)} is not one of the driver's breaks "
                        "or overlaps other work",
                        vid,
                    )
                )
            t = max(t, stop.departure)
            continue
        oid = stop.order_id
        if oid is None or oid not in orders:
            continue
        order = orders[oid]
        position[oid] = stop_number
        if not order.skills <= vehicle.skills:
            add(
                Violation(
                    ViolationCode.SKILL,
                    f"{vid} cannot take order {oid}: it needs "
                    + ", ".join(sorted(order.skills - vehicle.skills)),
                    vid,
                    oid,
                )
            )
        travel_s, travel_m = _travel(problem, index, vehicle, here, order.location)
        distance += travel_m
        arrival = t + travel_s
        if abs(arrival - stop.arrival) > TOLERANCE_S:
            add(
                Violation(
                    ViolationCode.TIME_MISMATCH,
                    f"{vid}: the plan says it reaches order {oid} at {format_clock(stop.arrival)}, "
                    f"the roads say {format_clock(arrival)}",
                    vid,
                    oid,
                    amount=stop.arrival - arrival,
                )
            )
        start = max(arrival, stop.start)
        windows = order.effective_windows
        if not any(w.contains(start) for w in windows):
            opening = [w.start for w in windows if w.start >= arrival]
            if opening and min(opening) > start:
                add(
                    Violation(
                        ViolationCode.TIME_MISMATCH,
                        f"{vid} would serve order {oid} at {format_clock(start)}, before its window opens",
                        vid,
                        oid,
                    )
                )
            else:
                late = start - max(w.end for w in windows if w.end <= start)
                late_total += late
                add(
                    Violation(
                        ViolationCode.LATE,
                        f"{vid} would be {format_minutes(late)} late at order {oid}",
                        vid,
                        oid,
                        amount=late,
                    )
                )
        t = start + order.service_s
        if abs(t - stop.departure) > TOLERANCE_S:
            add(
                Violation(
                    ViolationCode.TIME_MISMATCH,
                    f"{vid}: the plan says it leaves order {oid} at {format_clock(stop.departure)}, "
                    f"the roads say {format_clock(t)}",
                    vid,
                    oid,
                )
            )
        # Load change.
        if order.deliver_to is not None:
            partner = orders[order.deliver_to]
            amount = [max(a, b) for a, b in zip(order.demand, partner.demand, strict=True)]
            load = [x + a for x, a in zip(load, amount, strict=True)]
        elif order.id in delivery_of:
            partner = orders[delivery_of[order.id]]
            amount = [max(a, b) for a, b in zip(order.demand, partner.demand, strict=True)]
            load = [x - a for x, a in zip(load, amount, strict=True)]
        elif order.kind is OrderKind.PICKUP:
            load = [x + d for x, d in zip(load, order.demand, strict=True)]
        else:
            load = [x - d for x, d in zip(load, order.demand, strict=True)]
        check_load(f"after order {oid}")
        here = order.location

    for o in route_orders:
        if o.deliver_to is None:
            continue
        if o.deliver_to not in on_route:
            add(
                Violation(
                    ViolationCode.PAIR,
                    f"{vid}: picks up {o.id} but its delivery {o.deliver_to} is on another route or unplanned",
                    vid,
                    o.id,
                )
            )
        elif position[o.id] > position[o.deliver_to]:
            add(
                Violation(
                    ViolationCode.PAIR,
                    f"{vid}: delivers {o.deliver_to} before picking up {o.id}",
                    vid,
                    o.id,
                )
            )
    for oid in on_route:
        if oid in delivery_of and delivery_of[oid] not in on_route:
            add(
                Violation(
                    ViolationCode.PAIR,
                    f"{vid}: delivers {oid} but its pickup is not on this route",
                    vid,
                    oid,
                )
            )

    if vehicle.end is not None:
        travel_s, travel_m = _travel(problem, index, vehicle, here, vehicle.end)
        distance += travel_m
        t += travel_s
    if abs(t - route.end_time) > TOLERANCE_S:
        add(
            Violation(
                ViolationCode.TIME_MISMATCH,
                f"{vid}: the plan says it is back at {format_clock(route.end_time)}, "
                f"the roads say {format_clock(t)}",
                vid,
                amount=route.end_time - t,
            )
        )
    if t > vehicle.shift.end + vehicle.max_overtime_s:
        add(
            Violation(
                ViolationCode.SHIFT_END,
                f"{vid} would finish at {format_clock(t)}, "
                f"{format_minutes(t - vehicle.shift.end - vehicle.max_overtime_s)} after its shift "
                f"(and allowed overtime) ends at "
                f"{format_clock(vehicle.shift.end + vehicle.max_overtime_s)}",
                vid,
                amount=t - vehicle.shift.end - vehicle.max_overtime_s,
            )
        )
    if (
        vehicle.max_duration_s is not None
        and t - route.start_time > vehicle.max_duration_s + vehicle.max_overtime_s
    ):
        add(
            Violation(
                ViolationCode.MAX_DURATION,
                f"{vid}'s route would take {format_minutes(t - route.start_time)}, "
                f"more than its {format_minutes(vehicle.max_duration_s)}",
                vid,
            )
        )
    due_breaks = [b for b in vehicle.breaks if b.window.start < t]
    if breaks_taken < len(due_breaks):
        add(
            Violation(
                ViolationCode.BREAK,
                f"{vid}: {len(due_breaks) - breaks_taken} break(s) not taken",
                vid,
            )
        )
    if distance != route.distance_m:
        add(
            Violation(
                ViolationCode.DISTANCE_MISMATCH,
                f"{vid}: the plan says {route.distance_m / 1000:.1f} km, "
                f"the roads say {distance / 1000:.1f} km",
                vid,
            )
        )
    if check_cost:
        hours = (t - route.start_time) / 3600
        overtime_h = max(0, t - vehicle.shift.end) / 3600
        cost = (
            vehicle.fixed_cost
            + distance / 1000 * vehicle.cost_per_km
            + hours * vehicle.cost_per_hour
            + overtime_h * vehicle.overtime_cost_per_hour
        )
        if abs(cost - route.cost) > 0.011:
            add(
                Violation(
                    ViolationCode.COST_MISMATCH,
                    f"{vid}: cost claimed {route.cost:.2f}, recomputed {cost:.2f}",
                    vid,
                )
            )
    report.routes.append(RouteFigures(vid, distance, t, late_total, tuple(max_load)))
