"""The caller's organisation: read and change its name, time zone and policies; a simulation
organisation's clock; the organisation's simulation organisation for ``lastmile simulate``.

In auth, not orgs: every endpoint needs to know who calls (``auth.deps``), and auth sits above
orgs (users belong to organisations). The rules stay in ``orgs.service`` and ``orgs.clock``;
this only parses, authorises and calls them."""

from __future__ import annotations

from fastapi import APIRouter

from lastmile.auth import service as auth
from lastmile.auth.deps import Caller
from lastmile.common.clock import utcnow
from lastmile.common.web import DbSession
from lastmile.core.errors import FieldIssue, InputError
from lastmile.orgs import clock as org_clock
from lastmile.orgs import service
from lastmile.orgs.models import Organisation, Role
from lastmile.orgs.schemas import (
    ClockSet,
    OrganisationClock,
    OrganisationRead,
    OrganisationUpdate,
    SimulationCreate,
    SimulationRead,
)

router = APIRouter(prefix="/api/v1", tags=["members"])


def _read(org: Organisation) -> OrganisationRead:
    return OrganisationRead(
        id=org.id,
        name=org.name,
        timezone=org.timezone,
        default_service_s=service.default_service_s(org),
        pod_policy=service.pod_policy(org),  # type: ignore[arg-type]
        phone=service.shop_phone(org),
        simulation=org.simulation,
        simulation_of=org.simulation_of,
        clock=OrganisationClock(
            now=org_clock.now(org), speed=org.clock_speed if org.simulation else 1.0
        ),
    )


@router.get("/organisation", response_model=OrganisationRead, operation_id="get_organisation")
def get_organisation(caller: Caller, session: DbSession) -> OrganisationRead:
    """The caller's organisation: name, time zone and policies."""
    return _read(service.get(session=session, org_id=caller.org_id))


@router.patch("/organisation", response_model=OrganisationRead, operation_id="update_organisation")
def update_organisation(
    body: OrganisationUpdate, caller: Caller, session: DbSession
) -> OrganisationRead:
    """Change the name, time zone, default service time, proof policy or phone (admin)."""
    caller.require(Role.ADMIN)
    org = service.update(
        session=session,
        org_id=caller.org_id,
        name=body.name,
        timezone=body.timezone,
        default_service_s=body.default_service_s,
        pod_policy=list(body.pod_policy) if body.pod_policy is not None else None,
        phone=body.phone,
    )
    return _read(org)


@router.put("/organisation/clock", response_model=OrganisationRead, operation_id="set_clock")
def set_clock(body: ClockSet, caller: Caller, session: DbSession) -> OrganisationRead:
    """Start a simulation organisation's clock at ``start``, ``speed`` times real time (staff).
    A real organisation's clock is the real time: 409, nothing changes."""
    caller.require(Role.ADMIN, Role.DISPATCHER)
    org = org_clock.set_clock(
        session=session, org_id=caller.org_id, start=body.start, speed=body.speed
    )
    return _read(org)


SIMULATION_KEY = "lastmile simulate"
"""Name of the API keys this endpoint hands out (a new one revokes the previous ones)."""


@router.post("/organisation/simulation", response_model=SimulationRead, operation_id="simulation")
def simulation(body: SimulationCreate, caller: Caller, session: DbSession) -> SimulationRead:
    """The organisation's simulation organisation, created on first use (staff): where
    ``lastmile simulate`` runs days on its own clock. The caller becomes a member with the
    same role and the named drivers its drivers; the answer carries a new API key for it with
    the caller's role. Called in a simulation organisation, it answers with that one."""
    caller.require(Role.ADMIN, Role.DISPATCHER)
    org = service.get(session=session, org_id=caller.org_id)
    target, created = org, False
    if not org.simulation:
        found = org_clock.simulation_of(session=session, org_id=org.id)
        created = found is None
        target = found or org_clock.new_simulation(session=session, owner=org)
    issues = []
    for n, email in enumerate(body.drivers):
        member = auth.member_by_email(session=session, org_id=org.id, email=email)
        if member is None or member.role != Role.DRIVER.value:
            issues.append(FieldIssue(None, f"drivers.{n}", email[:80], "is not a driver here"))
        elif target is not org:
            service.add_member(
                session=session, org_id=target.id, user_id=member.user_id, role=Role.DRIVER,
                commit=False,
            )  # fmt: skip
    if issues:
        session.rollback()
        raise InputError(issues=issues, source="simulation")
    if caller.user_id and target is not org:
        service.add_member(
            session=session, org_id=target.id, user_id=caller.user_id, role=caller.role,
            commit=False,
        )  # fmt: skip
    for key in auth.list_api_keys(session=session, org_id=target.id):
        if key.name == SIMULATION_KEY and key.role == caller.role and key.revoked_at is None:
            key.revoked_at = utcnow()
    _, secret = auth.create_api_key(
        session=session, org_id=target.id, name=SIMULATION_KEY, role=caller.role
    )
    return SimulationRead(id=target.id, name=target.name, created=created, api_key=secret)
