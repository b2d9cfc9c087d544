"""Dashboard login, logout, switching organisation, the account page and accepting an
invitation (cookie sessions over the auth service). In `web/`, not `auth/`: these pages use
the page frame (`web.layout`), which sits above auth because it reads the logged-in viewer."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from lastmile.auth import passwords
from lastmile.auth import service as auth
from lastmile.auth.deps import known_device, login_limits, remember_device
from lastmile.common.i18n import words
from lastmile.common.web import SESSION_COOKIE, AppSettings, DbSession, client_address
from lastmile.core.errors import InputError, LastmileError, NotFound, RateLimited
from lastmile.fleet import service as fleet
from lastmile.orgs import service as orgs
from lastmile.orgs.models import Role
from lastmile.pageframe.layout import (
    form_csrf_ok,
    render,
    safe_next,
    set_session,
    to_login,
    viewer_of,
)
from lastmile.web import invite_texts

router = APIRouter(include_in_schema=False)


def _csrf_refused() -> HTMLResponse:
    """A form posted without this session's CSRF token (or with another one's)."""
    return HTMLResponse("missing or wrong CSRF token", status_code=403)


def _logged_out() -> RedirectResponse:
    """Back to the login page, the session cookie dropped (its token is revoked already)."""
    response = RedirectResponse("/app/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/app/login", response_model=None)
def login_page(
    request: Request, session: DbSession, settings: AppSettings, next: str | None = None
) -> HTMLResponse | RedirectResponse:
    """The login form (already logged in: straight on)."""
    if viewer_of(request, session, settings) is not None:
        return RedirectResponse(safe_next(next), status_code=303)
    if orgs.is_fresh_install(session=session):
        return RedirectResponse("/app/setup", status_code=303)
    return render(request, "dashboard/login.html", None, settings, next=safe_next(next))


@router.post("/app/login", response_model=None)
def login_submit(
    request: Request,
    session: DbSession,
    settings: AppSettings,
    email: Annotated[str, Form(max_length=320)],
    password: Annotated[str, Form(max_length=1000)],
    organisation: Annotated[str, Form(max_length=200)] = "",
    next: Annotated[str, Form(max_length=2000)] = "",
) -> HTMLResponse | RedirectResponse:
    """Check the password (rate limited by the auth service) and set the session cookie."""
    try:
        user, org_id, _ = auth.login(
            session=session,
            email=email,
            password=password,
            client=client_address(request, settings),
            org_id=organisation.strip() or None,
            limits=login_limits(settings),
            device=known_device(request, settings, email),
        )
    except LastmileError as exc:
        status = 429 if isinstance(exc, RateLimited) else 401
        return render(
            request,
            "dashboard/login.html",
            None,
            settings,
            status_code=status,
            error=exc.message,
            email=email,
            next=safe_next(next),
        )
    token = auth.issue_token(
        session=session,
        user_id=user.id,
        org_id=org_id,
        ttl_s=settings.access_token_ttl_s,
        kind="session",
    )
    response = RedirectResponse(safe_next(next), status_code=303)
    set_session(response, request, token, settings)
    remember_device(response, request, settings, user.email)
    return response


@router.post("/app/logout", response_model=None)
def logout(
    request: Request,
    session: DbSession,
    settings: AppSettings,
    csrf: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """End the session (the token is revoked, not just forgotten)."""
    viewer = viewer_of(request, session, settings)
    if viewer is not None:
        if not form_csrf_ok(viewer, csrf):
            return _csrf_refused()
        auth.revoke_token(session=session, token=viewer.cookie)
    return _logged_out()


@router.post("/app/switch-org", response_model=None)
def switch_org(
    request: Request,
    session: DbSession,
    settings: AppSettings,
    org_id: Annotated[str, Form(max_length=64)],
    csrf: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """Act in another organisation the user belongs to: a new session for that one."""
    viewer = viewer_of(request, session, settings)
    if viewer is None:
        return to_login(request)
    if not form_csrf_ok(viewer, csrf):
        return _csrf_refused()
    if org_id not in {o["id"] for o in viewer.organisations}:
        return HTMLResponse("you are not a member of that organisation", status_code=403)
    assert viewer.principal.user_id is not None
    token = auth.issue_token(
        session=session,
        user_id=viewer.principal.user_id,
        org_id=org_id,
        ttl_s=settings.access_token_ttl_s,
        kind="session",
    )
    auth.revoke_token(session=session, token=viewer.cookie)
    back = request.headers.get("referer", "")
    path = "/app" + back.split("/app", 1)[1] if "/app" in back else "/app/orders"
    response = RedirectResponse(safe_next(path.split("?")[0]), status_code=303)
    set_session(response, request, token, settings)
    return response


# --------------------------------------------------------------------------- account


@router.get("/app/account", response_model=None)
def account_page(
    request: Request, session: DbSession, settings: AppSettings, done: str = ""
) -> Response:
    """Change your password; log out everywhere (every role)."""
    viewer = viewer_of(request, session, settings)
    if viewer is None:
        return to_login(request)
    return render(
        request,
        "dashboard/account.html",
        viewer,
        settings,
        nav="account",
        done=done == "password",
        min_length=passwords.MIN_LENGTH,
    )


@router.post("/app/account/password", response_model=None)
def account_password(
    request: Request,
    session: DbSession,
    settings: AppSettings,
    current_password: Annotated[str, Form(max_length=1000)],
    new_password: Annotated[str, Form(max_length=1000)],
    repeat_password: Annotated[str, Form(max_length=1000)],
    csrf: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """Change your password; your other sessions end, this one stays."""
    viewer = viewer_of(request, session, settings)
    if viewer is None:
        return to_login(request)
    if not form_csrf_ok(viewer, csrf):
        return _csrf_refused()
    error = ""
    if new_password != repeat_password:
        error = "The two new passwords differ."
    else:
        assert viewer.principal.user_id is not None
        try:
            auth.change_password(
                session=session,
                user_id=viewer.principal.user_id,
                current=current_password,
                new=new_password,
                limits=login_limits(settings),
                keep=viewer.cookie,
            )
        except LastmileError as exc:
            error = _message(exc)
    if error:
        return render(
            request,
            "dashboard/account.html",
            viewer,
            settings,
            status_code=422,
            nav="account",
            error=error,
            min_length=passwords.MIN_LENGTH,
        )
    return RedirectResponse("/app/account?done=password", status_code=303)


@router.post("/app/account/logout-everywhere", response_model=None)
def account_logout_everywhere(
    request: Request,
    session: DbSession,
    settings: AppSettings,
    csrf: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """End every session and bearer token of your account, this one included."""
    viewer = viewer_of(request, session, settings)
    if viewer is None:
        return to_login(request)
    if not form_csrf_ok(viewer, csrf):
        return _csrf_refused()
    assert viewer.principal.user_id is not None
    auth.revoke_tokens(session=session, user_id=viewer.principal.user_id)
    return _logged_out()


def _message(exc: LastmileError) -> str:
    """A domain error as one sentence for a form (input errors name their field)."""
    if isinstance(exc, InputError) and exc.issues:
        return "; ".join(
            f"{(i.field or '').replace('_', ' ')} {i.message}".strip() for i in exc.issues
        )
    return exc.message


# --------------------------------------------------------------------------- invitations

DIFFER = "The two passwords differ."


def _invite_page(
    request: Request,
    session: DbSession,
    settings: AppSettings,
    token: str,
    status_code: int = 200,
    **extra: Any,
) -> HTMLResponse:
    viewer = viewer_of(request, session, settings)
    try:
        row = auth.open_invitation(session=session, token=token)
    except NotFound as exc:
        return render(
            request, "dashboard/invite.html", viewer, settings, status_code=404, gone=exc.message,
            w=words(invite_texts.TEXT, "en"),
        )  # fmt: skip
    org = orgs.get(session=session, org_id=row.org_id)
    language = _language_of(org, row.role)
    error = extra.pop("error", "")
    return render(
        request,
        "dashboard/invite.html",
        viewer,
        settings,
        status_code=status_code,
        invitation=row,
        org_name=org.name,
        is_invitee=viewer is not None and viewer.email == row.email,
        token=token,
        min_length=passwords.MIN_LENGTH,
        w=words(invite_texts.TEXT, language),
        lang=language,
        error=words(invite_texts.TEXT, language)["differ"]
        if error == DIFFER
        else invite_texts.policy_words(error, language),
        driver_name=_invited_driver_name(session, row.org_id, row.id),
        **extra,
    )


def _language_of(org: Any, role: str) -> str:
    """A driver's invitation speaks the organisation's language, like the driver app it leads
    to; the staff's stays in the dashboard's English."""
    return orgs.language(org) if role == Role.DRIVER.value else "en"


def _invited_driver_name(session: DbSession, org_id: str, invitation_id: str) -> str:
    """The name the owner typed for the driver this link is for (prefilled on the phone)."""
    drivers, _ = fleet.list_drivers(session=session, org_id=org_id)
    return next((d.name for d in drivers if d.invitation_id == invitation_id), "")


@router.get("/app/invite/{token}", response_model=None)
def invite_page(
    token: str, request: Request, session: DbSession, settings: AppSettings
) -> HTMLResponse:
    """An invitation (accept it, or set a password for a new account) or a reset link."""
    return _invite_page(request, session, settings, token)


@router.post("/app/invite/{token}", response_model=None)
def invite_submit(
    token: str,
    request: Request,
    session: DbSession,
    settings: AppSettings,
    password: Annotated[str, Form(max_length=1000)] = "",
    repeat_password: Annotated[str, Form(max_length=1000)] = "",
    name: Annotated[str, Form(max_length=200)] = "",
    csrf: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """Accept while logged in as the invited account, or set the password (new account or
    reset link); then log in."""
    viewer = viewer_of(request, session, settings)
    user_id = None
    if viewer is not None and not password:
        if not form_csrf_ok(viewer, csrf):
            return _csrf_refused()
        user_id = viewer.principal.user_id
    elif password != repeat_password:
        return _invite_page(request, session, settings, token, 422, error=DIFFER)
    try:
        user, row = auth.accept(
            session=session, token=token, user_id=user_id, password=password or None, name=name
        )
    except NotFound:
        return _invite_page(request, session, settings, token)
    except LastmileError as exc:
        return _invite_page(request, session, settings, token, 422, error=_message(exc))
    if user_id is not None:
        # Already logged in: act in the organisation just joined.
        session_token = auth.issue_token(
            session=session,
            user_id=user.id,
            org_id=row.org_id,
            ttl_s=settings.access_token_ttl_s,
            kind="session",
        )
        assert viewer is not None
        auth.revoke_token(session=session, token=viewer.cookie)
        response = RedirectResponse(_home_of(Role(row.role)), status_code=303)
        set_session(response, request, session_token, settings)
        return response
    language = _language_of(orgs.get(session=session, org_id=row.org_id), row.role)
    return render(
        request,
        "dashboard/invite.html",
        None,
        settings,
        done=True,
        email=user.email,
        next=_home_of(Role(row.role)),
        w=words(invite_texts.TEXT, language),
        lang=language,
    )


def _home_of(role: Role) -> str:
    return "/driver" if role == Role.DRIVER else "/app/orders"
