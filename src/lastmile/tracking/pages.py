"""The customer's tracking page ``/t/<token>``: public, no login, one order only.

Every request (known token or not) counts against the client's rate limit. An unknown token
answers 404 and an expired one 410, both with a friendly page that says nothing about any
order. Responses are never cached, never indexed and never send a Referer (the token is in
the URL). No inline script: ``/static/tracking/tracking.js`` and Leaflet from
``/static/vendor/leaflet``.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from jinja2 import Environment, PackageLoader, select_autoescape
from sqlalchemy import select
from sqlalchemy.orm import Session

from lastmile.common.i18n import choose, words
from lastmile.common.web import AppSettings, DbSession, client_address
from lastmile.config import Settings
from lastmile.core.errors import Conflict, InputError, NotFound, RateLimited
from lastmile.drivers.pod_store import store_for
from lastmile.notifications.models import OrderRecipients
from lastmile.notifications.service import settings_of
from lastmile.orgs.models import Organisation
from lastmile.tracking import counters, service
from lastmile.tracking import reschedule as rebook
from lastmile.tracking.models import TrackingLink

router = APIRouter(tags=["tracking page"], include_in_schema=False)

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: https:; "
    "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'; "
    "object-src 'none'"
)
HEADERS = {
    "Content-Security-Policy": CSP,
    "Referrer-Policy": "no-referrer",
    "X-Robots-Tag": "noindex, nofollow",
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
}

TEXT: dict[str, dict[str, str]] = {
    "en": {
        "title": "Your delivery",
        "status_dispatched": "Scheduled",
        "status_out_for_delivery": "On its way",
        "status_arrived": "The driver is at your door",
        "status_delivered": "Delivered",
        "status_failed": "We could not deliver",
        "status_other": "Being prepared",
        "eta": "Expected between",
        "and": "and",
        "late": "Sorry, we are running late: this is after the delivery window you booked.",
        "stops_away": "stops before yours",
        "one_stop_away": "1 stop before yours",
        "instruction_kind": "What kind of instruction",
        "details": "Details",
        "next_stop": "You are the next stop",
        "driver": "Your driver",
        "delivery_date": "Delivery date",
        "pod": "Proof of delivery",
        "instructions": "Instructions for the driver",
        "safe_place": "Safe place",
        "gate_code": "Gate or door code",
        "neighbour": "Leave with a neighbour",
        "other": "Other",
        "save": "Save",
        "saved": "Thank you, saved.",
        "rate": "How was your delivery?",
        "comment": "Comment (optional)",
        "send": "Send",
        "your_rating": "Your rating",
        "failed_help": "Please contact the shop to arrange a new delivery.",
        "reschedule_title": "Choose a new delivery time",
        "reschedule_pick": "Choose",
        "reschedule_none": "There is no free time tomorrow; please contact the shop.",
        "rescheduled": "Thank you: your new delivery time is booked.",
        "rescheduled_error": "That time is no longer free; please choose another.",
        "status_ready": "New delivery booked",
        "not_found_title": "Link not found",
        "not_found": "This tracking link does not exist. Please check the link in your message.",
        "expired_title": "Link expired",
        "expired": "This tracking link has expired. Please contact the shop if you need help.",
        "rate_limited_title": "Too many requests",
        "rate_limited": "Please wait a minute and try again.",
        "error": "Please check your input",
        "delivered_at": "Delivered at",
        "attempted_at": "We came at",
        "on": "on",
        "signed_by": "Signed for by",
        "received_by": "Received by",
        "neighbour_took": "Left with your neighbour",
        "safe_place_left": "Left at a safe place",
        "why": "Why",
        "reason_not_home": "Nobody was at home.",
        "reason_wrong_address": "We could not find the address.",
        "reason_refused": "The delivery was refused.",
        "reason_access_problem": "We could not get to your door.",
        "reason_damaged": "The parcel was damaged, so we took it back.",
        "reason_other": "Something else stopped the delivery.",
        "call_shop": "Questions? Call",
    },
    "de": {
        "title": "Ihre Lieferung",
        "status_dispatched": "Geplant",
        "status_out_for_delivery": "Unterwegs",
        "status_arrived": "Die Fahrerin oder der Fahrer ist da",
        "status_delivered": "Zugestellt",
        "status_failed": "Zustellung nicht möglich",
        "status_other": "In Vorbereitung",
        "eta": "Erwartet zwischen",
        "and": "und",
        "late": "Entschuldigung, wir verspäten uns: das ist nach dem gebuchten Lieferfenster.",
        "stops_away": "Stopps vor Ihrem",
        "one_stop_away": "1 Stopp vor Ihrem",
        "instruction_kind": "Art des Hinweises",
        "details": "Details",
        "next_stop": "Sie sind der nächste Stopp",
        "driver": "Ihr Fahrer / Ihre Fahrerin",
        "delivery_date": "Liefertag",
        "pod": "Zustellnachweis",
        "instructions": "Hinweise für die Zustellung",
        "safe_place": "Ablageort",
        "gate_code": "Tor- oder Türcode",
        "neighbour": "Bei Nachbarn abgeben",
        "other": "Anderes",
        "save": "Speichern",
        "saved": "Danke, gespeichert.",
        "rate": "Wie war Ihre Lieferung?",
        "comment": "Kommentar (freiwillig)",
        "send": "Senden",
        "your_rating": "Ihre Bewertung",
        "failed_help": "Bitte wenden Sie sich an den Shop für eine neue Zustellung.",
        "reschedule_title": "Neue Lieferzeit wählen",
        "reschedule_pick": "Wählen",
        "reschedule_none": "Morgen ist keine Zeit mehr frei; bitte wenden Sie sich an den Shop.",
        "rescheduled": "Danke: Ihre neue Lieferzeit ist gebucht.",
        "rescheduled_error": "Diese Zeit ist nicht mehr frei; bitte wählen Sie eine andere.",
        "status_ready": "Neue Lieferung gebucht",
        "not_found_title": "Link nicht gefunden",
        "not_found": "Diesen Sendungslink gibt es nicht. Bitte prüfen Sie den Link in Ihrer Nachricht.",
        "expired_title": "Link abgelaufen",
        "expired": "Dieser Sendungslink ist abgelaufen. Bitte wenden Sie sich bei Fragen an den Shop.",
        "rate_limited_title": "Zu viele Anfragen",
        "rate_limited": "Bitte warten Sie eine Minute und versuchen Sie es erneut.",
        "error": "Bitte prüfen Sie Ihre Eingabe",
        "delivered_at": "Zugestellt um",
        "attempted_at": "Wir waren da um",
        "on": "am",
        "signed_by": "Unterschrieben von",
        "received_by": "Entgegengenommen von",
        "neighbour_took": "Abgegeben bei Ihren Nachbarn",
        "safe_place_left": "Abgelegt an einem sicheren Ort",
        "why": "Grund",
        "reason_not_home": "Es war niemand zu Hause.",
        "reason_wrong_address": "Wir haben die Adresse nicht gefunden.",
        "reason_refused": "Die Annahme wurde verweigert.",
        "reason_access_problem": "Wir sind nicht bis zu Ihrer Tür gekommen.",
        "reason_damaged": "Das Paket war beschädigt; wir haben es wieder mitgenommen.",
        "reason_other": "Die Zustellung war aus einem anderen Grund nicht möglich.",
        "call_shop": "Fragen? Rufen Sie an:",
    },
}


@lru_cache(maxsize=1)
def _env() -> Environment:
    return Environment(
        loader=PackageLoader("lastmile.web", "templates/tracking"),
        autoescape=select_autoescape(default=True),
    )


def _language(request: Request) -> str:
    return choose(request.headers.get("accept-language"))


def _page(name: str, status: int, language: str, **values: Any) -> HTMLResponse:
    html = _env().get_template(name).render(t=words(TEXT, language), lang=language, **values)
    return HTMLResponse(html, status_code=status, headers=HEADERS)


def _problem_page(request: Request, status: int, key: str, retry_after: int = 0) -> HTMLResponse:
    lang = _language(request)
    response = _page(
        "message.html", status, lang, heading=TEXT[lang][f"{key}_title"], message=TEXT[lang][key]
    )
    if retry_after:
        response.headers["Retry-After"] = str(retry_after)
    return response


def _open(request: Request, session: Session, token: str) -> TrackingLink | HTMLResponse:
    """The link of ``token`` after the rate limit, or the page to answer instead."""
    settings: Settings = request.app.state.settings
    try:
        counters.check_rate(
            session=session,
            client=client_address(request, settings),
            limit=settings.tracking_rate_per_minute,
        )
    except RateLimited as exc:
        return _problem_page(request, 429, "rate_limited", exc.retry_after_s)
    try:
        return service.resolve(session=session, token=token)
    except service.LinkExpired:
        return _problem_page(request, 410, "expired")
    except NotFound:
        return _problem_page(request, 404, "not_found")


def _language_of(
    session: Session, link: TrackingLink, request: Request, org: Organisation | None
) -> str:
    row = session.scalar(
        select(OrderRecipients).where(
            OrderRecipients.org_id == link.org_id, OrderRecipients.order_id == link.order_id
        )
    )
    return choose(
        row.language if row is not None else None,
        request.headers.get("accept-language"),
        settings_of(org).language if org is not None else None,
    )


def _status_json(progress: service.Progress) -> dict[str, Any]:
    return {
        "status": progress.status,
        "eta_from": progress.local(progress.eta_from),
        "eta_to": progress.local(progress.eta_to),
        "late_minutes": progress.late_minutes,
        "stops_away": progress.stops_away,
        "show_map": progress.show_map,
        "vehicle": list(progress.vehicle) if progress.vehicle else None,
    }


@router.get("/t/{token}")
def tracking_page(
    token: str, request: Request, session: DbSession, settings: AppSettings
) -> HTMLResponse:
    """The customer's tracking page (counted as a view)."""
    link = _open(request, session, token)
    if isinstance(link, HTMLResponse):
        return link
    counters.record_view(session=session, link=link)
    # held for the whole request: the session's identity map keeps only what is referenced
    org = session.get(Organisation, link.org_id)
    progress = service.progress(session=session, settings=settings, link=link)
    lang = _language_of(session, link, request, org)
    offers = (
        rebook.reschedule_offers(session=session, settings=settings, link=link)
        if progress.can_reschedule
        else []
    )
    return _page(
        "page.html",
        200,
        lang,
        p=progress,
        token=token,
        org_name=org.name if org else "",
        saved=request.query_params.get("saved", ""),
        error=request.query_params.get("error", ""),
        tile_url=settings.tile_url or "",
        kinds=service.INSTRUCTION_KINDS,
        status_json=_status_json(progress),
        offers=offers,
    )


