"""The dashboard's settings page: depots, vehicles, drivers, members, API keys and webhooks
(forms over the JSON API). It combines several slices, so it lives in ``web/``."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from lastmile.auth import service as auth
from lastmile.common.secrets import mask_password
from lastmile.common.web import AppSettings, DbSession
from lastmile.core.times import format_clock
from lastmile.events import service as events
from lastmile.fleet import service as fleet
from lastmile.fleet.schemas import VehicleRead
from lastmile.orgs import service as orgs
from lastmile.orgs.models import Role
from lastmile.pageframe.layout import (
    Viewer,
    json_script,
    render,
    staff_page,
)
from lastmile.web.setup import ZONES

router = APIRouter(include_in_schema=False)

PROFILES = {
    "van": "Van",
    "car": "Car",
    "cargo_bike": "Cargo bike",
    "bicycle": "Bicycle",
    "walking": "On foot",
}
"""The vehicle profiles (``core.model.Profile``) in the owner's words."""
DIMENSION_NAMES = {"parcels": "parcels", "weight_kg": "kg"}
HANDOVERS = [
    ("signature", "Signed by the recipient", "a signature and the name"),
    ("signature_photo", "Signed, with a photo", "a signature, the name and a photo"),
    ("photo", "Handed over with a photo", "a photo"),
    ("safe_place", "Left at a safe place", "a photo and where it was left"),
    ("neighbour", "With a neighbour", "the neighbour's name (a signature if they like)"),
]
"""The ways of handing over (``core.model.HANDOVERS``) in the owner's words."""


@router.get("/app/settings", response_model=None)
def settings_page(request: Request, session: DbSession, settings: AppSettings) -> Response:
    """Depots, vehicles, drivers, members, API keys and webhooks: forms over the JSON API."""
    viewer = staff_page(request, session, settings)
    if not isinstance(viewer, Viewer):
        return viewer
    depots, _ = fleet.list_depots(session=session, org_id=viewer.org_id)
    vehicles, _ = fleet.list_vehicles(session=session, org_id=viewer.org_id)
    drivers, _ = fleet.list_drivers(session=session, org_id=viewer.org_id)
    keys = auth.list_api_keys(session=session, org_id=viewer.org_id) if viewer.is_admin else []
    hooks = [
        {"id": h.id, "url": mask_password(h.url), "event_types": h.event_types}
        for h in (
            events.list_webhooks(session=session, org_id=viewer.org_id) if viewer.is_admin else []
        )
    ]
    members = (
        [
            {"id": m.id, "user_id": m.user_id, "email": email, "name": name, "role": m.role}
            for m, email, name in auth.list_members(session=session, org_id=viewer.org_id)
        ]
        if viewer.is_admin
        else []
    )
    org = orgs.get(session=session, org_id=viewer.org_id)
    depot_names = {d.id: d.name for d in depots}
    end_names = {
        v.id: d.name
        for v in vehicles
        for d in depots
        if v.end_lon is not None and (v.end_lon, v.end_lat) == (d.lon, d.lat)
    }
    return render(
        request,
        "dashboard/settings.html",
        viewer,
        settings,
        nav="settings",
        depots=depots,
        vehicles=vehicles,
        drivers=drivers,
        keys=keys,
        hooks=hooks,
        members=members,
        invitations=(
            auth.list_invitations(session=session, org_id=viewer.org_id) if viewer.is_admin else []
        ),
        vehicle_names={v.id: v.name or v.external_id for v in vehicles},
        clock=format_clock,
        roles=[r.value for r in Role],
        welcome=request.query_params.get("welcome") == "1",
        org={
            "name": org.name,
            "timezone": org.timezone,
            "default_service_s": orgs.default_service_s(org),
            "pod_policy": orgs.pod_policy(org),
            "phone": orgs.shop_phone(org),
        },
        handovers=HANDOVERS,
        zones=ZONES,
        profiles=PROFILES,
        dimension_names=DIMENSION_NAMES,
        depot_names=depot_names,
        end_names=end_names,
        vehicles_json=json_script(
            [VehicleRead.of(v).model_dump(mode="json", by_alias=True) for v in vehicles]
        ),
        depots_json=json_script([{"id": d.id, "lon": d.lon, "lat": d.lat} for d in depots]),
    )
