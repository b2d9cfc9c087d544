"""Member API bodies."""

from __future__ import annotations

from pydantic import BaseModel, Field

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