@router.get("/t/{token}/status.json")
def tracking_status(
    token: str, request: Request, session: DbSession, settings: AppSettings
) -> Response:
    """What the page refreshes every 30 s (not counted as a view)."""
    link = _open(request, session, token)
    if isinstance(link, HTMLResponse):
        # The page's script reads ``status``: 429 means "wait and ask again" (Retry-After),
        # 404/410 that the link is gone for good.
        code = link.status_code
        status = {429: "rate_limited", 410: "expired"}.get(code, "not_found")
        detail = {
            429: "too many requests from this address; try again after Retry-After seconds",
            410: "this tracking link has expired",
        }.get(code, "no such tracking link")
        headers = dict(HEADERS)
        if code == 429 and "retry-after" in link.headers:
            headers["Retry-After"] = link.headers["retry-after"]
        return JSONResponse({"status": status, "detail": detail}, status_code=code, headers=headers)
    progress = service.progress(session=session, settings=settings, link=link)
    return JSONResponse(_status_json(progress), headers=HEADERS)


@router.post("/t/{token}/instructions")
def save_instructions(
    token: str,
    request: Request,
    session: DbSession,
    kind: Annotated[str, Form()],
    text: Annotated[str, Form()],
) -> Response:
    """Store delivery instructions (shown to the driver with the order's notes)."""
    link = _open(request, session, token)
    if isinstance(link, HTMLResponse):
        return link
    try:
        service.save_instructions(session=session, link=link, kind=kind, text=text)
    except (InputError, Conflict):
        session.rollback()
        return RedirectResponse(f"/t/{token}?error=instructions", status_code=303, headers=HEADERS)
    return RedirectResponse(f"/t/{token}?saved=instructions", status_code=303, headers=HEADERS)


