"""The one place the service reads the time (the core never does).

``shifted`` moves this clock for the tests of time-of-day behaviour (booking cut-offs, ETA
windows), so that they do not depend on the hour the suite happens to run at; nothing in the
product moves it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

_offset = timedelta(0)


def utcnow() -> datetime:
    return datetime.now(UTC) + _offset


def offset() -> timedelta:
    """How far :func:`utcnow` is from the real clock (handed to job processes)."""
    return _offset


@contextmanager
def shifted(by: timedelta) -> Iterator[None]:
    """Run with the service's clock ``by`` ahead (or behind, when negative) of the real one."""
    global _offset
    before = _offset
    _offset = before + by
    try:
        yield
    finally:
        _offset = before
