"""The one way lastmile speaks a person's language: the customer's tracking page, the
customer messages and the driver app all use it.

Each surface keeps its own words next to it as ``{language: {key: words}}`` (the tracking
page's ``TEXT``, ``drivers/texts.py``, the message templates); this module knows which
languages there are, picks one from what is known about the reader, and fills a language's
gaps with English, so a missing translation shows English words, never a key.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal, get_args

Language = Literal["en", "de"]
LANGUAGES: tuple[str, ...] = get_args(Language)
DEFAULT_LANGUAGE = "en"
NAMES = {"en": "English", "de": "Deutsch"}
"""Each language in its own words (for choosers)."""


def choose(*candidates: str | None) -> str:
    """The first candidate we speak (``"de-CH"`` counts as ``de``), else English.

    Callers pass what they know in the order it should win, e.g. the order's language, the
    browser's ``Accept-Language``, the organisation's language."""
    for candidate in candidates:
        code = (candidate or "").strip()[:2].lower()
        if code in LANGUAGES:
            return code
    return DEFAULT_LANGUAGE


def words(texts: Mapping[str, Mapping[str, str]], language: str) -> dict[str, str]:
    """The words of ``language``, with English wherever it has none."""
    return {**texts[DEFAULT_LANGUAGE], **texts.get(choose(language), {})}


def missing(texts: Mapping[str, Mapping[str, str]]) -> dict[str, list[str]]:
    """Keys each language lacks compared with English (tests keep this empty)."""
    english = set(texts[DEFAULT_LANGUAGE])
    return {
        language: sorted(english - set(texts.get(language, {})))
        for language in LANGUAGES
        if english - set(texts.get(language, {}))
    }
