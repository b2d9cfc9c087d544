"""Bookable delivery windows: which slots of a day can still be honoured, at what cost.

A slot is offered only when the order, with the slot as its window, has a feasible insertion
(:func:`lastmile.core.live.insert.best_insertion`, exactly re-simulated) into the given routes,
and the slot starts at least ``cutoff_s`` after ``now``. Its price signal is the insertion's
marginal cost (currency: distance, time and overtime of the vehicle that would take it; the
fixed cost of a vehicle not yet used on the day), so a shop can charge more for the expensive
ones. With no plan for the day yet, the caller passes one empty route per vehicle of the
fleet (starting at its shift start) and :func:`fleet_has_room` for the day's open orders.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from lastmile.core.live.insert import best_insertion
from lastmile.core.model import Order, Problem, Route, TimeWindow, Vehicle

DEFAULT_SLOT_S = 2 * 3600
DEFAULT_CUTOFF_S = 3600


@dataclass(frozen=True)
class SlotOffer:
    window: TimeWindow
    available: bool
    added_cost: float | None
    """Marginal cost of the cheapest feasible insertion (``None`` when not available)."""
    vehicle_id: str | None
    reason: str
    """Why it is not available ("" when it is)."""


def day_slots(vehicles: Sequence[Vehicle], length_s: int = DEFAULT_SLOT_S) -> list[TimeWindow]:
    """Back-to-back slots of ``length_s`` covering the fleet's shifts (first start, last end),
    aligned to whole hours."""
    if not vehicles or length_s <= 0:
        return []
    first = min(v.shift.start for v in vehicles) // 3600 * 3600
    last = max(v.shift.end for v in vehicles)
    out = []
    t = first
    while t + length_s <= last:
        out.append(TimeWindow(t, t + length_s))
        t += length_s
    return out


def empty_route(vehicle: Vehicle, dimensions: int) -> Route:
    """A vehicle with nothing to do yet, leaving at its shift start."""
    return Route(
        vehicle_id=vehicle.id,
        stops=(),
        start_time=vehicle.shift.start,
        end_time=vehicle.shift.start,
        distance_m=0,
        cost=0.0,
        start_load=(0.0,) * dimensions,
    )


def fleet_has_room(
    vehicles: Sequence[Vehicle], open_demand: Sequence[float], demand: Sequence[float]
) -> bool:
    """Whether the fleet's total capacity covers the day's open orders plus ``demand``."""
    for k, (used, extra) in enumerate(zip(open_demand, demand, strict=True)):
        if used + extra > sum(v.capacity[k] for v in vehicles) + 1e-9:
            return False
    return True


def offers(
    problem: Problem,
    routes: Sequence[Route],
    order: Order,
    slots: Sequence[TimeWindow],
    *,
    now: int | None,
    cutoff_s: int = DEFAULT_CUTOFF_S,
) -> list[SlotOffer]:
    """For each slot: can ``order`` (its windows replaced by the slot) still be delivered in it?

    ``now`` is seconds since midnight of the day (``None`` for a day in the future: no
    cut-off applies). ``order.location`` must be one of ``problem.locations``.
    """
    out: list[SlotOffer] = []
    for slot in slots:
        if now is not None and slot.start < now + cutoff_s:
            out.append(SlotOffer(slot, False, None, None, "past the booking cut-off"))
            continue
        result = best_insertion(problem, routes, replace(order, windows=(slot,)))
        if result.insertion is None:
            reason = result.unassigned.message if result.unassigned else "does not fit"
            out.append(SlotOffer(slot, False, None, None, reason))
        else:
            ins = result.insertion
            out.append(SlotOffer(slot, True, ins.added_cost, ins.vehicle_id, ""))
    return out
