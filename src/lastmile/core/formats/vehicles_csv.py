"""The vehicles CSV: one row per vehicle (or ``count`` identical ones). See ``docs/csv-formats.md``.

Every ``capacity_<name>`` column defines a load dimension ``<name>``; a lone ``capacity``
column means ``parcels``. An empty end location (or the word ``anywhere``) makes an open
route that ends at the last stop.
"""

from __future__ import annotations

from dataclasses import dataclass

from lastmile.core.errors import FieldIssue, InputError
from lastmile.core.formats.table import (
    RowReader,
    match_columns,
    normalise_header,
    parse_windows,
    read_rows,
)
from lastmile.core.model import Break, Location, Profile, TimeWindow, Vehicle

VEHICLE_ALIASES: dict[str, tuple[str, ...]] = {
    "id": ("vehicle_id", "vehicle", "plate", "registration"),
    "name": ("vehicle_name", "label", "driver", "driver_name"),
    "profile": ("type", "vehicle_type", "mode"),
    "start_lon": ("start_lng", "start_longitude", "depot_lon", "depot_lng", "depot_longitude"),
    "start_lat": ("start_latitude", "depot_lat", "depot_latitude"),
    "end_lon": ("end_lng", "end_longitude"),
    "end_lat": ("end_latitude",),
    "shift_start": ("start_time", "shift_from", "available_from", "tw_start"),
    "shift_end": ("end_time", "shift_to", "available_to", "tw_end"),
    "shift": ("shift_window", "working_hours", "availability"),
    "capacity": ("cap",),
    "cost_per_km": ("km_cost", "cost_km", "distance_cost"),
    "cost_per_hour": ("hourly_cost", "cost_hour", "time_cost", "wage_per_hour"),
    "fixed_cost": ("cost_fixed", "daily_cost", "fixed"),
    "skills": ("skill", "equipment", "features"),
    "max_duration_h": ("max_hours", "max_route_hours"),
    "max_duration_min": ("max_route_minutes", "max_minutes"),
    "speed_factor": ("speed",),
    "break_start": ("break_from",),
    "break_end": ("break_to", "break_until"),
    "break_min": ("break_minutes", "break_duration_min", "break_duration"),
    "max_overtime_min": ("overtime_min", "max_overtime"),
    "overtime_cost_per_hour": ("overtime_cost",),
    "count": ("number", "quantity", "qty", "num_vehicles"),
}

PROFILE_ALIASES: dict[str, Profile] = {
    "van": Profile.VAN,
    "truck": Profile.VAN,
    "lorry": Profile.VAN,
    "sprinter": Profile.VAN,
    "car": Profile.CAR,
    "auto": Profile.CAR,
    "cargo_bike": Profile.CARGO_BIKE,
    "cargobike": Profile.CARGO_BIKE,
    "ebike": Profile.CARGO_BIKE,
    "e_bike": Profile.CARGO_BIKE,
    "cargo_bicycle": Profile.CARGO_BIKE,
    "bicycle": Profile.BICYCLE,
    "bike": Profile.BICYCLE,
    "cycle": Profile.BICYCLE,
    "walking": Profile.WALKING,
    "walk": Profile.WALKING,
    "foot": Profile.WALKING,
    "pedestrian": Profile.WALKING,
}

CAPACITY_PATTERN = r"capacity_(\w+)"


@dataclass(frozen=True)
class VehiclesFile:
    vehicles: tuple[Vehicle, ...]
    dimensions: tuple[str, ...]
    unknown_columns: tuple[str, ...]


def _dimension_of(column_key: str) -> str:
    """``capacity_weight`` -> ``weight_kg`` (the usual spelling); others keep their name."""
    name = column_key.removeprefix("capacity_")
    from lastmile.core.formats.orders_csv import DEMAND_ALIASES

    for dim, names in DEMAND_ALIASES.items():
        if name == dim or name in names:
            return dim
    return name


