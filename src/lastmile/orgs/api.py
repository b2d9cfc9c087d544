"""Members of the caller's organisation (admin): list, add or change role, remove."""

from __future__ import annotations

from fastapi import APIRouter

from lastmile.auth import service as auth
from lastmile.common.web import Caller, DbSession
from lastmile.core.errors import FieldIssue, InputError, NotFound
from lastmile.orgs import service
from lastmile.orgs.models import Organisation, Role
from lastmile.orgs.schemas import MemberCreate, MemberRead, OrganisationRead, OrganisationUpdate

router = APIRouter(prefix="/api/v1", tags=["members"])


def _read(org: Organisation) -> OrganisationRead:
    return OrganisationRead(
        id=org.id,
        name=org.name,
        timezone=org.timezone,
        default_service_s=service.default_service_s(org),
    )


@router.get("/organisation", response_model=OrganisationRead, operation_id="get_organisation")
def get_organisation(caller: Caller, session: DbSession) -> OrganisationRead:
    """The caller's organisation: name, time zone and policies."""
    return _read(service.get(session=session, org_id=caller.org_id))


@router.patch("/organisation", response_model=OrganisationRead, operation_id="update_organisation")
def update_organisation(
    body: OrganisationUpdate, caller: Caller, session: DbSession
) -> OrganisationRead:
    """Change the name, time zone or default service time (admin)."""
    caller.require(Role.ADMIN)
    org = service.update(
        session=session,
        org_id=caller.org_id,
        name=body.name,
        timezone=body.timezone,
        default_service_s=body.default_service_s,
    )
    return _read(org)


@router.get("/members", response_model=list[MemberRead], operation_id="list_members")
def list_members(caller: Caller, session: DbSession) -> list[MemberRead]:
    """Users of the organisation with their roles (admin)."""
    caller.require(Role.ADMIN)
    return [
        MemberRead(id=m.id, user_id=m.user_id, email=email, name=name, role=Role(m.role))
        for m, email, name in service.list_members(session=session, org_id=caller.org_id)
    ]


@router.post("/members", response_model=MemberRead, status_code=201, operation_id="add_member")
def add_member(body: MemberCreate, caller: Caller, session: DbSession) -> MemberRead:
    """Add a user with a role (creating the account if needed), or change a member's role (admin)."""
    caller.require(Role.ADMIN)
    try:
        user = auth.get_user_by_email(session=session, email=body.email)
    except NotFound:
        if body.password is None:
            raise InputError(
                issues=[FieldIssue(None, "password", None, "is needed for a new account")],
                source="member",
            ) from None
        user = auth.create_user(
            session=session, email=body.email, password=body.password, name=body.name
        )
    membership = service.add_member(
        session=session, org_id=caller.org_id, user_id=user.id, role=body.role
    )
    return MemberRead(
        id=membership.id, user_id=user.id, email=user.email, name=user.name, role=body.role
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
