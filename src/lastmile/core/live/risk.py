"""Late risk of a predicted stop, and the ETA window to promise the customer.

Levels (``deadline`` = the end of the delivery window the predicted service start falls in
or after):

* ``late``: the predicted service start is after the deadline; ``late_s`` says by how much.
* ``at_risk``: on time, but with less than ``margin_s`` to spare (default 10 minutes, the
  usual error of an ETA half an hour ahead), so a small delay makes it late; or the predicted
  arrival is after the end of the ETA window promised to the customer (the promise is broken
  although the booked window still holds).
* ``on_time``: otherwise.

The promise window is centred on the predicted *service start* (a van that arrives before the
booked window opens waits for it, so the customer sees it when the window opens) and narrows as
the stop approaches: half-width = a quarter of the time still to go, at least
``PROMISE_MIN_HALF_S`` (5 min) and at most ``PROMISE_MAX_HALF_S`` (60 min); so ±60 min four
hours or more ahead (a day-ahead confirmation), ±15 min an hour ahead, ±5 min in the last 20
minutes (at least ``NOT_STARTED_HALF_S``, ±30 min, before the driver sets off). Its ends are rounded outwards to whole 5 minutes and then kept inside the booked
window the service start falls in: a promise never starts before the window opens nor ends
after it closes while the prediction is inside it. A stop predicted *after* its window
(``late``) is promised around the real expected time, never a clipped window: the customer is
told the truth, with a delay message.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from lastmile.core.model import TimeWindow

AT_RISK_MARGIN_S = 600
PROMISE_MIN_HALF_S = 300
PROMISE_MAX_HALF_S = 3600
PROMISE_ROUND_S = 300
NOT_STARTED_HALF_S = 1800
"""Before the driver sets off, when they leave is itself uncertain: at least +-30 min."""


class RiskLevel(StrEnum):
    ON_TIME = "on_time"
    AT_RISK = "at_risk"
    LATE = "late"


@dataclass(frozen=True)
class Risk:
    level: RiskLevel
    late_s: int
    """Predicted service start past the deadline (0 unless late)."""
    slack_s: int
    """Time to spare before the deadline (negative when late; large without any deadline)."""
    promise: TimeWindow
    """The ETA window to tell the customer now."""

    @property
    def minutes_late(self) -> int:
        return -(-self.late_s // 60)


NO_DEADLINE_SLACK = 48 * 3600


def deadline(windows: Sequence[TimeWindow], start: int) -> int | None:
    """The latest acceptable service start for a stop predicted to start at ``start``."""
    ends = [w.end for w in windows]
    if not ends:
        return None
    later = [e for e in ends if e >= start]
    return min(later) if later else max(ends)


def booked_window(windows: Sequence[TimeWindow], start: int) -> TimeWindow | None:
    """The booked window a service starting at ``start`` falls in (``None``: outside all)."""
    for window in windows:
        if window.start <= start <= window.end:
            return window
    return None


def promise_window(
    arrival: int,
    now: int,
    windows: Sequence[TimeWindow] = (),
    *,
    clip: bool = True,
    min_half_s: int = PROMISE_MIN_HALF_S,
) -> TimeWindow:
    """The ETA window to promise for a service predicted to start at ``arrival`` (pass the
    service start: after waiting for the window) as seen at ``now``; ``min_half_s`` is
    ``NOT_STARTED_HALF_S`` while the driver has not set off."""
    lead = max(0, arrival - now)
    half = min(PROMISE_MAX_HALF_S, max(min_half_s, lead // 4))
    low = (arrival - half) // PROMISE_ROUND_S * PROMISE_ROUND_S
    high = -(-(arrival + half) // PROMISE_ROUND_S) * PROMISE_ROUND_S
    low = max(low, now - now % PROMISE_ROUND_S)
    booked = booked_window(windows, arrival) if clip else None
    if booked is not None:
        low, high = max(low, booked.start), min(high, booked.end)
    return TimeWindow(low, max(low, high))


def assess(
    *,
    arrival: int,
    start: int,
    now: int,
    windows: Sequence[TimeWindow] = (),
    promised: TimeWindow | None = None,
    margin_s: int = AT_RISK_MARGIN_S,
    min_half_s: int = PROMISE_MIN_HALF_S,
) -> Risk:
    """How a stop predicted to arrive at ``arrival`` and start service at ``start`` stands."""
    limit = deadline(windows, start)
    slack = NO_DEADLINE_SLACK if limit is None else limit - start
    broken = promised is not None and start > promised.end
    if slack < 0:
        level = RiskLevel.LATE
    elif slack < margin_s or broken:
        level = RiskLevel.AT_RISK
    else:
        level = RiskLevel.ON_TIME
    return Risk(
        level=level,
        late_s=max(0, -slack),
        slack_s=slack,
        promise=promise_window(
            start, now, windows, clip=level is not RiskLevel.LATE, min_half_s=min_half_s
        ),
    )