def parse_vehicles_csv(text: str, *, source: str = "vehicles CSV") -> VehiclesFile:
    """Parse the vehicles CSV; raise :class:`InputError` listing every bad cell."""
    header, rows = read_rows(text, source=source)
    columns = match_columns(header, VEHICLE_ALIASES, patterns=[CAPACITY_PATTERN], source=source)
    capacity_columns: dict[str, str] = {}
    for key, column in columns.extra.items():
        capacity_columns.setdefault(_dimension_of(key), column)
    if "capacity" in columns.field_to_column:
        capacity_columns.setdefault("parcels", columns.field_to_column["capacity"])
    dimensions = tuple(capacity_columns)

    issues: list[FieldIssue] = []
    for needed in ("id", "start_lon", "start_lat"):
        if needed not in columns.field_to_column:
            issues.append(FieldIssue(1, None, None, f"missing column {needed!r}"))
    if not capacity_columns:
        issues.append(
            FieldIssue(
                1, None, None, "no capacity column (e.g. 'capacity_parcels', 'capacity_weight_kg')"
            )
        )
    if issues:
        raise InputError(issues=issues, source=source)

    vehicles: list[Vehicle] = []
    seen: dict[str, int] = {}
    for row_no, cells in rows:
        r = RowReader(row_no, cells, columns, issues)
        vid = r.text("id", required=True)
        start = _point(r, "start_lon", "start_lat", required=True)
        end: Location | None = start
        end_text = (r.raw("end_lon") + r.raw("end_lat")).strip().lower()
        if end_text in ("anywhere", "open", "none"):
            end = None
        elif "end_lon" in columns.field_to_column or "end_lat" in columns.field_to_column:
            end = _point(r, "end_lon", "end_lat", required=False) if end_text else None
        shift = _shift(r)
        capacity = tuple(
            r.number(dim, default=0.0, minimum=0, cell=(col, cells.get(col, ""))) or 0.0
            for dim, col in capacity_columns.items()
        )
        profile_text = normalise_header(r.raw("profile") or "van")
        profile = PROFILE_ALIASES.get(profile_text)
        if profile is None:
            r.fail(
                "profile",
                r.raw("profile"),
                f"unknown profile; use one of {sorted({p.value for p in Profile})}",
            )
            profile = Profile.VAN
        max_duration: int | None = None
        if r.has("max_duration_h"):
            max_duration = round((r.number("max_duration_h", minimum=0) or 0) * 3600)
        elif r.has("max_duration_min"):
            max_duration = round((r.number("max_duration_min", minimum=0) or 0) * 60)
        breaks: tuple[Break, ...] = ()
        if r.has("break_min"):
            minutes = r.number("break_min", minimum=0) or 0
            b_start = r.clock("break_start")
            b_end = r.clock("break_end")
            low = shift.start if b_start is None else b_start
            high = shift.end if b_end is None else b_end
            if high < low:
                r.fail("break_end", r.raw("break_end"), "is before break_start")
            elif minutes > 0:
                breaks = (Break(TimeWindow(low, high), round(minutes * 60)),)
        count = int(r.number("count", default=1, minimum=1) or 1)
        speed = r.number("speed_factor", default=1.0) or 1.0
        if speed <= 0:
            r.fail("speed_factor", r.raw("speed_factor"), "must be positive")
            speed = 1.0
        if start is None:
            continue
        for k in range(count):
            one_id = vid if count == 1 else f"{vid}-{k + 1}"
            if one_id in seen:
                r.fail("id", vid, f"duplicates the id of row {seen[one_id]}")
            seen.setdefault(one_id, row_no)
            vehicles.append(
                Vehicle(
                    id=one_id,
                    name=r.raw("name") or one_id,
                    start=start,
                    end=end,
                    shift=shift,
                    capacity=capacity,
                    max_duration_s=max_duration,
                    skills=r.words("skills"),
                    cost_per_km=r.number("cost_per_km", default=0.0, minimum=0) or 0.0,
                    cost_per_hour=r.number("cost_per_hour", default=0.0, minimum=0) or 0.0,
                    fixed_cost=r.number("fixed_cost", default=0.0, minimum=0) or 0.0,
                    speed_factor=speed,
                    profile=profile,
                    breaks=breaks,
                    max_overtime_s=round(
                        (r.number("max_overtime_min", default=0, minimum=0) or 0) * 60
                    ),
                    overtime_cost_per_hour=r.number(
                        "overtime_cost_per_hour", default=0.0, minimum=0
                    )
                    or 0.0,
                )
            )
    if not rows:
        issues.append(FieldIssue(None, None, None, "has no vehicles"))
    if issues:
        raise InputError(issues=issues, source=source)
    return VehiclesFile(tuple(vehicles), dimensions, tuple(columns.unknown))


def _point(r: RowReader, lon_name: str, lat_name: str, *, required: bool) -> Location | None:
    lon = r.number(lon_name)
    lat = r.number(lat_name)
    if lon is None or lat is None:
        if required or r.has(lon_name) or r.has(lat_name):
            r.fail(lon_name if lon is None else lat_name, None, "is empty")
        return None
    if not -180 <= lon <= 180:
        r.fail(lon_name, r.raw(lon_name), "must be between -180 and 180")
        return None
    if not -90 <= lat <= 90:
        r.fail(lat_name, r.raw(lat_name), "must be between -90 and 90")
        return None
    return Location(lon, lat)


def _shift(r: RowReader) -> TimeWindow:
    if r.has("shift"):
        try:
            windows = list(parse_windows(r.raw("shift")))
        except ValueError as exc:
            r.fail("shift", r.raw("shift"), str(exc))
            windows = []
        if len(windows) == 1:
            return TimeWindow(*windows[0])
        if windows:
            r.fail("shift", r.raw("shift"), "must be one window (HH:MM-HH:MM)")
    start = r.clock("shift_start")
    end = r.clock("shift_end")
    start = 8 * 3600 if start is None else start
    end = 18 * 3600 if end is None else end
    if end < start:
        r.fail("shift_end", r.raw("shift_end"), "is before shift_start")
        return TimeWindow(start, start)
    return TimeWindow(start, end)
