"""Request and response bodies of the fleet API: depots, vehicles, drivers, vehicle imports.

Units (see ``docs/api-fleet.md``): locations are WGS84 degrees, times of day are ``"HH:MM"``
strings in the organisation's local time (hours up to 48 for shifts past midnight), durations
are seconds except a break's ``minutes``, money is in the organisation's currency.
``XCreate`` is the full description of a row; ``XUpdate`` is a partial one (PATCH) that the
service merges into the stored row and validates again as an ``XCreate``, so a rule that
spans fields (a break inside the shift) holds whichever fields a request sends.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StringConstraints,
    ValidationInfo,
    field_validator,
)

from lastmile.core.model import Profile
from lastmile.core.times import format_clock_exact, parse_clock
from lastmile.fleet.models import Depot, Driver, Vehicle


class _In(BaseModel):
    """Request bodies: unknown fields are an error (a typo must not be silently ignored).
    NUL characters never reach them: ``lastmile.common.nul`` refuses such requests first, and
    the CSV reader names the row and column of one in a file."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
OptionalText200 = Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)]
Lon = Annotated[float, Field(ge=-180, le=180, description="Longitude, WGS84 degrees.")]
Lat = Annotated[float, Field(ge=-90, le=90, description="Latitude, WGS84 degrees.")]
Money = Annotated[float, Field(ge=0)]
Clock = Annotated[
    str,
    Field(
        description="Local time of day, HH:MM (HH:MM:SS accepted); 00:00 to 48:00.",
        examples=["07:30"],
    ),
]
# Same rules as the orders' demand names and skills, so every requirement can be met.
DimensionName = Annotated[
    str, StringConstraints(min_length=1, max_length=50, pattern=r"^[a-z][a-z0-9_]*$")
]
Skill = Annotated[str, StringConstraints(min_length=1, max_length=50)]
ExternalId = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
RowId = Annotated[str, StringConstraints(min_length=1, max_length=32)]


class Point(_In):
    """A WGS84 position, ``lon`` first as in GeoJSON."""

    lon: Lon
    lat: Lat


class Shift(_In):
    """When the vehicle is available: leaves its start no earlier than ``start``, is back
    (or at its last stop for open routes) no later than ``end``."""

    start: Clock = "08:00"
    end: Clock = "18:00"

    @field_validator("start", "end")
    @classmethod
    def _clock(cls, value: str) -> str:
        return format_clock_exact(parse_clock(value))

    @field_validator("end")
    @classmethod
    def _after_start(cls, value: str, info: ValidationInfo) -> str:
        start = info.data.get("start")
        if start is not None and parse_clock(value) < parse_clock(start):
            raise ValueError(f"is before the shift start {start}")
        return value

    @property
    def start_s(self) -> int:
        return parse_clock(self.start)

    @property
    def end_s(self) -> int:
        return parse_clock(self.end)


class BreakIn(_In):
    """A break of ``minutes`` that must start between ``start`` and ``end``."""

    start: Clock
    end: Clock
    minutes: float = Field(gt=0, le=24 * 60, description="Length of the break in minutes.")

    @field_validator("start", "end")
    @classmethod
    def _clock(cls, value: str) -> str:
        return format_clock_exact(parse_clock(value))

    @field_validator("end")
    @classmethod
    def _after_start(cls, value: str, info: ValidationInfo) -> str:
        start = info.data.get("start")
        if start is not None and parse_clock(value) < parse_clock(start):
            raise ValueError(f"is before the break start {start}")
        return value


# --- depots -----------------------------------------------------------------------------


class DepotCreate(_In):
    name: Name
    address: Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)] = ""
    lon: Lon
    lat: Lat


class DepotUpdate(_In):
    name: Name | None = None
    address: Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)] | None = None
    lon: Lon | None = None
    lat: Lat | None = None


class DepotRead(BaseModel):
    id: str
    name: str
    address: str
    lon: float
    lat: float
    created_at: datetime

    @classmethod
    def of(cls, row: Depot) -> DepotRead:
        return cls(
            id=row.id,
            name=row.name,
            address=row.address,
            lon=row.lon,
            lat=row.lat,
            created_at=row.created_at,
        )


class DepotPage(BaseModel):
    items: list[DepotRead]
    total: int
    limit: int
    offset: int


# --- vehicles ---------------------------------------------------------------------------


