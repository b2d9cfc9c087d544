"""Live ETAs and late risk, against hand arithmetic on the line world and a real road drive."""

from __future__ import annotations

import itertools

import pytest

from helpers.lineworld import H, order, problem, van
from lastmile.core.live.eta import (
    FACTOR_MAX,
    FACTOR_MIN,
    LiveRoute,
    LiveStop,
    Pace,
    learn_factor,
    predict,
)
from lastmile.core.live.risk import RiskLevel, assess, promise_window
from lastmile.core.model import Location, Order, Profile, TimeWindow
from lastmile.core.planning import simulate


def live_route_from(route_orders: list[Order], stops_arrivals: list[tuple[int, int]]) -> LiveRoute:
    """LiveRoute whose legs come from stored (arrival, previous departure) pairs."""
    legs = tuple(a - d for a, d in stops_arrivals)
    return LiveRoute(
        stops=tuple(LiveStop(o.id, o.id, o.service_s, o.windows) for o in route_orders),
        legs_s=legs,
    )


def test_eta_from_the_depot_equals_the_simulated_plan() -> None:
    orders = [order(f"o{k}", k) for k in (1, 2, 4, 7)]
    p = problem(orders, [van()])
    timing = simulate(p, p.vehicles[0], orders, 8 * H)
    previous = 8 * H
    pairs = []
    for stop in timing.stops:
        pairs.append((stop.arrival, previous))
        previous = stop.departure
    live = live_route_from(orders, pairs)
    pred = predict(live, now=8 * H, first_leg_s=60)
    assert [e.arrival for e in pred.etas] == [s.arrival for s in timing.stops]
    assert [e.departure for e in pred.etas] == [s.departure for s in timing.stops]


def test_eta_mid_route_from_the_position_with_waiting_and_pace() -> None:
    # Stops at km 2, 5 (window opens 9:00) and 6; 60 s per km, 60 s service.
    orders = [
        order("a", 2),
        order("b", 5, windows=(TimeWindow(9 * H, 10 * H),)),
        order("c", 6),
    ]
    live = live_route_from(orders, [(0, 0), (180, 0), (60, 0)])
    # Done with "a"; at 8:30 the van is at km 3.5: 90 s from "b".
    now = 8 * H + 30 * 60
    pred = predict(LiveRoute(live.stops[1:], live.legs_s[1:]), now=now, first_leg_s=90)
    b, c = pred.etas
    assert b.arrival == now + 90
    assert b.start == 9 * H  # waits for the window
    assert b.departure == 9 * H + 60
    assert c.arrival == 9 * H + 60 + 60
    # 20 % slower travel and service: waiting absorbs the first leg, not the rest.
    slow = predict(
        LiveRoute(live.stops[1:], live.legs_s[1:]), now=now, first_leg_s=90, pace=Pace(1.2, 1.5)
    )
    b2, c2 = slow.etas
    assert b2.arrival == now + 108 and b2.start == 9 * H
    assert b2.departure == 9 * H + 90
    assert c2.arrival == 9 * H + 90 + 72


def test_busy_at_a_stop_and_break_stops() -> None:
    from lastmile.core.model import StopKind

    live = LiveRoute(
        stops=(
            LiveStop("brk", None, 1800, (TimeWindow(12 * H, 13 * H),), kind=StopKind.BREAK),
            LiveStop("x", "x", 120),
        ),
        legs_s=(0, 300),
        end_leg_s=600,
        shift_end=13 * H,
    )
    pred = predict(live, now=11 * H + 50 * 60, first_leg_s=240, busy_until=11 * H + 55 * 60)
    brk, x = pred.etas
    assert (brk.start, brk.departure) == (12 * H, 12 * H + 1800)
    assert x.arrival == 12 * H + 1800 + 240  # the first *order* leg comes from the position
    assert pred.end_time == x.departure + 600
    assert pred.overtime_s == 0


def test_pace_is_smoothed_and_bounded() -> None:
    assert learn_factor([]) == 1.0
    assert learn_factor([(600, 600)] * 5) == pytest.approx(1.0)
    slow = learn_factor([(600, 900)] * 30)
    assert slow == pytest.approx(1.5, abs=1e-3)
    assert learn_factor([(600, 6000)] * 30) == pytest.approx(FACTOR_MAX, abs=1e-4)
    assert learn_factor([(600, 6000)] * 30) <= FACTOR_MAX
    assert learn_factor([(600, 60)] * 30) >= FACTOR_MIN
    # one outlier moves it by at most SMOOTHING * (FACTOR_MAX - 1)
    assert learn_factor([(600, 600), (600, 60000)]) == pytest.approx(1.0 + 0.3 * 0.6)
    # tiny planned durations are noise and are ignored
    assert learn_factor([(10, 100)]) == 1.0


