"""Live ETAs for the rest of a route, recomputed cheaply from the vehicle's position.

A :class:`LiveRoute` holds what does not change while the driver drives: the remaining stops
in sequence, their windows and service times, and the road travel time of every leg *between*
remaining stops (taken from the stored plan or a matrix once). Only the first leg, from where
the vehicle is now to the next stop, is new at each GPS fix; :func:`predict` then walks the
stops once (O(n), no allocation beyond the result), so a recompute costs microseconds.

The driver's pace is learned from the day so far: :func:`learn_factor` smooths the ratio of
observed to planned durations (travel legs and service times separately) exponentially and
keeps it within ``[FACTOR_MIN, FACTOR_MAX]`` so that one odd stop (a long chat, a traffic jam)
cannot make every ETA absurd.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from lastmile.core.model import StopKind, TimeWindow

FACTOR_MIN = 0.7
FACTOR_MAX = 1.6
SMOOTHING = 0.3
"""Weight of the newest observation in the exponential smoothing of a pace factor."""
MIN_SAMPLE_S = 30
"""Planned durations shorter than this are too noisy to learn from (skipped)."""


@dataclass(frozen=True)
class LiveStop:
    """A stop still to serve. ``windows`` empty = any time; ``promised`` = the ETA window the
    customer was told (if any). A driver break is a stop of kind ``BREAK`` whose ``windows``
    is the break window and ``service_s`` its duration (never scaled by the pace factor)."""

    key: str
    order_id: str | None
    service_s: int
    windows: tuple[TimeWindow, ...] = ()
    promised: TimeWindow | None = None
    kind: StopKind = StopKind.ORDER


@dataclass(frozen=True)
class LiveRoute:
    """The rest of a route. ``legs_s[k]`` is the planned travel time from stop ``k-1`` to
    stop ``k`` (unused for the first order stop: that leg comes from the position; 0 for a
    break, taken where the driver is);
    ``end_leg_s`` from the last stop to the route's end (0 for open routes)."""

    stops: tuple[LiveStop, ...]
    legs_s: tuple[int, ...]
    end_leg_s: int = 0
    shift_end: int | None = None

    def __post_init__(self) -> None:
        if len(self.legs_s) != len(self.stops):
            raise ValueError("legs_s needs one entry per remaining stop")


@dataclass(frozen=True)
class Pace:
    """How much slower (>1) or faster (<1) than planned the driver is going today."""

    travel: float = 1.0
    service: float = 1.0


@dataclass(frozen=True)
class StopEta:
    key: str
    order_id: str | None
    arrival: int
    start: int
    """Service start (after waiting for the window to open)."""
    departure: int


@dataclass(frozen=True)
class Prediction:
    etas: tuple[StopEta, ...]
    end_time: int
    overtime_s: int
    """How far the route is predicted to end after ``shift_end`` (0 if none given)."""


def clamp_factor(value: float) -> float:
    return min(FACTOR_MAX, max(FACTOR_MIN, value))


def learn_factor(
    samples: Iterable[tuple[int, int]], *, prior: float = 1.0, alpha: float = SMOOTHING
) -> float:
    """Exponentially smoothed ``observed / planned`` over ``(planned_s, observed_s)`` samples
    in the order they happened, bounded to ``[FACTOR_MIN, FACTOR_MAX]``.

    Each ratio is clamped before it is averaged in, so a single outlier moves the factor by
    at most ``alpha * (FACTOR_MAX - factor)``.
    """
    factor = clamp_factor(prior)
    for planned, observed in samples:
        if planned < MIN_SAMPLE_S or observed <= 0:
            continue
        ratio = clamp_factor(observed / planned)
        factor = clamp_factor((1 - alpha) * factor + alpha * ratio)
    return factor


def _start_in(windows: Sequence[TimeWindow], arrival: int) -> int:
    for window in windows:
        if window.end >= arrival:
            return max(arrival, window.start)
    return arrival


def predict(
    route: LiveRoute,
    *,
    now: int,
    first_leg_s: int,
    pace: Pace = Pace(),
    busy_until: int | None = None,
) -> Prediction:
    """ETAs of every remaining stop for a vehicle that is ``first_leg_s`` of planned driving
    away from the first one at ``now``.

    ``busy_until``: the vehicle is at a stop (or on a break) and leaves no earlier than this.
    Travel legs are scaled by ``pace.travel``, service times by ``pace.service``; waiting for
    a window is not scaled (the window does not move).
    """
    t = now if busy_until is None else max(now, busy_until)
    travel_f, service_f = pace.travel, pace.service
    out: list[StopEta] = []
    legs = route.legs_s
    first = True
    for k, stop in enumerate(route.stops):
        if stop.kind is StopKind.BREAK:
            arrival = t  # a break is taken where the driver is
            start = _start_in(stop.windows, arrival) if stop.windows else arrival
            t = start + stop.service_s
        else:
            leg = first_leg_s if first else legs[k]
            first = False
            arrival = t + round(leg * travel_f)
            start = _start_in(stop.windows, arrival) if stop.windows else arrival
            t = start + round(stop.service_s * service_f)
        out.append(StopEta(stop.key, stop.order_id, arrival, start, t))
    end = t + round(route.end_leg_s * travel_f)
    overtime = max(0, end - route.shift_end) if route.shift_end is not None else 0
    return Prediction(tuple(out), end, overtime)