class VehicleCreate(_In):
    """A vehicle with its driver's shift. Field order matters: ``break`` is checked against
    the ``shift`` validated before it."""

    external_id: ExternalId = Field(
        description="The id people use (VAN-1); unique in the organisation."
    )
    name: OptionalText200 = ""
    profile: Profile = Field(default=Profile.VAN, description="How it moves on the road network.")
    depot_id: RowId | None = None
    start: Point | None = Field(
        default=None,
        description="Where the shift starts; null = the depot's location (copied when saved).",
    )
    end: Point | None = Field(
        default=None, description="Where the shift ends; null = back to the start."
    )
    open_end: StrictBool = Field(
        default=False, description="The route ends at its last stop; `end` is then ignored."
    )
    shift: Shift = Field(default_factory=Shift)
    capacity: dict[DimensionName, Annotated[float, Field(ge=0)]] = Field(
        min_length=1,
        max_length=20,
        description="Capacity per load dimension, in the dimension's own unit.",
        examples=[{"parcels": 90, "weight_kg": 600}],
    )
    skills: list[Skill] = Field(default_factory=list, max_length=50)
    cost_per_km: Money = 0.0
    cost_per_hour: Money = 0.0
    fixed_cost: Money = Field(default=0.0, description="Paid once if the vehicle is used.")
    speed_factor: float = Field(
        default=1.0, gt=0, le=10, description="1.2 = 20 % faster than the profile's speeds."
    )
    max_duration_s: int | None = Field(default=None, gt=0, le=48 * 3600)
    break_: BreakIn | None = Field(default=None, alias="break")
    max_overtime_s: int = Field(default=0, ge=0, le=24 * 3600)
    overtime_cost_per_hour: Money = 0.0
    active: StrictBool = Field(default=True, description="Inactive vehicles are never planned.")

    @field_validator("skills")
    @classmethod
    def _unique_skills(cls, value: list[str]) -> list[str]:
        return sorted(set(value))

    @field_validator("break_")
    @classmethod
    def _break_in_shift(cls, value: BreakIn | None, info: ValidationInfo) -> BreakIn | None:
        shift = info.data.get("shift")
        if value is None or not isinstance(shift, Shift):
            return value
        if parse_clock(value.start) < shift.start_s or parse_clock(value.end) > shift.end_s:
            raise ValueError(
                f"the break window {value.start}-{value.end} must lie inside the shift {shift.start}-{shift.end}"
            )
        if value.minutes * 60 > shift.end_s - shift.start_s:
            raise ValueError("the break is longer than the shift")
        return value


class VehicleUpdate(_In):
    """Fields to change; ``null`` clears ``depot_id``, ``end``, ``break``, ``max_duration_s``
    and sets ``start`` back to the depot's location."""

    external_id: ExternalId | None = None
    name: OptionalText200 | None = None
    profile: Profile | None = None
    depot_id: RowId | None = None
    start: Point | None = None
    end: Point | None = None
    open_end: StrictBool | None = None
    shift: Shift | None = None
    capacity: dict[DimensionName, Annotated[float, Field(ge=0)]] | None = Field(
        default=None, min_length=1, max_length=20
    )
    skills: list[Skill] | None = Field(default=None, max_length=50)
    cost_per_km: Money | None = None
    cost_per_hour: Money | None = None
    fixed_cost: Money | None = None
    speed_factor: float | None = Field(default=None, gt=0, le=10)
    max_duration_s: int | None = Field(default=None, gt=0, le=48 * 3600)
    break_: BreakIn | None = Field(default=None, alias="break")
    max_overtime_s: int | None = Field(default=None, ge=0, le=24 * 3600)
    overtime_cost_per_hour: Money | None = None
    active: StrictBool | None = None


class BreakRead(BaseModel):
    start: str
    end: str
    minutes: float


