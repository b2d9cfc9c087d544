"""When a standing order falls: dates of a repeating rule, pure (no database, no clock).

A rule repeats **weekly** (on some weekdays, every ``every_weeks`` weeks) or **monthly** (on
one day of the month; a month without that day uses its last day, so "the 31st" is the last
day of every month). It runs from ``starts_on`` to ``ends_on`` (inclusive; ``None`` runs on)
and skips a pause (``paused_from`` to ``paused_until``, inclusive) and closed days.

Everything here is local **dates**: a standing order happens on a day of the organisation's
calendar, and its windows are seconds since that day's local midnight (``core.times``), so a
change of daylight-saving time moves nothing. "Every 2 weeks" counts calendar weeks
(Monday to Sunday) from the week of ``starts_on``: a Tuesday-and-Friday rule started on a
Thursday runs on that Friday, skips the next week, and so on.
"""

from __future__ import annotations

import calendar
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Literal

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
"""Weekday names in ``date.weekday()`` order, as the API spells them."""

Frequency = Literal["weekly", "monthly"]


@dataclass(frozen=True)
class Rule:
    """A repeating rule. ``weekdays`` (names of :data:`WEEKDAYS`) and ``every_weeks`` are for
    ``weekly``; ``month_day`` (1-31) for ``monthly``."""

    frequency: Frequency
    starts_on: date
    ends_on: date | None = None
    weekdays: tuple[str, ...] = ()
    every_weeks: int = 1
    month_day: int | None = None
    paused_from: date | None = None
    paused_until: date | None = None

    def __post_init__(self) -> None:
        if self.frequency == "weekly":
            unknown = [d for d in self.weekdays if d not in WEEKDAYS]
            if not self.weekdays or unknown:
                raise ValueError(f"weekdays must be some of {', '.join(WEEKDAYS)}")
            if self.every_weeks < 1:
                raise ValueError("every_weeks must be 1 or more")
        elif self.month_day is None or not 1 <= self.month_day <= 31:
            raise ValueError("month_day must be 1 to 31")
        if self.ends_on is not None and self.ends_on < self.starts_on:
            raise ValueError("ends_on is before starts_on")
        if (self.paused_from is None) != (self.paused_until is None):
            raise ValueError("a pause needs both paused_from and paused_until")

    def falls_on(self, day: date) -> bool:
        """Whether the rule, ignoring pauses and closed days, has an occurrence on ``day``."""
        if day < self.starts_on or (self.ends_on is not None and day > self.ends_on):
            return False
        if self.frequency == "monthly":
            assert self.month_day is not None
            last = calendar.monthrange(day.year, day.month)[1]
            return day.day == min(self.month_day, last)
        if WEEKDAYS[day.weekday()] not in self.weekdays:
            return False
        weeks = (_monday(day) - _monday(self.starts_on)).days // 7
        return weeks % self.every_weeks == 0

    def paused_on(self, day: date) -> bool:
        return (
            self.paused_from is not None
            and self.paused_until is not None
            and self.paused_from <= day <= self.paused_until
        )


def _monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


def dates(rule: Rule, first: date, last: date) -> Iterator[date]:
    """The rule's dates from ``first`` to ``last`` (inclusive), pauses included: callers
    decide what a paused date means (not generated; shown as paused)."""
    day = max(first, rule.starts_on)
    end = last if rule.ends_on is None else min(last, rule.ends_on)
    while day <= end:
        if rule.falls_on(day):
            yield day
        day += timedelta(days=1)


def occurrences(rule: Rule, first: date, last: date, closed: Collection[date] = ()) -> list[date]:
    """The dates an order is due: the rule's dates without its pause and the closed days."""
    return [d for d in dates(rule, first, last) if not rule.paused_on(d) and d not in closed]


DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_DAY_NAMES = dict(zip(WEEKDAYS, DAY_NAMES, strict=True))


def describe(rule: Rule) -> str:
    """The rule in words, for people: "every Tuesday and Friday", "every 2 weeks on Monday",
    "monthly on the 15th", "monthly on the last day"."""
    if rule.frequency == "monthly":
        assert rule.month_day is not None
        if rule.month_day >= 31:
            return "monthly on the last day"
        return f"monthly on the {_ordinal(rule.month_day)}"
    names = [_DAY_NAMES[d] for d in WEEKDAYS if d in rule.weekdays]
    days = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
    if rule.every_weeks == 1:
        return f"every {days}"
    return f"every {rule.every_weeks} weeks on {days}"


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"
