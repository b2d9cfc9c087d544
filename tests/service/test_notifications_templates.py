"""Message templates: built-in English and German, organisation overrides in a sandbox."""

from __future__ import annotations

import pytest

from lastmile.common.i18n import LANGUAGES
from lastmile.notifications import templates

CONTEXT = {
    "name": "Ann",
    "org": "Florist",
    "date": "Tue 24 Nov 2026",
    "window_from": "10:00",
    "window_to": "11:00",
    "tracking_url": "https://t.example/t/abc",
    "pod_url": "https://t.example/t/abc",
    "reschedule_url": "https://t.example/t/abc",
    "driver": "Dana",
    "recipient_name": "Ben",
    "order_ref": "A1",
}


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("kind", templates.KINDS)
def test_every_kind_exists_in_every_language_and_renders(kind: str, language: str) -> None:
    out = templates.render(kind, language, CONTEXT)
    assert out.subject and out.body.strip() and out.text
    assert "{{" not in out.body + out.text + out.subject
    assert "Florist" in out.body + out.text
    if kind != "gift_delivered":
        assert "https://t.example/t/abc" in out.body and "https://t.example/t/abc" in out.text
    assert len(out.text) <= 160 + len("https://t.example/t/abc")  # one SMS, plus the link


def test_languages_differ_and_unknown_ones_fall_back_to_english() -> None:
    en = templates.render("confirmed", "en", CONTEXT)
    de = templates.render("confirmed", "de", CONTEXT)
    assert en.subject == "Your delivery from Florist is scheduled"
    assert de.subject == "Ihre Lieferung von Florist ist geplant"
    assert templates.language_of("fr-CH", "de") == "de"
    assert templates.language_of("fr", None) == "en"
    assert templates.language_of("DE-ch", "en") == "de"


def test_an_override_replaces_only_its_part() -> None:
    overrides = {"en": {"confirmed": {"subject": "Flowers for {{ name }}!"}}}
    out = templates.render("confirmed", "en", CONTEXT, overrides)
    assert out.subject == "Flowers for Ann!"
    assert out.body == templates.render("confirmed", "en", CONTEXT).body
    assert templates.render("confirmed", "de", CONTEXT, overrides).subject.startswith("Ihre")


def test_a_broken_or_malicious_override_falls_back_to_the_built_in_template() -> None:
    for body in (
        "{{ name.__class__.__mro__[1].__subclasses__() }}",  # sandbox refuses
        "{% if %}",  # not a template
    ):
        out = templates.render("delivered", "en", CONTEXT, {"en": {"delivered": {"body": body}}})
        assert out.body == templates.render("delivered", "en", CONTEXT).body


def test_unknown_variables_render_as_nothing() -> None:
    out = templates.render(
        "confirmed", "en", {"name": "Ann"}, {"en": {"confirmed": {"text": "[{{ value }}]"}}}
    )
    assert out.text == "[]"


def test_unknown_kinds_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown message kind"):
        templates.render("party", "en", CONTEXT)
