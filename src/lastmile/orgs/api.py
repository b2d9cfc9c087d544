"""Members of the caller's organisation (admin): list, invite or change a role, remove, reset
a password; pending invitations.

Nobody is added without saying yes: inviting answers the same whether or not the e-mail has
an account, and never shows another organisation's users."""

from __future__ import annotations

from fastapi import APIRouter, Response

from lastmile.auth import service as auth
from lastmile.auth.deps import Caller
from lastmile.auth.models import Invitation
from lastmile.common.clock import utcnow
from lastmile.common.web import AppSettings, DbSession
from lastmile.core.errors import FieldIssue, InputError
from lastmile.integrations.notify.base import NotifySettings, OutgoingMessage, SendError
from lastmile.integrations.notify.email import SmtpChannel
from lastmile.orgs import clock as org_clock
from lastmile.orgs import service
from lastmile.orgs.models import Organisation, Role
from lastmile.orgs.schemas import (
    ClockSet,
    InvitationCreated,
    InvitationRead,
    MemberCreate,
    MemberRead,
    OrganisationClock,
    OrganisationRead,
    OrganisationUpdate,
    PasswordReset,
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
        member = service.member_by_email(session=session, org_id=org.id, email=email)
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


def accept_url(public_url: str, token: str) -> str:
    """Where an invitee (or a member whose password was reset) opens their link."""
    return f"{public_url.rstrip('/')}/app/invite/{token}"


def _invitation(row: Invitation) -> InvitationRead:
    return InvitationRead(
        id=row.id,
        email=row.email,
        role=Role(row.role),
        created_at=row.created_at,
        expires_at=row.expires_at,
    )


@router.get("/members", response_model=list[MemberRead], operation_id="list_members")
def list_members(caller: Caller, session: DbSession) -> list[MemberRead]:
    """Users of the organisation with their roles (admin)."""
    caller.require(Role.ADMIN)
    return [
        MemberRead(id=m.id, user_id=m.user_id, email=email, name=name, role=Role(m.role))
        for m, email, name in service.list_members(session=session, org_id=caller.org_id)
    ]


@router.post(
    "/members",
    response_model=MemberRead | InvitationCreated,
    status_code=202,
    operation_id="add_member",
    responses={200: {"model": MemberRead, "description": "A member's role was changed."}},
)
def add_member(
    body: MemberCreate,
    caller: Caller,
    session: DbSession,
    settings: AppSettings,
    response: Response,
) -> MemberRead | InvitationCreated:
    """Invite an e-mail with a role (202, with the one-time link to pass on), or change the
    role of a member (200) (admin)."""
    caller.require(Role.ADMIN)
    member = service.member_by_email(session=session, org_id=caller.org_id, email=body.email)
    if member is not None:
        service.add_member(
            session=session, org_id=caller.org_id, user_id=member.user_id, role=body.role
        )
        response.status_code = 200
        for m, email, name in service.list_members(session=session, org_id=caller.org_id):
            if m.id == member.id:
                return MemberRead(
                    id=m.id, user_id=m.user_id, email=email, name=name, role=body.role
                )
    row, token = auth.invite(
        session=session,
        org_id=caller.org_id,
        email=body.email,
        role=body.role,
        invited_by=caller.user_id,
    )
    url = accept_url(settings.public_url, token)
    org_name = service.get(session=session, org_id=caller.org_id).name
    return InvitationCreated(
        **_invitation(row).model_dump(),
        accept_url=url,
        emailed=_mail_invitation(row.email, org_name, body.role, url),
    )


def _mail_invitation(email: str, org_name: str, role: Role, url: str) -> bool:
    """E-mail the link when the server sends mail (same SMTP settings as customer e-mail);
    False when it does not or the mail was refused: the admin still has the link."""
    mail = NotifySettings()
    if not mail.smtp_host:
        return False
    text = (
        f"You are invited to {org_name} on lastmile as {role.value}.\n\n"
        f"Open this link to accept (valid 7 days, once):\n{url}\n\n"
        "New to lastmile? You choose your password there. Already have an account with this "
        "e-mail? Log in there and accept.\n"
    )
    try:
        SmtpChannel(mail).send(
            OutgoingMessage(to=email, subject=f"Invitation to {org_name} on lastmile", body=text)
        )
    except SendError:
        return False
    return True


@router.get("/invitations", response_model=list[InvitationRead], operation_id="list_invitations")
def list_invitations(caller: Caller, session: DbSession) -> list[InvitationRead]:
    """Pending invitations of the organisation (admin)."""
    caller.require(Role.ADMIN)
    return [_invitation(r) for r in auth.list_invitations(session=session, org_id=caller.org_id)]


@router.delete("/invitations/{invitation_id}", status_code=204, operation_id="revoke_invitation")
def revoke_invitation(invitation_id: str, caller: Caller, session: DbSession) -> None:
    """Withdraw a pending invitation; its link stops working (admin)."""
    caller.require(Role.ADMIN)
    auth.revoke_invitation(session=session, org_id=caller.org_id, invitation_id=invitation_id)


@router.post(
    "/members/{member_id}/password-reset",
    response_model=PasswordReset,
    status_code=201,
    operation_id="reset_member_password",
)
def reset_password(
    member_id: str, caller: Caller, session: DbSession, settings: AppSettings
) -> PasswordReset:
    """Log a member out everywhere and make a one-time link to set a new password (admin;
    only for accounts used by this organisation alone)."""
    caller.require(Role.ADMIN)
    member = service.get_member(session=session, org_id=caller.org_id, membership_id=member_id)
    row, token = auth.reset_link(
        session=session, org_id=caller.org_id, user_id=member.user_id, invited_by=caller.user_id
    )
    return PasswordReset(
        accept_url=accept_url(settings.public_url, token), expires_at=row.expires_at
    )


@router.delete("/members/{member_id}", status_code=204, operation_id="remove_member")
def remove_member(member_id: str, caller: Caller, session: DbSession) -> None:
    """Take a user out of the organisation (admin; not yourself)."""
    caller.require(Role.ADMIN)
    service.remove_member(
        session=session,
        org_id=caller.org_id,
        membership_id=member_id,
        acting_user_id=caller.user_id,
    )
