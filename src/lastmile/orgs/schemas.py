"""Member API bodies."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from lastmile.orgs.models import Role


class MemberCreate(BaseModel):
    """Add a user (created if the e-mail is new) with a role, or change an existing member's role."""

    email: str = Field(min_length=3, max_length=320)
    role: Role
    password: str | None = Field(
        default=None,
        min_length=8,
        max_length=1000,
        description="Needed when the e-mail has no account yet.",
    )
    name: str = Field(default="", max_length=200)


class MemberRead(BaseModel):
    id: str
    user_id: str
    email: str
    name: str
    role: Role


class OrganisationRead(BaseModel):
    """The caller's organisation and its policies."""

    id: str
    name: str
    timezone: str = Field(description="IANA zone of delivery windows, 'today' and every page.")
    default_service_s: int = Field(
        description="Seconds at each stop for orders created without a service time."
    )


class OrganisationUpdate(BaseModel):
    """Change the name, time zone or default service time (admin); omitted fields stay."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=200)
    timezone: str | None = Field(default=None, max_length=64)
    default_service_s: int | None = Field(default=None, ge=0, le=4 * 3600, strict=True)
