"""Members of the caller's organisation (admin): list, invite or change a role, remove, reset
a password; pending invitations.

Nobody is added without saying yes: inviting answers the same whether or not the e-mail has
an account, and never shows another organisation's users.

In auth, not orgs: members are users (auth's table) of an organisation, and every endpoint
needs to know who calls (``auth.deps``); auth sits above orgs, whose memberships it reads
through ``orgs.service``."""

from __future__ import annotations

from fastapi import APIRouter, Response

from lastmile.auth import service as auth
from lastmile.auth.deps import Caller
from lastmile.auth.models import Invitation
from lastmile.common.web import DbSession, PublicUrl
from lastmile.integrations.notify.base import NotifySettings, OutgoingMessage, SendError
from lastmile.integrations.notify.email import SmtpChannel
from lastmile.orgs import service
from lastmile.orgs.models import Role
from lastmile.orgs.schemas import (
    InvitationCreated,
    InvitationRead,
    MemberCreate,
    MemberRead,
    PasswordReset,
)

router = APIRouter(prefix="/api/v1", tags=["members"])


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
        for m, email, name in auth.list_members(session=session, org_id=caller.org_id)
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
    public_url: PublicUrl,
    response: Response,
) -> MemberRead | InvitationCreated:
    """Invite an e-mail with a role (202, with the one-time link to pass on), or change the
    role of a member (200) (admin)."""
    caller.require(Role.ADMIN)
    member = auth.member_by_email(session=session, org_id=caller.org_id, email=body.email)
    if member is not None:
        service.add_member(
            session=session, org_id=caller.org_id, user_id=member.user_id, role=body.role
        )
        response.status_code = 200
        for m, email, name in auth.list_members(session=session, org_id=caller.org_id):
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
    url = accept_url(public_url, token)
    org_name = service.get(session=session, org_id=caller.org_id).name
    return InvitationCreated(
        **_invitation(row).model_dump(),
        accept_url=url,
        emailed=mail_invitation(row.email, org_name, body.role, url),
    )


def mail_invitation(email: str, org_name: str, role: Role, url: str) -> bool:
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
    member_id: str, caller: Caller, session: DbSession, public_url: PublicUrl
) -> PasswordReset:
    """Log a member out everywhere and make a one-time link to set a new password (admin;
    only for accounts used by this organisation alone)."""
    caller.require(Role.ADMIN)
    member = service.get_member(session=session, org_id=caller.org_id, membership_id=member_id)
    row, token = auth.reset_link(
        session=session, org_id=caller.org_id, user_id=member.user_id, invited_by=caller.user_id
    )
    return PasswordReset(accept_url=accept_url(public_url, token), expires_at=row.expires_at)


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
