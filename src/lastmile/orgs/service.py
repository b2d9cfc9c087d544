"""Organisations and memberships."""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select
from sqlalchemy.orm import Session

from lastmile.core.errors import Conflict, FieldIssue, InputError, NotFound
from lastmile.orgs.models import Membership, Organisation, Role


def create(*, session: Session, name: str, timezone: str = "UTC") -> Organisation:
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise InputError(
            issues=[FieldIssue(None, "timezone", timezone, "is not an IANA time zone")],
            source="organisation",
        ) from exc
    if session.scalar(select(Organisation).where(Organisation.name == name)) is not None:
        raise Conflict(f"an organisation named {name!r} already exists")
    org = Organisation(name=name, timezone=timezone, settings={})
    session.add(org)
    session.commit()
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


def add_member(*, session: Session, org_id: str, user_id: str, role: Role) -> Membership:
    existing = session.scalar(
        select(Membership).where(Membership.org_id == org_id, Membership.user_id == user_id)
    )
    if existing is not None:
        existing.role = role.value
        session.commit()
        return existing
    membership = Membership(org_id=org_id, user_id=user_id, role=role.value)
    session.add(membership)
    session.commit()
    return membership


def memberships_of(*, session: Session, user_id: str) -> list[tuple[Membership, Organisation]]:
    rows = session.execute(
        select(Membership, Organisation)
        .join(Organisation, Organisation.id == Membership.org_id)
        .where(Membership.user_id == user_id)
        .order_by(Membership.created_at, Organisation.name)
    ).all()
    return [(m, o) for m, o in rows]


def list_members(*, session: Session, org_id: str) -> list[tuple[Membership, str, str]]:
    """Members of an organisation: (membership, e-mail, name), by e-mail."""
    from lastmile.auth.models import User

    rows = session.execute(
        select(Membership, User.email, User.name)
        .join(User, User.id == Membership.user_id)
        .where(Membership.org_id == org_id)
        .order_by(User.email)
    ).all()
    return [(m, email, name) for m, email, name in rows]


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
