"""The server's refusals in the driver's language.

The driver app shows what the server says when it refuses something (a stop the office has
already settled, a phone whose clock runs ahead, a photo that is not an image, a login with
no driver linked): an event result's ``error.message`` or a problem+json ``detail``. The
service words them in English for the API's users; a driver of a German-speaking
organisation must read them in German like the rest of the app (``drivers/texts.py``).

Each refusal the driver API gives is listed here once as an English pattern and its words in
every other language (``common.i18n``); :func:`translate` rewrites a message whose patterns
it knows, and leaves anything else as it is (English beats a wrong translation). A test
provokes each refusal through the API and reads it in German.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from lastmile.common.i18n import choose

STATUS_DE = {
    "new": "neu",
    "ready": "bereit",
    "dispatched": "unterwegs geplant",
    "out_for_delivery": "unterwegs",
    "arrived": "vor Ort",
    "delivered": "zugestellt",
    "failed": "nicht zugestellt",
    "returned": "zurückgebracht",
    "cancelled": "storniert",
    "rescheduled": "verschoben",
}
"""Order statuses as the German driver app words them."""
HANDOVER_DE = {
    "signature": "Unterschrift",
    "signature_photo": "Unterschrift mit Foto",
    "photo": "Foto",
    "safe_place": "sicherer Ort",
    "neighbour": "Nachbarn",
}


@dataclass(frozen=True)
class Refusal:
    """One refusal: the English pattern and, per language, its words (a template over the
    pattern's named groups, or a function of the match)."""

    pattern: re.Pattern[str]
    words: dict[str, str | Callable[[re.Match[str]], str]]


def _r(pattern: str, de: str | Callable[[re.Match[str]], str]) -> Refusal:
    return Refusal(re.compile(pattern), {"de": de})


def _german_date(iso: str) -> str:
    year, month, day = iso.split("-")
    return f"{int(day)}.{int(month)}.{year}"


def _duration_de(text: str) -> str:
    return text.replace("minutes", "Minuten").replace("hours", "Stunden")


REFUSALS: tuple[Refusal, ...] = (
    _r(
        r"order '(?P<order>[^']*)' is already (?P<now>\w+); it cannot become (?P<wanted>\w+)",
        lambda m: (
            f"Auftrag {m['order']} ist schon {STATUS_DE.get(m['now'], m['now'])} und kann nicht "
            f"mehr als „{STATUS_DE.get(m['wanted'], m['wanted'])}“ gemeldet werden."
        ),
    ),
    _r(
        r"order '(?P<order>[^']*)' is no longer on your route \(it is (?P<now>\w+)\); "
        r"ask your dispatcher",
        lambda m: (
            f"Auftrag {m['order']} ist nicht mehr auf Ihrer Route (er ist "
            f"{STATUS_DE.get(m['now'], m['now'])}); fragen Sie die Disposition."
        ),
    ),
    _r(
        r"is (?P<ahead>[\d.]+ \w+) in the future \(more than (?P<skew>[\d.]+ \w+) ahead of the "
        r"server\); check the phone's clock",
        lambda m: (
            f"Die Zeit des Telefons liegt {_duration_de(m['ahead'])} in der Zukunft (mehr als "
            f"{_duration_de(m['skew'])} vor der Uhr des Servers); bitte die Uhrzeit des Telefons "
            "prüfen."
        ),
    ),
    _r(r"is more than (?P<days>\d+) days old", "Die Meldung ist mehr als {days} Tage alt."),
    _r(
        r"the route has not been started; send route_started first",
        "Die Route ist noch nicht gestartet: zuerst „Route starten“ tippen.",
    ),
    _r(
        r"a failed delivery needs a reason", "Eine nicht zugestellte Lieferung braucht einen Grund."
    ),
    _r(
        r"a delivery left with a neighbour needs the neighbour's name",
        "Bei der Abgabe an Nachbarn braucht es deren Namen.",
    ),
    _r(
        r"a delivery left at a safe place needs where it was left",
        "Beim Ablegen an einem sicheren Ort braucht es die Angabe, wo die Sendung liegt.",
    ),
    _r(
        r"(?P<way>\w+) is not allowed for this order; allowed: (?P<allowed>[\w, ]+)",
        lambda m: (
            f"„{HANDOVER_DE.get(m['way'], m['way'])}“ ist für diesen Auftrag nicht erlaubt; "
            "erlaubt: "
            + ", ".join(HANDOVER_DE.get(w.strip(), w.strip()) for w in m["allowed"].split(","))
            + "."
        ),
    ),
    _r(r"'[^']*' is not a stop of your routes", "Dieser Stopp ist nicht auf Ihren Routen."),
    _r(r"is not the route of this stop", "Dieser Stopp gehört zu einer anderen Route."),
    _r(r"is a break, not a delivery stop", "Das ist eine Pause, kein Lieferstopp."),
    _r(
        r"the order of this stop no longer exists",
        "Der Auftrag dieses Stopps existiert nicht mehr.",
    ),
    _r(
        r"you have no dispatched route on (?P<day>\d{4}-\d{2}-\d{2})",
        lambda m: f"Sie haben am {_german_date(m['day'])} keine freigegebene Route.",
    ),
    _r(r"'[^']*' is not one of your routes", "Diese Route ist nicht Ihre."),
    _r(
        r"this key was already used by another driver",
        "Diese Meldung wurde schon von einem anderen Telefon gesendet.",
    ),
    _r(
        r"no driver is linked to this login; ask your dispatcher to give you the login from "
        r"Settings -> Drivers",
        "Mit diesem Login ist kein Fahrer verbunden: Die Disposition kann Ihnen den Login unter "
        "Einstellungen → Fahrer geben.",
    ),
    _r(
        r"event '[^']*' is not synced yet: send it to /api/v1/driver/events first, then upload "
        r"its proof",
        "Die Meldung ist noch nicht beim Büro angekommen; der Nachweis wird danach gesendet.",
    ),
    _r(
        r"proof of delivery: column 'file': is not a whole JPEG, PNG or WebP image \(decoded\)",
        "Der Nachweis ist kein vollständiges Bild (JPEG, PNG oder WebP).",
    ),
    _r(r"proof of delivery: column 'file': is empty", "Die Datei des Nachweises ist leer."),
    _r(
        r"the file is larger than (?P<size>\d+) bytes, the largest proof of delivery accepted; "
        r"send a smaller photo",
        lambda m: (
            f"Die Datei ist grösser als {int(m['size']) / 1_000_000:.1f} MB, der grösste "
            "angenommene Nachweis; bitte ein kleineres Foto senden."
        ),
    ),
    _r(
        r"no route in progress: positions are recorded only between starting and finishing a "
        r"route \(no tracking off duty\)",
        "Keine Route unterwegs: Der Standort wird nur zwischen Start und Ende einer Route geteilt.",
    ),
)


def translate(message: str, language: str) -> str:
    """``message`` in ``language``: each refusal it contains is rewritten; English (or a
    language without words for it) leaves it as it is."""
    language = choose(language)
    if language == "en" or not message:
        return message
    for refusal in REFUSALS:
        words = refusal.words.get(language)
        if words is None:
            continue
        message = refusal.pattern.sub(_filler(words), message)
    return message


def _filler(words: str | Callable[[re.Match[str]], str]) -> Callable[[re.Match[str]], str]:
    if callable(words):
        return words
    return lambda match: words.format(**match.groupdict())
