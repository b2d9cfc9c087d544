"""Request and response bodies of the auth API."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from lastmile.orgs.models import Role


class TokenRequest(BaseModel):
    email: str = Field(min_length=3, max_length=320)
    password: str = Field(min_length=1, max_length=1000)
    organisation: str | None = Field(
        default=None, max_length=200, description="Organisation id or name, for users in several."
    )


class TokenResponse(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_in: int
    organisation_id: str
    role: Role


class MeRead(BaseModel):
    organisation_id: str
    role: Role
    user_id: str | None
    email: str | None
    organisations: list[dict[str, str]]


class ApiKeyCreate(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    role: Role = Role.DISPATCHER


class ApiKeyRead(BaseModel):
    id: str
    name: str
    prefix: str
    role: Role
    created_at: datetime
    revoked_at: datetime | None


class ApiKeyCreated(ApiKeyRead):
    key: str = Field(description="The secret; shown only once.")


class PasswordChange(BaseModel):
    current_password: str = Field(min_length=1, max_length=1000)
    new_password: str = Field(
        min_length=1,
        max_length=1000,
        description="At least 10 characters, not your e-mail, not a common password.",
    )


class InvitationAccept(BaseModel):
    token: str = Field(min_length=10, max_length=200, description="From the invitation link.")
    password: str | None = Field(
        default=None,
        max_length=1000,
        description="For a new account or a reset link; an existing account accepts while logged in instead.",
    )
    name: str = Field(default="", max_length=200)


class InvitationAccepted(BaseModel):
    organisation_id: str
    role: Role
    email: str