def test_late_risk_thresholds() -> None:
    window = (TimeWindow(9 * H, 11 * H),)
    now = 8 * H
    on_time = assess(arrival=10 * H, start=10 * H, now=now, windows=window)
    assert on_time.level is RiskLevel.ON_TIME and on_time.late_s == 0
    edge = assess(arrival=11 * H - 600, start=11 * H - 600, now=now, windows=window)
    assert edge.level is RiskLevel.ON_TIME
    risky = assess(arrival=11 * H - 599, start=11 * H - 599, now=now, windows=window)
    assert risky.level is RiskLevel.AT_RISK
    exactly = assess(arrival=11 * H, start=11 * H, now=now, windows=window)
    assert exactly.level is RiskLevel.AT_RISK and exactly.late_s == 0
    late = assess(arrival=11 * H + 61, start=11 * H + 61, now=now, windows=window)
    assert late.level is RiskLevel.LATE and late.late_s == 61 and late.minutes_late == 2
    # arriving after the promised ETA window is a broken promise: at risk, not late
    promised = assess(
        arrival=10 * H,
        start=10 * H,
        now=now,
        windows=window,
        promised=TimeWindow(9 * H, 9 * H + 1800),
    )
    assert promised.level is RiskLevel.AT_RISK and promised.late_s == 0
    # no window, no promise: always on time
    assert assess(arrival=20 * H, start=20 * H, now=now).level is RiskLevel.ON_TIME


def test_promise_narrows_as_the_vehicle_approaches() -> None:
    now = 8 * H
    day_ahead = promise_window(now + 20 * H, now)  # at most +-60 min
    assert day_ahead == TimeWindow(now + 19 * H, now + 21 * H)
    far = promise_window(now + 2 * H, now)  # a quarter of 2 h = 30 min
    assert far == TimeWindow(now + 2 * H - 1800, now + 2 * H + 1800)
    hour = promise_window(now + H, now)
    assert hour == TimeWindow(now + H - 900, now + H + 900)
    mid = promise_window(now + 40 * 60, now)  # a quarter of 40 min = 10 min
    assert mid == TimeWindow(now + 30 * 60, now + 50 * 60)
    near = promise_window(now + 10 * 60 + 7, now)  # at least 5 min, rounded outwards
    assert near.start == now + 5 * 60 and near.end == now + 20 * 60
    assert near.end - near.start <= 15 * 60
    # clipped to the customer's window when on time
    clipped = promise_window(now + 2 * H, now, (TimeWindow(now + 2 * H - 300, now + 3 * H),))
    assert clipped.start == now + 2 * H - 300


def test_a_promise_never_starts_before_the_booked_window_and_late_is_not_clipped() -> None:
    """Booked 21:45-23:30, the van would be there at 19:30 and waits: the promise starts at
    21:45 (issue 12 saw 18:55-20:40). Predicted after the window: the real time, unclipped."""
    now = 15 * H
    booked = (TimeWindow(21 * H + 45 * 60, 23 * H + 30 * 60),)
    early = assess(arrival=19 * H + 1800, start=booked[0].start, now=now, windows=booked)
    assert early.level is RiskLevel.ON_TIME
    assert early.promise.start == booked[0].start
    assert early.promise.end <= booked[0].end
    inside = assess(arrival=23 * H, start=23 * H, now=22 * H, windows=booked)
    assert booked[0].start <= inside.promise.start <= 23 * H <= inside.promise.end
    assert inside.promise.end <= booked[0].end  # would be 23:15-23:45 unclipped
    late = assess(arrival=23 * H + 50 * 60, start=23 * H + 50 * 60, now=23 * H, windows=booked)
    assert late.level is RiskLevel.LATE and late.minutes_late == 20
    assert late.promise.start <= 23 * H + 50 * 60 <= late.promise.end
    assert late.promise.end > booked[0].end  # the real expected time, not the window


def test_eta_along_a_real_road_drive() -> None:
    """Bundled Liechtenstein extract: halfway along the road path between two stops, the
    ETA of the second is the planned arrival give or take the path's discretisation."""
    from lastmile.core.roads import RoadNetwork, RoadProvider, default_extract

    provider = RoadProvider(RoadNetwork.load(default_extract()))
    depot = Location(9.5209, 47.1660)
    a = Location(9.5265427, 47.1196385)
    b = Location(9.5423924, 47.1342705)
    matrix = provider.matrix([depot, a, b], Profile.VAN)
    leg_ab = int(matrix.durations_s[1, 2])
    assert leg_ab > 60
    path = provider.path(a, b, Profile.VAN)
    assert len(path) > 2
    # The point of the path where half of the driving time is done.
    times = [0]
    for p, q in itertools.pairwise(path):
        times.append(times[-1] + int(provider.matrix([p, q], Profile.VAN).durations_s[0, 1]))
    k = min(range(len(path)), key=lambda i: abs(times[i] - times[-1] / 2))
    here = path[k]
    left = int(provider.matrix([here, b], Profile.VAN).durations_s[0, 1])
    departure_a = 9 * H
    now = departure_a + (leg_ab - left)  # on schedule so far
    live = LiveRoute((LiveStop("b", "b", 120),), (leg_ab,))
    eta = predict(live, now=now, first_leg_s=left).etas[0]
    assert abs(eta.arrival - (departure_a + leg_ab)) <= max(30, leg_ab // 10)
    risk = assess(
        arrival=eta.arrival, start=eta.start, now=now, windows=(TimeWindow(9 * H, 9 * H + 300),)
    )
    assert risk.level in (RiskLevel.AT_RISK, RiskLevel.LATE)
