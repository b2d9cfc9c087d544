"""Which day serves each order of a week: a cheap territory split before any routing.

Why territories: an order that may come on Monday or Wednesday costs least on the day whose
vans already drive past it. If every day covered the whole area, each day's routes would be as
spread out as the whole week; if each day covers a part of it, the routes are short and the
vans are the same. So the flexible orders are grouped around one centre per day (k-medoids on
the real travel times, not straight lines: a village up a mountain road is far from the town
below it), subject to

* each order's range (a one-day order is fixed; a pickup and its delivery go together, on a
  day both ranges allow),
* the balance: no day above ``stop_cap_for(orders, days, balance)`` stops while another day
  of the order's range still has room,
* each day's fleet: its orders' demand stays within the day's total capacity.

Orders are placed in decreasing *regret* (how much worse their second-best day is), the usual
trick that lets the orders with one good option choose first. A few rounds of "move the
centres to their medoids, assign again" follow. Everything here is O(orders x days) per
round plus a medoid search on a sample: milliseconds for 1,000 orders, leaving the time budget
to the solver.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from lastmile.core.model import Order, Problem

MEDOID_SAMPLE = 300
"""Members considered when moving a day's centre (sum of travel times to a sample of the day)."""


@dataclass(frozen=True)
class Unit:
    """Orders that must share a day (a pickup and its delivery, or one order) and the plan
    days (indices) where they may go."""

    orders: tuple[Order, ...]
    days: tuple[int, ...]

    def demand(self, dims: int) -> npt.NDArray[np.float64]:
        total = np.zeros(dims)
        for order in self.orders:
            if order.deliver_to is None:  # a pair carries its goods once
                total += np.asarray(order.demand or [0.0] * dims, dtype=float)
        return total


def assign_days(
    units: Sequence[Unit],
    *,
    days: int,
    problem: Problem,
    profile: str,
    capacities: Sequence[npt.NDArray[np.float64]],
    stop_cap: int,
    seed: int = 0,
    rounds: int = 5,
) -> list[int]:
    """The day (index) of each unit. ``problem`` gives the travel times (its ``profile``
    matrix) and the locations; ``capacities`` is each day's total fleet capacity."""
    if not units:
        return []
    durations = problem.matrices[profile].durations_s
    loc = np.array([problem.index_of(u.orders[0].location) for u in units], dtype=np.int64)
    dims = len(problem.dimensions)
    demand = np.array([u.demand(dims) for u in units]).reshape(len(units), dims)
    allowed = np.zeros((len(units), days), dtype=bool)
    for i, unit in enumerate(units):
        allowed[i, list(unit.days)] = True

    rng = random.Random(seed)
    centres = _initial_centres(durations, loc, allowed, days, rng)
    choice: list[int] = []
    for _ in range(max(1, rounds)):
        new = _assign(loc, durations, centres, allowed, demand, capacities, stop_cap)
        if new == choice:
            break
        choice = new
        centres = _medoids(durations, loc, choice, centres, days, rng)
    return choice


def _round_trip(durations: npt.NDArray[np.int64], centre: int, loc: npt.NDArray[np.int64]) -> Any:
    return durations[centre, loc].astype(np.float64) + durations[loc, centre]


def _initial_centres(
    durations: npt.NDArray[np.int64],
    loc: npt.NDArray[np.int64],
    allowed: npt.NDArray[np.bool_],
    days: int,
    rng: random.Random,
) -> list[int]:
    """One centre per day, far apart (farthest-first from a seeded start). A day with orders
    that can only come that day starts at the medoid of those."""
    fixed = allowed.sum(axis=1) == 1
    centres: list[int | None] = [None] * days
    for d in range(days):
        members = loc[fixed & allowed[:, d]]
        if len(members):
            centres[d] = _medoid_of(durations, members, rng)
    pool = np.unique(loc)
    if not any(c is not None for c in centres):
        centres[0] = int(pool[rng.randrange(len(pool))])
    for d in range(days):
        if centres[d] is not None:
            continue
        chosen = [c for c in centres if c is not None]
        nearest = np.min([_round_trip(durations, c, pool) for c in chosen], axis=0)
        centres[d] = int(pool[int(np.argmax(nearest))])
    return [int(c) for c in centres if c is not None]


def _assign(
    loc: npt.NDArray[np.int64],
    durations: npt.NDArray[np.int64],
    centres: Sequence[int],
    allowed: npt.NDArray[np.bool_],
    demand: npt.NDArray[np.float64],
    capacities: Sequence[npt.NDArray[np.float64]],
    stop_cap: int,
) -> list[int]:
    days = len(centres)
    cost = np.stack([_round_trip(durations, c, loc) for c in centres], axis=1)
    cost = np.where(allowed, cost, np.inf)
    ordered = np.sort(cost, axis=1)
    regret = np.where(
        np.isfinite(ordered[:, 1]) if days > 1 else False, ordered[:, 1] - ordered[:, 0], np.inf
    )
    count = [0] * days
    load = [np.zeros(demand.shape[1]) for _ in range(days)]
    out = [0] * len(loc)
    # Units with one day first (regret inf), then the most regretful.
    for i in np.argsort(-regret, kind="stable"):
        options = [int(d) for d in np.argsort(cost[i], kind="stable") if allowed[i, d]]
        fits = [
            d
            for d in options
            if count[d] < stop_cap and bool(np.all(load[d] + demand[i] <= capacities[d] + 1e-9))
        ]
        day = fits[0] if fits else min(options, key=lambda d: count[d])
        out[int(i)] = day
        count[day] += 1
        load[day] += demand[i]
    return out


def _medoid_of(
    durations: npt.NDArray[np.int64], members: npt.NDArray[np.int64], rng: random.Random
) -> int:
    """The member with the smallest total round trip to (a sample of) the others."""
    sample = members
    if len(members) > MEDOID_SAMPLE:
        sample = members[rng.sample(range(len(members)), MEDOID_SAMPLE)]
    sub = durations[np.ix_(sample, sample)].astype(np.float64)
    total = sub.sum(axis=0) + sub.sum(axis=1)
    return int(sample[int(np.argmin(total))])


def _medoids(
    durations: npt.NDArray[np.int64],
    loc: npt.NDArray[np.int64],
    choice: Sequence[int],
    centres: Sequence[int],
    days: int,
    rng: random.Random,
) -> list[int]:
    picks = np.asarray(choice)
    out = []
    for d in range(days):
        members = loc[picks == d]
        out.append(_medoid_of(durations, members, rng) if len(members) else centres[d])
    return out


def units_of(orders: Sequence[Order], days_of: Mapping[str, tuple[int, ...]]) -> list[Unit]:
    """Group a pickup with its delivery (their common days) and leave every other order alone."""
    by_id = {o.id: o for o in orders}
    delivered = {o.deliver_to for o in orders if o.deliver_to in by_id}
    units = []
    for order in orders:
        if order.id in delivered:
            continue
        if order.deliver_to is not None and order.deliver_to in by_id:
            common = tuple(d for d in days_of[order.id] if d in days_of[order.deliver_to])
            units.append(Unit((order, by_id[order.deliver_to]), common))
        else:
            units.append(Unit((order,), days_of[order.id]))
    return units


__all__ = ["Unit", "assign_days", "units_of"]
