"""Who is calling: the organisation every query is scoped to, and with which role."""

from __future__ import annotations

from dataclasses import dataclass

from lastmile.core.errors import Forbidden
from lastmile.orgs.models import Role


@dataclass(frozen=True)
class Principal:
    org_id: str
    role: Role
    user_id: str | None = None
    api_key_id: str | None = None
    via_cookie: bool = False

    @property
    def actor(self) -> str:
        if self.user_id:
            return f"user:{self.user_id}"
        return f"api_key:{self.api_key_id}"

    def require(self, *roles: Role) -> None:
        """Refuse unless the caller has one of ``roles``."""
        if self.role not in roles:
            allowed = ", ".join(r.value for r in roles)
            raise Forbidden(f"this needs the role {allowed}; you are {self.role.value}")


STAFF = (Role.ADMIN, Role.DISPATCHER)
