"""Message templates per kind and language: built-in English and German, organisation overrides.

An organisation overrides any template in ``Organisation.settings["notifications"]["templates"]``
as ``{"<language>": {"<kind>": {"subject": "...", "body": "...", "text": "..."}}}`` (parts left
out fall back to the built-in ones). Templates are Jinja, rendered in a sandbox (an
organisation's template cannot reach anything but the variables below); an unknown variable
renders as nothing.

Variables: ``name`` (addressee's first name), ``org``, ``date``, ``window_from``,
``window_to``, ``tracking_url``, ``pod_url``, ``reschedule_url``, ``driver`` (first name),
``order_ref`` and ``value`` (never given to the recipient of a gift), ``recipient_name``
(buyer messages of a gift).

``body`` is the e-mail text, ``text`` the short SMS/chat text.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from jinja2 import TemplateSyntaxError
from jinja2.sandbox import SandboxedEnvironment

from lastmile.common.i18n import DEFAULT_LANGUAGE, choose

KINDS = (
    "confirmed",
    "out_for_delivery",
    "arriving_soon",
    "delayed",
    "eta_changed",
    "delivered",
    "failed",
    "gift_delivered",
)

_T = dict[str, str]

DEFAULTS: dict[str, dict[str, _T]] = {
    "en": {
        "confirmed": {
            "subject": "Your delivery from {{ org }} is scheduled",
            "body": "Hello {{ name }},\n\nyour delivery from {{ org }} is scheduled for {{ date }}, "
            "between {{ window_from }} and {{ window_to }}.\n\nFollow it here: {{ tracking_url }}\n"
            "You can also leave instructions for the driver there.\n\n{{ org }}",
            "text": "{{ org }}: delivery on {{ date }}, {{ window_from }}-{{ window_to }}. "
            "Track: {{ tracking_url }}",
        },
        "out_for_delivery": {
            "subject": "Your delivery is on its way",
            "body": "Hello {{ name }},\n\nyour delivery from {{ org }} is on its way. "
            "Expected between {{ window_from }} and {{ window_to }}.\n\n"
            "Follow it here: {{ tracking_url }}\n\n{{ org }}",
            "text": "{{ org }}: on its way, expected {{ window_from }}-{{ window_to }}. "
            "{{ tracking_url }}",
        },
        "arriving_soon": {
            "subject": "Your delivery arrives soon",
            "body": "Hello {{ name }},\n\n{{ driver }} will be with you soon: expected between "
            "{{ window_from }} and {{ window_to }}.\n\nFollow it here: {{ tracking_url }}\n\n{{ org }}",
            "text": "{{ org }}: arriving soon ({{ window_from }}-{{ window_to }}). {{ tracking_url }}",
        },
        "delayed": {
            "subject": "Your delivery is running late",
            "body": "Hello {{ name }},\n\nsorry, your delivery is running late. The new expected "
            "time is between {{ window_from }} and {{ window_to }}.\n\n"
            "Follow it here: {{ tracking_url }}\n\n{{ org }}",
            "text": "{{ org }}: running late, now expected {{ window_from }}-{{ window_to }}. "
            "{{ tracking_url }}",
        },
        "eta_changed": {
            "subject": "New delivery time",
            "body": "Hello {{ name }},\n\nthe time of your delivery from {{ org }} has changed: it is "
            "now expected between {{ window_from }} and {{ window_to }}.\n\n"
            "Follow it here: {{ tracking_url }}\n\n{{ org }}",
            "text": "{{ org }}: new time, now expected {{ window_from }}-{{ window_to }}. "
            "{{ tracking_url }}",
        },
        "delivered": {
            "subject": "Your delivery has arrived",
            "body": "Hello {{ name }},\n\nyour delivery from {{ org }} was delivered.\n\n"
            "Proof of delivery and rating: {{ pod_url }}\n\n{{ org }}",
            "text": "{{ org }}: delivered. Proof of delivery: {{ pod_url }}",
        },
        "failed": {
            "subject": "We could not deliver your order",
            "body": "Hello {{ name }},\n\nwe could not deliver today. Please choose what we should "
            "do next: {{ reschedule_url }}\n\n{{ org }}",
            "text": "{{ org }}: we could not deliver today. Next steps: {{ reschedule_url }}",
        },
        "gift_delivered": {
            "subject": "Your gift has been delivered",
            "body": "Hello {{ name }},\n\nyour gift to {{ recipient_name }} (order {{ order_ref }}) "
            "was delivered on {{ date }}.\n\n{{ org }}",
            "text": "{{ org }}: your gift to {{ recipient_name }} was delivered.",
        },
    },
    "de": {
        "confirmed": {
            "subject": "Ihre Lieferung von {{ org }} ist geplant",
            "body": "Guten Tag {{ name }},\n\nIhre Lieferung von {{ org }} ist für {{ date }} "
            "zwischen {{ window_from }} und {{ window_to }} Uhr geplant.\n\n"
            "Sendungsverfolgung: {{ tracking_url }}\n"
            "Dort können Sie auch Hinweise für die Fahrerin oder den Fahrer hinterlassen.\n\n{{ org }}",
            "text": "{{ org }}: Lieferung am {{ date }}, {{ window_from }}-{{ window_to }} Uhr. "
            "Verfolgen: {{ tracking_url }}",
        },
        "out_for_delivery": {
            "subject": "Ihre Lieferung ist unterwegs",
            "body": "Guten Tag {{ name }},\n\nIhre Lieferung von {{ org }} ist unterwegs. "
            "Erwartet zwischen {{ window_from }} und {{ window_to }} Uhr.\n\n"
            "Sendungsverfolgung: {{ tracking_url }}\n\n{{ org }}",
            "text": "{{ org }}: unterwegs, erwartet {{ window_from }}-{{ window_to }} Uhr. "
            "{{ tracking_url }}",
        },
        "arriving_soon": {
            "subject": "Ihre Lieferung kommt gleich",
            "body": "Guten Tag {{ name }},\n\n{{ driver }} ist gleich bei Ihnen: erwartet zwischen "
            "{{ window_from }} und {{ window_to }} Uhr.\n\n"
            "Sendungsverfolgung: {{ tracking_url }}\n\n{{ org }}",
            "text": "{{ org }}: gleich da ({{ window_from }}-{{ window_to }} Uhr). {{ tracking_url }}",
        },
        "delayed": {
            "subject": "Ihre Lieferung verspätet sich",
            "body": "Guten Tag {{ name }},\n\nleider verspätet sich Ihre Lieferung. Neu erwartet "
            "zwischen {{ window_from }} und {{ window_to }} Uhr.\n\n"
            "Sendungsverfolgung: {{ tracking_url }}\n\n{{ org }}",
            "text": "{{ org }}: Verspätung, neu erwartet {{ window_from }}-{{ window_to }} Uhr. "
            "{{ tracking_url }}",
        },
        "eta_changed": {
            "subject": "Neue Lieferzeit",
            "body": "Guten Tag {{ name }},\n\ndie Zeit Ihrer Lieferung von {{ org }} hat sich "
            "geändert: neu erwartet zwischen {{ window_from }} und {{ window_to }} Uhr.\n\n"
            "Sendungsverfolgung: {{ tracking_url }}\n\n{{ org }}",
            "text": "{{ org }}: neue Zeit, erwartet {{ window_from }}-{{ window_to }} Uhr. "
            "{{ tracking_url }}",
        },
        "delivered": {
            "subject": "Ihre Lieferung ist angekommen",
            "body": "Guten Tag {{ name }},\n\nIhre Lieferung von {{ org }} wurde zugestellt.\n\n"
            "Zustellnachweis und Bewertung: {{ pod_url }}\n\n{{ org }}",
            "text": "{{ org }}: zugestellt. Zustellnachweis: {{ pod_url }}",
        },
        "failed": {
            "subject": "Wir konnten Ihre Lieferung nicht zustellen",
            "body": "Guten Tag {{ name }},\n\nwir konnten heute nicht zustellen. Bitte wählen Sie, "
            "wie es weitergehen soll: {{ reschedule_url }}\n\n{{ org }}",
            "text": "{{ org }}: heute nicht zugestellt. Wie weiter: {{ reschedule_url }}",
        },
        "gift_delivered": {
            "subject": "Ihr Geschenk wurde zugestellt",
            "body": "Guten Tag {{ name }},\n\nIhr Geschenk an {{ recipient_name }} (Bestellung "
            "{{ order_ref }}) wurde am {{ date }} zugestellt.\n\n{{ org }}",
            "text": "{{ org }}: Ihr Geschenk an {{ recipient_name }} wurde zugestellt.",
        },
    },
}

_ENV = SandboxedEnvironment(autoescape=False, keep_trailing_newline=False)


def syntax_error(source: str) -> str | None:
    """Why ``source`` is not a valid message template (checked when settings are saved, so a
    typo is reported to the admin instead of silently replaced by the default when sending)."""
    try:
        _ENV.parse(source)
    except TemplateSyntaxError as exc:
        return f"line {exc.lineno}: {exc.message}"
    return None


@dataclass(frozen=True)
class Rendered:
    subject: str
    body: str
    text: str


def language_of(wanted: str | None, org_default: str | None = None) -> str:
    """A language we have templates for: the wanted one, else the organisation's, else en."""
    return choose(wanted, org_default)


