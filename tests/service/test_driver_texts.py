"""The driver app speaks the organisation's language (issue 14, item 14) through the one
mechanism of ``common.i18n``: every word the app's code asks for exists, every language has
all of English's words, and the server hands out the catalogue and the organisation's
language."""

from __future__ import annotations

import re
from importlib import resources

from fastapi.testclient import TestClient

from helpers.service import make_org
from lastmile.common.i18n import LANGUAGES, choose, missing, words
from lastmile.drivers.schemas import FAIL_REASONS, HANDOVERS
from lastmile.drivers.texts import TEXT
from lastmile.orgs.models import Role

STATIC = resources.files("lastmile.web").joinpath("static", "driver")
SHELL = resources.files("lastmile.web").joinpath("templates", "driver", "index.html")


def _asked_for() -> set[str]:
    """Every key the app's code names: t('key'), data-t="key", and the keys it builds from
    event types, handover ways, reasons and statuses."""
    keys: set[str] = set()
    for entry in STATIC.iterdir():
        if entry.name.endswith(".js") and entry.name != "i18n.js":
            code = entry.read_text("utf-8")
            keys |= set(re.findall(r"\bt\('([a-z0-9_]+)'", code))
            keys |= set(re.findall(r"'(status_[a-z]+)'", code))
    keys |= set(re.findall(r'data-t(?:-label)?="([a-z0-9_]+)"', SHELL.read_text("utf-8")))
    keys |= {f"handover_{way}" for way in HANDOVERS}
    keys |= {f"reason_{reason}" for reason in FAIL_REASONS}
    keys |= {f"action_{t}" for t in ("route_started", "route_finished", "arrived", "delivered")}
    keys.add("action_failed")
    return keys


def test_every_word_the_app_asks_for_exists_in_every_language() -> None:
    asked = _asked_for()
    assert len(asked) > 100  # the parser found the app's words
    assert asked - set(TEXT["en"]) == set()
    assert missing(TEXT) == {}
    assert set(TEXT) == set(LANGUAGES)
    # placeholders match, so a translation never drops a number
    for key, english in TEXT["en"].items():
        for language in LANGUAGES:
            assert set(re.findall(r"\{\w+\}", TEXT[language][key])) == set(
                re.findall(r"\{\w+\}", english)
            ), (language, key)


def test_choosing_a_language() -> None:
    assert choose(None, "de-CH,de;q=0.9", "en") == "de"
    assert choose("fr", "", None) == "en"
    assert choose("xx", "EN-gb") == "en"
    assert words({"en": {"a": "A", "b": "B"}, "de": {"a": "Ä"}}, "de") == {"a": "Ä", "b": "B"}


def test_the_catalogue_and_the_organisations_language(client: TestClient) -> None:
    r = client.get("/driver/texts/de.json")
    assert r.status_code == 200
    assert r.json()["language"] == "de"
    assert r.json()["words"]["start_route"] == "Route starten"
    fallback = client.get("/driver/texts/fr.json").json()
    assert fallback["language"] == "en" and fallback["words"]["start_route"] == "Start route"
    sw = client.get("/driver/sw.js").text
    assert "/driver/texts/de.json" in sw and "/driver/texts/en.json" in sw

    org = make_org(client, "Sprache Co")
    r = client.post(
        "/api/v1/drivers",
        json={"name": "Dora", "user_id": org.user_ids[Role.DRIVER]},
        headers=org.dispatcher,
    )
    assert r.status_code == 201, r.text
    assert client.get("/api/v1/driver/route", headers=org.driver).json()["language"] == "en"
    r = client.put(
        "/api/v1/notifications/settings",
        json={"notifications": {"language": "de"}},
        headers=org.admin,
    )
    assert r.status_code == 200, r.text
    assert client.get("/api/v1/driver/route", headers=org.driver).json()["language"] == "de"
