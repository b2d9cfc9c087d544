"""Same-day insertion: put one new order into running routes at the cheapest feasible place.

:func:`lastmile.core.planning.explain.insertions` re-simulates the whole route for every
position (O(n²) per route): fine for explaining a handful of dropped orders, too slow to
answer a shop in 100 ms on 50 routes x 20 stops. :func:`candidates` evaluates every position
in O(1) after one O(n) pass per route, with the classic *forward time slack* (Savelsbergh
1992): for each stop, how much its service start can be pushed back before it, or any stop
after it, leaves its window, or the route ends past the shift (waiting absorbs delay).

Approximations, all on the safe side or caught afterwards:

* a stop with several windows keeps the one it is served in now (never jumps to a later one);
* breaks stay where they are in the sequence (the new stop goes right after the previous
  order, before any break taken there), with their window as the limit;
* capacity: a delivery's goods are on board from the route's (live) start, a pickup's from its
  stop on; both checked against every load on the way;
* a route that is already behind (a stop predicted late) accepts an insertion that delays
  none of its late stops and is itself on time (:func:`_no_worse`), so one late stop does not
  close a whole van to same-day orders.

:func:`best_insertion` then re-simulates the few cheapest candidates exactly
(:func:`~lastmile.core.planning.timing.simulate`, which also places breaks) and returns the
first that is feasible, or says why nothing fits (minutes late, overtime, capacity short), as
:mod:`lastmile.core.planning.explain` does. A paired pickup+delivery uses the exhaustive
:func:`~lastmile.core.planning.explain.insertions`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from lastmile.core.model import (
    Location,
    Order,
    OrderKind,
    Problem,
    Route,
    StopKind,
    Unassigned,
    UnassignedReason,
    Vehicle,
)
from lastmile.core.planning.explain import Insertion, insertions
from lastmile.core.planning.timing import route_cost, simulate
from lastmile.core.units import format_minutes

VERIFY = 5
"""How many of the cheapest estimated candidates are re-simulated exactly."""
_BIG = 10**9


@dataclass(frozen=True)
class Candidate:
    """One position in one route, as estimated by :func:`candidates`."""

    vehicle_id: str
    position: int
    """Index in the route's order sequence where the new order goes."""
    added_cost: float
    added_distance_m: int
    end_shift_s: int
    """How much later the route ends."""
    late_s: int
    """Estimated lateness (new stop or pushed stops) or overtime beyond what is allowed."""
    load_excess: float

    @property
    def feasible(self) -> bool:
        return self.late_s == 0 and self.load_excess <= 1e-9


@dataclass(frozen=True)
class InsertResult:
    insertion: Insertion | None
    unassigned: Unassigned | None
    tried: int = 0
    """Candidates evaluated (positions over all routes)."""


def _limit_end(vehicle: Vehicle, route: Route) -> int:
    limit = vehicle.shift.end + vehicle.max_overtime_s
    if vehicle.max_duration_s is not None:
        limit = min(limit, route.start_time + vehicle.max_duration_s + vehicle.max_overtime_s)
    return limit


def _usable_start(order: Order, arrival: int) -> tuple[int, int, int]:
    """(service start, window end, lateness) for ``order`` reached at ``arrival``."""
    windows = order.effective_windows
    for window in windows:
        if window.end >= arrival:
            return max(arrival, window.start), window.end, 0
    return arrival, windows[-1].end, arrival - windows[-1].end


