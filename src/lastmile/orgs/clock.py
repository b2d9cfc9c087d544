"""Each organisation's business clock: real time, unless it is a simulation organisation.

Business time is what a delivery day is measured in: device timestamps and how far in the
future they may be, ETAs, same-day inserts and booking cut-offs, 'today', KPIs and
notifications' quiet hours. A real organisation's business time is the real time
(:func:`lastmile.common.clock.utcnow`) and nobody can move it. A simulation organisation
(``lastmile admin create-org --simulation``, or the one ``lastmile simulate`` runs a day in)
has its own clock: ``clock_start`` at the real moment ``clock_anchor``, running
``clock_speed`` times faster from then on, so a day at 600x gives the KPIs of a real day.

Logins, rate limits, token, link and invitation expiry and job retry delays stay on the real
clock in every organisation: they protect the server, not the delivery day.
"""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from lastmile.common.clock import utcnow
from lastmile.core.errors import Conflict, FieldIssue, InputError, NotFound
from lastmile.core.times import local_date, seconds_of_day
from lastmile.orgs.models import Organisation

MAX_SPEED = 100_000.0
"""Fastest a simulation clock may run (100 000x: a day in under a real second)."""
SIMULATION_SUFFIX = " (simulation)"


def now(org: Organisation, *, real: datetime | None = None) -> datetime:
    """The organisation's business time (UTC) at the real moment ``real`` (default: now)."""
    moment = real or utcnow()
    if not org.simulation or org.clock_start is None or org.clock_anchor is None:
        return moment
    return org.clock_start + (moment - org.clock_anchor) * org.clock_speed


def now_of(*, session: Session, org_id: str, real: datetime | None = None) -> datetime:
    """:func:`now` of the organisation ``org_id``."""
    org = session.get(Organisation, org_id)
    if org is None:
        raise NotFound("organisation not found")
    return now(org, real=real)


def day_seconds(*, session: Session, org_id: str, day: date, at: datetime | None = None) -> int:
    """``at`` (default: the organisation's business time now) as seconds since local midnight
    of ``day`` (the core's time of day: negative before it, past 86 400 the next day)."""
    org = session.get(Organisation, org_id)
    if org is None:
        raise NotFound("organisation not found")
    return seconds_of_day(at or now(org), day, ZoneInfo(org.timezone))


def real_seconds(org: Organisation, business: timedelta) -> float:
    """How many real seconds ``business`` time of the organisation takes: a job that waits for
    a business moment (the end of quiet hours) is scheduled in real seconds."""
    seconds = business.total_seconds()
    if org.simulation and org.clock_start is not None and org.clock_speed > 0:
        return seconds / org.clock_speed
    return seconds


def today(org: Organisation) -> date:
    """The organisation's business date in its time zone."""
    return local_date(now(org), ZoneInfo(org.timezone))


def set_clock(*, session: Session, org_id: str, start: datetime, speed: float) -> Organisation:
    """Start a simulation organisation's clock at ``start`` (business time, aware), running
    ``speed`` times faster than real time. A real organisation's clock is the real time:
    refused (409), and nothing changes."""
    org = session.get(Organisation, org_id)
    if org is None:
        raise NotFound("organisation not found")
    if not org.simulation:
        raise Conflict(
            "a real organisation's clock is the real time and cannot be moved; run simulated "
            "days in a simulation organisation (lastmile simulate, or lastmile admin create-org "
            "--simulation)"
        )
    issues = []
    if start.tzinfo is None:
        issues.append(FieldIssue(None, "start", start.isoformat(), "needs a UTC offset"))
    if not (math.isfinite(speed) and 0 < speed <= MAX_SPEED):
        issues.append(
            FieldIssue(None, "speed", str(speed), f"must be above 0 and at most {MAX_SPEED:g}")
        )
    if issues:
        raise InputError(issues=issues, source="clock")
    org.clock_start, org.clock_anchor = start.astimezone(UTC), utcnow()
    org.clock_speed = float(speed)
    session.commit()
    return org


def simulation_of(*, session: Session, org_id: str) -> Organisation | None:
    """The simulation organisation that runs ``org_id``'s simulated days, if it has one."""
    return session.scalar(
        select(Organisation)
        .where(Organisation.simulation_of == org_id, Organisation.simulation.is_(True))
        .order_by(Organisation.created_at)
        .limit(1)
    )


def new_simulation(*, session: Session, owner: Organisation) -> Organisation:
    """A simulation organisation for ``owner``: its name with ``(simulation)``, its time zone,
    its proof-of-delivery and planning policies (not its notification channels: simulated
    customers get no real messages). Its clock is the real time until a simulation sets it."""
    name = owner.name[: 200 - len(SIMULATION_SUFFIX) - 3] + SIMULATION_SUFFIX
    taken = set(
        session.scalars(select(Organisation.name).where(Organisation.name.startswith(name)))
    )
    candidate, n = name, 2
    while candidate in taken:
        candidate, n = f"{name} {n}", n + 1
    settings = {k: v for k, v in (owner.settings or {}).items() if k != "notifications"}
    org = Organisation(
        name=candidate,
        timezone=owner.timezone,
        settings=settings,
        simulation=True,
        simulation_of=owner.id,
    )
    session.add(org)
    session.flush()
    return org
