"""Fleet endpoints: depots, vehicles (and their CSV import), drivers.

Roles: admin and dispatcher read and write (a dispatcher adds a rental van or changes a shift
on the day); deleting is admin-only (dispatchers deactivate instead); drivers get 403.
"""

from __future__ import annotations

from typing import Annotated, Any

import segno
from fastapi import APIRouter, Depends, File, Query, Response, UploadFile

from lastmile.auth import service as auth
from lastmile.auth.deps import Caller
from lastmile.auth.principal import STAFF, Principal
from lastmile.common.web import DbSession, PublicUrl
from lastmile.core.errors import Conflict, FieldIssue, InputError
from lastmile.fleet import service
from lastmile.fleet.references import References, fleet_references
from lastmile.fleet.schemas import (
    DepotCreate,
    DepotPage,
    DepotRead,
    DepotUpdate,
    DriverCreate,
    DriverLogin,
    DriverLoginCreate,
    DriverPage,
    DriverRead,
    DriverUpdate,
    VehicleCreate,
    VehicleImportReport,
    VehiclePage,
    VehicleRead,
    VehicleUpdate,
)
from lastmile.orgs.models import Role

router = APIRouter(prefix="/api/v1", tags=["fleet"])


def staff(caller: Caller) -> Principal:
    """Admins and dispatchers; checked before the body is read, so a driver gets 403, not 422."""
    caller.require(*STAFF)
    return caller


def admin(caller: Caller) -> Principal:
    """Admins only: deleting (dispatchers deactivate instead)."""
    caller.require(Role.ADMIN)
    return caller


Staff = Annotated[Principal, Depends(staff)]
Admin = Annotated[Principal, Depends(admin)]
Refs = Annotated[References, Depends(fleet_references)]
"""What refers to a vehicle or driver above fleet, handed over by the app (a delete asks)."""

# Error responses in the OpenAPI document (bodies are problem+json, see docs/api-fleet.md).
_AUTH: dict[int | str, dict[str, Any]] = {
    401: {"description": "Not logged in"},
    403: {"description": "Role not allowed (drivers; deleting needs admin)"},
}
_ONE: dict[int | str, dict[str, Any]] = {
    **_AUTH,
    404: {"description": "No such row in the caller's organisation"},
}
_CONFLICT: dict[int | str, dict[str, Any]] = {
    409: {"description": "Duplicate external_id / login, or still in use"}
}

MAX_IMPORT_BYTES = 2_000_000
"""Largest vehicles CSV accepted (about 10 000 vehicles)."""

Limit = Annotated[int, Query(ge=1, le=service.MAX_PAGE, description="Page size.")]
Offset = Annotated[int, Query(ge=0, le=1_000_000_000, description="Rows to skip.")]
ActiveFilter = Annotated[
    bool | None, Query(description="Only active (true) or inactive (false) rows.")
]


# --- depots -----------------------------------------------------------------------------


@router.get("/depots", response_model=DepotPage, operation_id="list_depots", responses=_AUTH)
def list_depots(
    caller: Staff, session: DbSession, limit: Limit = 500, offset: Offset = 0
) -> DepotPage:
    """Depots of the organisation, by name."""
    rows, total = service.list_depots(
        session=session, org_id=caller.org_id, limit=limit, offset=offset
    )
    return DepotPage(items=[DepotRead.of(r) for r in rows], total=total, limit=limit, offset=offset)


@router.post(
    "/depots",
    response_model=DepotRead,
    status_code=201,
    operation_id="create_depot",
    responses=_AUTH,
)
def create_depot(body: DepotCreate, caller: Staff, session: DbSession) -> DepotRead:
    """Create a depot."""
    return DepotRead.of(service.create_depot(session=session, org_id=caller.org_id, depot_in=body))


@router.get(
    "/depots/{depot_id}", response_model=DepotRead, operation_id="get_depot", responses=_ONE
)
def get_depot(depot_id: str, caller: Staff, session: DbSession) -> DepotRead:
    """One depot."""
    return DepotRead.of(service.get_depot(session=session, org_id=caller.org_id, depot_id=depot_id))


