"""The dashboard's customer-message pages (issue 14, item 9): the notification settings (e-mail
on/off with a check of the server's mail settings, SMS and chat provider URLs write-only,
which messages, quiet hours, the monthly cap), template editing with a preview, "send a test"
to an address the owner types, and the message log.

Writes go through the same service functions as ``PUT /api/v1/notifications/settings``
(provider URLs checked against the outbound policy, masked when read back); forms post with
htmx and the answers are HTML fragments in the owner's words.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from lastmile.auth.deps import Caller
from lastmile.common import i18n, secrets
from lastmile.common.netguard import Policy
from lastmile.common.web import AppSettings, DbSession
from lastmile.core.errors import InputError
from lastmile.integrations.notify.base import SendError
from lastmile.notifications import checks, templates
from lastmile.notifications import service as notifications
from lastmile.notifications import settings as notify_settings
from lastmile.notifications.schemas import NotificationSettings, QuietHours, TemplateParts
from lastmile.orders import service as orders
from lastmile.orgs.models import Role
from lastmile.pageframe.layout import Viewer, render, staff_page

router = APIRouter(include_in_schema=False)

KIND_WORDS = {
    "confirmed": "Delivery scheduled (when the route is sent to the driver)",
    "out_for_delivery": "On its way",
    "arriving_soon": "Arriving soon",
    "delayed": "Running late",
    "eta_changed": "New time (the promised window moved)",
    "delivered": "Delivered",
    "failed": "Not delivered",
    "gift_delivered": "Gift delivered (to the buyer)",
    "test": "Test message",
}
STATUS_WORDS = {
    "queued": "waiting (quiet hours)",
    "sending": "sending",
    "sent": "sent",
    "failed": "not sent",
    "suppressed": "held back",
}
CHANNEL_WORDS = {"email": "E-mail", "sms": "SMS", "chat": "Chat"}
LANGUAGE_WORDS = {"en": "English", "de": "German"}
MESSAGES_PER_PAGE = 50


def _fragment(request: Request, settings: AppSettings, **context: Any) -> HTMLResponse:
    return render(request, "dashboard/_notify_answer.html", None, settings, **context)


def _problems(exc: InputError | ValidationError) -> list[str]:
    if isinstance(exc, InputError):
        return [
            f"{(i.field or '').removeprefix('notifications.').replace('_', ' ')}: {i.message}"
            for i in exc.issues
        ]
    return [
        f"{'.'.join(str(p) for p in e['loc']).replace('_', ' ')}: "
        f"{str(e['msg']).removeprefix('Value error, ')}"
        for e in exc.errors()
    ]


@router.get("/app/settings/notifications", response_model=None)
def notifications_page(request: Request, session: DbSession, settings: AppSettings) -> Response:
    """Customer messages: channels, which messages, quiet hours, cap, templates, a test."""
    viewer = staff_page(request, session, settings)
    if not isinstance(viewer, Viewer):
        return viewer
    shown = notify_settings.get_settings(session=session, org_id=viewer.org_id).notifications
    return render(
        request,
        "dashboard/notifications.html",
        viewer,
        settings,
        nav="settings",
        n=shown,
        mail=checks.mail_server(settings),
        kinds=[(k, KIND_WORDS[k]) for k in templates.KINDS],
        languages=LANGUAGE_WORDS,
        usage=notifications.usage(session=session, org_id=viewer.org_id),
        channel_words=CHANNEL_WORDS,
        mask=secrets.MASK,
    )


@router.post("/app/settings/notifications", response_class=HTMLResponse)
def save_settings(
    request: Request,
    caller: Caller,
    session: DbSession,
    settings: AppSettings,
    language: Annotated[str, Form(max_length=5)] = "en",
    email: Annotated[str, Form(max_length=5)] = "",
    sms_url: Annotated[str, Form(max_length=2000)] = "",
    sms_remove: Annotated[str, Form(max_length=5)] = "",
    chat_url: Annotated[str, Form(max_length=2000)] = "",
    chat_remove: Annotated[str, Form(max_length=5)] = "",
    kinds: Annotated[list[str] | None, Form(max_length=20)] = None,
    quiet_start: Annotated[str, Form(max_length=5)] = "",
    quiet_end: Annotated[str, Form(max_length=5)] = "",
    monthly_cap: Annotated[str, Form(max_length=20)] = "",
    sms_cost: Annotated[str, Form(max_length=20)] = "",
    arriving_soon_minutes: Annotated[str, Form(max_length=5)] = "15",
    delay_threshold_min: Annotated[str, Form(max_length=5)] = "15",
) -> HTMLResponse:
    """Save the channels and rules (admins). A provider URL field left empty keeps the
    stored one (it is never shown); *remove* clears it."""
    caller.require(Role.ADMIN)
    current = notify_settings.get_settings(session=session, org_id=caller.org_id)
    old = current.notifications

    def url(new: str, remove: str, stored: str | None) -> str | None:
        if remove:
            return None
        return new.strip() or stored  # ``stored`` is the mask, which keeps the stored URL

    try:
        costs: dict[Any, float] = dict(old.costs)
        if sms_cost.strip():
            costs["sms"] = float(sms_cost)
        values = old.model_dump()
        values.update(
            language=language,
            email=bool(email),
            sms_url=url(sms_url, sms_remove, old.sms_url),
            chat_url=url(chat_url, chat_remove, old.chat_url),
            kinds=kinds or [],
            quiet_hours=(
                QuietHours(start=quiet_start, end=quiet_end) if quiet_start and quiet_end else None
            ),
            monthly_cap=float(monthly_cap) if monthly_cap.strip() else None,
            costs=costs,
            arriving_soon_minutes=int(arriving_soon_minutes or 0),
            delay_threshold_min=int(delay_threshold_min or 0),
        )
        current.notifications = NotificationSettings.model_validate(values)
        saved = notify_settings.update_settings(
            session=session,
            org_id=caller.org_id,
            body=current,
            policy=Policy.from_settings(settings),
        )
    except (InputError, ValidationError) as exc:
        session.rollback()
        return _fragment(request, settings, problems=_problems(exc), done="")
    except ValueError:
        return _fragment(
            request, settings, problems=["The cap, costs and minutes must be numbers."], done=""
        )
    n = saved.notifications
    on = [CHANNEL_WORDS["email"]] if n.email else []
    on += [CHANNEL_WORDS[c] for c in ("sms", "chat") if getattr(n, f"{c}_url")]
    return _fragment(
        request,
        settings,
        problems=[],
        done=f"Saved. Customers get messages by {', '.join(on) if on else 'no channel (all off)'}.",
        masked={"sms": n.sms_url or "", "chat": n.chat_url or ""},
    )


@router.post("/app/settings/notifications/check-mail", response_class=HTMLResponse)
def check_mail(request: Request, caller: Caller, settings: AppSettings) -> HTMLResponse:
    """Connect and log in to the server's mail server without sending anything."""
    caller.require(Role.ADMIN)
    mail = checks.mail_server(settings)
    try:
        checks.check_mail_server(settings)
    except SendError as exc:
        return _fragment(request, settings, problems=[checks.error_words(str(exc))], done="")
    return _fragment(
        request,
        settings,
        problems=[],
        done=f"The mail server {mail['host']}:{mail['port']} answers"
        + (" and accepted the login." if mail["login"] else "."),
    )


