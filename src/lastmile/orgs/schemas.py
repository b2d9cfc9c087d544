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


class OrganisationClock(BaseModel):
    """The organisation's business clock: ``now`` is what every business time reads."""

    now: datetime = Field(description="The organisation's business time now (UTC).")
    speed: float = Field(description="Business seconds per real second (1 for real time).")


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
    simulation: bool = Field(
        default=False,
        description="A simulation organisation runs on its own clock; a real one on real time.",
    )
    simulation_of: str | None = Field(
        default=None, description="The real organisation whose days this one simulates."
    )
    clock: OrganisationClock | None = None


class ClockSet(BaseModel):
    """Start a simulation organisation's clock (admin): business time ``start`` from now on,
    ``speed`` times faster than real time."""

    model_config = ConfigDict(extra="forbid")

    start: datetime = Field(description="Business time now, with a UTC offset.")
    speed: float = Field(default=1.0, gt=0, le=100_000, description="e.g. 600 for 600x.")


class SimulationCreate(BaseModel):
    """Which members of the real organisation drive in its simulation organisation."""

    model_config = ConfigDict(extra="forbid")

    drivers: list[str] = Field(
        default_factory=list,
        max_length=200,
        description="E-mails of the real organisation's drivers to make drivers there too.",
    )


class SimulationRead(BaseModel):
    """The simulation organisation of the caller's organisation, and a key to act in it."""

    id: str
    name: str
    created: bool = Field(description="True when this call created it.")
    api_key: str = Field(
        description="A new API key of the simulation organisation with the caller's role "
        "(shown once; the previous one of that role is revoked)."
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
