"""Depots, vehicles and drivers: every query scoped to one organisation.

A row of another organisation is reported exactly like a missing one (:class:`NotFound`),
and a reference to one in a body (``depot_id``, ``vehicle_id``) is refused like an unknown
id, so ids of other organisations cannot be probed. Every change records an event
(``depot.created``, ``vehicle.updated``, ...) in the same transaction.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from sqlalchemy import ColumnElement, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from lastmile.core import model as core
from lastmile.core.errors import Conflict, FieldIssue, InputError, NotFound
from lastmile.core.formats.table import match_columns, read_rows
from lastmile.core.formats.vehicles_csv import (
    CAPACITY_PATTERN,
    VEHICLE_ALIASES,
    parse_vehicles_csv,
)
from lastmile.core.times import clock_span, parse_clock
from lastmile.events import service as events
from lastmile.fleet.models import Depot, Driver, Vehicle
from lastmile.fleet.references import References
from lastmile.fleet.schemas import (
    DepotCreate,
    DepotUpdate,
    DriverCreate,
    DriverUpdate,
    ImportedVehicle,
    VehicleCreate,
    VehicleImportReport,
    VehicleUpdate,
)
from lastmile.orgs.models import Membership, Role

MAX_PAGE = 1000

_Row = TypeVar("_Row", Depot, Vehicle, Driver)
_In = TypeVar("_In", bound=BaseModel)


# --- shared helpers ---------------------------------------------------------------------


def _page(
    session: Session,
    model: type[_Row],
    org_id: str,
    filters: Sequence[ColumnElement[bool]],
    order_by: Sequence[Any],
    limit: int,
    offset: int,
) -> tuple[list[_Row], int]:
    where = [model.org_id == org_id, *filters]
    total = session.scalar(select(func.count()).select_from(model).where(*where)) or 0
    rows = session.scalars(
        select(model).where(*where).order_by(*order_by).limit(min(limit, MAX_PAGE)).offset(offset)
    )
    return list(rows), int(total)


def _get(session: Session, model: type[_Row], org_id: str, row_id: str, what: str) -> _Row:
    row = session.scalar(select(model).where(model.id == row_id, model.org_id == org_id))
    if row is None:
        raise NotFound(f"{what} {row_id} not found")
    return row


def _issues_of(exc: ValidationError) -> list[FieldIssue]:
    """Pydantic errors as field issues with the same dotted paths request validation uses."""
    issues = []
    for error in exc.errors():
        field = ".".join(str(p) for p in error.get("loc", ())) or None
        message = str(error.get("msg", "")).removeprefix("Value error, ")
        value = error.get("input")
        shown = (
            value if isinstance(value, str | int | float) and not isinstance(value, bool) else None
        )
        issues.append(FieldIssue(None, field, None if shown is None else str(shown), message))
    return issues


def _merge(model: type[_In], current: dict[str, Any], patch: BaseModel, source: str) -> _In:
    """Apply a partial update to the current values and validate the result as a whole."""
    merged = {**current, **patch.model_dump(exclude_unset=True, by_alias=True)}
    try:
        return model.model_validate(merged)
    except ValidationError as exc:
        raise InputError(issues=_issues_of(exc), source=source) from exc


def _changes(row: object, values: dict[str, Any]) -> list[str]:
    return sorted(k for k, v in values.items() if getattr(row, k) != v)


def _apply(row: object, values: dict[str, Any]) -> None:
    for key, value in values.items():
        setattr(row, key, value)


def _flush(session: Session, conflict: str) -> None:
    """Flush; a unique constraint another request won since our check becomes a 409."""
    try:
        session.flush()
    except IntegrityError as exc:
        session.rollback()
        raise Conflict(conflict) from exc


# --- depots -----------------------------------------------------------------------------


def list_depots(
    *, session: Session, org_id: str, limit: int = 500, offset: int = 0
) -> tuple[list[Depot], int]:
    """Depots by name; returns the page and the total count."""
    return _page(session, Depot, org_id, [], [Depot.name, Depot.id], limit, offset)


def get_depot(*, session: Session, org_id: str, depot_id: str) -> Depot:
    return _get(session, Depot, org_id, depot_id, "depot")


def create_depot(*, session: Session, org_id: str, depot_in: DepotCreate) -> Depot:
    depot = Depot(org_id=org_id, **depot_in.model_dump())
    session.add(depot)
    session.flush()
    events.record(
        session=session,
        org_id=org_id,
        type="depot.created",
        payload={"id": depot.id, "name": depot.name},
    )
    session.commit()
    return depot


def update_depot(*, session: Session, org_id: str, depot_id: str, depot_in: DepotUpdate) -> Depot:
    depot = get_depot(session=session, org_id=org_id, depot_id=depot_id)
    current = {"name": depot.name, "address": depot.address, "lon": depot.lon, "lat": depot.lat}
    values = _merge(DepotCreate, current, depot_in, "depot").model_dump()
    changed = _changes(depot, values)
    if changed:
        _apply(depot, values)
        events.record(
            session=session,
            org_id=org_id,
            type="depot.updated",
            payload={"id": depot.id, "name": depot.name, "changed": changed},
        )
        session.commit()
    return depot


def delete_depot(*, session: Session, org_id: str, depot_id: str) -> None:
    """Delete a depot; its vehicles keep their start and end locations (``depot_id`` is cleared)."""
    depot = get_depot(session=session, org_id=org_id, depot_id=depot_id)
    payload = {"id": depot.id, "name": depot.name}
    # The foreign key would clear depot_id too, but silently: detach here so each vehicle
    # records its change like any other.
    for vehicle in list(
        session.scalars(
            select(Vehicle).where(Vehicle.org_id == org_id, Vehicle.depot_id == depot.id)
        )
    ):
        vehicle.depot_id = None
        events.record(
            session=session,
            org_id=org_id,
            type="vehicle.updated",
            payload={"id": vehicle.id, "external_id": vehicle.external_id, "changed": ["depot_id"]},
        )
    session.delete(depot)
    session.flush()
    events.record(session=session, org_id=org_id, type="depot.deleted", payload=payload)
    session.commit()


# --- vehicles ---------------------------------------------------------------------------


def list_vehicles(
    *,
    session: Session,
    org_id: str,
    active: bool | None = None,
    depot_id: str | None = None,
    limit: int = 500,
    offset: int = 0,
) -> tuple[list[Vehicle], int]:
    """Vehicles by external id; returns the page and the total count."""
    filters: list[ColumnElement[bool]] = []
    if active is not None:
        filters.append(Vehicle.active.is_(active))
    if depot_id is not None:
        filters.append(Vehicle.depot_id == depot_id)
    return _page(
        session, Vehicle, org_id, filters, [Vehicle.external_id, Vehicle.id], limit, offset
    )


def get_vehicle(*, session: Session, org_id: str, vehicle_id: str) -> Vehicle:
    return _get(session, Vehicle, org_id, vehicle_id, "vehicle")


def _vehicle_input(row: Vehicle) -> dict[str, Any]:
    """A stored vehicle in the shape of :class:`VehicleCreate` (the base of a PATCH)."""
    end = (
        None
        if row.end_lon is None or row.end_lat is None
        else {"lon": row.end_lon, "lat": row.end_lat}
    )
    brk = None
    if row.break_start_s is not None and row.break_end_s is not None and row.break_duration_s:
        brk = {
            **clock_span(row.break_start_s, row.break_end_s),
            "minutes": row.break_duration_s / 60,
        }
    return {
        "external_id": row.external_id,
        "name": row.name,
        "profile": row.profile,
        "depot_id": row.depot_id,
        "start": {"lon": row.start_lon, "lat": row.start_lat},
        "end": end,
        "open_end": row.open_end,
        "shift": clock_span(row.shift_start_s, row.shift_end_s),
        "capacity": dict(row.capacity),
        "skills": list(row.skills),
        "cost_per_km": row.cost_per_km,
        "cost_per_hour": row.cost_per_hour,
        "fixed_cost": row.fixed_cost,
        "speed_factor": row.speed_factor,
        "max_duration_s": row.max_duration_s,
        "break": brk,
        "max_overtime_s": row.max_overtime_s,
        "overtime_cost_per_hour": row.overtime_cost_per_hour,
        "active": row.active,
    }


def _vehicle_columns(session: Session, org_id: str, data: VehicleCreate) -> dict[str, Any]:
    """Column values of a validated vehicle; resolves the depot (and its location as start)."""
    issues: list[FieldIssue] = []
    depot = None
    if data.depot_id is not None:
        depot = session.scalar(
            select(Depot).where(Depot.id == data.depot_id, Depot.org_id == org_id)
        )
        if depot is None:
            issues.append(FieldIssue(None, "depot_id", data.depot_id, "no such depot"))
    if data.start is not None:
        start = (data.start.lon, data.start.lat)
    elif depot is not None:
        start = (depot.lon, depot.lat)
    else:
        start = (0.0, 0.0)
        if data.depot_id is None:
            issues.append(
                FieldIssue(None, "start", None, "is required when the vehicle has no depot_id")
            )
    if issues:
        raise InputError(issues=issues, source="vehicle")
    brk = data.break_
    return {
        "external_id": data.external_id,
        "name": data.name,
        "profile": data.profile.value,
        "depot_id": data.depot_id,
        "start_lon": start[0],
        "start_lat": start[1],
        "end_lon": data.end.lon if data.end else None,
        "end_lat": data.end.lat if data.end else None,
        "open_end": data.open_end,
        "shift_start_s": data.shift.start_s,
        "shift_end_s": data.shift.end_s,
        "capacity": {k: float(v) for k, v in sorted(data.capacity.items())},
        "skills": list(data.skills),
        "cost_per_km": data.cost_per_km,
        "cost_per_hour": data.cost_per_hour,
        "fixed_cost": data.fixed_cost,
        "speed_factor": data.speed_factor,
        "max_duration_s": data.max_duration_s,
        "break_start_s": parse_clock(brk.start) if brk else None,
        "break_end_s": parse_clock(brk.end) if brk else None,
        "break_duration_s": round(brk.minutes * 60) if brk else None,
        "max_overtime_s": data.max_overtime_s,
        "overtime_cost_per_hour": data.overtime_cost_per_hour,
        "active": data.active,
    }


def _external_id_taken(
    session: Session, org_id: str, external_id: str, other_than: str | None
) -> bool:
    query = select(Vehicle.id).where(Vehicle.org_id == org_id, Vehicle.external_id == external_id)
    if other_than is not None:
        query = query.where(Vehicle.id != other_than)
    return session.scalar(query.limit(1)) is not None


def _duplicate(external_id: str) -> str:
    return f"a vehicle with external_id {external_id!r} already exists"


def create_vehicle(*, session: Session, org_id: str, vehicle_in: VehicleCreate) -> Vehicle:
    values = _vehicle_columns(session, org_id, vehicle_in)
    if _external_id_taken(session, org_id, vehicle_in.external_id, None):
        raise Conflict(_duplicate(vehicle_in.external_id))
    vehicle = Vehicle(org_id=org_id, **values)
    session.add(vehicle)
    _flush(session, _duplicate(vehicle_in.external_id))
    events.record(
        session=session,
        org_id=org_id,
        type="vehicle.created",
        payload={"id": vehicle.id, "external_id": vehicle.external_id},
    )
    session.commit()
    return vehicle


def update_vehicle(
    *, session: Session, org_id: str, vehicle_id: str, vehicle_in: VehicleUpdate
) -> Vehicle:
    """Change the fields sent; the result is validated as a whole (a break must stay inside
    the shift). ``start: null`` means the depot's location again."""
    vehicle = get_vehicle(session=session, org_id=org_id, vehicle_id=vehicle_id)
    # A new depot_id alone does not move the vehicle: its stored start is part of `current`.
    data = _merge(VehicleCreate, _vehicle_input(vehicle), vehicle_in, "vehicle")
    values = _vehicle_columns(session, org_id, data)
    if _external_id_taken(session, org_id, data.external_id, vehicle.id):
        raise Conflict(_duplicate(data.external_id))
    changed = _changes(vehicle, values)
    if changed:
        _apply(vehicle, values)
        _flush(session, _duplicate(data.external_id))
        events.record(
            session=session,
            org_id=org_id,
            type="vehicle.updated",
            payload={"id": vehicle.id, "external_id": vehicle.external_id, "changed": changed},
        )
        session.commit()
    return vehicle


