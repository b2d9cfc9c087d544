"""Same-day insertion and bookable slots, verified with the independent checker."""

from __future__ import annotations

import random
from dataclasses import replace

import pytest

from helpers.lineworld import H, at, order, problem, van
from lastmile.core.live.insert import best_insertion, candidates
from lastmile.core.live.slots import day_slots, offers
from lastmile.core.model import Break, Order, Plan, Problem, Route, TimeWindow, UnassignedReason
from lastmile.core.planning import check, insertions, route_cost, simulate


def routed(p: Problem, sequences: dict[str, list[str]]) -> list[Route]:
    out = []
    for vid, ids in sequences.items():
        vehicle = p.vehicle(vid)
        timing = simulate(p, vehicle, [p.order(i) for i in ids])
        out.append(
            Route(
                vid,
                timing.stops,
                timing.start_time,
                timing.end_time,
                timing.distance_m,
                route_cost(vehicle, timing.distance_m, timing.start_time, timing.end_time),
                timing.start_load,
            )
        )
    return out


def plan_with(p: Problem, routes: list[Route], vid: str, new: Order, position: int) -> Plan:
    """The plan after putting ``new`` at ``position`` of ``vid``'s route (other routes kept)."""
    out = []
    for r in routes:
        ids = r.order_ids
        if r.vehicle_id == vid:
            ids = [*ids[:position], new.id, *ids[position:]]
        out.extend(routed(p, {r.vehicle_id: ids}))
    return Plan(tuple(out), ())


def random_day(seed: int) -> tuple[Problem, list[Route], Order]:
    rng = random.Random(seed)
    orders = []
    for k in range(14):
        start = rng.choice([8, 9, 10, 11]) * H
        orders.append(
            order(
                f"o{k}",
                rng.randint(1, 60),
                demand=rng.randint(1, 3),
                windows=(TimeWindow(start, start + rng.choice([1, 2, 3]) * H),),
            )
        )
    new = order(
        "new",
        rng.randint(1, 60),
        demand=rng.randint(1, 4),
        windows=(TimeWindow(rng.choice([8, 9, 10, 11, 12]) * H, 13 * H),),
    )
    vehicles = [
        van("V1", shift=TimeWindow(8 * H, 13 * H)),
        van("V2", shift=TimeWindow(8 * H, 14 * H)),
    ]
    p = problem([*orders, new], vehicles)
    by_window = sorted(orders, key=lambda o: (o.windows[0].start, o.location.lon))
    seqs = {"V1": [o.id for o in by_window[::2]], "V2": [o.id for o in by_window[1::2]]}
    routes = routed(p, seqs)
    # keep only stops that the simulation serves on time (a feasible starting plan)
    keep: dict[str, list[str]] = {}
    for r in routes:
        vehicle = p.vehicle(r.vehicle_id)
        ids: list[str] = []
        for oid in r.order_ids:
            if simulate(p, vehicle, [p.order(i) for i in [*ids, oid]]).feasible:
                ids.append(oid)
        keep[r.vehicle_id] = ids
    kept = {oid for ids in keep.values() for oid in ids}
    p = problem([o for o in p.orders if o.id in kept or o.id == "new"], vehicles)
    return p, routed(p, keep), p.order("new")


@pytest.mark.parametrize("seed", range(40))
def test_fast_candidates_agree_with_exhaustive_insertions(seed: int) -> None:
    p, routes, new = random_day(seed)
    fast = {(c.vehicle_id, c.position): c for c in candidates(p, routes, new)}
    slow = {(i.vehicle_id, i.positions[0]): i for i in insertions(p, routes, new)}
    assert fast.keys() == slow.keys()
    for key, exact in slow.items():
        estimate = fast[key]
        assert estimate.feasible == exact.feasible, (key, estimate, exact.timing)
        if exact.feasible:
            assert estimate.added_cost == pytest.approx(exact.added_cost, abs=0.011)
    result = best_insertion(p, routes, new)
    feasible = [i for i in slow.values() if i.feasible]
    if not feasible:
        assert result.insertion is None and result.unassigned is not None
        return
    assert result.insertion is not None
    assert result.insertion.added_cost == pytest.approx(
        min(i.added_cost for i in feasible), abs=0.011
    )
    ins = result.insertion
    after = plan_with(p, routes, ins.vehicle_id, new, ins.positions[0])
    others = [o for o in p.orders if o.id not in {x for r in after.routes for x in r.order_ids}]
    report = check(
        replace(after, unassigned=()),
        replace(p, orders=tuple(o for o in p.orders if o not in others)),
    )
    assert report.ok, str(report)


