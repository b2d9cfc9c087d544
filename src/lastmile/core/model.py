"""The delivery-day domain model: plain frozen dataclasses, no I/O.

Units (see :mod:`lastmile.core.units`): times are integer seconds since local midnight of the
plan's date, durations are seconds, distances metres, locations WGS84 ``lon, lat``. Demand and
capacity are vectors over the problem's named dimensions (``("parcels", "kg")``) in the user's
own units; they may be fractional (``17.2`` kg).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Literal, get_args

import numpy as np
import numpy.typing as npt


@dataclass(frozen=True, order=True)
class Location:
    """A point on Earth, WGS84 degrees. ``lon`` first, as in GeoJSON."""

    lon: float
    lat: float

    def __post_init__(self) -> None:
        if not (-180.0 <= self.lon <= 180.0) or not (-90.0 <= self.lat <= 90.0):
            raise ValueError(f"location out of range: lon={self.lon}, lat={self.lat}")


@dataclass(frozen=True, order=True)
class TimeWindow:
    """Service may *start* between ``start`` and ``end`` (seconds since midnight)."""

    start: int
    end: int

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise ValueError(f"time window ends before it starts: {self.start}..{self.end}")

    def contains(self, t: int) -> bool:
        return self.start <= t <= self.end


ALL_DAY = TimeWindow(0, 48 * 3600)
"""The window of an order that can be served any time (48 h allows overnight shifts)."""


class OrderKind(StrEnum):
    """Whether the vehicle brings goods to the stop or takes them away."""

    DELIVERY = "delivery"
    PICKUP = "pickup"


Handover = Literal["signature", "signature_photo", "photo", "safe_place", "neighbour"]
"""How a delivery may be handed over, each with its proof: ``signature`` (the recipient signs
and gives their name), ``signature_photo`` (that and a photo), ``photo`` (a photo only), ``safe_place`` (left at a safe place: a
photo and where), ``neighbour`` (with a neighbour: their name). A proof-of-delivery policy is
a non-empty list of them; the first is the usual way."""
HANDOVERS: tuple[str, ...] = get_args(Handover)


class Profile(StrEnum):
    """How a vehicle moves on the road network; selects speeds and allowed roads."""

    VAN = "van"
    CAR = "car"
    CARGO_BIKE = "cargo_bike"
    BICYCLE = "bicycle"
    WALKING = "walking"


@dataclass(frozen=True)
class Order:
    """One stop to serve.

    A *paired* order is a pickup whose goods go to another order of the problem: set
    ``kind=PICKUP`` and ``deliver_to`` to the delivery order's id; the same vehicle must
    visit the pickup first. An order that is not ``required`` is optional: it is planned
    only where its ``value`` (currency) outweighs the detour.
    """

    id: str
    location: Location
    demand: tuple[float, ...] = ()
    service_s: int = 0
    windows: tuple[TimeWindow, ...] = ()
    required: bool = True
    value: float = 0.0
    skills: frozenset[str] = frozenset()
    kind: OrderKind = OrderKind.DELIVERY
    deliver_to: str | None = None
    external_id: str | None = None
    address: str = ""
    notes: str = ""

    @property
    def effective_windows(self) -> tuple[TimeWindow, ...]:
        """The windows, or one all-day window when none was given."""
        return self.windows or (ALL_DAY,)


@dataclass(frozen=True)
class Break:
    """A driver break of ``duration_s`` that must start inside ``window``."""

    window: TimeWindow
    duration_s: int


@dataclass(frozen=True)
class Vehicle:
    """A vehicle with its driver's shift.

    ``end=None`` means the route ends wherever the last stop is (the driver goes home).
    ``speed_factor`` scales travel times: 1.2 means 20 % faster than the profile's speeds
    (travel time divided by 1.2), as in VROOM.
    """

    id: str
    start: Location
    end: Location | None
    shift: TimeWindow
    capacity: tuple[float, ...] = ()
    name: str = ""
    max_duration_s: int | None = None
    skills: frozenset[str] = frozenset()
    cost_per_km: float = 0.0
    cost_per_hour: float = 0.0
    fixed_cost: float = 0.0
    speed_factor: float = 1.0
    profile: Profile = Profile.VAN
    breaks: tuple[Break, ...] = ()
    max_overtime_s: int = 0
    overtime_cost_per_hour: float = 0.0

    def __post_init__(self) -> None:
        if self.speed_factor <= 0:
            raise ValueError(f"vehicle {self.id}: speed_factor must be positive")


@dataclass(frozen=True)
class TravelMatrix:
    """Travel durations (s) and distances (m) between the problem's locations, row = from."""

    durations_s: npt.NDArray[np.int64]
    distances_m: npt.NDArray[np.int64]

    def __post_init__(self) -> None:
        n = len(self.durations_s)
        if self.durations_s.shape != (n, n) or self.distances_m.shape != (n, n):
            raise ValueError("travel matrices must be square and of the same size")


