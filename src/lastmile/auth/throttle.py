"""The one atomic limiter: every count the server limits (failed logins, an organisation's
API requests, its orders of a day) is a row of ``login_throttle`` counted by :func:`count`.

One ``INSERT ... ON CONFLICT DO UPDATE ... RETURNING`` statement per count: the database
serialises it, so N parallel requests get N distinct counts on SQLite and on PostgreSQL,
whichever server process they reach (checking first and counting later let 19 of 30
parallel guesses through). A key's window starts with its first count and ends
``window_s`` real seconds later; the next count after that starts a new window at 1.

Windows are on the real clock (``common.clock.utcnow``): limits protect the server, not the
delivery day (``orgs.clock``); a key may name a business day (``orders:<org>:<date>``).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import case, delete, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from lastmile.auth.models import LoginThrottle
from lastmile.common.clock import utcnow


def count(
    session: Session, key: str, window_s: int, *, amount: int = 1, commit: bool = True
) -> tuple[int, datetime]:
    """Add ``amount`` to ``key`` and return (its count in the window, the window's start).

    ``commit=False`` counts inside the caller's transaction, so a rollback takes the count
    back (the orders of a day: counted with the orders they admit). On PostgreSQL the
    counter row stays locked until then, so one key's writers take turns; other keys do not
    wait."""
    now = utcnow()
    expired = LoginThrottle.window_start < now - timedelta(seconds=window_s)
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    statement = (
        insert(LoginThrottle)
        .values(key=key, window_start=now, failures=amount)
        .on_conflict_do_update(
            index_elements=[LoginThrottle.key],
            set_={
                "failures": case((expired, amount), else_=LoginThrottle.failures + amount),
                "window_start": case((expired, now), else_=LoginThrottle.window_start),
            },
        )
        .returning(LoginThrottle.failures, LoginThrottle.window_start)
    )
    counted, started = session.execute(statement).one()
    if commit:
        session.commit()
    return int(counted), started


def take_back(session: Session, key: str, *, reset: bool) -> None:
    """Take back one count of ``key`` (a login that succeeded), or all of them (``reset``)."""
    new = 0 if reset else case((LoginThrottle.failures > 0, LoginThrottle.failures - 1), else_=0)
    session.execute(update(LoginThrottle).where(LoginThrottle.key == key).values(failures=new))
    session.commit()


def retry_after_s(started: datetime, window_s: int) -> int:
    """Whole seconds (at least 1) until the window that began at ``started`` ends."""
    left = started + timedelta(seconds=window_s) - utcnow()
    return max(1, int(left.total_seconds()) + 1)


def forget_old(session: Session, *, older_than: timedelta) -> int:
    """Delete counters whose window started more than ``older_than`` ago (a finished day's
    order counts, addresses that stopped guessing); the retention job calls it. Does not
    commit."""
    gone = session.execute(
        delete(LoginThrottle).where(LoginThrottle.window_start < utcnow() - older_than)
    )
    return int(getattr(gone, "rowcount", 0) or 0)
