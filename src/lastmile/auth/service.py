"""Accounts, logins (rate limited), access tokens and API keys."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from lastmile.auth import passwords, throttle
from lastmile.auth.models import AccessToken, ApiKey, Invitation, User
from lastmile.auth.principal import Principal
from lastmile.auth.security import (
    API_KEY_PREFIX,
    TOKEN_PREFIX,
    account_tag,
    digest,
    dummy_verify,
    hash_password,
    new_secret,
    verify_password,
)
from lastmile.common.clock import utcnow
from lastmile.core.errors import (
    Conflict,
    FieldIssue,
    InputError,
    NotFound,
    RateLimited,
    Unauthorized,
)
from lastmile.orgs import service as orgs
from lastmile.orgs.models import Membership, Role


def create_user(
    *, session: Session, email: str, password: str, name: str = "", commit: bool = True
) -> User:
    email = email.strip().lower()
    issues = []
    if "@" not in email or len(email) > 320:
        issues.append(FieldIssue(None, "email", email, "is not an e-mail address"))
    issues += [FieldIssue(None, "password", None, m) for m in passwords.problems(password, email)]
    if issues:
        raise InputError(issues=issues, source="user")
    if session.scalar(select(User).where(User.email == email)) is not None:
        raise Conflict(f"a user with e-mail {email} already exists")
    user = User(email=email, name=name, password_hash=hash_password(password))
    session.add(user)
    if commit:
        session.commit()
    else:
        session.flush()
    return user


def get_user_by_email(*, session: Session, email: str) -> User:
    user = session.scalar(select(User).where(User.email == email.strip().lower()))
    if user is None:
        raise NotFound(f"no user with e-mail {email}")
    return user


@dataclass(frozen=True)
class LoginLimits:
    """The login rate limits (from the settings)."""

    per_account: int
    per_address: int
    window_s: int


def login(
    *,
    session: Session,
    email: str,
    password: str,
    client: str,
    org_id: str | None,
    limits: LoginLimits,
    device: str | None = None,
) -> tuple[User, str, Role]:
    """Check credentials; return the user, the organisation and role to act in.

    Every attempt is counted *before* the password is checked, atomically (see
    :func:`lastmile.auth.throttle.count`); a correct password takes its count back. Counted per account
    and per client address separately; a ``device`` that logged in to this account before
    (its id from the signed device cookie) is counted on its own instead, so neither another
    account's failures from a shared address nor a stranger guessing this account's password
    locks it out.
    """
    email = email.strip().lower()
    if device:
        keys = [(f"device:{device}:{account_tag(email)}", limits.per_account)]
    else:
        keys = [
            (f"account:{email}", limits.per_account),
            (f"address:{client[:64]}", limits.per_address),
        ]
    for key, limit in keys:
        count, started = throttle.count(session, key, limits.window_s)
        if count > limit:
            retry = started + timedelta(seconds=limits.window_s) - utcnow()
            raise RateLimited(
                "too many failed logins; try again later",
                retry_after_s=max(1, int(retry.total_seconds()) + 1),
            )
    user = session.scalar(select(User).where(User.email == email))
    if user is None:
        dummy_verify()
        raise Unauthorized("wrong e-mail or password")
    if not verify_password(user.password_hash, password):
        raise Unauthorized("wrong e-mail or password")
    for key, _ in keys:
        throttle.take_back(session, key, reset=not key.startswith("address:"))
    memberships = orgs.memberships_of(session=session, user_id=user.id)
    if not memberships:
        raise Unauthorized("this account belongs to no organisation")
    for membership, org in memberships:
        if org_id is None or org.id == org_id or org.name == org_id:
            return user, org.id, Role(membership.role)
    raise Unauthorized("you are not a member of that organisation")


def issue_token(
    *, session: Session, user_id: str, org_id: str, ttl_s: int, kind: str = "bearer"
) -> str:
    token = new_secret(TOKEN_PREFIX)
    session.add(
        AccessToken(
            user_id=user_id,
            org_id=org_id,
            token_hash=digest(token),
            expires_at=utcnow() + timedelta(seconds=ttl_s),
            kind=kind,
        )
    )
    session.commit()
    return token


def revoke_token(*, session: Session, token: str) -> None:
    row = session.scalar(select(AccessToken).where(AccessToken.token_hash == digest(token)))
    if row is not None:
        session.delete(row)
        session.commit()


def principal_for_token(*, session: Session, token: str, via_cookie: bool = False) -> Principal:
    """The caller behind a bearer token, session cookie or API key."""
    if token.startswith(API_KEY_PREFIX):
        key = session.scalar(select(ApiKey).where(ApiKey.key_hash == digest(token)))
        if key is None or key.revoked_at is not None:
            raise Unauthorized("invalid or revoked API key")
        return Principal(org_id=key.org_id, role=Role(key.role), api_key_id=key.id)
    row = session.scalar(select(AccessToken).where(AccessToken.token_hash == digest(token)))
    if row is None or row.expires_at <= utcnow():
        raise Unauthorized("invalid or expired token")
    memberships = {o.id: m for m, o in orgs.memberships_of(session=session, user_id=row.user_id)}
    membership = memberships.get(row.org_id)
    if membership is None:
        raise Unauthorized("you are no longer a member of this organisation")
    return Principal(
        org_id=row.org_id, role=Role(membership.role), user_id=row.user_id, via_cookie=via_cookie
    )


def create_api_key(*, session: Session, org_id: str, name: str, role: Role) -> tuple[ApiKey, str]:
    """A new key; the secret is returned once and only its hash is stored."""
    secret = new_secret(API_KEY_PREFIX)
    key = ApiKey(
        org_id=org_id, name=name, prefix=secret[:10], key_hash=digest(secret), role=role.value
    )
    session.add(key)
    session.commit()
    return key, secret


def list_api_keys(*, session: Session, org_id: str) -> list[ApiKey]:
    return list(
        session.scalars(select(ApiKey).where(ApiKey.org_id == org_id).order_by(ApiKey.created_at))
    )


def revoke_api_key(*, session: Session, org_id: str, key_id: str) -> ApiKey:
    key = session.scalar(select(ApiKey).where(ApiKey.org_id == org_id, ApiKey.id == key_id))
    if key is None:
        raise NotFound("API key not found")
    key.revoked_at = utcnow()
    session.commit()
    return key


def sign_up_first(
    *, session: Session, org_name: str, timezone: str, email: str, password: str, name: str = ""
) -> tuple[User, str]:
    """The first-run sign-up: on a fresh install (no organisation yet), create the
    organisation and its first admin in one transaction, so a refused e-mail or password
    leaves the install fresh. Returns the admin and the organisation's id;
    :class:`lastmile.orgs.service.AlreadySetUp` once any organisation exists."""
    try:
        org = orgs.create(
            session=session, name=org_name, timezone=timezone, first=True, commit=False
        )
        user = create_user(session=session, email=email, password=password, name=name, commit=False)
        orgs.add_member(session=session, org_id=org.id, user_id=user.id, role=Role.ADMIN)
    except Exception:
        session.rollback()
        raise
    return user, org.id


# --------------------------------------------------------------------------- passwords, sessions


def revoke_tokens(*, session: Session, user_id: str, keep: str | None = None) -> int:
    """Log the user out everywhere: delete their sessions and bearer tokens (in every
    organisation), except the token ``keep`` (the one making the request, if it should stay).
    API keys belong to the organisation, not the user, and are revoked on their own."""
    rows = session.scalars(select(AccessToken).where(AccessToken.user_id == user_id)).all()
    kept = digest(keep) if keep else None
    gone = 0
    for row in rows:
        if row.token_hash != kept:
            session.delete(row)
            gone += 1
    session.commit()
    return gone


def set_password(*, session: Session, user_id: str, password: str, keep: str | None = None) -> None:
    """A new password (policy checked) and every other session and token revoked."""
    user = session.get(User, user_id)
    if user is None:
        raise NotFound("user not found")
    passwords.check(password, user.email, field="new_password")
    user.password_hash = hash_password(password)
    session.commit()
    revoke_tokens(session=session, user_id=user_id, keep=keep)


def change_password(
    *,
    session: Session,
    user_id: str,
    current: str,
    new: str,
    limits: LoginLimits,
    keep: str | None = None,
) -> None:
    """The user changes their own password: the current one is checked (and counted like a
    login, so a stolen session cannot guess it), then :func:`set_password`."""
    user = session.get(User, user_id)
    if user is None:
        raise NotFound("user not found")
    count, started = throttle.count(session, f"account:{user.email}", limits.window_s)
    if count > limits.per_account:
        retry = started + timedelta(seconds=limits.window_s) - utcnow()
        raise RateLimited(
            "too many wrong passwords; try again later", int(retry.total_seconds()) + 1
        )
    if not verify_password(user.password_hash, current):
        raise InputError(
            issues=[FieldIssue(None, "current_password", None, "is not your current password")],
            source="password",
        )
    throttle.take_back(session, f"account:{user.email}", reset=True)
    set_password(session=session, user_id=user_id, password=new, keep=keep)


# --------------------------------------------------------------------------- invitations

INVITE_TTL = timedelta(days=7)
RESET_TTL = timedelta(days=1)
INVITE_PREFIX = "lmi_"


def invite(
    *, session: Session, org_id: str, email: str, role: Role, invited_by: str | None
) -> tuple[Invitation, str]:
    """An invitation to join ``org_id`` as ``role``, and its one-time token (shown once).

    The same whether or not the e-mail has an account: accepting decides (a new user sets a
    password, an existing user logs in and accepts), so the admin learns nothing about
    accounts, and nobody is added without saying yes. A new invitation replaces a pending one
    for the same e-mail. This is also the "create a login for a driver" step: the link is a
    one-time set-password link for a new e-mail."""
    email = email.strip().lower()
    if "@" not in email or len(email) > 320:
        raise InputError(
            issues=[FieldIssue(None, "email", email, "is not an e-mail address")], source="member"
        )
    now = utcnow()
    for old in session.scalars(
        select(Invitation).where(
            Invitation.org_id == org_id,
            Invitation.email == email,
            Invitation.kind == "invite",
            Invitation.accepted_at.is_(None),
            Invitation.revoked_at.is_(None),
        )
    ):
        old.revoked_at = now
    token = new_secret(INVITE_PREFIX)
    row = Invitation(
        org_id=org_id,
        email=email,
        role=role.value,
        kind="invite",
        token_hash=digest(token),
        invited_by=invited_by,
        expires_at=now + INVITE_TTL,
    )
    session.add(row)
    session.commit()
    return row, token


def reset_link(
    *, session: Session, org_id: str, user_id: str, invited_by: str | None
) -> tuple[Invitation, str]:
    """An admin resets a member's password: every session and token of the member is revoked
    and a one-time link to set a new password is made (valid a day).

    Only for an account that belongs to this organisation alone: an admin must not take over
    an account that another organisation also uses (that user changes it themselves)."""
    member = {o.id: m for m, o in orgs.memberships_of(session=session, user_id=user_id)}
    if org_id not in member:
        raise NotFound("member not found")
    if len(member) > 1:
        raise Conflict(
            "this account is also used outside this organisation: its owner changes the "
            "password themselves (Account page)"
        )
    user = session.get(User, user_id)
    if user is None:
        raise NotFound("member not found")
    token = new_secret(INVITE_PREFIX)
    row = Invitation(
        org_id=org_id,
        email=user.email,
        role=member[org_id].role,
        kind="reset",
        token_hash=digest(token),
        invited_by=invited_by,
        expires_at=utcnow() + RESET_TTL,
    )
    session.add(row)
    session.commit()
    revoke_tokens(session=session, user_id=user_id)
    return row, token


def list_invitations(*, session: Session, org_id: str) -> list[Invitation]:
    """Pending (not accepted, revoked or expired) invitations of an organisation."""
    return list(
        session.scalars(
            select(Invitation)
            .where(
                Invitation.org_id == org_id,
                Invitation.kind == "invite",
                Invitation.accepted_at.is_(None),
                Invitation.revoked_at.is_(None),
                Invitation.expires_at > utcnow(),
            )
            .order_by(Invitation.created_at)
        )
    )


def revoke_invitation(*, session: Session, org_id: str, invitation_id: str) -> None:
    row = session.scalar(
        select(Invitation).where(Invitation.org_id == org_id, Invitation.id == invitation_id)
    )
    if row is None or row.accepted_at is not None:
        raise NotFound("invitation not found")
    row.revoked_at = utcnow()
    session.commit()


def open_invitation(*, session: Session, token: str) -> Invitation:
    """The pending invitation or reset behind a token (404 if unknown, used, revoked or
    expired: all look the same)."""
    row = session.scalar(select(Invitation).where(Invitation.token_hash == digest(token)))
    if (
        row is None
        or row.accepted_at is not None
        or row.revoked_at is not None
        or row.expires_at <= utcnow()
    ):
        raise NotFound("this link is not valid (used, withdrawn or expired)")
    return row


def account_exists(*, session: Session, email: str) -> bool:
    """Whether ``email`` has an account (for the invitee's own accept page only)."""
    return session.scalar(select(User.id).where(User.email == email.strip().lower())) is not None


def accept(
    *,
    session: Session,
    token: str,
    user_id: str | None = None,
    password: str | None = None,
    name: str = "",
) -> tuple[User, Invitation]:
    """Say yes to an invitation, or use a reset link.

    - reset: ``password`` becomes the account's password (sessions were revoked already);
    - invitation, e-mail without an account: ``password`` creates it, then the membership;
    - invitation, e-mail with an account: only that account, logged in (``user_id``), can
      accept; a password does not (the link alone must not take over an account).
    """
    row = open_invitation(session=session, token=token)
    user = session.scalar(select(User).where(User.email == row.email))
    if row.kind == "reset":
        if user is None or not password:
            raise InputError(
                issues=[FieldIssue(None, "password", None, "is required")], source="password"
            )
        passwords.check(password, user.email)
        user.password_hash = hash_password(password)
    elif user is None:
        if not password:
            raise InputError(
                issues=[FieldIssue(None, "password", None, "is required for a new account")],
                source="invitation",
            )
        user = create_user(session=session, email=row.email, password=password, name=name)
        orgs.add_member(session=session, org_id=row.org_id, user_id=user.id, role=Role(row.role))
    else:
        if user_id != user.id:
            raise Unauthorized(f"log in as {row.email} to accept this invitation")
        if not orgs.is_member(session=session, org_id=row.org_id, user_id=user.id):
            orgs.add_member(
                session=session, org_id=row.org_id, user_id=user.id, role=Role(row.role)
            )
    row.accepted_at = utcnow()
    session.commit()
    return user, row


def accepted_invitation_ids(*, session: Session, org_id: str, user_id: str) -> set[str]:
    """The invitations to ``org_id`` that this user's e-mail accepted (a driver's login is
    linked to the driver who was given the invitation)."""
    user = session.get(User, user_id)
    if user is None:
        return set()
    return set(
        session.scalars(
            select(Invitation.id).where(
                Invitation.org_id == org_id,
                Invitation.email == user.email,
                Invitation.kind == "invite",
                Invitation.accepted_at.is_not(None),
            )
        )
    )


# --- members: an organisation's users (memberships are orgs', users are ours) ---------------


def list_members(*, session: Session, org_id: str) -> list[tuple[Membership, str, str]]:
    """Members of an organisation: (membership, e-mail, name), by e-mail."""
    memberships = orgs.memberships(session=session, org_id=org_id)
    users = {
        user.id: user
        for user in session.scalars(
            select(User).where(User.id.in_([m.user_id for m in memberships]))
        )
    }
    rows = [
        (m, users[m.user_id].email, users[m.user_id].name)
        for m in memberships
        if m.user_id in users
    ]
    return sorted(rows, key=lambda row: row[1])


def member_by_email(*, session: Session, org_id: str, email: str) -> Membership | None:
    """The organisation's membership of the user with this e-mail, if they are a member."""
    user = session.scalar(select(User).where(User.email == email.strip().lower()))
    if user is None:
        return None
    return orgs.membership_of(session=session, org_id=org_id, user_id=user.id)
