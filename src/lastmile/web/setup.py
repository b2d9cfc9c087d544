"""The first-run sign-up (issue 14, item 0): on a fresh install, the owner creates their
organisation (name, time zone, language) and its first admin in the browser, without the CLI.

Once an organisation exists the page is closed for everyone (it redirects to the login):
further organisations on a shared server are a hosting decision, made with
``lastmile admin create-org``, and an open sign-up on a server someone else runs would let
strangers in. It combines the auth, orgs and notifications slices, so it lives in ``web/``.
"""

from __future__ import annotations

from typing import Annotated
from zoneinfo import available_timezones

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from lastmile.auth import service as auth
from lastmile.common.i18n import NAMES
from lastmile.common.netguard import Policy
from lastmile.common.web import AppSettings, DbSession
from lastmile.core.errors import InputError, LastmileError
from lastmile.notifications import settings as notifications
from lastmile.orgs import service as orgs
from lastmile.orgs.service import AlreadySetUp
from lastmile.pageframe.layout import render, set_session

router = APIRouter(include_in_schema=False)

LANGUAGES = NAMES
"""The languages lastmile speaks (``common.i18n``): customer messages, pages, driver app."""

ZONES = sorted(z for z in available_timezones() if "/" in z and not z.startswith("Etc/"))


def _form(
    request: Request, settings: AppSettings, status_code: int = 200, **values: str
) -> HTMLResponse:
    return render(
        request,
        "dashboard/setup.html",
        None,
        settings,
        status_code=status_code,
        zones=ZONES,
        languages=LANGUAGES,
        values=values,
    )


@router.get("/app/setup", response_model=None)
def setup_page(request: Request, session: DbSession, settings: AppSettings) -> Response:
    """The sign-up form while the install is fresh; afterwards the login."""
    if not orgs.is_fresh_install(session=session):
        return RedirectResponse("/app/login", status_code=303)
    return _form(request, settings)


@router.post("/app/setup", response_model=None)
def setup_submit(
    request: Request,
    session: DbSession,
    settings: AppSettings,
    organisation: Annotated[str, Form(max_length=200)],
    timezone: Annotated[str, Form(max_length=64)],
    language: Annotated[str, Form(max_length=8)],
    name: Annotated[str, Form(max_length=200)],
    email: Annotated[str, Form(max_length=320)],
    password: Annotated[str, Form(max_length=1000)],
    password_again: Annotated[str, Form(max_length=1000)],
) -> Response:
    """Create the organisation and its admin, log the admin in and open the settings."""
    values = {
        "organisation": organisation,
        "timezone": timezone,
        "language": language,
        "name": name,
        "email": email,
    }
    errors: list[str] = []
    if language not in LANGUAGES:
        errors.append(f"Language: choose one of {', '.join(LANGUAGES.values())}.")
    if password != password_again:
        errors.append("The two passwords are not the same.")
    if not errors:
        try:
            user, org_id = auth.sign_up_first(
                session=session,
                org_name=organisation,
                timezone=timezone,
                email=email,
                password=password,
                name=name.strip(),
            )
        except AlreadySetUp:
            return RedirectResponse("/app/login", status_code=303)
        except InputError as exc:
            errors.extend(_plain(issue.field, issue.message) for issue in exc.issues)
        except LastmileError as exc:
            errors.append(exc.message)
    if errors:
        return _form(request, settings, status_code=422, errors="\n".join(errors), **values)
    body = notifications.get_settings(session=session, org_id=org_id)
    body.notifications.language = language  # type: ignore[assignment]
    notifications.update_settings(
        session=session, org_id=org_id, body=body, policy=Policy.from_settings(settings)
    )
    token = auth.issue_token(
        session=session,
        user_id=user.id,
        org_id=org_id,
        ttl_s=settings.access_token_ttl_s,
        kind="session",
    )
    response = RedirectResponse("/app/settings?welcome=1", status_code=303)
    set_session(response, request, token, settings)
    return response


_LABELS = {
    "name": "Organisation name",
    "timezone": "Time zone",
    "email": "E-mail",
    "password": "Password",
}


def _plain(field: str | None, message: str) -> str:
    """A field issue in the words of the form."""
    return f"{_LABELS.get(field or '', field or 'Input')} {message}."