@router.get("/app/settings/notifications/template", response_class=HTMLResponse)
def template_editor(
    request: Request,
    caller: Caller,
    session: DbSession,
    settings: AppSettings,
    kind: Annotated[str, Query(max_length=30)] = "confirmed",
    language: Annotated[str, Query(max_length=5)] = "en",
) -> HTMLResponse:
    """The texts of one message in one language (the organisation's own, else built in)."""
    caller.require(Role.ADMIN, Role.DISPATCHER)
    kind = kind if kind in templates.KINDS else "confirmed"
    language = templates.language_of(language)
    org = notify_settings.organisation(session, caller.org_id)
    stored = notify_settings.settings_of(org).model_dump(mode="json")["templates"]
    own = (stored.get(language) or {}).get(kind) or {}
    return render(
        request,
        "dashboard/_template_editor.html",
        None,
        settings,
        kind=kind,
        language=language,
        parts=templates.template_for(kind, language, stored),
        own=bool(own),
        kind_words=KIND_WORDS,
        admin=caller.role == Role.ADMIN,
    )


@router.post("/app/settings/notifications/template", response_class=HTMLResponse)
def template_action(
    request: Request,
    caller: Caller,
    session: DbSession,
    settings: AppSettings,
    kind: Annotated[str, Form(max_length=30)],
    language: Annotated[str, Form(max_length=5)],
    action: Annotated[str, Form(max_length=10)] = "preview",
    subject: Annotated[str, Form(max_length=300)] = "",
    body: Annotated[str, Form(max_length=5000)] = "",
    text: Annotated[str, Form(max_length=1000)] = "",
) -> HTMLResponse:
    """``preview`` renders the texts being edited with sample values (nothing saved);
    ``save`` stores them as the organisation's; ``reset`` goes back to the built-in ones."""
    if action == "preview":
        caller.require(Role.ADMIN, Role.DISPATCHER)
    else:
        caller.require(Role.ADMIN)
    if kind not in templates.KINDS or language not in i18n.LANGUAGES:
        return _fragment(request, settings, problems=["Unknown message or language."], done="")
    try:
        parts = TemplateParts(subject=subject or None, body=body or None, text=text or None)
    except ValidationError as exc:
        return _fragment(request, settings, problems=_problems(exc), done="")
    done = ""
    if action in ("save", "reset"):
        current = notify_settings.get_settings(session=session, org_id=caller.org_id)
        own: dict[Any, TemplateParts] = current.notifications.templates.setdefault(
            language,  # type: ignore[arg-type]  # checked against LANGUAGES above
            {},
        )
        if action == "save":
            own[kind] = parts
            done = "Saved: customers get this text from now on."
        else:
            own.pop(kind, None)
            done = "Back to the built-in text."
        notify_settings.update_settings(
            session=session,
            org_id=caller.org_id,
            body=current,
            policy=Policy.from_settings(settings),
        )
        parts = TemplateParts() if action == "reset" else parts
    rendered = checks.preview(
        session=session,
        org_id=caller.org_id,
        kind=kind,
        language=language,
        parts=parts,
        public_url=settings.public_url,
    )
    return _fragment(request, settings, problems=[], done=done, rendered=rendered)