def delete_vehicle(
    *, session: Session, org_id: str, vehicle_id: str, references: References
) -> None:
    """Delete a vehicle that no plan uses; drivers who usually drive it keep no vehicle.

    A vehicle on a plan's route is refused (409): deleting it would delete those routes.
    Deactivate it instead (``active: false``) and it is no longer planned. ``references``
    answers for the slices above fleet (``fleet/references.py``).
    """
    vehicle = get_vehicle(session=session, org_id=org_id, vehicle_id=vehicle_id)
    used = references.vehicle_routes(session=session, org_id=org_id, vehicle_id=vehicle.id)
    if used:
        raise Conflict(
            f"vehicle {vehicle.external_id} is on {used} planned route(s); deactivate it instead (active: false)"
        )
    payload = {"id": vehicle.id, "external_id": vehicle.external_id}
    for driver in list(
        session.scalars(
            select(Driver).where(Driver.org_id == org_id, Driver.vehicle_id == vehicle.id)
        )
    ):
        driver.vehicle_id = None
        events.record(
            session=session,
            org_id=org_id,
            type="driver.updated",
            payload={"id": driver.id, "name": driver.name, "changed": ["vehicle_id"]},
        )
    session.delete(vehicle)
    session.flush()
    events.record(session=session, org_id=org_id, type="vehicle.deleted", payload=payload)
    session.commit()


