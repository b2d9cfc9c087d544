"""Per-organisation limits, so one tenant of a shared install cannot starve the others:
orders per business day and API requests per minute, counted on the one atomic limiter
(``auth.throttle``, the one that counts failed logins).

The numbers are the instance's defaults (settings ``org_orders_per_day``,
``org_api_requests_per_minute``) or the organisation's own (``orgs.limits``, set by the
instance admin). Refusals are :class:`RateLimited` with the limit's name: 429, Retry-After
and a problem+json that says which limit and how much it allows.

*Requests* are counted in blocks: a server process takes ``limit // 100`` (at most 50, at
least 1) counts of the shared counter at once and spends them itself, so a request costs a
database write only once per block, and the processes together never admit more than the
limit (a block left unspent when the minute ends is lost: at most 1 % less per process).
Once refused, the process refuses that organisation without asking the database until the
window ends, so a tenant flooding the server costs no writes. A new number from the admin
applies at the latest when the running minute ends.

*Orders* are counted in the transaction that creates them (a refused or failed request takes
its count back), per business date of the organisation's clock (``orgs.clock``): a
simulation organisation's day is its simulated day.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from lastmile.auth import throttle
from lastmile.common.clock import utcnow
from lastmile.config import Settings, get_settings
from lastmile.core.errors import NotFound, RateLimited
from lastmile.orgs import clock as org_clock
from lastmile.orgs import limits as org_overrides
from lastmile.orgs.models import Organisation

API_WINDOW_S = 60
ORDERS_WINDOW_S = 2 * 86_400
"""An order count's key names its business date; the window only has to outlast that day."""
MAX_BLOCK = 50


@dataclass(frozen=True)
class Limits:
    """What one organisation may do (0 = no limit)."""

    orders_per_day: int
    api_requests_per_minute: int


_defaults: Limits | None = None


def configure(settings: Settings) -> None:
    """Take the instance's defaults from ``settings`` (the app does at start; a process that
    did not, a worker, reads its environment's settings)."""
    global _defaults
    _defaults = Limits(settings.org_orders_per_day, settings.org_api_requests_per_minute)


def defaults() -> Limits:
    if _defaults is None:
        configure(get_settings())
    assert _defaults is not None
    return _defaults


def of(org: Organisation) -> Limits:
    """The organisation's limits: its own numbers, else the instance's defaults."""
    own = org_overrides.overrides(org)
    base = defaults()
    return Limits(
        orders_per_day=own.get("orders_per_day", base.orders_per_day),
        api_requests_per_minute=own.get("api_requests_per_minute", base.api_requests_per_minute),
    )


def _org(session: Session, org_id: str) -> Organisation:
    org = session.get(Organisation, org_id)
    if org is None:
        raise NotFound("organisation not found")
    return org


# --- API requests --------------------------------------------------------------------------


@dataclass
class _Lease:
    """This process's unspent counts of one organisation's running minute."""

    ends: datetime
    left: int
    limit: int
    refused: bool = False


_leases: dict[str, _Lease] = {}
_lock = threading.Lock()


def spend_request(session: Session, org_id: str) -> None:
    """Count one request of ``org_id``; :class:`RateLimited` beyond its limit. Commits the
    session (call it before the request writes anything)."""
    now = utcnow()
    with _lock:
        lease = _leases.get(org_id)
        if lease is not None and now < lease.ends:
            if lease.refused:
                raise _too_many(lease.limit, lease.ends)
            if lease.left > 0:
                lease.left -= 1
                return
    limit = of(_org(session, org_id)).api_requests_per_minute
    if limit == 0:
        with _lock:
            _leases[org_id] = _Lease(now + timedelta(seconds=API_WINDOW_S), 10**12, 0)
        return
    block = max(1, min(MAX_BLOCK, limit // 100))
    counted, started = throttle.count(session, f"api:{org_id}", API_WINDOW_S, amount=block)
    ends = started + timedelta(seconds=API_WINDOW_S)
    granted = min(block, limit - (counted - block))
    with _lock:
        _leases[org_id] = _Lease(ends, max(0, granted - 1), limit, refused=granted <= 0)
    if granted <= 0:
        raise _too_many(limit, ends)


def _too_many(limit: int, ends: datetime) -> RateLimited:
    wait = max(1, int((ends - utcnow()).total_seconds()) + 1)
    return RateLimited(
        f"this organisation may make {limit} requests a minute; try again in {wait} s",
        wait,
        limit="api_requests_per_minute",
        allowed=limit,
    )


def forget_leases() -> None:
    """Drop this process's blocks (a test that changes a limit and wants it at once)."""
    with _lock:
        _leases.clear()


# --- orders per day -------------------------------------------------------------------------


def spend_orders(session: Session, org_id: str, new_orders: int) -> None:
    """Count ``new_orders`` about to be created in this transaction. Beyond the day's limit
    the transaction is rolled back (nothing of the request is written) and
    :class:`RateLimited` says how many the organisation may still create today."""
    if new_orders <= 0:
        return
    org = _org(session, org_id)
    limit = of(org).orders_per_day
    if limit == 0:
        return
    day = org_clock.today(org)
    key = f"orders:{org_id}:{day.isoformat()}"
    counted, _ = throttle.count(session, key, ORDERS_WINDOW_S, amount=new_orders, commit=False)
    if counted <= limit:
        return
    session.rollback()
    left = max(0, limit - (counted - new_orders))
    zone = ZoneInfo(org.timezone)
    midnight = datetime.combine(day + timedelta(days=1), time(0), zone)
    wait = org_clock.real_seconds(org, midnight - org_clock.now(org))
    raise RateLimited(
        f"this organisation may create {limit} orders a day; {left} more today, "
        f"{new_orders} in this request",
        max(1, int(wait) + 1),
        limit="orders_per_day",
        allowed=limit,
    )
