"""Retention: GPS positions and proof-of-delivery files older than the settings keep them
(``retention_positions_days``, ``retention_pod_days``) are deleted by the worker's periodic
job (``jobs.retention``), without changing any KPI.

* **Positions** are the largest table (a driver sends a point every few seconds). Before a
  route's old points go, the length of their path (and of the leg to the route's first
  point that stays) is added to the route's ``track_removed_m`` in the same transaction, so
  the driven distance and its cost are what they were. Age is the real time a point
  arrived (``created_at``), found by a binary search over the ids (points arrive in id
  order), so the job needs no index that every GPS batch would have to update.
* **Proof files**: the bytes are deleted, the ``pods`` row stays (kind, time, size, hash), so
  "delivered with a proof" still counts; the file is answered as removed by retention. Rows
  are marked in the database first, files deleted after the commit (a failed commit loses
  no file whose row still points at it).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session, sessionmaker

from lastmile.core.kpi import path_m
from lastmile.drivers.models import Position, ProofOfDelivery
from lastmile.drivers.pod_store import PodStore
from lastmile.drivers.service import ERASED_POD, EXPIRED_POD
from lastmile.routes import service as routes

log = logging.getLogger(__name__)

ROUTES_PER_BATCH = 200
"""Routes whose old points go in one transaction."""
IDS_PER_BATCH = 20_000
"""Points without a route deleted in one statement."""
PODS_PER_BATCH = 1_000


@dataclass
class Removed:
    """What one retention run deleted."""

    positions: int = 0
    routes: int = 0
    pod_files: int = 0
    pod_bytes: int = 0


def _first_at_or_after(session: Session, position_id: int) -> tuple[int, datetime] | None:
    row = session.execute(
        select(Position.id, Position.created_at)
        .where(Position.id >= position_id)
        .order_by(Position.id)
        .limit(1)
    ).first()
    return None if row is None else (int(row[0]), row[1])


def last_id_before(session: Session, cutoff: datetime) -> int | None:
    """The largest position id that arrived before ``cutoff`` (``None``: none did): a binary
    search on the primary key, a few dozen index lookups whatever the table's size."""
    low = session.scalar(select(func.min(Position.id)))
    high = session.scalar(select(func.max(Position.id)))
    if low is None or high is None:
        return None
    first = _first_at_or_after(session, low)
    if first is None or first[1] >= cutoff:
        return None
    while low < high:  # invariant: the point at ``low`` arrived before the cutoff
        middle = (low + high + 1) // 2
        found = _first_at_or_after(session, middle)
        if found is not None and found[1] < cutoff and found[0] <= high:
            low = found[0]
        else:
            high = middle - 1
    return low


def remove_positions(sessions: sessionmaker[Session], *, before: datetime) -> Removed:
    """Delete the positions that arrived before ``before``, keeping their routes' driven
    distance (``routes.track_removed_m``)."""
    removed = Removed()
    with sessions() as session:
        boundary = last_id_before(session, before)
        if boundary is None:
            return removed
        route_ids = sorted(
            str(r)
            for r in session.scalars(
                select(Position.route_id)
                .where(Position.id <= boundary, Position.route_id.is_not(None))
                .distinct()
            )
        )
    for start in range(0, len(route_ids), ROUTES_PER_BATCH):
        with sessions() as session:
            batch = route_ids[start : start + ROUTES_PER_BATCH]
            removed.positions += _remove_route_points(session, batch, boundary)
            session.commit()
        removed.routes += len(batch)
    with sessions() as session:
        low = session.scalar(select(func.min(Position.id))) or 0
    for start in range(low, boundary + 1, IDS_PER_BATCH):
        with sessions() as session:
            gone = session.execute(
                delete(Position).where(
                    Position.id >= start,
                    Position.id <= min(boundary, start + IDS_PER_BATCH - 1),
                    Position.route_id.is_(None),
                )
            )
            removed.positions += int(getattr(gone, "rowcount", 0) or 0)
            session.commit()
    return removed


def _remove_route_points(session: Session, route_ids: Sequence[str], boundary: int) -> int:
    """Add the old part of each route's track to the route, then delete those points."""
    old: dict[str, list[tuple[float, float]]] = {}
    for route_id, lon, lat in session.execute(
        select(Position.route_id, Position.lon, Position.lat)
        .where(Position.route_id.in_(route_ids), Position.id <= boundary)
        .order_by(Position.route_id, Position.recorded_at, Position.id)
    ):
        old.setdefault(str(route_id), []).append((lon, lat))
    metres: dict[str, float] = {}
    for route_id, points in old.items():
        after = session.execute(
            select(Position.lon, Position.lat)
            .where(Position.route_id == route_id, Position.id > boundary)
            .order_by(Position.recorded_at, Position.id)
            .limit(1)
        ).first()
        track = (*points, (after[0], after[1])) if after is not None else tuple(points)
        metres[route_id] = path_m(track)
    routes.add_removed_track(session=session, metres=metres)
    gone = session.execute(
        delete(Position).where(Position.route_id.in_(route_ids), Position.id <= boundary)
    )
    return int(getattr(gone, "rowcount", 0) or 0)


def remove_pod_files(
    sessions: sessionmaker[Session], store: PodStore, *, before: datetime
) -> Removed:
    """Delete the files of proofs taken before ``before``; their rows stay."""
    removed = Removed()
    while True:
        with sessions() as session:
            rows = list(
                session.scalars(
                    select(ProofOfDelivery)
                    .where(
                        ProofOfDelivery.created_at < before,
                        ProofOfDelivery.storage_key.not_in((ERASED_POD, EXPIRED_POD)),
                    )
                    .limit(PODS_PER_BATCH)
                )
            )
            if not rows:
                return removed
            keys = {row.storage_key for row in rows}
            removed.pod_bytes += sum(row.size_bytes for row in rows)
            session.execute(
                update(ProofOfDelivery)
                .where(ProofOfDelivery.id.in_([row.id for row in rows]))
                .values(storage_key=EXPIRED_POD)
            )
            session.commit()
            # The same photo sent again later is the same file (content-addressed): keep it
            # while a newer proof still points at it.
            shared = set(
                session.scalars(
                    select(ProofOfDelivery.storage_key).where(ProofOfDelivery.storage_key.in_(keys))
                )
            )
        for key in keys - shared:
            try:
                store.delete(key)
            except (OSError, ValueError):
                log.exception("could not delete the proof file %s", key)
        removed.pod_files += len(rows)
