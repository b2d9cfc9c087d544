"""Independent verifier for benchmark-instance solutions.

Why a second checker: a benchmark gap is only credible if the cost and feasibility of a route
set are recomputed from the *instance file's own data* (coordinates, demands, windows),
without trusting the solver's objective or the travel matrix handed to it. This module
recomputes every distance pair by pair from the raw coordinates
(:class:`~lastmile.core.formats.instances.Node`), replays the schedule (service starts at
``max(arrival, ready)``, must start by ``due``, vehicle back at the depot by the depot's due
date), checks capacity, that every customer is served exactly once, and the fleet size.

All numbers are in the convention's integer units (x10 for DIMACS); :attr:`Verdict.cost`
gives the objective in the file's original units.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from lastmile.core.formats.instances import Convention, Instance, Node, _pair_distance

__all__ = ["Verdict", "format_cost", "verify_routes"]


@dataclass(frozen=True)
class Verdict:
    """Outcome of :func:`verify_routes`."""

    cost_int: int
    """Total distance in the convention's integer units."""
    scale: int
    routes: int
    """Number of non-empty routes."""
    violations: tuple[str, ...] = field(default=())

    @property
    def feasible(self) -> bool:
        return not self.violations

    @property
    def cost(self) -> float:
        """Objective in the file's units (DIMACS: one decimal; CVRP: integer)."""
        return round(self.cost_int / self.scale, 1) if self.scale != 1 else float(self.cost_int)


def format_cost(cost_int: int, scale: int) -> float | int:
    """The objective as published: ``int`` for CVRP, one-decimal ``float`` for DIMACS."""
    if scale == 1:
        return cost_int
    return round(cost_int / scale, 1)


def verify_routes(instance: Instance, routes: Sequence[Sequence[int]]) -> Verdict:
    """Recompute cost and check feasibility of ``routes`` (customer numbers of the file).

    Empty routes are ignored (they cost nothing and use no vehicle).
    """
    convention = instance.meta.convention
    depot = instance.depot
    violations: list[str] = []
    seen: dict[int, int] = {}
    total = 0
    used = 0
    for r, route in enumerate(routes, start=1):
        if not route:
            continue
        used += 1
        nodes: list[Node] = []
        for cid in route:
            try:
                nodes.append(instance.customer(int(cid)))
            except KeyError:
                violations.append(f"route {r}: unknown customer {cid}")
                continue
            if int(cid) in seen:
                violations.append(f"customer {cid} visited twice (routes {seen[int(cid)]} and {r})")
            seen[int(cid)] = r
        load = sum(n.demand for n in nodes)
        if load > instance.meta.capacity:
            violations.append(f"route {r}: load {load} exceeds capacity {instance.meta.capacity}")
        time = depot.ready * instance.meta.scale if instance.meta.has_time_windows else 0
        previous = depot
        for node in nodes:
            leg = _pair_distance(convention, previous, node)
            total += leg
            if instance.meta.has_time_windows:
                scale = instance.meta.scale
                arrival = time + leg
                start = max(arrival, node.ready * scale)
                if start > node.due * scale:
                    violations.append(
                        f"route {r}: customer {node.id} served at {start / scale:g} after its due "
                        f"date {node.due}"
                    )
                time = start + node.service * scale
            previous = node
        leg = _pair_distance(convention, previous, depot)
        total += leg
        if instance.meta.has_time_windows:
            back = time + leg
            if back > depot.due * instance.meta.scale:
                violations.append(
                    f"route {r}: back at the depot at {back / instance.meta.scale:g}, after its "
                    f"due date {depot.due}"
                )
    missing = [c.id for c in instance.customers if c.id not in seen]
    if missing:
        shown = ", ".join(str(m) for m in missing[:10])
        more = f" and {len(missing) - 10} more" if len(missing) > 10 else ""
        violations.append(f"{len(missing)} customers not served: {shown}{more}")
    if instance.meta.fleet_size is not None and used > instance.meta.fleet_size:
        violations.append(f"{used} routes but the fleet has {instance.meta.fleet_size} vehicles")
    return Verdict(
        cost_int=total, scale=instance.meta.scale, routes=used, violations=tuple(violations)
    )


def is_dimacs(instance: Instance) -> bool:
    """Whether the instance is scored under the DIMACS (x10 truncated) rule."""
    return instance.meta.convention is Convention.DIMACS
