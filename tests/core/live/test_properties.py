"""Hypothesis properties of the live ETA and risk models."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from lastmile.core.live.eta import FACTOR_MAX, FACTOR_MIN, LiveRoute, LiveStop, Pace, predict
from lastmile.core.live.risk import RiskLevel, assess, promise_window
from lastmile.core.model import TimeWindow

H = 3600

windows = st.one_of(
    st.just(()),
    st.builds(
        lambda a, w: (TimeWindow(a, a + w),),
        st.integers(6 * H, 20 * H),
        st.integers(0, 4 * H),
    ),
)
stops = st.lists(
    st.tuples(st.integers(0, 3600), st.integers(0, 1800), windows), min_size=1, max_size=40
)
paces = st.builds(Pace, st.floats(FACTOR_MIN, FACTOR_MAX), st.floats(FACTOR_MIN, FACTOR_MAX))


@settings(max_examples=200, deadline=None)
@given(stops, st.integers(6 * H, 20 * H), st.integers(0, 3600), paces)
def test_predicted_times_run_forwards_and_respect_openings(
    spec: list[tuple[int, int, tuple[TimeWindow, ...]]], now: int, first: int, pace: Pace
) -> None:
    route = LiveRoute(
        tuple(LiveStop(str(k), str(k), s, w) for k, (_, s, w) in enumerate(spec)),
        tuple(leg for leg, _, _ in spec),
        end_leg_s=300,
    )
    prediction = predict(route, now=now, first_leg_s=first, pace=pace)
    t = now
    for eta, (_, _, w) in zip(prediction.etas, spec, strict=True):
        assert t <= eta.arrival <= eta.start <= eta.departure
        if w and eta.arrival <= w[0].end:
            assert w[0].start <= eta.start <= w[0].end
        t = eta.departure
    assert prediction.etas[0].arrival == now + round(first * pace.travel)
    assert prediction.end_time == t + round(300 * pace.travel)


@settings(max_examples=300, deadline=None)
@given(
    st.integers(6 * H, 20 * H),
    st.integers(0, 6 * H),
    st.integers(0, 3600),
    windows,
)
def test_risk_levels_and_promises_are_consistent(
    now: int, ahead: int, wait: int, w: tuple[TimeWindow, ...]
) -> None:
    arrival = now + ahead
    start = arrival + wait
    risk = assess(arrival=arrival, start=start, now=now, windows=w)
    if w:
        end = w[0].end
        assert (risk.level is RiskLevel.LATE) == (start > end)
        assert risk.late_s == max(0, start - end)
    else:
        assert risk.level is RiskLevel.ON_TIME
    promise = risk.promise
    assert promise.start <= start <= promise.end
    assert promise.end - promise.start <= 2 * 3600 + 2 * 300
    booked = next((x for x in w if x.start <= start <= x.end), None)
    if booked is not None:  # on time: the promise stays inside the booked window
        assert booked.start <= promise.start and promise.end <= booked.end
    nearer = promise_window(arrival, arrival - 600)
    farther = promise_window(arrival, arrival - 3 * H)
    assert nearer.end - nearer.start <= farther.end - farther.start