@router.post("/app/settings/notifications/test", response_class=HTMLResponse)
def send_test(
    request: Request,
    caller: Caller,
    session: DbSession,
    settings: AppSettings,
    channel: Annotated[str, Form(max_length=10)],
    to: Annotated[str, Form(max_length=320)],
    kind: Annotated[str, Form(max_length=30)] = "confirmed",
    language: Annotated[str, Form(max_length=5)] = "en",
) -> HTMLResponse:
    """Send one message with sample values to the typed address now, and log it."""
    caller.require(Role.ADMIN)
    try:
        row = checks.send_test(
            session=session,
            org_id=caller.org_id,
            channel=channel,
            to=to,
            kind=kind,
            language=language,
            public_url=settings.public_url,
        )
    except InputError as exc:
        return _fragment(request, settings, problems=_problems(exc), done="")
    if row.status == "sent":
        return _fragment(
            request,
            settings,
            problems=[],
            done=f"Sent to {row.recipient}: “{row.subject}”. It is in the message log.",
        )
    return _fragment(
        request,
        settings,
        problems=[f"Not sent to {row.recipient}: {checks.error_words(row.error)}."],
        done="",
        detail=row.error or "",
    )


@router.get("/app/messages", response_model=None)
def messages_page(
    request: Request,
    session: DbSession,
    settings: AppSettings,
    status: Annotated[str, Query(max_length=20)] = "",
    channel: Annotated[str, Query(max_length=10)] = "",
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> Response:
    """The message log: what was sent to whom, when, its state and errors in words; newest
    first, ``MESSAGES_PER_PAGE`` a page (a busy month holds thousands, each with its text)."""
    viewer = staff_page(request, session, settings)
    if not isinstance(viewer, Viewer):
        return viewer
    rows = notifications.list_notifications(
        session=session,
        org_id=viewer.org_id,
        status=status if status in STATUS_WORDS else None,
        channel=channel if channel in CHANNEL_WORDS else None,
        limit=MESSAGES_PER_PAGE + 1,
        offset=(page - 1) * MESSAGES_PER_PAGE,
    )
    more = len(rows) > MESSAGES_PER_PAGE
    rows = rows[:MESSAGES_PER_PAGE]
    zone = ZoneInfo(viewer.timezone)

    def local(moment: dt.datetime | None) -> str:
        if moment is None:
            return ""
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=dt.UTC)
        return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M")

    refs = orders.get_many(
        session=session,
        org_id=viewer.org_id,
        order_ids=sorted({r.order_id for r in rows if r.order_id}),
    )
    return render(
        request,
        "dashboard/messages.html",
        viewer,
        settings,
        nav="messages",
        rows=rows,
        refs=refs,
        local=local,
        status=status,
        channel=channel,
        page=page,
        more=more,
        status_words=STATUS_WORDS,
        channel_words=CHANNEL_WORDS,
        kind_words=KIND_WORDS,
        error_words=checks.error_words,
        usage=notifications.usage(session=session, org_id=viewer.org_id),
    )