# --- vehicles CSV import ----------------------------------------------------------------


def _rows_of_ids(csv_text: str) -> dict[str, int]:
    """Vehicle id -> CSV row, including the ``ID-k`` ids a ``count`` column expands to.

    Only called on a file :func:`parse_vehicles_csv` accepted, so the header is known good.
    """
    header, rows = read_rows(csv_text, source="vehicles CSV")
    columns = match_columns(
        header, VEHICLE_ALIASES, patterns=[CAPACITY_PATTERN], source="vehicles CSV"
    )
    id_column = columns.field_to_column["id"]
    count_column = columns.field_to_column.get("count")
    found: dict[str, int] = {}
    for row_no, cells in rows:
        vid = cells.get(id_column, "")
        found.setdefault(vid, row_no)
        try:
            count = int(float(cells.get(count_column, "") or 1)) if count_column else 1
        except ValueError:
            count = 1
        for k in range(count if count > 1 else 0):
            found.setdefault(f"{vid}-{k + 1}", row_no)
    return found


def _import_input(vehicle: core.Vehicle, dimensions: tuple[str, ...]) -> dict[str, Any]:
    """A parsed CSV vehicle in the shape of :class:`VehicleCreate` (validated like the API)."""
    brk = vehicle.breaks[0] if vehicle.breaks else None
    return {
        "external_id": vehicle.id,
        "name": vehicle.name if vehicle.name != vehicle.id else "",
        "profile": vehicle.profile.value,
        "start": {"lon": vehicle.start.lon, "lat": vehicle.start.lat},
        "end": None if vehicle.end is None else {"lon": vehicle.end.lon, "lat": vehicle.end.lat},
        "open_end": vehicle.end is None,
        "shift": clock_span(vehicle.shift.start, vehicle.shift.end),
        "capacity": dict(zip(dimensions, vehicle.capacity, strict=True)),
        "skills": sorted(vehicle.skills),
        "cost_per_km": vehicle.cost_per_km,
        "cost_per_hour": vehicle.cost_per_hour,
        "fixed_cost": vehicle.fixed_cost,
        "speed_factor": vehicle.speed_factor,
        "max_duration_s": vehicle.max_duration_s or None,
        "break": None
        if brk is None
        else {
            **clock_span(brk.window.start, brk.window.end),
            "minutes": brk.duration_s / 60,
        },
        "max_overtime_s": vehicle.max_overtime_s,
        "overtime_cost_per_hour": vehicle.overtime_cost_per_hour,
    }