def template_for(kind: str, language: str, overrides: Mapping[str, Any] | None = None) -> _T:
    """The subject/body/text templates of ``kind`` in ``language``, overrides first."""
    if kind not in KINDS:
        raise ValueError(f"unknown message kind {kind!r}")
    base = dict(DEFAULTS.get(language, DEFAULTS[DEFAULT_LANGUAGE])[kind])
    custom = ((overrides or {}).get(language) or {}).get(kind) or {}
    if isinstance(custom, Mapping):
        for part in ("subject", "body", "text"):
            value = custom.get(part)
            if isinstance(value, str) and value.strip():
                base[part] = value
    return base


def render(
    kind: str,
    language: str,
    context: Mapping[str, Any],
    overrides: Mapping[str, Any] | None = None,
) -> Rendered:
    """Render one message; a broken organisation template falls back to the built-in one."""
    parts = template_for(kind, language, overrides)
    try:
        done = {k: _ENV.from_string(v).render(**context) for k, v in parts.items()}
    except Exception:  # a broken override must not stop the message: use the default
        fallback = template_for(kind, language)
        done = {k: _ENV.from_string(v).render(**context) for k, v in fallback.items()}
    subject = " ".join(done["subject"].split())
    return Rendered(subject=subject, body=done["body"].strip() + "\n", text=done["text"].strip())
