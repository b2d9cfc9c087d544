"""Member and invitation API bodies."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from lastmile.core.model import Handover
from lastmile.orgs.models import Role


class MemberCreate(BaseModel):
    """Invite an e-mail with a role, or change the role of someone already a member."""

    email: str = Field(min_length=3, max_length=320)
    role: Role


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
    pod_policy: list[Handover] = Field(
        description="Ways a delivery may be handed over unless the order says otherwise "
        "(signature, signature_photo, photo, safe_place, neighbour); the first is the usual one."
    )
    phone: str = Field(
        default="", description="The shop's phone number, shown to customers on the tracking page."
    )


class OrganisationUpdate(BaseModel):
    """Change the name, time zone or default service time (admin); omitted fields stay."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=200)
    timezone: str | None = Field(default=None, max_length=64)
    default_service_s: int | None = Field(default=None, ge=0, le=4 * 3600, strict=True)
    pod_policy: list[Handover] | None = Field(default=None, min_length=1, max_length=5)
    phone: str | None = Field(
        default=None,
        max_length=40,
        description="The shop's phone number for customers (empty: none shown).",
    )


class InvitationRead(BaseModel):
    id: str
    email: str
    role: Role
    created_at: datetime
    expires_at: datetime


class InvitationCreated(InvitationRead):
    accept_url: str = Field(
        description="The one-time link to pass on (shown once): a new e-mail sets its password "
        "there, an existing account logs in and accepts."
    )
    emailed: bool = Field(
        default=False, description="Whether the link was also e-mailed (the server sends mail)."
    )


class PasswordReset(BaseModel):
    accept_url: str = Field(description="One-time link to set a new password (shown once).")
    expires_at: datetime
