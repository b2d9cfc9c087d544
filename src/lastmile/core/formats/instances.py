"""Readers for the research benchmark instances: Solomon / Gehring-Homberger VRPTW and VRPLIB CVRP.

Why this exists: we measure the planner against published best-known solutions (BKS), and a
gap only means something if the instance is read under *exactly* the convention the BKS was
computed with (see ``benchmarks/SOURCES.md`` in the shared data). Two conventions are
supported:

``dimacs_trunc1_distance`` (VRPTW, Solomon and G&H text files)
    Every Euclidean distance is truncated to one decimal. We work in x10 integers:
    ``d_ij = floor(10 * euclid(i, j))``. Travel time equals that distance; time windows and
    service times are multiplied by 10. The objective is total distance; the fleet size is
    the ``NUMBER`` given in the file; vehicles must be back at the depot by its due date.

``cvrplib_round_int`` (CVRP, VRPLIB ``EUC_2D`` files such as Uchoa et al.'s X set)
    Distances rounded to the nearest integer (TSPLIB ``nint``), no time windows, objective =
    total distance, scale factor 1. The fleet is not limited by the instance (the ``k`` in
    ``X-n101-k25`` is a lower bound, the BKS uses 26 routes); we offer
    ``2 * ceil(total demand / capacity) + 1`` identical vehicles, which always suffices.

Planar coordinates are not places on Earth, but :class:`~lastmile.core.model.Location` must
be a valid WGS84 point. Coordinates are therefore mapped to ``Location(lon=x/1000,
lat=y/1000)`` (divided further by powers of ten if an instance has coordinates beyond
±90 000). These locations are **only keys into the travel matrix** that this module builds;
they must never be used for haversine distances or drawn on a map. Customers that share
coordinates share one location (and one matrix row).

Numbering: order ids are the customer numbers of the file as strings. For Solomon files that
is ``CUST_NO`` (depot = 0). For VRPLIB files it is the node id minus one, which is the
numbering CVRPLIB ``.sol`` files use (depot node 1 becomes 0, customers are 1..n).

Everything here is pure: the functions take the file's text and return values; reading the
file is the caller's job.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

import numpy as np
import numpy.typing as npt

from lastmile.core.errors import FieldIssue, InputError
from lastmile.core.model import Location, Order, Problem, TimeWindow, TravelMatrix, Vehicle

__all__ = [
    "Convention",
    "Instance",
    "InstanceMeta",
    "Node",
    "SolutionFile",
    "cvrplib_round_int",
    "dimacs_trunc1",
    "parse_solution",
    "read_instance",
    "read_solomon",
    "read_vrplib",
]

SOLOMON_FIELDS = ("CUST_NO", "X", "Y", "DEMAND", "READY_TIME", "DUE_DATE", "SERVICE_TIME")
"""Column names of a Solomon / G&H node row, used in error messages."""

COST_PER_KM = 0.01
"""With :func:`lastmile.core.units.cost_per_metre` this is exactly 1 cost unit per distance
unit, so the solver's objective *is* the total (scaled) distance."""


class Convention(StrEnum):
    """Scoring convention of ``bks.csv``; a gap is only valid between equal conventions."""

    DIMACS = "dimacs_trunc1_distance"
    CVRPLIB = "cvrplib_round_int"


@dataclass(frozen=True)
class Node:
    """One row of the instance, in the file's own (unscaled) units.

    Kept next to the :class:`Problem` so that an independent verifier can recompute costs
    and feasibility from the file data instead of trusting the matrix we built.
    """

    id: int
    x: float
    y: float
    demand: int
    ready: int = 0
    due: int = 0
    service: int = 0


@dataclass(frozen=True)
class InstanceMeta:
    """What a benchmark needs to know about an instance besides the problem itself."""

    name: str
    convention: Convention
    scale: int
    """Objective in file units = integer objective / ``scale`` (10 for DIMACS, 1 for CVRP)."""
    n_customers: int
    fleet_size: int | None
    """Maximum number of routes, or ``None`` where the instance does not limit it."""
    capacity: int
    has_time_windows: bool


