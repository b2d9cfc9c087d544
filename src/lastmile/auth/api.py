"""Auth endpoints: tokens, who am I, API keys."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from lastmile.auth import service
from lastmile.auth.deps import (
    Caller,
    caller_token,
    known_device,
    login_limits,
    optional_principal,
    remember_device,
)
from lastmile.auth.models import ApiKey, User
from lastmile.auth.principal import Principal
from lastmile.auth.schemas import (
    ApiKeyCreate,
    ApiKeyCreated,
    ApiKeyRead,
    InvitationAccept,
    InvitationAccepted,
    MeRead,
    PasswordChange,
    TokenRequest,
    TokenResponse,
)
from lastmile.common.web import AppSettings, DbSession, client_address
from lastmile.core.errors import Forbidden
from lastmile.orgs import service as orgs
from lastmile.orgs.models import Role

router = APIRouter(prefix="/api/v1", tags=["auth"])


@router.post("/auth/token", response_model=TokenResponse, operation_id="create_token")
def create_token(
    body: TokenRequest,
    request: Request,
    response: Response,
    session: DbSession,
    settings: AppSettings,
) -> TokenResponse:
    """Log in with e-mail and password; returns a bearer token for one organisation.

    Also sets a device cookie: a client that keeps it is not refused for other accounts'
    failed logins from its address."""
    user, org_id, role = service.login(
        session=session,
        email=body.email,
        password=body.password,
        client=client_address(request, settings),
        org_id=body.organisation,
        limits=login_limits(settings),
        device=known_device(request, settings, body.email),
    )
    remember_device(response, request, settings, user.email)
    token = service.issue_token(
        session=session, user_id=user.id, org_id=org_id, ttl_s=settings.access_token_ttl_s
    )
    return TokenResponse(
        access_token=token,
        expires_in=settings.access_token_ttl_s,
        organisation_id=org_id,
        role=role,
    )


@router.post("/auth/password", status_code=204, operation_id="change_password")
def change_password(
    body: PasswordChange,
    request: Request,
    caller: Caller,
    session: DbSession,
    settings: AppSettings,
) -> None:
    """Change your own password (the current one is needed); your other sessions and tokens
    are logged out, this one stays."""
    if caller.user_id is None:
        raise Forbidden("an API key has no password")
    service.change_password(
        session=session,
        user_id=caller.user_id,
        current=body.current_password,
        new=body.new_password,
        limits=login_limits(settings),
        keep=caller_token(request),
    )


@router.post("/auth/logout-everywhere", status_code=204, operation_id="logout_everywhere")
def logout_everywhere(caller: Caller, session: DbSession) -> None:
    """Revoke every session and bearer token of your account, this one included (in every
    organisation). API keys are the organisation's and are revoked on their own."""
    if caller.user_id is None:
        raise Forbidden("an API key is revoked with DELETE /api-keys/{id}")
    service.revoke_tokens(session=session, user_id=caller.user_id)


@router.post(
    "/invitations/accept", response_model=InvitationAccepted, operation_id="accept_invitation"
)
def accept_invitation(
    body: InvitationAccept, request: Request, session: DbSession, settings: AppSettings
) -> InvitationAccepted:
    """Accept an invitation or use a password-reset link (the token from the link).

    New e-mail: send ``password`` (and ``name``) to create the account. E-mail that has an
    account: call this logged in as that account. Reset link: send the new ``password``."""
    caller = optional_principal(request, session, settings)
    user, row = service.accept(
        session=session,
        token=body.token,
        user_id=caller.user_id if caller else None,
        password=body.password,
        name=body.name,
    )
    return InvitationAccepted(organisation_id=row.org_id, role=Role(row.role), email=user.email)


@router.get("/auth/me", response_model=MeRead, operation_id="get_me")
def me(caller: Caller, session: DbSession) -> MeRead:
    """The caller: organisation, role, and the organisations they can switch to."""
    email = None
    others: list[dict[str, str]] = []
    if caller.user_id:
        user = session.get(User, caller.user_id)
        email = user.email if user else None
        others = [
            {"id": o.id, "name": o.name, "role": m.role}
            for m, o in orgs.memberships_of(session=session, user_id=caller.user_id)
        ]
    return MeRead(
        organisation_id=caller.org_id,
        role=caller.role,
        user_id=caller.user_id,
        email=email,
        organisations=others,
    )


def _key_read(key: ApiKey) -> ApiKeyRead:
    return ApiKeyRead(
        id=key.id,
        name=key.name,
        prefix=key.prefix,
        role=Role(key.role),
        created_at=key.created_at,
        revoked_at=key.revoked_at,
    )


@router.get("/api-keys", response_model=list[ApiKeyRead], operation_id="list_api_keys")
def list_keys(caller: Caller, session: DbSession) -> list[ApiKeyRead]:
    """API keys of the organisation (admin)."""
    caller.require(Role.ADMIN)
    return [_key_read(k) for k in service.list_api_keys(session=session, org_id=caller.org_id)]


@router.post(
    "/api-keys", response_model=ApiKeyCreated, status_code=201, operation_id="create_api_key"
)
def create_key(body: ApiKeyCreate, caller: Caller, session: DbSession) -> ApiKeyCreated:
    """Create an API key for an integration (admin). The key is shown once."""
    caller.require(Role.ADMIN)
    key, secret = service.create_api_key(
        session=session, org_id=caller.org_id, name=body.name, role=body.role
    )
    return ApiKeyCreated(**_key_read(key).model_dump(), key=secret)


@router.delete("/api-keys/{key_id}", response_model=ApiKeyRead, operation_id="revoke_api_key")
def revoke_key(key_id: str, caller: Caller, session: DbSession) -> ApiKeyRead:
    """Revoke an API key (admin)."""
    caller.require(Role.ADMIN)
    return _key_read(service.revoke_api_key(session=session, org_id=caller.org_id, key_id=key_id))


__all__ = ["Principal", "router"]
