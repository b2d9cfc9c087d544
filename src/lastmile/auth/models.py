"""Users and credentials. Secrets are stored only as hashes (argon2 for passwords, SHA-256
for random tokens and API keys, which have 256 bits of entropy and need no slow hash)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from lastmile.common.ids import new_id
from lastmile.db.base import Base, OrgScoped, Timestamped, UTCDateTime
from lastmile.orgs.models import Role


class User(Timestamped, Base):
    __tablename__ = "users"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=lambda: new_id("usr"))
    email: Mapped[str] = mapped_column(String(320), unique=True)
    """Stored lower-case."""
    name: Mapped[str] = mapped_column(String(200), default="")
    password_hash: Mapped[str] = mapped_column(String(200))


class AccessToken(OrgScoped, Base):
    __tablename__ = "access_tokens"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=lambda: new_id("tok"))
    user_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    kind: Mapped[str] = mapped_column(String(16), default="bearer")
    """``bearer`` (API) or ``session`` (browser cookie)."""


class ApiKey(OrgScoped, Base):
    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=lambda: new_id("key"))
    name: Mapped[str] = mapped_column(String(200))
    prefix: Mapped[str] = mapped_column(String(16))
    """First characters of the key, shown in lists so people can tell keys apart."""
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(16), default=Role.DISPATCHER.value)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)


class LoginThrottle(Base):
    """Failed-login counters, one row per key (``account:<e-mail>``, ``address:<ip>`` or
    ``device:<id>``), counted in one atomic upsert so parallel requests on any number of
    server processes cannot check more passwords than the limit."""

    __tablename__ = "login_throttle"

    key: Mapped[str] = mapped_column(String(400), primary_key=True)
    window_start: Mapped[datetime] = mapped_column(UTCDateTime())
    failures: Mapped[int] = mapped_column(default=0)


class Invitation(OrgScoped, Base):
    """A one-time link: join an organisation with a role (``invite``; a new e-mail sets its
    password there) or set a new password (``reset``, made by an admin). Only the SHA-256 of
    the token is stored."""

    __tablename__ = "invitations"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=lambda: new_id("inv"))
    email: Mapped[str] = mapped_column(String(320), index=True)
    """Stored lower-case."""
    role: Mapped[str] = mapped_column(String(16))
    kind: Mapped[str] = mapped_column(String(16), default="invite")
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    invited_by: Mapped[str | None] = mapped_column(String(32), default=None)
    """User id of the admin who made it (kept after that user is gone)."""
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