def _route_candidates(
    problem: Problem,
    vehicle: Vehicle,
    route: Route,
    order: Order,
    by_id: dict[str, Order],
    frozen: int,
) -> list[Candidate]:
    stops = route.stops
    n = len(stops)
    dims = len(problem.dimensions)
    start_load = route.start_load or (0.0,) * dims
    # Per element: effective location, ready time, window end, wait.
    locs: list[Location] = []
    ready: list[int] = []
    limit: list[int] = []
    order_elements: list[int] = []
    here = vehicle.start
    previous_departure = route.start_time
    for e, stop in enumerate(stops):
        if stop.kind is StopKind.BREAK or stop.order_id is None:
            ready.append(previous_departure)
            ends = [b.window.end for b in vehicle.breaks if b.window.contains(stop.start)]
            limit.append(max(ends) if ends else stop.start)
        else:
            o = by_id[stop.order_id]
            here = o.location
            ready.append(stop.arrival)
            _, end, late = _usable_start(o, stop.arrival)
            limit.append(stop.start if late else end)
            order_elements.append(e)
        locs.append(here)
        previous_departure = stop.departure
    limit_end = _limit_end(vehicle, route)
    # Forward time slack (backwards) and the waiting after each element.
    fts = [0] * (n + 1)
    waits_after = [0] * (n + 1)
    fts[n] = limit_end - route.end_time
    for e in range(n - 1, -1, -1):
        wait_next = stops[e + 1].start - ready[e + 1] if e + 1 < n else 0
        fts[e] = min(limit[e] - stops[e].start, wait_next + fts[e + 1])
        waits_after[e] = waits_after[e + 1] + wait_next
    # Loads: prefix max (deliveries) and suffix max (pickups) over "load when leaving".
    loads = [start_load, *(s.load or start_load for s in stops)]
    prefix: list[tuple[float, ...]] = []
    best = loads[0]
    for load in loads:
        best = tuple(max(a, b) for a, b in zip(best, load, strict=True))
        prefix.append(best)
    suffix: list[tuple[float, ...]] = [loads[-1]] * len(loads)
    best = loads[-1]
    for i in range(len(loads) - 1, -1, -1):
        best = tuple(max(a, b) for a, b in zip(best, loads[i], strict=True))
        suffix[i] = best
    demand = order.demand or (0.0,) * dims
    capacity = vehicle.capacity or (0.0,) * dims
    delivery = order.kind is OrderKind.DELIVERY

    new = order.location
    t_new_end, d_new_end = problem.travel(vehicle, new, vehicle.end) if vehicle.end else (0, 0)
    out: list[Candidate] = []
    m = len(order_elements)
    for p in range(frozen, m + 1):
        q = order_elements[p - 1] + 1 if p > 0 else 0
        r = order_elements[p] if p < m else n
        prev_loc = locs[q - 1] if q > 0 else vehicle.start
        departure = stops[q - 1].departure if q > 0 else route.start_time
        t_in, d_in = problem.travel(vehicle, prev_loc, new)
        start, _, late = _usable_start(order, departure + t_in)
        delay_departure = start + order.service_s  # new departure before the breaks
        # Breaks between the new stop and the next order keep their sequence.
        shift = delay_departure - departure  # delay of the ready time of element q
        over = 0
        for e in range(q, r):
            s = max(0, shift - (stops[e].start - ready[e]))
            over = max(over, s - (limit[e] - stops[e].start))
            shift = s
        if r < n:
            nxt = locs[r]
            t_out, d_out = problem.travel(vehicle, new, nxt)
            d_old = problem.travel(vehicle, prev_loc, nxt)[1]
            arrival = (stops[r - 1].departure + shift if r > q else delay_departure) + t_out
            s = max(0, arrival - stops[r].start)
            over = max(over, s - fts[r])
            end_shift = max(0, s - waits_after[r])
        else:
            t_out, d_out = t_new_end, d_new_end
            d_old = problem.travel(vehicle, prev_loc, vehicle.end)[1] if vehicle.end else 0
            last = stops[n - 1].departure + shift if n > q else delay_departure
            end_shift = last + t_out - route.end_time
            over = max(over, end_shift - fts[n])
        added_m = d_in + d_out - d_old
        worst = prefix[q] if delivery else suffix[q]
        excess = max(
            (w + d - c for w, d, c in zip(worst, demand, capacity, strict=True)), default=0.0
        )
        cost = route_cost(
            vehicle, route.distance_m + added_m, route.start_time, route.end_time + end_shift
        )
        out.append(
            Candidate(
                vehicle.id,
                p,
                round(cost - route.cost, 2),
                added_m,
                end_shift,
                late + max(0, over),
                max(0.0, excess),
            )
        )
    return out


def candidates(
    problem: Problem,
    routes: Sequence[Route],
    order: Order,
    *,
    locked_prefix: dict[str, int] | None = None,
) -> list[Candidate]:
    """Every position of every given route for ``order`` (a single stop), estimated.

    Only the given routes are tried (a live day inserts into running routes); a route with no
    stops is an empty route starting at its ``start_time``. ``locked_prefix`` maps a vehicle
    id to the number of leading orders that must stay in place (already served).
    """
    by_id = {o.id: o for o in problem.orders}
    out: list[Candidate] = []
    for route in routes:
        vehicle = problem.vehicle(route.vehicle_id)
        if not order.skills <= vehicle.skills:
            continue
        frozen = (locked_prefix or {}).get(vehicle.id, 0)
        out.extend(_route_candidates(problem, vehicle, route, order, by_id, frozen))
    return out


