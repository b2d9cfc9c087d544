"""The one time vocabulary: clock strings, seconds since local midnight, local and UTC times.

The core plans a day in seconds since local midnight of the plan's date (``08:30`` is
30 600, ``25:15`` is a quarter past one the next night: a shift may run to ``48:00``, the
planning horizon). The edges speak ISO 8601 date-times with the organisation's time zone,
and the database stores UTC. Every conversion between these lives here, so that a route past
midnight, a DST day or a 48-hour shift is handled once:

- clock strings: :func:`parse_clock` (the API's strict ``HH:MM[:SS]``), :func:`read_clock`
  (what people type in a spreadsheet), :func:`format_clock` (``HH:MM``) and
  :func:`format_clock_exact` (``HH:MM`` or ``HH:MM:SS``);
- a day's seconds and date-times: :class:`DayClock` (seconds -> aware date-time / ISO text),
  :func:`seconds_of_day` (a date-time -> seconds since midnight of a given day) and
  :func:`seconds_of_iso` (the same for an ISO text of a plan document);
- local dates and clock faces of moments: :func:`local_date`, :func:`local_hhmm`.

Wall-clock arithmetic throughout: ``08:00`` of a DST day is 08:00 on the wall, whatever the
number of seconds since midnight really was. Pure: no clock is read here (time is passed in).
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

MAX_CLOCK_S = 48 * 3600
"""Latest time of day anything may name: ``48:00`` (the core's planning horizon; hours past
24 are the next day)."""

_STRICT = re.compile(r"(\d{1,2}):(\d{2})(?::(\d{2}))?")
_LENIENT = re.compile(
    r"(?P<h>\d{1,2})(?:(?:[:.h](?P<m>\d{2}))(?::(?P<s>\d{2}))?|h)?"
    r"\s*(?P<ampm>[ap]\.?m\.?)?(?:\s*uhr)?"
)


def _refused(text: str) -> ValueError:
    return ValueError(f"not a time of day (expected HH:MM, at most 48:00): {text!r}")


def parse_clock(text: str) -> int:
    """``"08:30"``, ``"8:30:15"`` or ``"26:00"`` -> seconds since local midnight: the API's
    strict format, up to :data:`MAX_CLOCK_S` (``48:00``).

    Raises ``ValueError`` with a readable message on anything else. Spreadsheets use
    :func:`read_clock`, which accepts what people type.
    """
    match = _STRICT.fullmatch(text.strip())
    if match is None:
        raise _refused(text)
    return _seconds(text, int(match[1]), int(match[2]), int(match[3] or 0))


def read_clock(text: str) -> int:
    """A time of day as people type it in a spreadsheet -> seconds since local midnight.

    ``08:30``, ``8:30:15``, ``8.30``, ``8h30``, ``8h``, ``8`` (hours only), ``8:30 pm``,
    ``9am``, ``9 Uhr``, ``25:30`` (the next night). Raises ``ValueError`` with a readable
    message on anything else.
    """
    match = _LENIENT.fullmatch(text.strip().lower())
    if match is None:
        raise _refused(text)
    hours = int(match["h"])
    if match["ampm"]:
        if not 1 <= hours <= 12:
            raise _refused(text)
        hours = hours % 12 + (12 if match["ampm"].startswith("p") else 0)
    return _seconds(text, hours, int(match["m"] or 0), int(match["s"] or 0))


def _seconds(text: str, hours: int, minutes: int, seconds: int) -> int:
    if minutes > 59 or seconds > 59:
        raise _refused(text)
    total = hours * 3600 + minutes * 60 + seconds
    if total > MAX_CLOCK_S:
        raise _refused(text)
    return total


def format_clock(seconds: float) -> str:
    """Seconds since midnight -> ``"HH:MM"`` (hours past 24 for the next night; negative
    values, before the day began, read ``00:00``)."""
    whole = max(0, int(seconds))
    return f"{whole // 3600:02d}:{whole % 3600 // 60:02d}"


def format_clock_exact(seconds: float) -> str:
    """Seconds since midnight -> ``"HH:MM"``, or ``"HH:MM:SS"`` when the seconds are not zero:
    what :func:`parse_clock` reads back to the same number."""
    hours, rest = divmod(max(0, int(seconds)), 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours:02d}:{minutes:02d}" + (f":{secs:02d}" if secs else "")


def clock_span(start_s: float, end_s: float) -> dict[str, str]:
    """A window or shift as the API writes it: ``{"start": "HH:MM", "end": "HH:MM"}``."""
    return {"start": format_clock_exact(start_s), "end": format_clock_exact(end_s)}


class DayClock:
    """Seconds since local midnight of ``day`` in ``zone`` as date-times (and back)."""

    def __init__(self, day: date, zone: ZoneInfo) -> None:
        self.day = day
        self.zone = zone

    def at(self, seconds: float) -> datetime:
        """The aware local date-time ``seconds`` after midnight (wall clock)."""
        wall = datetime.combine(self.day, time(0)) + timedelta(seconds=seconds)
        return wall.replace(tzinfo=self.zone)

    def utc(self, seconds: float) -> datetime:
        return self.at(seconds).astimezone(UTC)

    def iso(self, seconds: float) -> str:
        # Wall-clock arithmetic, then attach the zone: "08:00" stays 08:00 on DST days.
        return self.at(seconds).isoformat()

    def seconds(self, moment: datetime) -> int:
        return seconds_of_day(moment, self.day, self.zone)


def seconds_of_day(at: datetime, day: date, zone: ZoneInfo) -> int:
    """``at`` as seconds since local midnight of ``day`` (wall clock, like the plan's times):
    negative before that day, past 86 400 the next day."""
    wall = at.astimezone(zone).replace(tzinfo=None)
    return int((wall - datetime.combine(day, time(0))).total_seconds())


def seconds_of_iso(text: str, day: date) -> int:
    """An ISO date-time of a plan document (local, with its offset) as seconds since local
    midnight of ``day``: ``01:30`` of the next day is 91 800, not 5 400."""
    wall = datetime.fromisoformat(text).replace(tzinfo=None)
    return int((wall - datetime.combine(day, time(0))).total_seconds())


def local_date(moment: datetime, zone: ZoneInfo) -> date:
    """The date on the wall in ``zone`` at ``moment`` (an organisation's 'today')."""
    return moment.astimezone(zone).date()


def local_hhmm(moment: datetime | None, zone: ZoneInfo) -> str:
    """``"HH:MM"`` on the wall in ``zone`` at ``moment`` (``""`` for none)."""
    return moment.astimezone(zone).strftime("%H:%M") if moment is not None else ""
