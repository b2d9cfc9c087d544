"""The one time vocabulary (``lastmile.core.times``): clock strings up to 48:00, a day's
seconds as date-times and back, across midnight and DST."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lastmile.core.times import (
    MAX_CLOCK_S,
    DayClock,
    format_clock,
    format_clock_exact,
    local_date,
    parse_clock,
    read_clock,
    seconds_of_day,
    seconds_of_iso,
)
from lastmile.plans.pages import _timeline

VADUZ = ZoneInfo("Europe/Vaduz")


def test_clock_strings_go_to_48_hours_like_shifts() -> None:
    # A shift may end at 26:30 (the next night); the API's clock parser stopped at 24:00.
    assert parse_clock("26:30") == 26 * 3600 + 1800
    assert parse_clock("48:00") == MAX_CLOCK_S
    assert read_clock("25:15") == 25 * 3600 + 900
    assert read_clock("9pm") == 21 * 3600
    for bad in ("48:01", "49:00", "12:60", "8 o'clock", "", "-1:00"):
        with pytest.raises(ValueError, match="48:00"):
            parse_clock(bad)
    with pytest.raises(ValueError):
        read_clock("13pm")


@given(st.integers(min_value=0, max_value=MAX_CLOCK_S))
def test_exact_clock_text_reads_back_to_the_same_seconds(seconds: int) -> None:
    assert parse_clock(format_clock_exact(seconds)) == seconds
    assert parse_clock(format_clock(seconds)) == seconds - seconds % 60


def test_a_days_seconds_and_date_times_agree_past_midnight_and_on_dst_days() -> None:
    night = DayClock(date(2026, 12, 7), VADUZ)
    assert night.iso(25 * 3600 + 1800) == "2026-12-08T01:30:00+01:00"
    assert night.seconds(datetime(2026, 12, 8, 0, 30, tzinfo=UTC)) == 25 * 3600 + 1800
    assert seconds_of_iso("2026-12-08T01:30:00+01:00", date(2026, 12, 7)) == 91_800
    assert (
        seconds_of_day(datetime(2026, 12, 6, 22, 0, tzinfo=UTC), date(2026, 12, 7), VADUZ) == -3600
    )
    # Wall clock on the spring-forward day: 08:00 is 08:00 CEST, 06:00 UTC.
    spring = DayClock(date(2026, 3, 29), VADUZ)
    assert spring.utc(8 * 3600) == datetime(2026, 3, 29, 6, 0, tzinfo=UTC)
    assert spring.seconds(spring.utc(8 * 3600)) == 8 * 3600
    assert local_date(datetime(2026, 12, 7, 23, 30, tzinfo=UTC), VADUZ) == date(2026, 12, 8)


def _stop(sequence: int, start: str, departure: str) -> dict[str, object]:
    return {
        "kind": "order",
        "sequence": sequence,
        "external_id": f"N{sequence}",
        "order_id": f"ord_{sequence}",
        "start": start,
        "departure": departure,
        "windows": [],
    }


def test_the_plan_pages_timeline_of_a_route_past_midnight_runs_forward() -> None:
    """A night route 22:00 -> 01:30 drew a negative span (the end read as 01:30 of the
    same day)."""
    doc = {
        "date": "2026-12-07",
        "routes": [
            {
                "vehicle_id": "veh_1",
                "vehicle_name": "Night van",
                "start": {"departure": "2026-12-07T22:00:00+01:00"},
                "end": {"arrival": "2026-12-08T01:30:00+01:00"},
                "stops": [
                    _stop(1, "2026-12-07T23:10:00+01:00", "2026-12-07T23:15:00+01:00"),
                    _stop(2, "2026-12-08T00:40:00+01:00", "2026-12-08T00:45:00+01:00"),
                ],
            }
        ],
    }
    timeline = _timeline(doc, {"veh_1": "#000"})
    row = timeline["rows"][0]
    assert row["span"]["w"] > 0
    first, second = row["bars"]
    assert row["span"]["x"] < first["x"] < second["x"] < row["span"]["x"] + row["span"]["w"]
    assert [t["label"] for t in timeline["ticks"]][-1] in ("26:00", "")
    assert "24:00" in [t["label"] for t in timeline["ticks"]]
