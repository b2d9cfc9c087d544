"""Accounts, logins (rate limited), access tokens and API keys."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lastmile.auth.models import AccessToken, ApiKey, LoginAttempt, User
from lastmile.auth.principal import Principal
from lastmile.auth.security import (
    API_KEY_PREFIX,
    TOKEN_PREFIX,
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
from lastmile.orgs.models import Role

MIN_PASSWORD = 8


def create_user(*, session: Session, email: str, password: str, name: str = "") -> User:
    email = email.strip().lower()
    issues = []
    if "@" not in email or len(email) > 320:
        issues.append(FieldIssue(None, "email", email, "is not an e-mail address"))
    if len(password) < MIN_PASSWORD:
        issues.append(
            FieldIssue(None, "password", None, f"must have at least {MIN_PASSWORD} characters")
        )
    if issues:
        raise InputError(issues=issues, source="user")
    if session.scalar(select(User).where(User.email == email)) is not None:
        raise Conflict(f"a user with e-mail {email} already exists")
    user = User(email=email, name=name, password_hash=hash_password(password))
    session.add(user)
    session.commit()
    return user


def get_user_by_email(*, session: Session, email: str) -> User:
    user = session.scalar(select(User).where(User.email == email.strip().lower()))
    if user is None:
        raise NotFound(f"no user with e-mail {email}")
    return user


def login(
    *,
    session: Session,
    email: str,
    password: str,
    client: str,
    org_id: str | None,
    max_failures: int,
    window_s: int,
) -> tuple[User, str, Role]:
    """Check credentials; return the user, the organisation and role to act in.

    Refuses (429) after ``max_failures`` failed attempts for the e-mail (or 4x that from one
    client address) inside ``window_s``; attempts are stored, so every server process counts
    the same way.
    """
    email = email.strip().lower()
    since = utcnow() - timedelta(seconds=window_s)
    failures_for_email = (
        session.scalar(
            select(func.count())
            .select_from(LoginAttempt)
            .where(
                LoginAttempt.email == email,
                LoginAttempt.success.is_(False),
                LoginAttempt.created_at >= since,
            )
        )
        or 0
    )
    failures_from_client = (
        session.scalar(
            select(func.count())
            .select_from(LoginAttempt)
            .where(
                LoginAttempt.client == client,
                LoginAttempt.success.is_(False),
                LoginAttempt.created_at >= since,
            )
        )
        or 0
    )
    if failures_for_email >= max_failures or failures_from_client >= 4 * max_failures:
        raise RateLimited("too many failed logins; try again later", retry_after_s=window_s)
    user = session.scalar(select(User).where(User.email == email))
    if user is None:
        dummy_verify()
        ok = False
    else:
        ok = verify_password(user.password_hash, password)
    session.add(LoginAttempt(email=email, client=client[:64], success=bool(ok and user)))
    session.commit()
    if not ok or user is None:
        raise Unauthorized("wrong e-mail or password")
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