@dataclass(frozen=True)
class Problem:
    """Everything the planner needs for one day: orders, fleet and travel matrices.

    ``locations`` is the index space of ``matrices`` (one matrix per profile used by the
    fleet). Build one with :func:`lastmile.core.planning.build_problem`.
    """

    orders: tuple[Order, ...]
    vehicles: tuple[Vehicle, ...]
    dimensions: tuple[str, ...]
    locations: tuple[Location, ...]
    matrices: Mapping[str, TravelMatrix]
    _index: dict[Location, int] = field(init=False, repr=False, compare=False)
    _by_id: dict[str, Order] = field(init=False, repr=False, compare=False)
    _pickup_of: dict[str, Order] = field(init=False, repr=False, compare=False)
    """Delivery id -> the pickup that names it (``deliver_to``)."""

    def __post_init__(self) -> None:
        # Lookups by id are made per stop in simulations and documents: a scan of 10,000
        # orders per lookup made a 10,000-stop day quadratic. Not init fields, so that
        # ``dataclasses.replace`` builds fresh tables instead of sharing (and filling) these.
        object.__setattr__(self, "_index", {loc: i for i, loc in enumerate(self.locations)})
        object.__setattr__(self, "_by_id", {o.id: o for o in self.orders})
        object.__setattr__(
            self, "_pickup_of", {o.deliver_to: o for o in self.orders if o.deliver_to}
        )

    def index_of(self, location: Location) -> int:
        return self._index[location]

    def order(self, order_id: str) -> Order:
        return self._by_id[order_id]

    def pickup_of(self, delivery_id: str) -> Order | None:
        """The pickup whose goods ``delivery_id`` delivers, if it is the end of a pair."""
        return self._pickup_of.get(delivery_id)

    def vehicle(self, vehicle_id: str) -> Vehicle:
        for vehicle in self.vehicles:
            if vehicle.id == vehicle_id:
                return vehicle
        raise KeyError(vehicle_id)

    def travel(self, vehicle: Vehicle, a: Location, b: Location) -> tuple[int, int]:
        """Travel (seconds, metres) from ``a`` to ``b`` for this vehicle."""
        matrix = self.matrices[vehicle.profile.value]
        i, j = self._index[a], self._index[b]
        duration = int(matrix.durations_s[i, j])
        if vehicle.speed_factor != 1.0:
            duration = round(duration / vehicle.speed_factor)
        return duration, int(matrix.distances_m[i, j])


class StopKind(StrEnum):
    ORDER = "order"
    BREAK = "break"


@dataclass(frozen=True)
class Stop:
    """A visit on a route. ``arrival`` <= ``start`` (service start, after waiting)."""

    order_id: str | None
    arrival: int
    start: int
    departure: int
    load: tuple[float, ...]
    """Load on board when leaving this stop."""
    kind: StopKind = StopKind.ORDER
    distance_from_previous_m: int = 0


@dataclass(frozen=True)
class Route:
    vehicle_id: str
    stops: tuple[Stop, ...]
    start_time: int
    """When the vehicle leaves its start location."""
    end_time: int
    """When it reaches its end location (or finishes the last stop for open routes)."""
    distance_m: int
    cost: float
    start_load: tuple[float, ...] = ()

    @property
    def duration_s(self) -> int:
        return self.end_time - self.start_time

    @property
    def order_ids(self) -> list[str]:
        return [s.order_id for s in self.stops if s.order_id is not None]


class UnassignedReason(StrEnum):
    """Why an order is not on any route. The value is the machine code."""

    DEMAND_EXCEEDS_CAPACITY = "demand_exceeds_capacity"
    NO_VEHICLE_WITH_SKILL = "no_vehicle_with_skill"
    WINDOW_UNREACHABLE = "window_unreachable"
    ROUTE_TOO_LONG = "route_too_long"
    FLEET_FULL = "fleet_full"
    NOT_WORTH_IT = "not_worth_it"
    PAIR_UNASSIGNED = "pair_unassigned"
    ADDRESS_UNRESOLVED = "address_unresolved"
    """The address could not be geocoded (not found, ambiguous, outside the map)."""


@dataclass(frozen=True)
class Unassigned:
    order_id: str
    reason: UnassignedReason
    message: str
    late_s_to_fit: int | None = None
    """If serving it this much late (on the best vehicle) would make it fit."""
    overtime_s_to_fit: int | None = None
    """If this much overtime (on the best vehicle) would make it fit."""
    best_vehicle_id: str | None = None


@dataclass(frozen=True)
class SolveStats:
    runtime_s: float
    iterations: int
    seed: int
    objective: int


@dataclass(frozen=True)
class Plan:
    """A solved day: every order of the problem is on exactly one route or unassigned."""

    routes: tuple[Route, ...]
    unassigned: tuple[Unassigned, ...]
    stats: SolveStats | None = None

    @property
    def cost(self) -> float:
        return round(sum(r.cost for r in self.routes), 2)

    @property
    def distance_m(self) -> int:
        return sum(r.distance_m for r in self.routes)
