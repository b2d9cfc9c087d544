"""Tracking page views and rate-limit hits, counted without a commit per request.

Every public tracking request used to write a rate-limit row and, for a page, a view row,
each with its own commit: at a couple of hundred pages a second, hundreds of commits a second
for numbers that are read far less often. Instead each server process keeps what it counted in
the last moments in memory and writes it with one multi-row ``INSERT`` per table and one
commit when the oldest is :data:`FLUSH_S` seconds old (a timer thread), when
:data:`FLUSH_ROWS` are waiting, before this process reads view counts (:func:`flush`: a
process always counts its own views), and when the server stops (the application's lifespan,
and ``atexit``). Each row keeps the moment it was counted, so only the moment of the write
changes.

* **Views** (the "tracking views" KPI): another process's views show up within
  :data:`FLUSH_S` seconds. A clean stop (``SIGTERM``, ``systemctl stop``, Ctrl-C) loses none;
  a process killed outright (``SIGKILL``, the out-of-memory killer, a power cut) loses the
  views of its last :data:`FLUSH_S` seconds at most.
* **Rate-limit hits**: a request counts the hits every process has written plus the ones this
  process still holds (:func:`hits_waiting`), so one process's limit is exact and across
  processes a client can get at most :data:`FLUSH_S` seconds' worth of extra requests through
  before the others see them.
"""

from __future__ import annotations

import atexit
import hashlib
import logging
import math
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import Engine, delete, func, insert, select
from sqlalchemy.orm import Session

from lastmile.common.clock import utcnow
from lastmile.core.errors import RateLimited
from lastmile.tracking.models import TrackingHit, TrackingLink, TrackingView

log = logging.getLogger(__name__)

FLUSH_S = 2.0
"""The longest a counted view or hit waits in memory."""
FLUSH_ROWS = 500
"""Written at once when this many are waiting, whatever their age."""
KEEP_AT_MOST = 100_000
"""Rows kept for a database that cannot be written to; the oldest go beyond this."""
FORGET_HITS_AFTER = timedelta(hours=1)
"""Hit rows older than this are deleted (at most once a minute, by a flush)."""


@dataclass
class _Waiting:
    views: list[tuple[str, str, str, datetime]] = field(default_factory=list)
    """org id, order id, link id, when."""
    hits: dict[str, list[datetime]] = field(default_factory=dict)
    """client key -> when."""

    def size(self) -> int:
        return len(self.views) + sum(len(v) for v in self.hits.values())


_lock = threading.Lock()
_waiting: dict[Engine, _Waiting] = {}
_timer: threading.Timer | None = None
_writing: dict[Engine, list[_Waiting]] = {}
"""Taken from ``_waiting`` by a flush and not yet committed (the rate limit still counts it)."""
_pruned: dict[Engine, float] = {}


def flush_for(session: Session) -> int:
    """:func:`flush` the counts waiting for ``session``'s database (before reading them)."""
    return flush(engine_of(session))


def engine_of(session: Session) -> Engine:
    bind = session.get_bind()
    return bind if isinstance(bind, Engine) else bind.engine


def _add(
    engine: Engine, view: tuple[str, str, str, datetime] | None, hit: tuple[str, datetime] | None
) -> None:
    global _timer
    with _lock:
        waiting = _waiting.setdefault(engine, _Waiting())
        if view is not None:
            waiting.views.append(view)
        if hit is not None:
            waiting.hits.setdefault(hit[0], []).append(hit[1])
        full = waiting.size() >= FLUSH_ROWS
        if not full and _timer is None:
            _timer = threading.Timer(FLUSH_S, _on_timer)
            _timer.daemon = True
            _timer.name = "lastmile-tracking-counters"
            _timer.start()
    if full:
        flush(engine)


def record_view(*, session: Session, link: TrackingLink) -> None:
    """Count one view of ``link`` (written within :data:`FLUSH_S` seconds; no commit here)."""
    _add(engine_of(session), (link.org_id, link.order_id, link.id, utcnow()), None)


def record_hit(*, session: Session, key: str, at: datetime) -> None:
    """Count one request of the client ``key`` (hashed) at ``at``."""
    _add(engine_of(session), None, (key, at))