def test_locked_prefix_keeps_served_stops_in_place() -> None:
    orders = [order("a", 5), order("b", 10), order("c", 20)]
    new = order("n", 1)
    p = problem([*orders, new], [van()])
    routes = routed(p, {"V1": ["a", "b", "c"]})
    free = best_insertion(p, routes, new)
    assert free.insertion is not None and free.insertion.positions == (0,)
    locked = best_insertion(p, routes, new, locked_prefix={"V1": 2})
    assert locked.insertion is not None and locked.insertion.positions[0] >= 2
    seq = [s.order_id for s in locked.insertion.timing.stops]
    assert seq[:2] == ["a", "b"]


def test_does_not_fit_says_how_late() -> None:
    # Live: at 8:50 the van is at km 60; the new order at km 1 closes at 9:00 (59 min away).
    far = order("far", 61)
    new = order("n", 1, windows=(TimeWindow(8 * H, 9 * H),))
    p = problem([far, new], [van(start=at(60), shift=TimeWindow(8 * H + 50 * 60, 18 * H))])
    routes = routed(p, {"V1": ["far"]})
    result = best_insertion(p, routes, new)
    assert result.insertion is None
    why = result.unassigned
    assert why is not None and why.reason is UnassignedReason.FLEET_FULL
    assert why.late_s_to_fit == 49 * 60
    assert "late" in why.message and "V1" in why.message


def test_does_not_fit_capacity_short() -> None:
    orders = [order("a", 5, demand=9)]
    new = order("n", 6, demand=3)
    p = problem([*orders, new], [van()])
    result = best_insertion(p, routed(p, {"V1": ["a"]}), new)
    assert result.insertion is None and result.unassigned is not None
    assert result.unassigned.reason is UnassignedReason.DEMAND_EXCEEDS_CAPACITY
    assert "2 short" in result.unassigned.message


def test_does_not_fit_overtime() -> None:
    orders = [order("a", 30)]
    new = order("n", 200)
    p = problem([*orders, new], [van(shift=TimeWindow(8 * H, 9 * H + 30 * 60))])
    result = best_insertion(p, routed(p, {"V1": ["a"]}), new)
    assert result.insertion is None and result.unassigned is not None
    assert result.unassigned.overtime_s_to_fit and "overtime" in result.unassigned.message


def test_breaks_are_kept_when_inserting() -> None:
    vehicle = van(breaks=(Break(TimeWindow(10 * H, 11 * H), 1800),))
    orders = [
        order(f"o{k}", k * 3, windows=(TimeWindow((8 + k // 2) * H, 14 * H),)) for k in range(1, 8)
    ]
    new = order("n", 4)
    p = problem([*orders, new], [vehicle])
    routes = routed(p, {"V1": [o.id for o in orders]})
    result = best_insertion(p, routes, new)
    assert result.insertion is not None
    ins = result.insertion
    report = check(plan_with(p, routes, "V1", new, ins.positions[0]), p)
    assert report.ok, str(report)


def test_booked_slot_stays_feasible_and_full_day_offers_nothing() -> None:
    orders = [order(f"o{k}", k * 4, windows=(TimeWindow(8 * H, 12 * H),)) for k in range(1, 6)]
    customer = order("cust", 7, demand=1)
    vehicle = van(shift=TimeWindow(8 * H, 16 * H))
    p = problem([*orders, customer], [vehicle])
    routes = routed(p, {"V1": [o.id for o in orders]})
    slots = day_slots(p.vehicles)
    assert slots[0] == TimeWindow(8 * H, 10 * H) and slots[-1] == TimeWindow(14 * H, 16 * H)
    offered = offers(p, routes, customer, slots, now=9 * H, cutoff_s=3600)
    assert not offered[0].available and "cut-off" in offered[0].reason
    available = [o for o in offered if o.available]
    assert available and all(o.added_cost is not None and o.added_cost > 0 for o in available)
    for offer in available:
        booked = replace(customer, windows=(offer.window,))
        q = replace(p, orders=tuple(o if o.id != "cust" else booked for o in p.orders))
        result = best_insertion(q, routes, booked)
        assert result.insertion is not None
        report = check(plan_with(q, routes, "V1", booked, result.insertion.positions[0]), q)
        assert report.ok, str(report)
    # A full van (capacity 10, five parcels out, the customer wants six) offers nothing.
    big = replace(customer, demand=(6.0,))
    full = offers(p, routes, big, slots, now=None)
    assert not any(o.available for o in full)
    assert all(o.reason for o in full)