# What the vehicles CSV describes: an import sets these and keeps ``depot_id`` and ``active``.
_CSV_FIELDS = (
    "external_id", "name", "profile", "start_lon", "start_lat", "end_lon", "end_lat", "open_end",
    "shift_start_s", "shift_end_s", "capacity", "skills", "cost_per_km", "cost_per_hour",
    "fixed_cost", "speed_factor", "max_duration_s", "break_start_s", "break_end_s",
    "break_duration_s", "max_overtime_s", "overtime_cost_per_hour",
)  # fmt: skip


_RACE = "another request changed these vehicles at the same time; nothing was imported, retry"


def import_vehicles(
    *, session: Session, org_id: str, csv_text: str, dry_run: bool
) -> VehicleImportReport:
    """Create or update the vehicles of a vehicles CSV (the format of ``lastmile plan
    --vehicles``), matched on the CSV ``id`` = the vehicle's ``external_id``.

    All or nothing: any bad cell refuses the whole file (:class:`InputError` listing every
    one, with its row). Re-importing the same file changes nothing and records no events.
    Fields the CSV format has no column for (``depot_id``, ``active``) are kept on update.
    """
    # Lone carriage returns (old Mac exports) would stop the csv module mid-file.
    csv_text = csv_text.replace("\r\n", "\n").replace("\r", "\n")
    try:
        parsed = parse_vehicles_csv(csv_text)
        rows_of = _rows_of_ids(csv_text)
    except csv.Error as exc:
        raise InputError(
            issues=[FieldIssue(None, None, None, f"is not readable as CSV ({exc})")],
            source="vehicles CSV",
        ) from exc
    issues: list[FieldIssue] = []
    planned: list[tuple[int | None, dict[str, Any]]] = []
    for parsed_vehicle in parsed.vehicles:
        row = rows_of.get(parsed_vehicle.id)
        try:
            data = VehicleCreate.model_validate(_import_input(parsed_vehicle, parsed.dimensions))
        except ValidationError as exc:
            issues.extend(FieldIssue(row, i.field, i.value, i.message) for i in _issues_of(exc))
            continue
        values = _vehicle_columns(session, org_id, data)
        planned.append((row, {k: values[k] for k in _CSV_FIELDS}))
    if issues:
        raise InputError(issues=issues, source="vehicles CSV")

    existing = {
        v.external_id: v
        for v in session.scalars(
            select(Vehicle).where(
                Vehicle.org_id == org_id,
                Vehicle.external_id.in_([v["external_id"] for _, v in planned]),
            )
        )
    }
    report: list[ImportedVehicle] = []
    for row, values in planned:
        current = existing.get(values["external_id"])
        if current is None:
            new_id: str | None = None
            if not dry_run:
                vehicle = Vehicle(org_id=org_id, **values)
                session.add(vehicle)
                _flush(session, _RACE)
                new_id = vehicle.id
                events.record(
                    session=session,
                    org_id=org_id,
                    type="vehicle.created",
                    payload={"id": vehicle.id, "external_id": vehicle.external_id, "import": True},
                )
            report.append(
                ImportedVehicle(
                    row=row, external_id=values["external_id"], id=new_id, action="created"
                )
            )
            continue
        changed = _changes(current, values)
        if changed and not dry_run:
            _apply(current, values)
            _flush(session, _RACE)
            events.record(
                session=session,
                org_id=org_id,
                type="vehicle.updated",
                payload={
                    "id": current.id,
                    "external_id": current.external_id,
                    "changed": changed,
                    "import": True,
                },
            )
        report.append(
            ImportedVehicle(
                row=row,
                external_id=current.external_id,
                id=current.id,
                action="updated" if changed else "unchanged",
                changed=changed,
            )
        )
    if dry_run:
        session.rollback()
    else:
        session.commit()
    return VehicleImportReport(
        dry_run=dry_run,
        total=len(report),
        created=sum(r.action == "created" for r in report),
        updated=sum(r.action == "updated" for r in report),
        unchanged=sum(r.action == "unchanged" for r in report),
        dimensions=list(parsed.dimensions),
        unknown_columns=list(parsed.unknown_columns),
        vehicles=report,
    )