@router.post("/t/{token}/rating")
def save_rating(
    token: str,
    request: Request,
    session: DbSession,
    rating: Annotated[int, Form()],
    comment: Annotated[str, Form()] = "",
) -> Response:
    """Store the customer's rating (1-5) and comment."""
    link = _open(request, session, token)
    if isinstance(link, HTMLResponse):
        return link
    try:
        service.save_rating(session=session, link=link, rating=rating, comment=comment)
    except (InputError, Conflict):
        session.rollback()
        return RedirectResponse(f"/t/{token}?error=rating", status_code=303, headers=HEADERS)
    return RedirectResponse(f"/t/{token}?saved=rating", status_code=303, headers=HEADERS)


@router.post("/t/{token}/reschedule")
def reschedule(
    token: str,
    request: Request,
    session: DbSession,
    settings: AppSettings,
    slot: Annotated[str, Form(max_length=40)],
) -> Response:
    """Book another delivery window after a failed delivery (where the organisation allows)."""
    link = _open(request, session, token)
    if isinstance(link, HTMLResponse):
        return link
    try:
        rebook.reschedule(session=session, settings=settings, link=link, key=slot)
    except (InputError, Conflict):
        session.rollback()
        return RedirectResponse(f"/t/{token}?error=reschedule", status_code=303, headers=HEADERS)
    return RedirectResponse(f"/t/{token}?saved=reschedule", status_code=303, headers=HEADERS)


@router.get("/t/{token}/pod/{pod_id}")
def pod_photo(
    token: str, pod_id: str, request: Request, session: DbSession, settings: AppSettings
) -> Response:
    """A proof-of-delivery photo of this link's order only."""
    link = _open(request, session, token)
    if isinstance(link, HTMLResponse):
        return link
    try:
        row = service.pod_of(session=session, link=link, pod_id=pod_id)
        data = store_for(settings).get(row.storage_key)
    except NotFound:
        return _problem_page(request, 404, "not_found")
    return Response(
        data,
        media_type=row.content_type,
        headers={**HEADERS, "Cache-Control": "private, max-age=3600"},
    )