class VehicleRead(BaseModel):
    id: str
    external_id: str
    name: str
    profile: Profile
    depot_id: str | None
    start: Point
    end: Point | None
    open_end: bool
    shift: Shift
    capacity: dict[str, float]
    skills: list[str]
    cost_per_km: float
    cost_per_hour: float
    fixed_cost: float
    speed_factor: float
    max_duration_s: int | None
    break_: BreakRead | None = Field(serialization_alias="break")
    max_overtime_s: int
    overtime_cost_per_hour: float
    active: bool
    created_at: datetime

    @classmethod
    def of(cls, row: Vehicle) -> VehicleRead:
        end = (
            None
            if row.end_lon is None or row.end_lat is None
            else Point(lon=row.end_lon, lat=row.end_lat)
        )
        brk = None
        if row.break_start_s is not None and row.break_end_s is not None and row.break_duration_s:
            brk = BreakRead(
                start=format_clock_exact(row.break_start_s),
                end=format_clock_exact(row.break_end_s),
                minutes=row.break_duration_s / 60,
            )
        return cls(
            id=row.id,
            external_id=row.external_id,
            name=row.name,
            profile=Profile(row.profile),
            depot_id=row.depot_id,
            start=Point(lon=row.start_lon, lat=row.start_lat),
            end=end,
            open_end=row.open_end,
            shift=Shift(
                start=format_clock_exact(row.shift_start_s), end=format_clock_exact(row.shift_end_s)
            ),
            capacity=dict(row.capacity),
            skills=list(row.skills),
            cost_per_km=row.cost_per_km,
            cost_per_hour=row.cost_per_hour,
            fixed_cost=row.fixed_cost,
            speed_factor=row.speed_factor,
            max_duration_s=row.max_duration_s,
            break_=brk,
            max_overtime_s=row.max_overtime_s,
            overtime_cost_per_hour=row.overtime_cost_per_hour,
            active=row.active,
            created_at=row.created_at,
        )


class VehiclePage(BaseModel):
    items: list[VehicleRead]
    total: int
    limit: int
    offset: int


class ImportedVehicle(BaseModel):
    row: int | None = Field(description="CSV row (the header is row 1).")
    external_id: str
    id: str | None = Field(description="Database id; null for a vehicle a dry run would create.")
    action: Literal["created", "updated", "unchanged"]
    changed: list[str] = Field(default_factory=list, description="Fields an update changes.")


class VehicleImportReport(BaseModel):
    """What an import did (or, with ``dry_run``, would do). A file with any bad row is
    refused as a whole (422 with one entry per bad cell) and nothing is written."""

    dry_run: bool
    total: int
    created: int
    updated: int
    unchanged: int
    dimensions: list[str]
    unknown_columns: list[str] = Field(
        description="Headers the vehicles CSV format does not know (ignored)."
    )
    vehicles: list[ImportedVehicle]


# --- drivers ----------------------------------------------------------------------------


Phone = Annotated[str, StringConstraints(strip_whitespace=True, max_length=50)]


class DriverCreate(_In):
    name: Name
    phone: Phone = ""
    user_id: RowId | None = Field(
        default=None,
        description="Login of the driver app: a member of the organisation with the role driver.",
    )
    vehicle_id: RowId | None = Field(default=None, description="The vehicle usually driven.")
    active: StrictBool = True


class DriverUpdate(_In):
    name: Name | None = None
    phone: Phone | None = None
    user_id: RowId | None = None
    vehicle_id: RowId | None = None
    active: StrictBool | None = None


class DriverRead(BaseModel):
    id: str
    name: str
    phone: str
    user_id: str | None
    vehicle_id: str | None
    active: bool
    login_invited: bool = Field(
        description="A login invitation was given and not yet used (POST /drivers/{id}/login)."
    )
    created_at: datetime

    @classmethod
    def of(cls, row: Driver) -> DriverRead:
        return cls(
            id=row.id,
            name=row.name,
            phone=row.phone,
            user_id=row.user_id,
            vehicle_id=row.vehicle_id,
            active=row.active,
            login_invited=row.invitation_id is not None and row.user_id is None,
            created_at=row.created_at,
        )


class DriverLoginCreate(BaseModel):
    """The e-mail the driver logs in with."""

    model_config = ConfigDict(extra="forbid")

    email: str = Field(min_length=3, max_length=320)


class DriverLogin(BaseModel):
    """A one-time link for the driver's phone (shown once): a new e-mail sets its password
    there, an existing account logs in and accepts."""

    email: str
    accept_url: str
    qr_svg: str = Field(description="The link as a QR code (SVG) to scan with the phone.")
    expires_at: datetime
    emailed: bool = Field(description="Whether the link was also e-mailed (the server sends mail).")


class DriverPage(BaseModel):
    items: list[DriverRead]
    total: int
    limit: int
    offset: int