@router.patch(
    "/depots/{depot_id}", response_model=DepotRead, operation_id="update_depot", responses=_ONE
)
def update_depot(depot_id: str, body: DepotUpdate, caller: Staff, session: DbSession) -> DepotRead:
    """Change a depot (vehicles keep their own start locations)."""
    depot = service.update_depot(
        session=session, org_id=caller.org_id, depot_id=depot_id, depot_in=body
    )
    return DepotRead.of(depot)


@router.delete(
    "/depots/{depot_id}",
    status_code=204,
    operation_id="delete_depot",
    responses=_ONE,
)
def delete_depot(depot_id: str, caller: Admin, session: DbSession) -> Response:
    """Delete a depot (admin); its vehicles lose their depot_id, not their locations."""
    service.delete_depot(session=session, org_id=caller.org_id, depot_id=depot_id)
    return Response(status_code=204)


# --- vehicles ---------------------------------------------------------------------------


@router.get("/vehicles", response_model=VehiclePage, operation_id="list_vehicles", responses=_AUTH)
def list_vehicles(
    caller: Staff,
    session: DbSession,
    active: ActiveFilter = None,
    depot_id: Annotated[
        str | None, Query(max_length=32, description="Only this depot's vehicles.")
    ] = None,
    limit: Limit = 500,
    offset: Offset = 0,
) -> VehiclePage:
    """Vehicles of the organisation, by external id."""
    rows, total = service.list_vehicles(
        session=session,
        org_id=caller.org_id,
        active=active,
        depot_id=depot_id,
        limit=limit,
        offset=offset,
    )
    return VehiclePage(
        items=[VehicleRead.of(r) for r in rows], total=total, limit=limit, offset=offset
    )


@router.post(
    "/vehicles", response_model=VehicleRead, status_code=201, operation_id="create_vehicle"
)
def create_vehicle(body: VehicleCreate, caller: Staff, session: DbSession) -> VehicleRead:
    """Create a vehicle; 409 if its external_id is taken."""
    return VehicleRead.of(
        service.create_vehicle(session=session, org_id=caller.org_id, vehicle_in=body)
    )


