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
