"""The standing orders' date rule: weekdays every N weeks, monthly with short months, from
and until, pauses and closed days; checked against a plain day-by-day recount."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lastmile.core.recurrence import WEEKDAYS, Rule, dates, describe, occurrences


def test_tuesday_and_friday_every_other_week_from_a_thursday() -> None:
    rule = Rule("weekly", starts_on=date(2027, 3, 25), weekdays=("tue", "fri"), every_weeks=2)
    got = list(dates(rule, date(2027, 3, 1), date(2027, 4, 30)))
    assert got == [
        date(2027, 3, 26),  # that week's Friday (its Tuesday was before the start)
        date(2027, 4, 6), date(2027, 4, 9),
        date(2027, 4, 20), date(2027, 4, 23),
    ]  # fmt: skip
    assert describe(rule) == "every 2 weeks on Tuesday and Friday"


def test_monthly_on_the_31st_is_each_months_last_day_until_the_end() -> None:
    rule = Rule("monthly", starts_on=date(2028, 1, 15), month_day=31, ends_on=date(2028, 4, 30))
    assert list(dates(rule, date(2028, 1, 1), date(2028, 12, 31))) == [
        date(2028, 1, 31), date(2028, 2, 29), date(2028, 3, 31), date(2028, 4, 30),
    ]  # fmt: skip
    assert describe(rule) == "monthly on the last day"
    assert (
        describe(Rule("monthly", starts_on=date(2028, 1, 1), month_day=2)) == "monthly on the 2nd"
    )
    assert (
        describe(Rule("monthly", starts_on=date(2028, 1, 1), month_day=13)) == "monthly on the 13th"
    )


def test_pause_and_closed_days_are_left_out() -> None:
    rule = Rule(
        "weekly", starts_on=date(2027, 12, 1), weekdays=("mon", "wed", "fri"),
        paused_from=date(2027, 12, 24), paused_until=date(2028, 1, 2),
    )  # fmt: skip
    got = occurrences(rule, date(2027, 12, 20), date(2028, 1, 7), closed={date(2028, 1, 5)})
    assert got == [date(2027, 12, 20), date(2027, 12, 22), date(2028, 1, 3), date(2028, 1, 7)]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"frequency": "weekly", "weekdays": ()},
        {"frequency": "weekly", "weekdays": ("tuesday",)},
        {"frequency": "weekly", "weekdays": ("tue",), "every_weeks": 0},
        {"frequency": "monthly", "month_day": None},
        {"frequency": "monthly", "month_day": 32},
        {"frequency": "weekly", "weekdays": ("tue",), "ends_on": date(2027, 1, 1)},
        {"frequency": "weekly", "weekdays": ("tue",), "paused_from": date(2027, 3, 1)},
    ],
)
def test_an_unusable_rule_is_refused(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        Rule(starts_on=date(2027, 2, 1), **kwargs)  # type: ignore[arg-type]


@given(
    start=st.dates(min_value=date(2024, 1, 1), max_value=date(2030, 12, 31)),
    days=st.sets(st.sampled_from(WEEKDAYS), min_size=1),
    every=st.integers(1, 5),
    offset=st.integers(-30, 60),
    span=st.integers(0, 120),
)
def test_weekly_dates_match_a_day_by_day_count(
    start: date, days: set[str], every: int, offset: int, span: int
) -> None:
    rule = Rule("weekly", starts_on=start, weekdays=tuple(days), every_weeks=every)
    first = start + timedelta(days=offset)
    last = first + timedelta(days=span)
    got = list(dates(rule, first, last))
    start_monday = start - timedelta(days=start.weekday())
    expected = []
    day = first
    while day <= last:
        weeks = ((day - timedelta(days=day.weekday())) - start_monday).days // 7
        if day >= start and WEEKDAYS[day.weekday()] in days and weeks % every == 0:
            expected.append(day)
        day += timedelta(days=1)
    assert got == expected
    # Every chosen weekday comes exactly once in every N-th week after the start's week.
    if span >= 7 * every and offset >= 7:
        assert len(got) >= len(days) * (span // (7 * every)) - len(days)


@given(
    start=st.dates(min_value=date(2024, 1, 1), max_value=date(2030, 12, 31)),
    month_day=st.integers(1, 31),
)
def test_monthly_falls_once_a_month(start: date, month_day: int) -> None:
    rule = Rule("monthly", starts_on=start, month_day=month_day)
    got = list(dates(rule, start, start + timedelta(days=730)))
    months = [(d.year, d.month) for d in got]
    assert len(months) == len(set(months))  # never twice in a month
    assert len(got) >= 23  # and in every month of two years after the first
    for day in got:
        assert day.day == month_day or (day + timedelta(days=1)).day == 1