# --- vehicles for planning --------------------------------------------------------------


def to_core_vehicles(
    *, session: Session, org_id: str, vehicle_ids: list[str] | None
) -> tuple[list[core.Vehicle], tuple[str, ...]]:
    """The planner's view of the fleet: core vehicles and their load dimensions.

    ``vehicle_ids=None`` takes every active vehicle (ordered by external id, so the same
    fleet gives the same problem); a list takes those vehicles in its order, and refuses
    (:class:`InputError`, field ``vehicle_ids.<i>``) ids that are unknown, of another
    organisation or inactive. Dimensions are the sorted union of the capacity names; a
    vehicle without one of them has capacity 0 in it.
    """
    if vehicle_ids is None:
        rows = list(
            session.scalars(
                select(Vehicle)
                .where(Vehicle.org_id == org_id, Vehicle.active.is_(True))
                .order_by(Vehicle.external_id, Vehicle.id)
            )
        )
    else:
        wanted = list(dict.fromkeys(vehicle_ids))
        found = {
            v.id: v
            for v in session.scalars(
                select(Vehicle).where(Vehicle.org_id == org_id, Vehicle.id.in_(wanted))
            )
        }
        issues = []
        for i, vid in enumerate(vehicle_ids):
            row = found.get(vid)
            if row is None:
                issues.append(FieldIssue(None, f"vehicle_ids.{i}", vid, "no such vehicle"))
            elif not row.active:
                issues.append(FieldIssue(None, f"vehicle_ids.{i}", vid, "is inactive"))
        if issues:
            raise InputError(issues=issues, source="vehicles")
        rows = [found[vid] for vid in wanted]
    dimensions = tuple(sorted({name for row in rows for name in row.capacity}))
    return [_core_vehicle(row, dimensions) for row in rows], dimensions