def best_insertion(
    problem: Problem,
    routes: Sequence[Route],
    order: Order,
    *,
    locked_prefix: dict[str, int] | None = None,
    verify: int = VERIFY,
) -> InsertResult:
    """The cheapest feasible insertion of ``order`` (exactly re-simulated), or why none fits."""
    by_vehicle = {r.vehicle_id: r for r in routes}
    by_id = {o.id: o for o in problem.orders}
    if order.deliver_to is not None:
        options = insertions(problem, routes, order, locked_prefix=locked_prefix)
        options = [o for o in options if o.vehicle_id in by_vehicle]
        feasible = sorted((o for o in options if o.feasible), key=lambda o: o.added_cost)
        if feasible:
            return InsertResult(feasible[0], None, len(options))
        return InsertResult(None, _explain_options(order, options), len(options))
    found = candidates(problem, routes, order, locked_prefix=locked_prefix)
    ranked = sorted((c for c in found if c.feasible), key=lambda c: (c.added_cost, c.vehicle_id))
    for candidate in ranked[:verify]:
        route = by_vehicle[candidate.vehicle_id]
        exact = _exact(problem, route, order, candidate.position, by_id)
        if exact.feasible or _no_worse(problem, route, order, exact, by_id):
            return InsertResult(exact, None, len(found))
    return InsertResult(None, _explain(problem, by_vehicle, order, found, by_id), len(found))


def _exact(
    problem: Problem, route: Route, order: Order, position: int, by_id: dict[str, Order]
) -> Insertion:
    vehicle = problem.vehicle(route.vehicle_id)
    base = [by_id[oid] for oid in route.order_ids]
    sequence = [*base[:position], order, *base[position:]]
    timing = simulate(problem, vehicle, sequence, route.start_time)
    cost = route_cost(vehicle, timing.distance_m, timing.start_time, timing.end_time)
    return Insertion(vehicle.id, (position,), timing, round(cost - route.cost, 2))


def _no_worse(
    problem: Problem, route: Route, order: Order, exact: Insertion, by_id: dict[str, Order]
) -> bool:
    """On a route that is already late (live: the driver is behind), an insertion is accepted
    when the new stop is on time and nothing gets later, longer or fuller than it already is."""
    vehicle = problem.vehicle(route.vehicle_id)
    base = simulate(problem, vehicle, [by_id[oid] for oid in route.order_ids], route.start_time)
    if base.feasible:
        return False
    new_stop = next(s for s in exact.timing.stops if s.order_id == order.id)
    on_time = any(w.contains(new_stop.start) for w in order.effective_windows)
    return (
        on_time
        and exact.timing.late_s <= base.late_s
        and exact.timing.overtime_excess_s <= base.overtime_excess_s
        and exact.timing.load_excess <= max(0.0, base.load_excess) + 1e-9
    )


def _explain(
    problem: Problem,
    by_vehicle: dict[str, Route],
    order: Order,
    found: Sequence[Candidate],
    by_id: dict[str, Order],
) -> Unassigned:
    if not found:
        return Unassigned(
            order.id,
            UnassignedReason.NO_VEHICLE_WITH_SKILL,
            f"no running route's vehicle has the skills {sorted(order.skills)}"
            if order.skills
            else "no running route to insert into",
        )
    fits_load = [c for c in found if c.load_excess <= 1e-9]
    if not fits_load:
        short = min(c.load_excess for c in found)
        return Unassigned(
            order.id,
            UnassignedReason.DEMAND_EXCEEDS_CAPACITY,
            f"every running route is too full: the emptiest is {short:g} short of capacity",
        )
    best = min(fits_load, key=lambda c: (c.late_s, c.added_cost))
    exact = _exact(problem, by_vehicle[best.vehicle_id], order, best.position, by_id)
    return _explain_options(order, [exact])


def _explain_options(order: Order, options: Sequence[Insertion]) -> Unassigned:
    message = "not enough time left on the running routes"
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
