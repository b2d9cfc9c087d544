"""Organisations and memberships."""

from __future__ import annotations

import re
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from lastmile.common.i18n import choose
from lastmile.core.errors import Conflict, FieldIssue, InputError, NotFound
from lastmile.core.model import HANDOVERS
from lastmile.orgs.models import Membership, Organisation, Role


class AlreadySetUp(Conflict):
    code = "already_set_up"


def check_new(*, name: str, timezone: str) -> None:
    """Refuse a name or time zone an organisation cannot have (before anything is written)."""
    issues = []
    if not name.strip() or len(name) > 200:
        issues.append(FieldIssue(None, "name", name[:40], "must be 1 to 200 characters"))
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        issues.append(FieldIssue(None, "timezone", timezone[:64], "is not an IANA time zone"))
    if issues:
        raise InputError(issues=issues, source="organisation")


def is_fresh_install(*, session: Session) -> bool:
    """True while the database holds no organisation: the first-run sign-up is open."""
    return not session.scalar(select(func.count()).select_from(Organisation))


def create(
    *,
    session: Session,
    name: str,
    timezone: str = "UTC",
    first: bool = False,
    commit: bool = True,
    simulation: bool = False,
) -> Organisation:
    """A new organisation. ``first``: only on a fresh install (the first-run sign-up); two
    simultaneous sign-ups create one organisation (PostgreSQL: an advisory lock; SQLite: a
    second count after the insert, which holds the file's write lock). ``commit=False`` leaves the commit to the caller
    (the sign-up creates the organisation and its admin in one transaction). ``simulation``:
    an organisation on its own clock (:mod:`lastmile.orgs.clock`)."""
    name = name.strip()
    check_new(name=name, timezone=timezone)
    if first:
        if session.get_bind().dialect.name == "postgresql":
            session.execute(text("SELECT pg_advisory_xact_lock(hashtext('lastmile.first-org'))"))
        if not is_fresh_install(session=session):
            raise AlreadySetUp("this server already has an organisation; log in instead")
    if session.scalar(select(Organisation).where(Organisation.name == name)) is not None:
        raise Conflict(f"an organisation named {name!r} already exists")
    org = Organisation(name=name, timezone=timezone, settings={}, simulation=simulation)
    session.add(org)
    if first:
        # Counted again after the insert: on SQLite the insert took the write lock, so a
        # sign-up that checked before ours committed finds two rows here and gives up.
        session.flush()
        if session.scalar(select(func.count()).select_from(Organisation)) != 1:
            session.rollback()
            raise AlreadySetUp("this server already has an organisation; log in instead")
    if commit:
        session.commit()
    else:
        session.flush()
    return org


def get_by_name(*, session: Session, name: str) -> Organisation:
    org = session.scalar(select(Organisation).where(Organisation.name == name))
    if org is None:
        raise NotFound(f"no organisation named {name!r}")
    return org


def get(*, session: Session, org_id: str) -> Organisation:
    org = session.get(Organisation, org_id)
    if org is None:
        raise NotFound("organisation not found")
    return org


def add_member(
    *, session: Session, org_id: str, user_id: str, role: Role, commit: bool = True
) -> Membership:
    existing = session.scalar(
        select(Membership).where(Membership.org_id == org_id, Membership.user_id == user_id)
    )
    if existing is not None:
        existing.role = role.value
    else:
        existing = Membership(org_id=org_id, user_id=user_id, role=role.value)
        session.add(existing)
    if commit:
        session.commit()
    else:
        session.flush()
    return existing


def memberships_of(*, session: Session, user_id: str) -> list[tuple[Membership, Organisation]]:
    rows = session.execute(
        select(Membership, Organisation)
        .join(Organisation, Organisation.id == Membership.org_id)
        .where(Membership.user_id == user_id)
        .order_by(Membership.created_at, Organisation.name)
    ).all()
    return [(m, o) for m, o in rows]


def memberships(*, session: Session, org_id: str) -> list[Membership]:
    """The organisation's memberships (who the users are is auth's: ``auth.service
    .list_members``)."""
    return list(session.scalars(select(Membership).where(Membership.org_id == org_id)))


def remove_member(
    *, session: Session, org_id: str, membership_id: str, acting_user_id: str | None
) -> None:
    """Take a user out of the organisation (not yourself: an organisation keeps its admin)."""
    membership = session.scalar(
        select(Membership).where(Membership.org_id == org_id, Membership.id == membership_id)
    )
    if membership is None:
        raise NotFound("member not found")
    if membership.user_id == acting_user_id:
        raise Conflict("you cannot remove yourself; ask another admin")
    session.delete(membership)
    session.commit()


DEFAULT_POD_POLICY = ("signature",)