def _core_vehicle(row: Vehicle, dimensions: tuple[str, ...]) -> core.Vehicle:
    start = core.Location(row.start_lon, row.start_lat)
    end: core.Location | None
    if row.open_end:
        end = None
    elif row.end_lon is not None and row.end_lat is not None:
        end = core.Location(row.end_lon, row.end_lat)
    else:
        end = start
    breaks: tuple[core.Break, ...] = ()
    if row.break_start_s is not None and row.break_end_s is not None and row.break_duration_s:
        breaks = (
            core.Break(core.TimeWindow(row.break_start_s, row.break_end_s), row.break_duration_s),
        )
    return core.Vehicle(
        id=row.id,
        start=start,
        end=end,
        shift=core.TimeWindow(row.shift_start_s, row.shift_end_s),
        capacity=tuple(float(row.capacity.get(d, 0.0)) for d in dimensions),
        name=row.name or row.external_id,
        max_duration_s=row.max_duration_s,
        skills=frozenset(row.skills),
        cost_per_km=row.cost_per_km,
        cost_per_hour=row.cost_per_hour,
        fixed_cost=row.fixed_cost,
        speed_factor=row.speed_factor,
        profile=core.Profile(row.profile),
        breaks=breaks,
        max_overtime_s=row.max_overtime_s,
        overtime_cost_per_hour=row.overtime_cost_per_hour,
    )


# --- drivers ----------------------------------------------------------------------------


def list_drivers(
    *, session: Session, org_id: str, active: bool | None = None, limit: int = 500, offset: int = 0
) -> tuple[list[Driver], int]:
    """Drivers by name; returns the page and the total count."""
    filters: list[ColumnElement[bool]] = []
    if active is not None:
        filters.append(Driver.active.is_(active))
    return _page(session, Driver, org_id, filters, [Driver.name, Driver.id], limit, offset)


def get_driver(*, session: Session, org_id: str, driver_id: str) -> Driver:
    return _get(session, Driver, org_id, driver_id, "driver")


def set_login_invitation(
    *, session: Session, org_id: str, driver_id: str, invitation_id: str
) -> Driver:
    """Remember the login invitation given to a driver without a login (409 if they have
    one); :func:`link_invited` links the login once the invitation is accepted."""
    driver = get_driver(session=session, org_id=org_id, driver_id=driver_id)
    if driver.user_id is not None:
        raise Conflict(f"{driver.name} already has a login")
    driver.invitation_id = invitation_id
    session.commit()
    return driver


