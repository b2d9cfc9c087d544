"""The server's refusals reach a German-speaking organisation's drivers in German (issue 14,
item 14): the driver app shows an event result's ``error.message`` and a problem+json
``detail`` as they come, so the driver API words them in the organisation's language
(``drivers/refusals.py``). Each refusal a driver meets on a day is provoked through HTTP."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker
from test_driver_api import JPEG, Day, ev, plan_day, send

from helpers.service import make_org
from lastmile.drivers.refusals import REFUSALS, translate
from lastmile.orgs.models import Organisation, Role

pytestmark = pytest.mark.usefixtures("daytime")

ENGLISH = re.compile(r"\b(the|is|your|order|route|stop|not|already|cannot|needs|file)\b")


def _speak_german(client: TestClient, org_id: str) -> None:
    sessions: sessionmaker[Session] = client.app.state.sessions  # type: ignore[attr-defined]
    with sessions() as session:
        org = session.get(Organisation, org_id)
        assert org is not None
        notifications = dict((org.settings or {}).get("notifications") or {})
        org.settings = {
            **(org.settings or {}),
            "notifications": {**notifications, "language": "de"},
        }
        session.commit()


def _german(text: str) -> str:
    assert not ENGLISH.search(text), text
    return text


def test_a_german_organisations_driver_reads_refusals_in_german(client: TestClient) -> None:
    day: Day = plan_day(client, "Blumen Tag")
    _speak_german(client, day.org.org_id)
    first, second = day.stops[0], day.stops[1]
    results = send(
        client,
        day,
        ev("k-start-0001", "route_started", day.at(1)),
        ev("k-del-00001", "delivered", day.at(2), first["id"], recipient="Anna"),
        # the office has it delivered: the phone's late "not delivered" is refused
        ev("k-fail-0001", "failed", day.at(3), first["id"], reason="not_home"),
        ev("k-fail-0002", "failed", day.at(4), second["id"]),
        ev("k-late-0001", "arrived", (day.base + timedelta(hours=3)).isoformat(), second["id"]),
        ev("k-stop-0001", "arrived", day.at(5), "stp_nothere"),
    )
    status = [r["status"] for r in results]
    assert status == ["applied", "applied", "rejected", "rejected", "rejected", "rejected"], results
    messages = [_german(r["error"]["message"]) for r in results[2:]]
    number = first["external_id"]
    assert messages[0] == (
        f"Auftrag {number} ist schon zugestellt und kann nicht mehr als „nicht zugestellt“ "
        "gemeldet werden."
    )
    assert messages[1] == "Eine nicht zugestellte Lieferung braucht einen Grund."
    assert messages[2].startswith("Die Zeit des Telefons liegt 3.0 Stunden in der Zukunft")
    assert messages[3] == "Dieser Stopp ist nicht auf Ihren Routen."

    # a file that is not a photo: the problem's detail, in German
    r = client.post(
        "/api/v1/driver/pod",
        files={"file": ("photo.jpg", b"not a picture", "image/jpeg")},
        data={"kind": "photo", "event_key": "k-del-00001"},
        headers=day.org.driver,
    )
    assert r.status_code == 422, r.text
    assert _german(r.json()["detail"]) == (
        "Der Nachweis ist kein vollständiges Bild (JPEG, PNG oder WebP)."
    )
    # the photo of an event the server has not heard of yet (the app retries later)
    r = client.post(
        "/api/v1/driver/pod",
        files={"file": ("photo.jpg", JPEG, "image/jpeg")},
        data={"kind": "photo", "event_key": "k-unknown-1"},
        headers=day.org.driver,
    )
    assert r.status_code == 409 and _german(r.json()["detail"]).startswith("Die Meldung ist")
    # an English-speaking organisation's driver still reads English
    other = plan_day(client, "Flowers Day")
    results = send(client, other, ev("k-fail-0003", "failed", other.at(1), other.stops[0]["id"]))
    assert results[0]["error"]["message"] == "a failed delivery needs a reason"


def test_a_login_without_a_driver_is_told_in_german(client: TestClient) -> None:
    org = make_org(client, "Blumen Ohne")
    _speak_german(client, org.org_id)
    r = client.get("/api/v1/driver/route", headers=org.headers[Role.DRIVER])
    assert r.status_code == 403
    assert _german(r.json()["detail"]).startswith("Mit diesem Login ist kein Fahrer verbunden")


@pytest.mark.parametrize(
    ("english", "german"),
    [
        (
            "order 'B-7' is no longer on your route (it is cancelled); ask your dispatcher",
            "Auftrag B-7 ist nicht mehr auf Ihrer Route (er ist storniert); fragen Sie die "
            "Disposition.",
        ),
        ("is more than 7 days old", "Die Meldung ist mehr als 7 Tage alt."),
        (
            "the route has not been started; send route_started first",
            "Die Route ist noch nicht gestartet: zuerst „Route starten“ tippen.",
        ),
        (
            "signature is not allowed for this order; allowed: photo, safe_place",
            "„Unterschrift“ ist für diesen Auftrag nicht erlaubt; erlaubt: Foto, sicherer Ort.",
        ),
        (
            "you have no dispatched route on 2026-12-08",
            "Sie haben am 8.12.2026 keine freigegebene Route.",
        ),
        (
            "the file is larger than 10000000 bytes, the largest proof of delivery accepted; "
            "send a smaller photo",
            "Die Datei ist grösser als 10.0 MB, der grösste angenommene Nachweis; bitte ein "
            "kleineres Foto senden.",
        ),
    ],
)
def test_the_other_refusals_in_german(english: str, german: str) -> None:
    assert translate(english, "de") == german
    assert translate(english, "en") == english


def test_every_refusal_has_german_words_and_unknown_text_stays() -> None:
    assert all("de" in r.words for r in REFUSALS)
    assert translate("something new went wrong", "de") == "something new went wrong"
