"""Per-organisation limits the instance admin sets (``lastmile admin set-limits``): orders per
day and API requests per minute, kept in ``Organisation.settings["limits"]``.

Only the instance admin's CLI writes them (``orgs.service.update``, which an organisation's
own admin calls, never touches this section), so a tenant cannot raise its own limits. An
organisation without a value of its own has the instance's default (the settings
``org_orders_per_day`` and ``org_api_requests_per_minute``); 0 means no limit. They are
enforced by ``auth.org_limits`` on the one atomic limiter (``auth.throttle``).
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from lastmile.core.errors import FieldIssue, InputError, NotFound
from lastmile.orgs.models import Organisation

LIMITS = "limits"
"""``Organisation.settings`` section of the organisation's own limits."""
NAMES = ("orders_per_day", "api_requests_per_minute")
"""The limits an organisation can have of its own."""
MAX_VALUE = 1_000_000_000


def overrides(org: Organisation) -> dict[str, int]:
    """The organisation's own limits (name -> value; absent = the instance default)."""
    section = (org.settings or {}).get(LIMITS)
    if not isinstance(section, dict):
        return {}
    return {k: v for k, v in section.items() if k in NAMES and isinstance(v, int) and v >= 0}


def set_overrides(*, session: Session, org_id: str, values: dict[str, int | None]) -> Organisation:
    """Set (a number, 0 = no limit) or clear (``None``: back to the instance default) some of
    the organisation's own limits; the others stay."""
    issues = [
        FieldIssue(None, name, str(value), why)
        for name, value in values.items()
        for why in (
            [f"is not a limit ({', '.join(NAMES)})"]
            if name not in NAMES
            else ["must be a whole number from 0 (no limit) up"]
            if value is not None and not (0 <= value <= MAX_VALUE)
            else []
        )
    ]
    if issues:
        raise InputError(issues=issues, source="limits")
    org = session.get(Organisation, org_id)
    if org is None:
        raise NotFound("organisation not found")
    mine = overrides(org)
    for name, value in values.items():
        if value is None:
            mine.pop(name, None)
        else:
            mine[name] = value
    org.settings = {**(org.settings or {}), LIMITS: mine}  # a new dict: the JSON is written
    session.commit()
    return org
