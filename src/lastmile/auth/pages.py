"""Dashboard login, logout and switching organisation (cookie sessions over the auth service)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from lastmile.auth import service as auth
from lastmile.common.web import (
    SESSION_COOKIE,
    AppSettings,
    DbSession,
    client_address,
    known_device,
    login_limits,
    remember_device,
)
from lastmile.core.errors import LastmileError, RateLimited
from lastmile.orgs import service as orgs
from lastmile.web.layout import (
    form_csrf_ok,
    render,
    safe_next,
    set_session,
    to_login,
    viewer_of,
)

router = APIRouter(include_in_schema=False)


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
            return HTMLResponse("missing or wrong CSRF token", status_code=403)
        auth.revoke_token(session=session, token=viewer.cookie)
    response = RedirectResponse("/app/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


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
        return HTMLResponse("missing or wrong CSRF token", status_code=403)
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
