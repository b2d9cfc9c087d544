"""KPI formulas on hand-made records whose answers are worked out by hand."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lastmile.core import kpi
from lastmile.core.kpi import Message, OrderRecord, RouteRecord, StatusEvent

T0 = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def ev(status: str, minutes: float, **more: object) -> StatusEvent:
    return StatusEvent(to_status=status, at=at(minutes), **more)  # type: ignore[arg-type]


# Three orders of driver D1 at lon 9.5, lat 47.0 + i/1000.
# A: arrived 10, delivered 12 (window 0-30: on time), 0.001° lat from the stop when delivered.
# B: arrived 40, failed not_home 41 (window 0-30: late); delivered later at 100 by D1.
# C: failed refused at 60 (never arrived; no window: on time), has no location.
ORDERS = [
    OrderRecord(
        id="A",
        created_at=at(-60),
        lon=9.5,
        lat=47.0,
        windows=((at(0), at(30)),),
        events=(ev("arrived", 10), ev("delivered", 12, lon=9.5, lat=47.001)),
        driver_id="D1",
        planned_arrival=at(5),
        has_pod=True,
        tracking_views=3,
        contacts=1,
        rating=5,
    ),
    OrderRecord(
        id="B",
        created_at=at(-120),
        lon=9.5,
        lat=47.001,
        windows=((at(0), at(30)),),
        events=(
            ev("failed", 41, reason="not_home"),
            ev("arrived", 40),
            ev("delivered", 100, lon=9.5, lat=47.001),
        ),
        driver_id="D1",
        planned_arrival=at(20),
        tracking_views=1,
        rating=2,
    ),
    OrderRecord(
        id="C",
        created_at=at(-30),
        lon=9.5,
        lat=47.002,
        events=(ev("failed", 60, reason="refused"),),
        driver_id="D2",
    ),
    OrderRecord(id="D", created_at=at(-30), lon=None, lat=None),
]
ROUTE = RouteRecord(
    id="R1",
    driver_id="D1",
    vehicle_id="V1",
    planned_distance_m=10_000,
    planned_duration_s=5400,
    started_at=at(0),
    finished_at=at(120),
    track=((9.5, 47.0), (9.5, 47.01), (9.5, 47.02)),
    shift_end=at(90),
    cost_per_hour=20,
    overtime_cost_per_hour=30,
    cost_per_km=0.5,
    fixed_cost=10,
)
MESSAGES = [Message("A", 0.1), Message("B", 0.1), Message("B", 0.5, status="failed")]


def test_day_kpis_match_hand_computed_answers() -> None:
    k = kpi.compute(ORDERS, [ROUTE], MESSAGES)
    km = kpi.path_m(ROUTE.track) / 1000
    assert km == pytest.approx(2.2239, abs=1e-3)  # 0.02° of latitude
    assert k.orders == 4 and k.delivered == 2 and k.failed_attempts == 2
    # Cost: 2 h x 20 + 0.5 h overtime x 30 + km x 0.5 + 10 fixed + 0.2 sent messages.
    total = 40 + 15 + km * 0.5 + 10 + 0.2
    assert k.cost.total == pytest.approx(total)
    assert k.cost.overtime == pytest.approx(15)
    assert k.cost.messages == pytest.approx(0.2)
    assert k.cost.per_delivery == pytest.approx(total / 2)
    # 4 attempts (A ok, B fail, B ok, C fail) share the vehicle cost; two failed.
    assert k.cost.failed_attempts == pytest.approx((total - 0.2) / 4 * 2)
    # First attempts: A delivered, B failed, C failed -> 1/3.
    assert k.first_attempt_success_rate == pytest.approx(1 / 3)
    # On time: A yes (10 in 0-30), B no (arrived 40), C yes (no window) -> 2/3; D never served.
    assert k.on_time_rate == pytest.approx(2 / 3)
    # Delivery times: A 72 min, B 220 min.
    assert k.avg_delivery_time_s == pytest.approx((72 + 220) * 60 / 2)
    assert k.p90_delivery_time_s == pytest.approx(220 * 60)
    assert k.stops_per_hour == pytest.approx(4 / 2)
    assert k.km_per_stop == pytest.approx(km / 4)
    assert (k.planned_km, k.planned_hours, k.actual_hours) == (10, 1.5, 2)
    # Arrival error: A |10-5| = 5 min, B |40-20| = 20 min.
    assert k.avg_arrival_error_s == pytest.approx(12.5 * 60)
    assert k.failure_reasons == {"not_home": 1, "refused": 1}
    assert (k.avg_rating, k.ratings) == (3.5, 2)
    assert k.tracking_views_per_order == pytest.approx(1.0)
    assert k.contacts_per_order == pytest.approx(0.25)


def test_driver_scorecards() -> None:
    d1, d2 = kpi.compute(ORDERS, [ROUTE], MESSAGES).drivers
    assert d1.driver_id == "D1"
    assert (d1.stops, d1.delivered, d1.failed) == (2, 2, 1)
    assert d1.success_rate == 1.0 and d1.on_time_rate == 0.5
    assert d1.pod_compliance == 0.5
    # A was marked 0.001° (111.2 m) from its address, B right at it.
    assert d1.avg_distance_from_stop_m == pytest.approx(111.19 / 2, abs=0.1)
    assert (d2.stops, d2.delivered, d2.success_rate, d2.pod_compliance) == (1, 0, 0.0, None)
    assert d2.avg_distance_from_stop_m is None


def test_empty_day_has_no_rates() -> None:
    k = kpi.compute([], [], [])
    assert k.first_attempt_success_rate is None and k.cost.per_delivery is None
    assert k.p90_delivery_time_s is None and k.drivers == []


def test_p90_is_nearest_rank() -> None:
    assert kpi.p90([float(v) for v in range(1, 11)]) == 9
    assert kpi.p90([5.0]) == 5
    assert kpi.p90([1.0, 2.0]) == 2


def test_pod_compliance_over_delivered_orders() -> None:
    # A (delivered, with a proof) and B (delivered, none): 1 of 2.
    assert kpi.compute(ORDERS, [ROUTE], MESSAGES).pod_compliance == 0.5


# --- trends ----------------------------------------------------------------------------------

MONDAY = date(2026, 11, 23)


def test_periods_are_days_or_clipped_iso_weeks() -> None:
    assert kpi.periods(MONDAY, MONDAY, "day") == [(MONDAY, MONDAY)]
    wednesday, next_tuesday = MONDAY + timedelta(days=2), MONDAY + timedelta(days=8)
    assert kpi.periods(wednesday, next_tuesday, "week") == [
        (wednesday, MONDAY + timedelta(days=6)),
        (MONDAY + timedelta(days=7), next_tuesday),
    ]
    assert len(kpi.periods(MONDAY, MONDAY + timedelta(days=27), "day")) == 28
    assert kpi.periods(MONDAY, MONDAY - timedelta(days=1), "week") == []


@given(
    days=st.lists(st.integers(min_value=0, max_value=20), min_size=1, max_size=12),
    bucket=st.sampled_from(["day", "week"]),
)
def test_series_equals_compute_on_each_period_alone(days: list[int], bucket: kpi.Bucket) -> None:
    """Every order lands in exactly one period, and each period is its own compute()."""
    orders = [
        replace(ORDERS[i % 3], id=f"O{i}", day=MONDAY + timedelta(days=d))
        for i, d in enumerate(days)
    ]
    messages = [Message(o.id, 0.1) for o in orders]
    end = MONDAY + timedelta(days=20)
    points = kpi.series(orders, [], messages, start=MONDAY, end=end, bucket=bucket)
    assert sum(p.kpis.orders for p in points) == len(orders)
    assert points[0].start == MONDAY and points[-1].end == end
    for p in points:
        mine = [o for o in orders if o.day is not None and p.start <= o.day <= p.end]
        alone = kpi.compute(mine, [], [m for m in messages if m.order_id in {o.id for o in mine}])
        assert p.kpis == alone


def test_series_leaves_out_records_outside_the_range() -> None:
    inside = replace(ORDERS[0], day=MONDAY)
    outside = replace(ORDERS[1], day=MONDAY + timedelta(days=9))
    route = replace(ROUTE, day=MONDAY - timedelta(days=1))
    (point,) = kpi.series([inside, outside], [route], [], start=MONDAY, end=MONDAY, bucket="day")
    assert point.kpis.orders == 1 and point.kpis.actual_km == 0


def test_an_attempt_counts_on_its_day_after_a_rescheduling() -> None:
    """B failed on Monday (driver D1) and was rescheduled: its date is now Tuesday, where D2
    delivered it. Monday keeps the failure and the first-attempt miss; Tuesday has the
    delivery and no first attempt; the two days together count B once."""
    tuesday = MONDAY + timedelta(days=1)
    monday_at = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)
    b = OrderRecord(
        id="B",
        created_at=monday_at - timedelta(hours=12),
        lon=9.5,
        lat=47.0,
        windows=(
            (monday_at - timedelta(hours=1), monday_at + timedelta(hours=1)),
            (monday_at + timedelta(days=1, hours=-1), monday_at + timedelta(days=1, hours=1)),
        ),
        events=(
            StatusEvent("arrived", monday_at, day=MONDAY),
            StatusEvent("failed", monday_at, reason="not_home", day=MONDAY),
            StatusEvent("delivered", monday_at + timedelta(days=1, hours=3), day=tuesday),
        ),
        carriers=(
            kpi.Carrier(MONDAY, "R1", "D1", monday_at),
            kpi.Carrier(tuesday, "R2", "D2", monday_at + timedelta(days=1)),
        ),
        tracking_views=2,
        day=tuesday,
    )
    a = replace(ORDERS[0], day=MONDAY)  # delivered at its first attempt on Monday
    mon, tue = kpi.series([a, b], [], [], start=MONDAY, end=tuesday, bucket="day")
    assert (mon.kpis.orders, mon.kpis.failed_attempts, mon.kpis.delivered) == (2, 1, 1)
    assert mon.kpis.first_attempt_success_rate == 0.5 and mon.kpis.on_time_rate == 1.0
    assert mon.kpis.failure_reasons == {"not_home": 1}
    assert [c.driver_id for c in mon.kpis.drivers] == ["D1"]
    assert mon.kpis.drivers[0].failed == 1 and mon.kpis.tracking_views_per_order == 1.5
    assert (tue.kpis.orders, tue.kpis.failed_attempts, tue.kpis.delivered) == (1, 0, 1)
    assert tue.kpis.first_attempt_success_rate is None  # a second attempt is not a first
    assert tue.kpis.on_time_rate == 0.0  # delivered at 13:00, window 09-11 that day
    assert [(c.driver_id, c.delivered) for c in tue.kpis.drivers] == [("D2", 1)]
    assert tue.kpis.tracking_views_per_order == 2.0  # the views count on the order's date
    both = kpi.compute([a, b], [], [], start=MONDAY, end=tuesday)
    assert (both.orders, both.delivered, both.failed_attempts) == (2, 2, 1)
    assert both.first_attempt_success_rate == 0.5
    # Without a range (the old reading), B's failure would be on Tuesday only.
    assert kpi.compute([b], [], [], start=MONDAY, end=MONDAY).failed_attempts == 1


# --- baseline vs pilot -----------------------------------------------------------------------


def _kpis(on_time: float | None, cost: float | None) -> kpi.Kpis:
    base = kpi.compute([], [], [])
    return replace(base, on_time_rate=on_time, cost=replace(base.cost, per_delivery=cost))


def test_objectives_absolute_and_relative() -> None:
    baseline, pilot = _kpis(0.80, 5.0), _kpis(0.96, 4.25)  # cost exactly -15 %
    objectives = [
        kpi.Objective("on_time_rate", "at_least", 0.95),
        kpi.Objective("cost_per_delivery", "at_most", -0.15, relative=True),
        kpi.Objective("cost_per_delivery", "at_most", -0.20, relative=True),
        kpi.Objective("avg_rating", "at_least", 4.5),
    ]
    result = kpi.compare(baseline, pilot, objectives)
    verdicts = [(r.met, r.actual) for r in result.objectives]
    assert verdicts[0] == (True, 0.96)
    assert verdicts[1][0] is True and verdicts[1][1] == pytest.approx(-0.15)
    assert verdicts[2][0] is False
    assert verdicts[3] == (None, None)
    assert result.all_met is False
    changes = {c.metric.name: c for c in result.changes}
    assert changes["on_time_rate"].improved is True
    assert changes["cost_per_delivery"].improved is True  # lower is better
    assert changes["cost_per_delivery"].change == pytest.approx(-0.75)
    assert changes["tracking_views_per_order"].improved is None  # no better direction
    assert kpi.compare(baseline, pilot, objectives[:2]).all_met is True
    assert kpi.compare(baseline, pilot, objectives[3:]).all_met is None


def test_relative_objective_without_a_baseline_cannot_be_judged() -> None:
    zero = kpi.compare(_kpis(0.0, 0.0), _kpis(0.5, 3.0), [
        kpi.Objective("cost_per_delivery", "at_most", -0.1, relative=True),
        kpi.Objective("on_time_rate", "at_least", 0.1, relative=True),
    ])  # fmt: skip
    assert [r.met for r in zero.objectives] == [None, None]
    worse = kpi.compare(_kpis(0.9, 4.0), _kpis(0.8, 5.0), [])
    changes = {c.metric.name: c for c in worse.changes}
    assert changes["on_time_rate"].improved is False
    assert changes["cost_per_delivery"].change_rate == pytest.approx(0.25)


def test_every_catalogue_metric_reads_a_result() -> None:
    k = kpi.compute(ORDERS, [ROUTE], MESSAGES)
    values = kpi.values(k)
    assert set(values) == {m.name for m in kpi.METRICS}
    assert values["cost_per_delivery"] == k.cost.per_delivery
    assert values["delivered"] == 2.0 and values["on_time_rate"] == k.on_time_rate
    assert {m.indicator for m in kpi.METRICS} == {"leading", "lagging"}
