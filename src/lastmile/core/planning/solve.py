"""The one call that plans a day: our domain model in, a :class:`Plan` out, PyVRP inside.

Nothing else in lastmile imports ``pyvrp``. How each domain feature maps to the solver:

* **Demand/capacity vectors** -> PyVRP load dimensions, scaled by ``units.DEMAND_SCALE``
  (this also keeps PyVRP's load penalty per unit meaningful next to costs scaled by
  ``units.COST_SCALE``: measured, whole parcels at scale 1 let a balanced plan ignore its
  stop cap).
* **Several time windows** -> one PyVRP client per window, bound in a mutually exclusive
  client group, so exactly one copy (one window) is served.
* **Paired pickup -> delivery** -> a PyVRP ``Shipment`` (same vehicle, pickup first).
* **Skills** -> routing profiles: every distinct (travel profile, speed factor, skill set)
  gets its own matrices in which clients needing a skill the vehicle lacks are unreachable.
* **Open routes** (end "anywhere") -> a virtual end depot at zero distance from everywhere.
* **Breaks** -> PyVRP has none: the vehicle's usable time is shortened by its break time and
  the breaks are placed afterwards by :mod:`.timing` (documented there); ``check`` verifies.
* **Must-deliver orders** are never allowed to make the whole plan infeasible: unless
  ``strict``, they become optional with a prize above any detour they could cost (see
  ``_required_prize``), so the solver drops one only when it does not fit; a route that is
  still infeasible when time runs out is repaired by dropping orders (``_repair``), and
  :mod:`.explain` says why each one is out (and how much lateness or overtime would make
  it fit). Orders that cannot fit on any vehicle at all are screened out before solving.
* **Costs** -> ``units.cost_per_metre`` / ``cost_per_second`` / fixed cost (integers).

Determinism: the same problem, seed and ``max_iterations`` give the same plan. With only a
wall-clock ``time_limit`` the result depends on how far the search got in that time.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

import numpy as np
import numpy.typing as npt
import pyvrp

from lastmile.core.model import (
    Order,
    OrderKind,
    Plan,
    Problem,
    Route,
    SolveStats,
    Vehicle,
)
from lastmile.core.planning.build import validate_problem
from lastmile.core.planning.explain import explain_dropped, screen_orders
from lastmile.core.planning.parallel import run_searches, solution_key
from lastmile.core.planning.search import ProgressCallback, SolveProgress
from lastmile.core.planning.timing import route_cost, shipment_amount, simulate
from lastmile.core.units import (
    cost_per_metre,
    cost_per_second,
    demand_to_int,
    money_to_int,
)

UNREACHABLE = 10**8
"""Distance/duration that makes an arc unusable without overflowing int64 sums."""
MAX_TIME = 2**40
"""Stands in for "no limit" where PyVRP needs a number."""


@dataclass(frozen=True)
class RouteLimits:
    """Hard caps on every route, on top of each vehicle's own limits (used for balancing:
    :mod:`.balance`)."""

    max_stops: int | None = None
    """At most this many orders per route (paired pickup-delivery shipments not counted)."""
    max_duration_s: int | None = None
    """At most this long from leaving the start to reaching the end, overtime included."""


@dataclass
class _Translation:
    data: pyvrp.ProblemData
    client_orders: list[Order]
    """PyVRP client index -> order (window copies repeat the order)."""
    shipment_orders: list[tuple[Order, Order]]
    vehicle_pools: list[list[Vehicle]]
    """PyVRP vehicle type index -> the vehicles of that type, in order."""


def _profile_key(
    vehicle: Vehicle, needed_skills: frozenset[str]
) -> tuple[str, float, frozenset[str]]:
    return (vehicle.profile.value, vehicle.speed_factor, vehicle.skills & needed_skills)


def _vehicle_key(vehicle: Vehicle, profile_index: int) -> tuple[object, ...]:
    return (
        vehicle.start,
        vehicle.end,
        vehicle.shift,
        vehicle.capacity,
        vehicle.max_duration_s,
        vehicle.cost_per_km,
        vehicle.cost_per_hour,
        vehicle.fixed_cost,
        vehicle.max_overtime_s,
        vehicle.overtime_cost_per_hour,
        sum(b.duration_s for b in vehicle.breaks),
        profile_index,
    )


def _required_prize(
    problem: Problem,
    distances: Sequence[npt.NDArray[np.int64]],
) -> int:
    """Prize for a must-deliver order in non-strict mode.

    It must exceed what serving any single order can cost (so the solver never drops one
    that fits), yet stay small next to PyVRP's penalties for infeasibility (so it prefers
    dropping an order to a late or overloaded plan). Twice the most expensive detour
    imaginable satisfies both: a round trip across the whole area, a whole shift of paid
    time (an order can add that much waiting) and the priciest vehicle's fixed cost.
    """

    def reachable_max(matrices: Sequence[npt.NDArray[np.int64]]) -> int:
        values = []
        for m in matrices:
            top = int(m.max(initial=0))
            if top >= UNREACHABLE:  # row by row: a mask of the whole matrix is n^2 bytes
                top = max((int(row[row < UNREACHABLE].max(initial=0)) for row in m), default=0)
            values.append(top)
        return max(values, default=0)

    far_m = reachable_max(distances)
    worst = 0
    for v in problem.vehicles:
        per_m = max(1, cost_per_metre(v.cost_per_km))
        per_s = cost_per_second(v.cost_per_hour) + cost_per_second(v.overtime_cost_per_hour)
        paid_s = v.shift.end - v.shift.start + v.max_overtime_s
        worst = max(worst, 2 * far_m * per_m + paid_s * per_s + money_to_int(v.fixed_cost))
    return 2 * worst + money_to_int(1)


def _pick(
    matrix: npt.NDArray[np.integer[Any]], idx: npt.NDArray[np.int64], identity: bool, changes: bool
) -> npt.NDArray[np.int64]:
    """``matrix`` reindexed by ``idx`` as int64, copied only when it must be: reindexing,
    another integer type, or ``changes`` to make (which must not touch the problem's own
    matrix). PyVRP copies what it is given, so an unchanged matrix is passed as it is."""
    if not identity:
        return matrix[np.ix_(idx, idx)].astype(np.int64, copy=False)
    if changes or matrix.dtype != np.int64 or np.diagonal(matrix).any():
        return matrix.astype(np.int64, copy=True)
    return cast(npt.NDArray[np.int64], matrix)


def _translate(
    problem: Problem, orders: Sequence[Order], strict: bool, limits: RouteLimits | None = None
) -> _Translation:
    by_id = {o.id: o for o in orders}
    paired_pickups = [o for o in orders if o.deliver_to is not None and o.deliver_to in by_id]
    paired_delivery_ids = {o.deliver_to for o in paired_pickups}
    singles = [o for o in orders if o.deliver_to is None and o.id not in paired_delivery_ids]

    depot_locations = []
    for v in problem.vehicles:
        for loc in (v.start, v.end):
            if loc is not None and loc not in depot_locations:
                depot_locations.append(loc)
    open_end = any(v.end is None for v in problem.vehicles)
    needed_skills = frozenset().union(*(o.skills for o in orders)) if orders else frozenset()
    profile_keys: list[tuple[str, float, frozenset[str]]] = []
    for v in problem.vehicles:
        key = _profile_key(v, needed_skills)
        if key not in profile_keys:
            profile_keys.append(key)
    some_blocked = any(not o.skills <= key[2] for key in profile_keys for o in orders)
    all_orders = [*singles, *paired_pickups, *(by_id[str(p.deliver_to)] for p in paired_pickups)]

    if not open_end and not some_blocked:
        # PyVRP clients name a location, so the problem's matrices serve as they are: no
        # reindexed copy (on a 10,000-stop day each copy is 800 MB per matrix).
        source = list(range(len(problem.locations)))
        depot_at = [problem.index_of(loc) for loc in depot_locations]
        order_location = {o.id: problem.index_of(o.location) for o in all_orders}
        anywhere = -1
    else:
        # Depots, the optional "anywhere" end, then one location per order: an order needing
        # a skill gets a column of its own that the vehicles without it cannot reach.
        source = [problem.index_of(loc) for loc in depot_locations]
        depot_at = list(range(len(depot_locations)))
        anywhere = -1
        if open_end:
            anywhere = len(source)
            source.append(0)  # placeholder row/column, overwritten below
        order_location = {}
        for order in all_orders:
            order_location[order.id] = len(source)
            source.append(problem.index_of(order.location))
    pyvrp_locations = [pyvrp.Location(0, 0) for _ in source]

    identity = len(source) == len(problem.locations) and source == list(range(len(source)))
    idx = np.array(source, dtype=np.int64)
    distance_matrices: list[npt.NDArray[np.int64]] = []
    duration_matrices: list[npt.NDArray[np.int64]] = []
    for profile_name, speed_factor, skills in profile_keys:
        base = problem.matrices[profile_name]
        blocked = [order_location[o.id] for o in orders if not o.skills <= skills]
        changes = open_end or bool(blocked) or speed_factor != 1.0
        durations = _pick(base.durations_s, idx, identity, changes)
        distances = _pick(base.distances_m, idx, identity, changes)
        if speed_factor != 1.0:
            durations = np.rint(durations / speed_factor).astype(np.int64)
        if open_end:
            for m in (durations, distances):
                m[:, anywhere] = 0
                m[anywhere, :] = 0
        if blocked:
            durations[:, blocked] = UNREACHABLE
            distances[:, blocked] = UNREACHABLE
        for m in (durations, distances):
            if np.diagonal(m).any():
                np.fill_diagonal(m, 0)
        distance_matrices.append(distances)
        duration_matrices.append(durations)

    depot_index = {loc: i for i, loc in enumerate(depot_locations)}
    depots = [pyvrp.Depot(location=at) for at in depot_at]
    if open_end:
        depots.append(pyvrp.Depot(location=anywhere))

    required_prize = _required_prize(problem, distance_matrices)

    def prize_of(order: Order) -> int:
        return money_to_int(order.value) if not order.required else required_prize

    # A stop cap is one more load dimension: every order "delivers" one stop.
    # Scaled like parcels: PyVRP penalises excess load per unit, so a stop worth 1 next to
    # parcels worth 1,000 would hardly weigh, and the search would ignore the cap.
    counted = [demand_to_int(1.0)] if limits is not None and limits.max_stops is not None else []
    clients: list[pyvrp.Client] = []
    client_orders: list[Order] = []
    groups: list[pyvrp.ClientGroup] = []
    for order in singles:
        amount = [demand_to_int(d) for d in order.demand]
        is_pickup = order.kind is OrderKind.PICKUP
        nothing = [0] * len(amount)
        hard = strict and order.required
        windows = order.effective_windows
        group = len(groups) if len(windows) > 1 else None
        members = []
        for window in windows:
            members.append(len(clients))
            clients.append(
                pyvrp.Client(
                    location=order_location[order.id],
                    delivery=(nothing if is_pickup else amount) + counted,
                    pickup=(amount if is_pickup else nothing) + [0] * len(counted),
                    service_duration=order.service_s,
                    tw_early=window.start,
                    tw_late=window.end,
                    prize=0 if hard else prize_of(order),
                    required=hard and group is None,
                    group=group,
                    name=order.id,
                )
            )
            client_orders.append(order)
        if group is not None:
            groups.append(pyvrp.ClientGroup(members, required=hard, name=order.id))

    shipments: list[pyvrp.Shipment] = []
    shipment_orders: list[tuple[Order, Order]] = []
    for pickup in paired_pickups:
        delivery = by_id[str(pickup.deliver_to)]
        hard = strict and pickup.required
        pw, dw = pickup.effective_windows[0], delivery.effective_windows[0]
        shipments.append(
            pyvrp.Shipment(
                pickup_location=order_location[pickup.id],
                delivery_location=order_location[delivery.id],
                pickup_tw_early=pw.start,
                pickup_tw_late=pw.end,
                pickup_service_duration=pickup.service_s,
                delivery_tw_early=dw.start,
                delivery_tw_late=dw.end,
                delivery_service_duration=delivery.service_s,
                amount=[demand_to_int(d) for d in shipment_amount(pickup, delivery)]
                + [0] * len(counted),
                prize=0 if hard else prize_of(pickup) + money_to_int(delivery.value),
                required=hard,
                name=pickup.id,
            )
        )
        shipment_orders.append((pickup, delivery))

    pools: dict[tuple[object, ...], list[Vehicle]] = defaultdict(list)
    for v in problem.vehicles:
        pools[_vehicle_key(v, profile_keys.index(_profile_key(v, needed_skills)))].append(v)
    vehicle_types: list[pyvrp.VehicleType] = []
    vehicle_pools: list[list[Vehicle]] = []
    for pool_key, pool in pools.items():
        v = pool[0]
        break_s = sum(b.duration_s for b in v.breaks)
        shift_len = v.shift.end - v.shift.start
        nominal = min(shift_len, v.max_duration_s or shift_len) - break_s
        overtime = v.max_overtime_s
        cap = limits.max_duration_s if limits is not None else None
        if cap is not None and cap - break_s < nominal + overtime:
            nominal, overtime = min(nominal, cap - break_s), max(0, cap - break_s - nominal)
        distance_cost = cost_per_metre(v.cost_per_km)
        duration_cost = cost_per_second(v.cost_per_hour)
        if distance_cost == 0 and duration_cost == 0:
            distance_cost = 1  # a vehicle without costs still prefers short routes
        vehicle_types.append(
            pyvrp.VehicleType(
                num_available=len(pool),
                capacity=[demand_to_int(c) for c in v.capacity]
                + [demand_to_int(cast(RouteLimits, limits).max_stops or 0) for _ in counted],
                start_depot=depot_index[v.start],
                end_depot=depot_index[v.end] if v.end is not None else len(depots) - 1,
                fixed_cost=money_to_int(v.fixed_cost),
                tw_early=v.shift.start,
                tw_late=v.shift.end + v.max_overtime_s - break_s,
                shift_duration=max(0, nominal),
                unit_distance_cost=distance_cost,
                unit_duration_cost=duration_cost,
                profile=int(cast(int, pool_key[-1])),
                max_overtime=overtime,
                unit_overtime_cost=cost_per_second(v.overtime_cost_per_hour),
                name=",".join(x.id for x in pool),
            )
        )
        vehicle_pools.append(pool)

    data = pyvrp.ProblemData(
        locations=pyvrp_locations,
        clients=clients,
        depots=depots,
        vehicle_types=vehicle_types,
        distance_matrices=cast(Any, distance_matrices),
        duration_matrices=cast(Any, duration_matrices),
        groups=groups,
        shipments=shipments,
    )
    return _Translation(data, client_orders, shipment_orders, vehicle_pools)


def _repair(
    problem: Problem, vehicle: Vehicle, sequence: list[Order], start_time: int
) -> list[Order]:
    """Drop orders from an infeasible route until it is feasible; return the dropped ones.

    PyVRP returns an infeasible best solution only when it never found a feasible one in
    the time given. A plan with a late or overloaded route is worse than one that says
    "this order did not fit": remove, one at a time, the order (or pickup-delivery pair)
    whose removal leaves the least violation, then the cheapest route.
    """
    dropped: list[Order] = []
    while sequence:
        if simulate(problem, vehicle, sequence, start_time).feasible:
            break
        units: list[list[Order]] = []
        for order in sequence:
            if order.deliver_to is not None:
                units.append([o for o in sequence if o.id in (order.id, order.deliver_to)])
            elif not any(o.deliver_to == order.id for o in sequence):
                units.append([order])

        def badness(unit: list[Order], current: list[Order] = sequence) -> tuple[float, float]:
            rest = [o for o in current if o not in unit]
            t = simulate(problem, vehicle, rest, start_time)
            violation = t.late_s + t.overtime_excess_s + t.load_excess * 3600
            return violation, route_cost(vehicle, t.distance_m, t.start_time, t.end_time)

        worst = min(units, key=badness)
        sequence = [o for o in sequence if o not in worst]
        dropped.extend(worst)
    return dropped


def _decode(
    problem: Problem, tr: _Translation, solution: pyvrp.Solution, *, repair: bool
) -> list[Route]:
    pools = [list(pool) for pool in tr.vehicle_pools]
    routes: list[Route] = []
    for pyvrp_route in solution.routes():
        vehicle = pools[pyvrp_route.vehicle_type()].pop(0)
        sequence: list[Order] = []
        for activity in pyvrp_route.schedule():
            if activity.is_client():
                sequence.append(tr.client_orders[activity.idx])
            elif activity.is_pickup():
                sequence.append(tr.shipment_orders[activity.idx][0])
            elif activity.is_delivery():
                sequence.append(tr.shipment_orders[activity.idx][1])
        start = int(pyvrp_route.start_time())
        if repair:
            dropped = _repair(problem, vehicle, sequence, start)
            sequence = [o for o in sequence if o not in dropped]
            if not sequence:
                continue
        timing = simulate(problem, vehicle, sequence, start)
        routes.append(
            Route(
                vehicle_id=vehicle.id,
                stops=timing.stops,
                start_time=timing.start_time,
                end_time=timing.end_time,
                distance_m=timing.distance_m,
                cost=route_cost(vehicle, timing.distance_m, timing.start_time, timing.end_time),
                start_load=timing.start_load,
            )
        )
    order = {v.id: i for i, v in enumerate(problem.vehicles)}
    routes.sort(key=lambda r: order[r.vehicle_id])
    return routes


def solve(
    problem: Problem,
    *,
    time_limit: float = 10.0,
    seed: int = 0,
    on_progress: ProgressCallback | None = None,
    max_iterations: int | None = None,
    workers: int = 1,
    strict: bool = False,
    limits: RouteLimits | None = None,
) -> Plan:
    """Plan the day: routes for the fleet and the reason for every order left out.

    Parameters
    ----------
    problem
        Orders, fleet and travel matrices (see ``build_problem``).
    time_limit
        Wall-clock seconds from the call to the end of the search: screening the orders and
        building the solver's problem come out of it (at least 10 % is left for the
        search), so a benchmark at "60 s" compares like with like. Decoding and explaining
        the result come after it (a fraction of a second on 1,000 orders).
    seed
        Random seed; with ``max_iterations`` the plan is fully reproducible.
    on_progress
        Called about every 0.1 s with a :class:`SolveProgress`.
    max_iterations
        Optional iteration budget (stops at whichever of it and ``time_limit`` comes first).
    workers
        Searches run in parallel processes (seeds ``seed``, ``seed + 1``, ...) and exchange
        their best solution periodically (:mod:`.parallel`); the best plan wins. Use the
        machine's idle cores.
    strict
        Treat must-deliver orders as hard constraints (benchmark convention). The plan may
        then be infeasible when the fleet is too small; ``check`` reports it.
    limits
        Caps on every route (stops, duration), as balancing sets them.
    """
    validate_problem(problem.orders, problem.vehicles, problem.dimensions)
    started = time.perf_counter()
    servable, unassigned = screen_orders(problem)
    if not servable:
        return Plan(routes=(), unassigned=tuple(unassigned), stats=SolveStats(0.0, 0, seed, 0))
    tr = _translate(problem, servable, strict, limits)

    runs = run_searches(
        tr.data,
        seed=seed,
        time_limit=max(0.1 * time_limit, time_limit - (time.perf_counter() - started)),
        max_iterations=max_iterations,
        workers=workers,
        on_progress=on_progress,
    )
    best = min(runs, key=lambda run: solution_key(run.best))
    routes = _decode(problem, tr, best.best, repair=not strict)
    routed = {oid for r in routes for oid in r.order_ids}
    dropped = [o for o in servable if o.id not in routed]
    unassigned.extend(explain_dropped(problem, routes, dropped))
    stats = SolveStats(
        runtime_s=round(time.perf_counter() - started, 3),
        iterations=sum(run.iterations for run in runs),
        seed=seed,
        objective=solution_key(best.best)[1],
    )
    by_position = {o.id: i for i, o in enumerate(problem.orders)}
    unassigned.sort(key=lambda u: by_position[u.order_id])
    return Plan(routes=tuple(routes), unassigned=tuple(unassigned), stats=stats)


__all__ = ["ProgressCallback", "RouteLimits", "SolveProgress", "solve"]