@router.post(
    "/vehicles/import",
    response_model=VehicleImportReport,
    operation_id="import_vehicles",
    responses={**_AUTH, **_CONFLICT},
)
def import_vehicles(
    caller: Staff,
    session: DbSession,
    file: Annotated[UploadFile, File(description="A vehicles CSV (docs/csv-formats.md), UTF-8.")],
    dry_run: Annotated[bool, Query(description="Report what would change; write nothing.")] = False,
) -> VehicleImportReport:
    """Create or update vehicles from a vehicles CSV, matched on its id column; all or nothing."""
    data = file.file.read(MAX_IMPORT_BYTES + 1)
    if len(data) > MAX_IMPORT_BYTES:
        raise InputError(
            issues=[FieldIssue(None, "file", None, f"is larger than {MAX_IMPORT_BYTES} bytes")],
            source="vehicles CSV",
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(
            issues=[
                FieldIssue(
                    None,
                    "file",
                    None,
                    f"is not UTF-8 text (byte {exc.start}); save it as CSV UTF-8",
                )
            ],
            source="vehicles CSV",
        ) from exc
    return service.import_vehicles(
        session=session, org_id=caller.org_id, csv_text=text, dry_run=dry_run
    )


@router.get(
    "/vehicles/{vehicle_id}", response_model=VehicleRead, operation_id="get_vehicle", responses=_ONE
)
def get_vehicle(vehicle_id: str, caller: Staff, session: DbSession) -> VehicleRead:
    """One vehicle."""
    return VehicleRead.of(
        service.get_vehicle(session=session, org_id=caller.org_id, vehicle_id=vehicle_id)
    )


@router.patch(
    "/vehicles/{vehicle_id}",
    response_model=VehicleRead,
    operation_id="update_vehicle",
    responses={**_ONE, **_CONFLICT},
)
def update_vehicle(
    vehicle_id: str, body: VehicleUpdate, caller: Staff, session: DbSession
) -> VehicleRead:
    """Change the fields sent; the result is validated as a whole."""
    vehicle = service.update_vehicle(
        session=session, org_id=caller.org_id, vehicle_id=vehicle_id, vehicle_in=body
    )
    return VehicleRead.of(vehicle)


@router.delete(
    "/vehicles/{vehicle_id}",
    status_code=204,
    operation_id="delete_vehicle",
    responses={**_ONE, **_CONFLICT},
)
def delete_vehicle(
    vehicle_id: str, caller: Admin, session: DbSession, references: Refs
) -> Response:
    """Delete a vehicle no plan uses (admin); 409 otherwise: deactivate it instead."""
    service.delete_vehicle(
        session=session, org_id=caller.org_id, vehicle_id=vehicle_id, references=references
    )
    return Response(status_code=204)


# --- drivers ----------------------------------------------------------------------------


@router.get("/drivers", response_model=DriverPage, operation_id="list_drivers", responses=_AUTH)
def list_drivers(
    caller: Staff,
    session: DbSession,
    active: ActiveFilter = None,
    limit: Limit = 500,
    offset: Offset = 0,
) -> DriverPage:
    """Drivers of the organisation, by name."""
    rows, total = service.list_drivers(
        session=session, org_id=caller.org_id, active=active, limit=limit, offset=offset
    )
    return DriverPage(
        items=[DriverRead.of(r) for r in rows], total=total, limit=limit, offset=offset
    )


@router.post(
    "/drivers",
    response_model=DriverRead,
    status_code=201,
    operation_id="create_driver",
    responses={**_AUTH, **_CONFLICT},
)
def create_driver(body: DriverCreate, caller: Staff, session: DbSession) -> DriverRead:
    """Create a driver, optionally linked to a driver login and a usual vehicle."""
    return DriverRead.of(
        service.create_driver(session=session, org_id=caller.org_id, driver_in=body)
    )


@router.get(
    "/drivers/{driver_id}", response_model=DriverRead, operation_id="get_driver", responses=_ONE
)
def get_driver(driver_id: str, caller: Staff, session: DbSession) -> DriverRead:
    """One driver."""
    return DriverRead.of(
        service.get_driver(session=session, org_id=caller.org_id, driver_id=driver_id)
    )


@router.patch(
    "/drivers/{driver_id}",
    response_model=DriverRead,
    operation_id="update_driver",
    responses={**_ONE, **_CONFLICT},
)
def update_driver(
    driver_id: str, body: DriverUpdate, caller: Staff, session: DbSession
) -> DriverRead:
    """Change the fields sent."""
    driver = service.update_driver(
        session=session, org_id=caller.org_id, driver_id=driver_id, driver_in=body
    )
    return DriverRead.of(driver)


@router.delete(
    "/drivers/{driver_id}",
    status_code=204,
    operation_id="delete_driver",
    responses={**_ONE, **_CONFLICT},
)
def delete_driver(driver_id: str, caller: Admin, session: DbSession, references: Refs) -> Response:
    """Delete a driver without history (admin); 409 otherwise: deactivate them instead."""
    service.delete_driver(
        session=session, org_id=caller.org_id, driver_id=driver_id, references=references
    )
    return Response(status_code=204)


@router.post(
    "/drivers/{driver_id}/login",
    response_model=DriverLogin,
    status_code=201,
    operation_id="create_driver_login",
    responses={**_ONE, **_CONFLICT},
)
def create_driver_login(
    driver_id: str,
    body: DriverLoginCreate,
    caller: Admin,
    session: DbSession,
    public_url: PublicUrl,
) -> DriverLogin:
    """Give a driver without a login a one-time link for their phone (admin): the invitation
    of the members API with the role driver (a new e-mail sets its password there, an
    existing account logs in and accepts); the driver app links the login to this driver on
    its first call. 409 if the driver has a login."""
    from lastmile.auth.members_api import accept_url, mail_invitation
    from lastmile.orgs import service as orgs

    driver = service.get_driver(session=session, org_id=caller.org_id, driver_id=driver_id)
    if driver.user_id is not None:
        raise Conflict(f"{driver.name} already has a login")
    row, token = auth.invite(
        session=session,
        org_id=caller.org_id,
        email=body.email,
        role=Role.DRIVER,
        invited_by=caller.user_id,
    )
    service.set_login_invitation(
        session=session, org_id=caller.org_id, driver_id=driver.id, invitation_id=row.id
    )
    url = accept_url(public_url, token)
    return DriverLogin(
        email=row.email,
        accept_url=url,
        qr_svg=segno.make(url, error="m").svg_inline(scale=4, title="Login link"),
        expires_at=row.expires_at,
        emailed=mail_invitation(
            row.email, orgs.get(session=session, org_id=caller.org_id).name, Role.DRIVER, url
        ),
    )