def link_invited(
    *, session: Session, org_id: str, user_id: str, invitation_ids: set[str]
) -> Driver | None:
    """Link a login to the driver whose invitation it accepted (its first driver-app call)."""
    if not invitation_ids:
        return None
    driver = session.scalar(
        select(Driver)
        .where(
            Driver.org_id == org_id,
            Driver.user_id.is_(None),
            Driver.invitation_id.in_(invitation_ids),
        )
        .limit(1)
    )
    if driver is None:
        return None
    driver.user_id = user_id
    driver.invitation_id = None
    events.record(
        session=session,
        org_id=org_id,
        type="driver.updated",
        payload={"id": driver.id, "name": driver.name, "changed": ["user_id"]},
    )
    session.commit()
    return driver


def driver_for_user(*, session: Session, org_id: str, user_id: str) -> Driver:
    """The driver record a driver-app login belongs to."""
    driver = session.scalar(
        select(Driver).where(Driver.org_id == org_id, Driver.user_id == user_id)
    )
    if driver is None:
        raise NotFound("no driver is linked to this login")
    return driver


def _check_driver_links(
    session: Session, org_id: str, data: DriverCreate, driver_id: str | None
) -> None:
    issues: list[FieldIssue] = []
    if data.user_id is not None:
        member = session.scalar(
            select(Membership).where(
                Membership.org_id == org_id,
                Membership.user_id == data.user_id,
                Membership.role == Role.DRIVER.value,
            )
        )
        if member is None:
            issues.append(
                FieldIssue(
                    None,
                    "user_id",
                    data.user_id,
                    "is not a member of this organisation with the role driver",
                )
            )
    if data.vehicle_id is not None and (
        session.scalar(
            select(Vehicle.id).where(Vehicle.id == data.vehicle_id, Vehicle.org_id == org_id)
        )
        is None
    ):
        issues.append(FieldIssue(None, "vehicle_id", data.vehicle_id, "no such vehicle"))
    if issues:
        raise InputError(issues=issues, source="driver")
    if data.user_id is not None:
        query = select(Driver.id).where(Driver.org_id == org_id, Driver.user_id == data.user_id)
        if driver_id is not None:
            query = query.where(Driver.id != driver_id)
        if session.scalar(query.limit(1)) is not None:
            raise Conflict("this login is already linked to another driver")


def create_driver(*, session: Session, org_id: str, driver_in: DriverCreate) -> Driver:
    _check_driver_links(session, org_id, driver_in, None)
    driver = Driver(org_id=org_id, **driver_in.model_dump())
    session.add(driver)
    session.flush()
    events.record(
        session=session,
        org_id=org_id,
        type="driver.created",
        payload={"id": driver.id, "name": driver.name},
    )
    session.commit()
    return driver


def update_driver(
    *, session: Session, org_id: str, driver_id: str, driver_in: DriverUpdate
) -> Driver:
    driver = get_driver(session=session, org_id=org_id, driver_id=driver_id)
    current = {
        "name": driver.name,
        "phone": driver.phone,
        "user_id": driver.user_id,
        "vehicle_id": driver.vehicle_id,
        "active": driver.active,
    }
    data = _merge(DriverCreate, current, driver_in, "driver")
    _check_driver_links(session, org_id, data, driver.id)
    values = data.model_dump()
    changed = _changes(driver, values)
    if changed:
        _apply(driver, values)
        events.record(
            session=session,
            org_id=org_id,
            type="driver.updated",
            payload={"id": driver.id, "name": driver.name, "changed": changed},
        )
        session.commit()
    return driver


def delete_driver(*, session: Session, org_id: str, driver_id: str, references: References) -> None:
    """Delete a driver without history; one with routes, device events or positions is
    refused (409): deleting would erase that record. Deactivate them instead.
    ``references`` answers for the slices above fleet (``fleet/references.py``)."""
    driver = get_driver(session=session, org_id=org_id, driver_id=driver_id)
    if references.driver_has_history(session=session, org_id=org_id, driver_id=driver.id):
        raise Conflict(
            f"driver {driver.name} has routes or recorded activity; deactivate them instead (active: false)"
        )
    payload = {"id": driver.id, "name": driver.name}
    session.delete(driver)
    session.flush()
    events.record(session=session, org_id=org_id, type="driver.deleted", payload=payload)
    session.commit()