@dataclass(frozen=True)
class Instance:
    """A parsed instance: the planner's :class:`Problem`, metadata and the raw node table."""

    problem: Problem
    meta: InstanceMeta
    depot: Node
    customers: tuple[Node, ...]

    def customer(self, customer_id: int) -> Node:
        """The customer numbered ``customer_id`` in the file (``KeyError`` if there is none)."""
        index = customer_id - self.customers[0].id if self.customers else -1
        if 0 <= index < len(self.customers) and self.customers[index].id == customer_id:
            return self.customers[index]
        for node in self.customers:
            if node.id == customer_id:
                return node
        raise KeyError(customer_id)


@dataclass(frozen=True)
class SolutionFile:
    """A CVRPLIB-style solution: ``Route #k: ids...`` lines and a ``Cost`` line."""

    routes: tuple[tuple[int, ...], ...]
    cost: float | None


# --------------------------------------------------------------------------------------------
# Distance conventions. Pure integer arithmetic where it matters, so that results are exact.


def _squared_distances(
    xs: npt.NDArray[np.float64], ys: npt.NDArray[np.float64]
) -> npt.NDArray[np.float64]:
    dx = xs[:, None] - xs[None, :]
    dy = ys[:, None] - ys[None, :]
    result: npt.NDArray[np.float64] = dx * dx + dy * dy
    return result