def valid_pod_policy(value: object) -> list[str] | None:
    """``value`` as a proof-of-delivery policy (a non-empty list of ways of handing over,
    ``core.model.HANDOVERS``, first = the usual way, no repeats), or ``None`` if it is not."""
    if isinstance(value, list) and value and all(v in HANDOVERS for v in value):
        return list(dict.fromkeys(value))
    return None


def pod_policy(org: Organisation) -> list[str]:
    """The organisation's ways of handing over a delivery (default: a signature)."""
    return valid_pod_policy((org.settings or {}).get("pod_policy")) or list(DEFAULT_POD_POLICY)


PLANNING = "planning"
"""``Organisation.settings`` section of the planning defaults (``default_service_s``)."""


def default_service_s(org: Organisation) -> int:
    """Seconds at a stop for an order created without a service time (default 0)."""
    section = (org.settings or {}).get(PLANNING)
    value = section.get("default_service_s") if isinstance(section, dict) else None
    return value if isinstance(value, int) and value >= 0 else 0


def language(org: Organisation) -> str:
    """The organisation's language (``settings["notifications"]["language"]``, chosen at
    sign-up): what its drivers' app speaks and what customers hear when their order names
    no language (``common.i18n``)."""
    section = (org.settings or {}).get("notifications")
    return choose(section.get("language") if isinstance(section, dict) else None)


CONTACT = "contact"
"""``Organisation.settings`` section of how customers reach the shop (``phone``)."""
PHONE = re.compile(r"^\+?[0-9][0-9 ()./-]{2,38}$")
"""A phone number as people write it: digits, spaces, ``( ) . / -``, a leading ``+``."""


def shop_phone(org: Organisation) -> str:
    """The phone number customers may call (shown on the tracking page), or ``""``."""
    section = (org.settings or {}).get(CONTACT)
    value = section.get("phone") if isinstance(section, dict) else None
    return value if isinstance(value, str) else ""


def check_phone(phone: str) -> str:
    """``phone`` tidied, or an :class:`InputError` naming the field (``""`` clears it)."""
    phone = " ".join(phone.split())
    if phone and not PHONE.match(phone):
        raise InputError(
            issues=[
                FieldIssue(
                    None, "phone", phone[:40], "digits, spaces and + ( ) . / - only, 3 to 40"
                )
            ],
            source="organisation",
        )
    return phone


def update(
    *,
    session: Session,
    org_id: str,
    name: str | None = None,
    timezone: str | None = None,
    default_service_s: int | None = None,
    pod_policy: list[str] | None = None,
    phone: str | None = None,
) -> Organisation:
    """Rename, move to another time zone or change the default service time. A new service
    time applies to orders created from now on (stored orders keep theirs, so a plan, the
    driver app and the ETAs all read one number per order)."""
    org = get(session=session, org_id=org_id)
    new_name = name.strip() if name is not None else org.name
    check_new(name=new_name, timezone=timezone or org.timezone)
    if new_name != org.name:
        taken = session.scalar(select(Organisation).where(Organisation.name == new_name))
        if taken is not None:
            raise Conflict(f"an organisation named {new_name!r} already exists")
        org.name = new_name
    if timezone is not None:
        org.timezone = timezone
    values = dict(org.settings or {})
    if pod_policy is not None:
        policy = valid_pod_policy(pod_policy)
        if policy is None:
            raise InputError(
                issues=[
                    FieldIssue(
                        None, "pod_policy", ",".join(pod_policy)[:60], "is not a list of ways"
                    )
                ],
                source="organisation",
            )
        values["pod_policy"] = policy
    if phone is not None:
        contact = values.get(CONTACT)
        values[CONTACT] = {
            **(contact if isinstance(contact, dict) else {}),
            "phone": check_phone(phone),
        }
    if default_service_s is not None:
        section = values.get(PLANNING)
        values[PLANNING] = {
            **(section if isinstance(section, dict) else {}),
            "default_service_s": default_service_s,
        }
    org.settings = values  # a new dict, so the JSON column is written
    session.commit()
    return org


def is_member(*, session: Session, org_id: str, user_id: str) -> bool:
    return (
        session.scalar(
            select(Membership.id).where(Membership.org_id == org_id, Membership.user_id == user_id)
        )
        is not None
    )


def membership_of(*, session: Session, org_id: str, user_id: str) -> Membership | None:
    """The user's membership of the organisation, if they are a member."""
    return session.scalar(
        select(Membership).where(Membership.org_id == org_id, Membership.user_id == user_id)
    )


def get_member(*, session: Session, org_id: str, membership_id: str) -> Membership:
    membership = session.scalar(
        select(Membership).where(Membership.org_id == org_id, Membership.id == membership_id)
    )
    if membership is None:
        raise NotFound("member not found")
    return membership
