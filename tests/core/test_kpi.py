"""KPI formulas on hand-made records whose answers are worked out by hand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

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