def _isqrt_floor(values: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """Exact ``floor(sqrt(v))`` for non-negative integers (float sqrt, then corrected)."""
    root = np.floor(np.sqrt(values.astype(np.float64))).astype(np.int64)
    root -= (root * root > values).astype(np.int64)
    root += ((root + 1) * (root + 1) <= values).astype(np.int64)
    return root


def dimacs_trunc1(xs: Sequence[float], ys: Sequence[float]) -> npt.NDArray[np.int64]:
    """``floor(10 * euclid(i, j))`` for all pairs, as int64 (the DIMACS x10 integers).

    With integer coordinates this equals ``isqrt(100 * (dx² + dy²))`` and is computed exactly,
    so no floating-point accident can move a value by one unit.
    """
    x = np.asarray(xs, dtype=np.float64)
    y = np.asarray(ys, dtype=np.float64)
    if np.all(x == np.round(x)) and np.all(y == np.round(y)):
        xi, yi = x.astype(np.int64), y.astype(np.int64)
        dx = xi[:, None] - xi[None, :]
        dy = yi[:, None] - yi[None, :]
        return _isqrt_floor(100 * (dx * dx + dy * dy))
    return np.floor(10.0 * np.sqrt(_squared_distances(x, y)) + 1e-9).astype(np.int64)


def cvrplib_round_int(xs: Sequence[float], ys: Sequence[float]) -> npt.NDArray[np.int64]:
    """TSPLIB ``EUC_2D``: ``nint(euclid(i, j))`` = ``floor(euclid + 0.5)``, as int64."""
    x = np.asarray(xs, dtype=np.float64)
    y = np.asarray(ys, dtype=np.float64)
    return np.floor(np.sqrt(_squared_distances(x, y)) + 0.5).astype(np.int64)


def _pair_distance(convention: Convention, a: Node, b: Node) -> int:
    """One pair under ``convention``; scalar twin of the matrix functions (for verifiers)."""
    if convention is Convention.DIMACS:
        if all(float(v).is_integer() for v in (a.x, a.y, b.x, b.y)):
            dx, dy = int(a.x) - int(b.x), int(a.y) - int(b.y)
            return math.isqrt(100 * (dx * dx + dy * dy))
        return math.floor(10.0 * math.hypot(a.x - b.x, a.y - b.y) + 1e-9)
    return math.floor(math.hypot(a.x - b.x, a.y - b.y) + 0.5)


# --------------------------------------------------------------------------------------------
# Building the Problem.


def _location_divisor(nodes: Sequence[Node]) -> float:
    """1000, or more where coordinates would otherwise leave the valid lon/lat range."""
    biggest = max((max(abs(n.x), abs(n.y)) for n in nodes), default=0.0)
    divisor = 1000.0
    while biggest / divisor > 90.0:
        divisor *= 10.0
    return divisor


def _build(
    name: str,
    convention: Convention,
    depot: Node,
    customers: Sequence[Node],
    capacity: int,
    fleet_size: int | None,
) -> Instance:
    nodes = [depot, *customers]
    divisor = _location_divisor(nodes)
    unique: dict[tuple[float, float], int] = {}
    for node in nodes:
        unique.setdefault((node.x, node.y), len(unique))
    coords = list(unique)
    xs = [c[0] for c in coords]
    ys = [c[1] for c in coords]
    locations = tuple(Location(lon=x / divisor, lat=y / divisor) for x, y in coords)

    def location_of(node: Node) -> Location:
        return locations[unique[(node.x, node.y)]]

    if convention is Convention.DIMACS:
        scale = 10
        matrix = dimacs_trunc1(xs, ys)
        shift = TimeWindow(depot.ready * scale, depot.due * scale)
        orders = tuple(
            Order(
                id=str(c.id),
                location=location_of(c),
                demand=(float(c.demand),),
                service_s=c.service * scale,
                windows=(TimeWindow(c.ready * scale, c.due * scale),),
            )
            for c in customers
        )
        n_vehicles = fleet_size if fleet_size is not None else len(customers)
    else:
        scale = 1
        matrix = cvrplib_round_int(xs, ys)
        # No windows: a shift long enough for any route (every arc at most once).
        horizon = int(matrix.max(initial=0)) * (len(customers) + 1) + 1
        shift = TimeWindow(0, horizon)
        orders = tuple(
            Order(id=str(c.id), location=location_of(c), demand=(float(c.demand),))
            for c in customers
        )
        # The instance does not limit the fleet, but offering one vehicle per customer only
        # slows solvers down. First-fit bin packing never needs more than
        # 2 * ceil(total / capacity) bins when every demand fits a vehicle, so this many
        # vehicles always suffice; the verifier still puts no limit on the number of routes.
        total = sum(c.demand for c in customers)
        bound = 2 * math.ceil(total / capacity) + 1 if capacity > 0 else len(customers)
        n_vehicles = max(1, min(len(customers), bound))

    depot_location = location_of(depot)
    width = len(str(n_vehicles))
    vehicles = tuple(
        Vehicle(
            id=f"v{k:0{width}d}",
            start=depot_location,
            end=depot_location,
            shift=shift,
            capacity=(float(capacity),),
            cost_per_km=COST_PER_KM,
            cost_per_hour=0.0,
        )
        for k in range(1, n_vehicles + 1)
    )
    problem = Problem(
        orders=orders,
        vehicles=vehicles,
        dimensions=("demand",),
        locations=locations,
        matrices={"van": TravelMatrix(durations_s=matrix.copy(), distances_m=matrix)},
    )
    meta = InstanceMeta(
        name=name,
        convention=convention,
        scale=scale,
        n_customers=len(customers),
        fleet_size=fleet_size,
        capacity=capacity,
        has_time_windows=convention is Convention.DIMACS,
    )
    return Instance(problem=problem, meta=meta, depot=depot, customers=tuple(customers))


# --------------------------------------------------------------------------------------------
# Solomon / Gehring-Homberger text.


def _fail(
    source: str, line: int | None, field: str | None, value: str | None, msg: str
) -> InputError:
    """An :class:`InputError` whose row is the 1-based *line number* of the file."""
    return InputError(
        issues=[FieldIssue(row=line, field=field, value=value, message=msg)], source=source
    )


def _int_field(source: str, line: int, field: str, token: str) -> int:
    try:
        value = float(token)
    except ValueError:
        raise _fail(source, line, field, token, f"line {line}: {field} is not a number") from None
    if not math.isfinite(value) or not value.is_integer():
        raise _fail(source, line, field, token, f"line {line}: {field} must be an integer")
    return int(value)


def _number_field(source: str, line: int, field: str, token: str) -> float:
    try:
        value = float(token)
    except ValueError:
        raise _fail(source, line, field, token, f"line {line}: {field} is not a number") from None
    if not math.isfinite(value):
        raise _fail(source, line, field, token, f"line {line}: {field} is not finite")
    return value


def read_solomon(text: str, name: str = "instance") -> Instance:
    """Parse a Solomon / G&H VRPTW file under ``dimacs_trunc1_distance``.

    Layout: a name line, ``VEHICLE`` / ``NUMBER CAPACITY`` headers and one line with the two
    numbers, then ``CUSTOMER`` and a header, then one row per node
    ``CUST_NO X Y DEMAND READY_TIME DUE_DATE SERVICE_TIME``; node 0 is the depot.

    Raises
    ------
    InputError
        On anything malformed; the message names the line number and the field.
    """
    source = name
    lines = text.splitlines()
    fleet: int | None = None
    capacity: int | None = None
    rows: list[tuple[int, list[str]]] = []
    state = "start"
    for number, raw in enumerate(lines, start=1):
        stripped = raw.strip()
        if not stripped:
            continue
        upper = stripped.upper()
        if state == "start":
            if upper.startswith("NUMBER") and "CAPACITY" in upper:
                state = "fleet"
            continue
        if state == "fleet":
            tokens = stripped.split()
            if len(tokens) != 2:
                raise _fail(
                    source,
                    number,
                    "NUMBER CAPACITY",
                    stripped,
                    f"line {number}: expected two numbers NUMBER CAPACITY",
                )
            fleet = _int_field(source, number, "NUMBER", tokens[0])
            capacity = _int_field(source, number, "CAPACITY", tokens[1])
            if fleet <= 0:
                raise _fail(
                    source, number, "NUMBER", tokens[0], f"line {number}: NUMBER must be positive"
                )
            if capacity < 0:
                raise _fail(
                    source,
                    number,
                    "CAPACITY",
                    tokens[1],
                    f"line {number}: CAPACITY must not be negative",
                )
            state = "customers"
            continue
        if state == "customers":
            if upper.startswith("CUSTOMER") or upper.startswith("CUST"):
                continue
            if not (stripped[0].isdigit() or stripped[0] in "+-."):
                raise _fail(source, number, None, stripped, f"line {number}: unexpected text")
            rows.append((number, stripped.split()))
    if fleet is None or capacity is None:
        raise _fail(
            source,
            None,
            "NUMBER CAPACITY",
            None,
            "no 'NUMBER CAPACITY' header followed by the fleet size and capacity"
            " (not a Solomon file?)",
        )
    if not rows:
        raise _fail(source, None, None, None, "no node rows after the CUSTOMER header")

    nodes: list[Node] = []
    for number, tokens in rows:
        if len(tokens) != len(SOLOMON_FIELDS):
            raise _fail(
                source,
                number,
                None,
                " ".join(tokens),
                f"line {number}: expected {len(SOLOMON_FIELDS)} fields "
                f"({' '.join(SOLOMON_FIELDS)}), found {len(tokens)}",
            )
        cust = _int_field(source, number, "CUST_NO", tokens[0])
        x = _number_field(source, number, "X", tokens[1])
        y = _number_field(source, number, "Y", tokens[2])
        demand = _int_field(source, number, "DEMAND", tokens[3])
        ready = _int_field(source, number, "READY_TIME", tokens[4])
        due = _int_field(source, number, "DUE_DATE", tokens[5])
        service = _int_field(source, number, "SERVICE_TIME", tokens[6])
        if cust != len(nodes):
            raise _fail(
                source,
                number,
                "CUST_NO",
                tokens[0],
                f"line {number}: CUST_NO must be {len(nodes)} (nodes numbered 0, 1, 2, ...)",
            )
        for field_name, value, token in (
            ("DEMAND", demand, tokens[3]),
            ("SERVICE_TIME", service, tokens[6]),
        ):
            if value < 0:
                raise _fail(
                    source,
                    number,
                    field_name,
                    token,
                    f"line {number}: {field_name} must not be negative",
                )
        if due < ready:
            raise _fail(
                source,
                number,
                "DUE_DATE",
                tokens[5],
                f"line {number}: DUE_DATE is before READY_TIME",
            )
        if demand > capacity:
            raise _fail(
                source,
                number,
                "DEMAND",
                tokens[3],
                f"line {number}: DEMAND exceeds the vehicle capacity {capacity}",
            )
        nodes.append(Node(id=cust, x=x, y=y, demand=demand, ready=ready, due=due, service=service))
    depot, customers = nodes[0], nodes[1:]
    if not customers:
        raise _fail(source, None, None, None, "the file has a depot but no customers")
    return _build(name, Convention.DIMACS, depot, customers, capacity, fleet)


# --------------------------------------------------------------------------------------------
# VRPLIB (TSPLIB-style) CVRP.

_SECTION = re.compile(r"^([A-Z_]+_SECTION)\s*$")
_SPEC = re.compile(r"^([A-Z_]+)\s*:\s*(.*?)\s*$")


def read_vrplib(text: str, name: str | None = None) -> Instance:
    """Parse a VRPLIB CVRP file (``EUC_2D``) under ``cvrplib_round_int``.

    Supports the specification lines (``NAME``, ``TYPE``, ``DIMENSION``, ``CAPACITY``,
    ``EDGE_WEIGHT_TYPE``...) and the ``NODE_COORD_SECTION``, ``DEMAND_SECTION`` and
    ``DEPOT_SECTION`` of the X instances. Parsed here rather than with the ``vrplib``
    package so that every error can name its line.
    """
    source = name or "instance"
    specs: dict[str, tuple[int, str]] = {}
    coords: dict[int, tuple[float, float, int]] = {}
    demands: dict[int, tuple[int, int]] = {}
    depots: list[int] = []
    section: str | None = None
    for number, raw in enumerate(text.splitlines(), start=1):
        stripped = raw.strip()
        if not stripped:
            continue
        if stripped == "EOF":
            break
        upper = stripped.upper()
        section_match = _SECTION.match(upper)
        if section_match:
            section = section_match.group(1)
            if section not in ("NODE_COORD_SECTION", "DEMAND_SECTION", "DEPOT_SECTION"):
                raise _fail(
                    source, number, section, None, f"line {number}: unsupported section {section}"
                )
            continue
        spec_match = _SPEC.match(stripped)
        if spec_match and not stripped[0].isdigit() and not stripped.startswith("-"):
            specs[spec_match.group(1).upper()] = (number, spec_match.group(2).strip().strip('"'))
            section = None
            continue
        tokens = stripped.split()
        if section == "NODE_COORD_SECTION":
            if len(tokens) != 3:
                raise _fail(
                    source,
                    number,
                    "NODE_COORD_SECTION",
                    stripped,
                    f"line {number}: expected 'id x y'",
                )
            node = _int_field(source, number, "node id", tokens[0])
            coords[node] = (
                _number_field(source, number, "x", tokens[1]),
                _number_field(source, number, "y", tokens[2]),
                number,
            )
        elif section == "DEMAND_SECTION":
            if len(tokens) != 2:
                raise _fail(
                    source,
                    number,
                    "DEMAND_SECTION",
                    stripped,
                    f"line {number}: expected 'id demand'",
                )
            node = _int_field(source, number, "node id", tokens[0])
            demands[node] = (_int_field(source, number, "demand", tokens[1]), number)
        elif section == "DEPOT_SECTION":
            for token in tokens:
                value = _int_field(source, number, "depot", token)
                if value == -1:
                    section = None
                    break
                depots.append(value)
        else:
            raise _fail(
                source, number, None, stripped, f"line {number}: unexpected text outside a section"
            )

    def spec(key: str) -> tuple[int, str]:
        if key not in specs:
            raise _fail(source, None, key, None, f"missing specification line '{key} : ...'")
        return specs[key]

    line, kind = spec("TYPE")
    if kind.upper() != "CVRP":
        raise _fail(source, line, "TYPE", kind, f"line {line}: only TYPE : CVRP is supported")
    line, weight = spec("EDGE_WEIGHT_TYPE")
    if weight.upper() != "EUC_2D":
        raise _fail(
            source, line, "EDGE_WEIGHT_TYPE", weight, f"line {line}: only EUC_2D is supported"
        )
    line, dimension_text = spec("DIMENSION")
    dimension = _int_field(source, line, "DIMENSION", dimension_text)
    line, capacity_text = spec("CAPACITY")
    capacity = _int_field(source, line, "CAPACITY", capacity_text)
    instance_name = name or specs.get("NAME", (0, "instance"))[1]
    source = instance_name

    expected = set(range(1, dimension + 1))
    if set(coords) != expected:
        missing = sorted(expected - set(coords))[:5]
        extra = sorted(set(coords) - expected)[:5]
        raise _fail(
            source,
            None,
            "NODE_COORD_SECTION",
            None,
            f"nodes must be numbered 1..{dimension} (DIMENSION); "
            f"missing {missing}, unexpected {extra}",
        )
    if set(demands) != expected:
        missing = sorted(expected - set(demands))[:5]
        raise _fail(source, None, "DEMAND_SECTION", None, f"demand missing for nodes {missing}")
    if len(depots) != 1:
        raise _fail(source, None, "DEPOT_SECTION", None, "exactly one depot is supported")
    depot_id = depots[0]
    if depot_id not in expected:
        raise _fail(source, None, "DEPOT_SECTION", str(depot_id), "depot is not a node of the file")

    nodes: list[Node] = []
    for node_id in range(1, dimension + 1):
        x, y, _ = coords[node_id]
        demand, demand_line = demands[node_id]
        if demand < 0 or demand > capacity:
            raise _fail(
                source,
                demand_line,
                "demand",
                str(demand),
                f"line {demand_line}: demand must be between 0 and CAPACITY {capacity}",
            )
        # CVRPLIB .sol numbering: node id - 1 (depot node 1 becomes 0).
        nodes.append(Node(id=node_id - 1, x=x, y=y, demand=demand))
    depot = nodes[depot_id - 1]
    customers = [n for n in nodes if n.id != depot_id - 1]
    if not customers:
        raise _fail(source, None, None, None, "the file has a depot but no customers")
    return _build(instance_name, Convention.CVRPLIB, depot, customers, capacity, None)


def read_instance(text: str, name: str) -> Instance:
    """Read either format, recognised by its content (VRPLIB has ``NODE_COORD_SECTION``)."""
    if re.search(r"^\s*NODE_COORD_SECTION", text, flags=re.MULTILINE | re.IGNORECASE):
        return read_vrplib(text, name)
    return read_solomon(text, name)


# --------------------------------------------------------------------------------------------
# Solution files.

_ROUTE = re.compile(r"^\s*Route\s*#\s*(\d+)\s*:(.*)$", re.IGNORECASE)
_COST = re.compile(r"^\s*Cost\s*:?\s*([-+0-9.eE]+)\s*$", re.IGNORECASE)


def parse_solution(text: str, name: str = "solution") -> SolutionFile:
    """Parse a CVRPLIB ``.sol`` file (``Route #1: 3 5 7`` lines and ``Cost 1234``).

    Used to check that published BKS route sets reproduce their stated cost under our
    verifier, which is how we know the conventions are implemented correctly.
    """
    routes: list[tuple[int, ...]] = []
    cost: float | None = None
    for number, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        route = _ROUTE.match(raw)
        if route:
            ids = tuple(_int_field(name, number, "customer", t) for t in route.group(2).split())
            routes.append(ids)
            continue
        cost_match = _COST.match(raw)
        if cost_match:
            cost = _number_field(name, number, "Cost", cost_match.group(1))
            continue
        raise _fail(
            name,
            number,
            None,
            raw.strip(),
            f"line {number}: expected 'Route #k: ...' or 'Cost ...'",
        )
    return SolutionFile(routes=tuple(routes), cost=cost)
