"""How far a typed street name may be from a street of the map and still be taken for it.

Kept apart from the geocoder's matching because it is the one place that decides what counts
as a typo: the distinctive stem of a name may carry a few edits, scaled with its length, and the
street-type word (``strasse``, ``weg``, ...) only one, and only when the stem is exact."""

from __future__ import annotations

from rapidfuzz.distance import OSA


def allowed_edits(length: int) -> int:
    """How many letter edits the distinctive part of a street name may carry.

    Short names are too close to each other to correct safely (``"Au"`` vs ``"Aue"``).
    """
    if length <= 3:
        return 0
    if length <= 10:
        return 1
    if length <= 20:
        return 2
    return 3


_TYPE_SUFFIXES = tuple(
    sorted(
        (
            "strasse",
            "gasse",
            "gass",
            "wegle",
            "weg",
            "platz",
            "ring",
            "allee",
            "gatan",
            "vagen",
            "katu",
            "kuja",
            "polku",
            "tie",
            "street",
            "road",
            "avenue",
            "lane",
        ),
        key=len,
        reverse=True,
    )
)
"""Folded street-type words. Typos are judged on the rest of the name: "Kirchenstrasse"
is two edits from "Kirchstrasse" on a five-letter stem, not on a fourteen-letter name."""


def _split_suffix(key: str) -> tuple[str, str]:
    for suffix in _TYPE_SUFFIXES:
        if key.endswith(suffix) and len(key) > len(suffix):
            return key[: -len(suffix)], suffix
    return key, ""


def typo_distance(query: str, key: str) -> int | None:
    """Edits between a typed street key and a map street key, or ``None`` if too many.

    The stem (name without its street-type word) may carry :func:`allowed_edits` edits;
    a typo in the type word itself (``"strases"``) is allowed only when the stem is
    exact. Transpositions count as one edit.
    """
    stem, suffix = _split_suffix(key)
    if suffix and query.endswith(suffix):
        d = int(OSA.distance(query[: -len(suffix)], stem))
        return d if d <= allowed_edits(len(stem)) else None
    if suffix and query.startswith(stem):
        d = int(OSA.distance(query[len(stem) :], suffix))
        return d if d <= (1 if len(suffix) >= 4 else 0) else None
    if suffix:
        return None
    d = int(OSA.distance(query, key))
    return d if d <= allowed_edits(len(key)) else None