def hits_waiting(*, session: Session, key: str, since: datetime) -> list[datetime]:
    """This process's not yet written hits of ``key`` after ``since``."""
    engine = engine_of(session)
    with _lock:  # being written counts too: until its commit no other reader sees it
        held = [w for w in (_waiting.get(engine), *_writing.get(engine, [])) if w is not None]
        return [at for w in held for at in w.hits.get(key, ()) if at > since]


def check_rate(
    *, session: Session, client: str, limit: int, window_s: int = 60, now: datetime | None = None
) -> None:
    """Count one request of ``client`` to a public tracking URL; refuse over ``limit`` per
    ``window_s`` (unknown tokens count too, so guessing is slow). The hits every process has
    written plus this process's own (:mod:`lastmile.tracking.counters`: no commit here)."""
    now = now or utcnow()
    key = hashlib.sha256(client.encode()).hexdigest()
    since = now - timedelta(seconds=window_s)
    mine = hits_waiting(session=session, key=key, since=since)
    count = session.scalar(
        select(func.count())
        .select_from(TrackingHit)
        .where(TrackingHit.client == key, TrackingHit.at > since)
    )
    if (count or 0) + len(mine) >= limit:
        first = session.scalar(
            select(func.min(TrackingHit.at)).where(
                TrackingHit.client == key, TrackingHit.at > since
            )
        )
        first = min([t for t in (first, *mine) if t is not None], default=None)
        wait = window_s if first is None else (first - since).total_seconds()
        raise RateLimited("too many requests; try again in a minute", max(1, math.ceil(wait)))
    record_hit(session=session, key=key, at=now)


def _on_timer() -> None:
    global _timer
    with _lock:
        _timer = None
    flush()


def flush(engine: Engine | None = None) -> int:
    """Write what is waiting (for ``engine``, or for every engine); returns the rows written.

    What cannot be written (the database is down) goes back for the next flush."""
    with _lock:
        engines = [engine] if engine is not None else list(_waiting)
        batches = [(e, _waiting.pop(e, None)) for e in engines]
        for target, waiting in batches:
            if waiting is not None:
                _writing.setdefault(target, []).append(waiting)
    written = 0
    for target, waiting in batches:
        if waiting is None:
            continue
        try:
            written += _write(target, waiting) if waiting.size() else 0
        except Exception:
            log.exception("could not write %d tracking counts; retrying later", waiting.size())
            with _lock:
                again = _waiting.setdefault(target, _Waiting())
                again.views[:0] = waiting.views
                del again.views[:-KEEP_AT_MOST]
                for key, times in waiting.hits.items():
                    again.hits.setdefault(key, [])[:0] = times
        finally:
            with _lock:
                _writing[target] = [w for w in _writing[target] if w is not waiting]
    return written


def _write(engine: Engine, waiting: _Waiting) -> int:
    with Session(engine) as session:
        views = waiting.views
        if views:
            # a link (or its order, its organisation) deleted since its view was counted
            # takes its views with it, as the rows' ON DELETE CASCADE would have
            ids = {link_id for _, _, link_id, _ in views}
            alive = set(session.scalars(select(TrackingLink.id).where(TrackingLink.id.in_(ids))))
            views = [v for v in views if v[2] in alive]
        if views:
            session.execute(
                insert(TrackingView),
                [
                    {"org_id": org_id, "order_id": order_id, "link_id": link_id, "created_at": at}
                    for org_id, order_id, link_id, at in views
                ],
            )
        hits = [{"client": key, "at": at} for key, times in waiting.hits.items() for at in times]
        if hits:
            session.execute(insert(TrackingHit), hits)
        now = time.monotonic()
        with _lock:
            prune = now - _pruned.get(engine, 0.0) > 60
            if prune:
                _pruned[engine] = now
        if prune:
            cutoff = utcnow() - FORGET_HITS_AFTER
            session.execute(delete(TrackingHit).where(TrackingHit.at < cutoff))
        session.commit()
    return len(views) + len(hits)


def waiting() -> int:
    """Rows counted in this process and not yet written (tests)."""
    with _lock:
        return sum(w.size() for w in _waiting.values())


atexit.register(flush)
