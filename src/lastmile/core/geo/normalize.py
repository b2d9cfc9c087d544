"""Address normalisation: fold spellings together and split free text into parts.

Why this exists
---------------
Most failed deliveries start with an address that a person typed: ``"LandStr. 19 9490
vaduz, 2. Stock"``. Before we can look an address up we must (a) strip what is not part of
the address (floor, door, ``c/o``), (b) find the street, house number, postcode and town in
whatever order they came, and (c) compare names in a *folded* form where the usual
variations are equal: case, umlauts and their ASCII spellings (``ü``/``ue``/``u``,
``ß``/``ss``), and abbreviations of street types (``Str.``/``strasse``/``straße``,
``k.``/``katu``, ``St``/``Street``).

Folding is deliberately lossy and used only to *compare*; the geocoder always answers with
the spelling of the map data. Nothing here knows the map: ambiguous splits (is the part
without digits a town or a street?) are returned as they are and resolved by the geocoder.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

__all__ = [
    "ParsedAddress",
    "clean_housenumber",
    "fold",
    "housenumber_key",
    "parse_address",
    "split_housenumbers",
    "street_key",
    "street_key_without_article",
    "street_keys",
]

# --- folding ---------------------------------------------------------------------------

_UMLAUT_ASCII = [("ae", "a"), ("oe", "o"), ("ue", "u")]
"""ASCII spellings of German umlauts. Applied on *both* sides of every comparison, so the
rare word with a genuine "ue" (``Bauer``) folds the same way in the data and the input."""

_SPECIAL = str.maketrans({"ß": "ss", "æ": "ae", "ø": "o", "đ": "d", "ł": "l", "þ": "th"})


def fold(text: str) -> str:
    """Lower-case, strip diacritics and fold umlaut spellings: ``"Stötz"`` -> ``"stotz"``.

    ``"Stoetz"`` folds to the same string, as do ``"Straße"`` and ``"Strasse"``. Only
    letters, digits and single spaces survive; punctuation becomes a space.
    """
    text = unicodedata.normalize("NFC", text.casefold()).translate(_SPECIAL)
    text = unicodedata.normalize("NFKD", text)
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    # Repeat to a fixed point so that folding is idempotent ("aee" -> "ae" -> "a").
    while any(old in text for old, _ in _UMLAUT_ASCII):
        for old, new in _UMLAUT_ASCII:
            text = text.replace(old, new)
    text = re.sub(r"[^0-9a-z]+", " ", text)
    return text.strip()


# Street-type words: each variant (folded, without the trailing dot) and its canonical form.
# Abbreviations that can mean several things (Swedish/German "g.") list every expansion;
# the geocoder keeps whichever exists in the map.
_SUFFIX_ABBREV: dict[str, tuple[str, ...]] = {
    "str": ("strasse",),
    "strase": ("strasse",),
    "strasse": ("strasse",),
    "g": ("gasse", "gatan"),
    "gasse": ("gasse",),
    "k": ("katu",),
    "t": ("tie",),
    "v": ("vagen",),
    "vag": ("vagen",),
    "pl": ("platz", "plats"),
    "st": ("street",),
    "rd": ("road",),
    "ave": ("avenue",),
    "av": ("avenue",),
    "ln": ("lane",),
    "dr": ("drive",),
    "sq": ("square",),
}
"""Abbreviations of a trailing street-type *word* (``"Feldkircher Str."``)."""

_GLUED_SUFFIX: list[tuple[str, tuple[str, ...]]] = [
    ("str", ("strasse",)),
    ("g", ("gasse", "gatan")),
    ("k", ("katu",)),
    ("t", ("tie",)),
    ("v", ("vagen",)),
    ("pl", ("platz", "plats")),
]
"""Abbreviations glued to the end of a name (``"Landstr."``, ``"Aleksanterink."``). A glued
one-letter abbreviation only counts when the input had a dot after it: ``"Haldenweg"`` must
not become ``"Haldenwegasse"``. ``str`` counts without the dot, because a German street name
never ends in ``str`` otherwise."""

_PREFIX_ABBREV = {"st": "sankt", "hl": "heilig"}
"""Abbreviations at the *start* of a name: German ``"St. Florinsgasse"`` is ``Sankt``."""


def _raw_words(name: str) -> list[tuple[str, bool]]:
    """Words of a street name with a flag telling whether a dot followed them."""
    out: list[tuple[str, bool]] = []
    for match in re.finditer(r"[^\s.\-/,']+(\.?)", name):
        word = fold(match.group(0).rstrip("."))
        if word:
            for i, part in enumerate(word.split(" ")):
                dotted = bool(match.group(1)) and i == len(word.split(" ")) - 1
                out.append((part, dotted))
    return out


def street_keys(name: str) -> list[str]:
    """All comparison keys of a street name, most likely first.

    The key is the folded name without spaces or punctuation, with street-type
    abbreviations expanded: ``"Feldkircher Str."``, ``"Feldkircherstrasse"`` and
    ``"feldkircher straße"`` all give ``"feldkircherstrasse"``. An abbreviation with
    several meanings (``"g."``) gives one key per meaning.
    """
    words = _raw_words(name)
    if not words:
        return [""]
    variants: list[list[str]] = [[]]
    last = len(words) - 1
    for i, (word, dotted) in enumerate(words):
        options: tuple[str, ...] = (word,)
        if i == 0 and last > 0 and word in _PREFIX_ABBREV:
            options = (_PREFIX_ABBREV[word],)
        elif i == last and i > 0 and word in _SUFFIX_ABBREV and (dotted or len(word) > 1):
            options = _SUFFIX_ABBREV[word]
        elif i == last:
            for short, expansions in _GLUED_SUFFIX:
                if (
                    word.endswith(short)
                    and len(word) > len(short) + 2
                    and (dotted or len(short) > 1)
                ):
                    stem = word[: -len(short)]
                    options = tuple(stem + e for e in expansions)
                    break
        variants = [[*v, o] for v in variants for o in options]
    keys: list[str] = []
    for v in variants:
        key = "".join(v)
        key = key.replace("strase", "strasse") if key.endswith("strase") else key
        if key not in keys:
            keys.append(key)
    return keys


_ARTICLES = frozenset(
    {
        "im",
        "am",
        "an",
        "auf",
        "in",
        "zum",
        "zur",
        "beim",
        "bei",
        "unterm",
        "unter",
        "ob",
        "obere",
        "der",
        "die",
        "das",
        "dem",
        "den",
        "the",
    }
)
"""Leading words people drop from German street names ("Gamander" for "Im Gamander")."""


def street_key_without_article(name: str) -> str | None:
    """The key of a street name without its leading article/preposition words.

    ``"Im Gamander"`` -> ``"gamander"``, ``"An der Halde"`` -> ``"halde"``; ``None`` when the
    name has no such words or too little would be left to be distinctive.
    """
    words = [w for w, _ in _raw_words(name)]
    i = 0
    while i < len(words) - 1 and words[i] in _ARTICLES and words[i] != "obere":
        i += 1
    if i == 0:
        return None
    rest = street_keys(" ".join(words[i:]))[0]
    return rest if len(rest) >= 4 else None


def street_key(name: str) -> str:
    """The first (most likely) comparison key of a street name; see :func:`street_keys`."""
    return street_keys(name)[0]


# --- house numbers ---------------------------------------------------------------------

_NUMBER_RE = re.compile(r"^(\d{1,5})\s*([a-zA-Z]?)(?:\s*[-\u2013]\s*(\d{1,5})\s*([a-zA-Z]?))?$")


def housenumber_key(number: str) -> str:
    """Comparison form of a house number: ``"40 A"`` -> ``"40a"``, ``"5 - 7"`` -> ``"5-7"``."""
    text = number.strip().casefold().replace("\u2013", "-")
    text = re.sub(r"\s*-\s*", "-", text)
    return re.sub(r"\s+", "", text)


def split_housenumbers(raw: str) -> list[str]:
    """The house numbers an OSM ``addr:housenumber`` value stands for, as keys.

    ``"68a;68b"`` and ``"76, 76a, 76b"`` are lists; ``"5-7"`` is a building spanning a
    range and is returned as the range itself *plus* its end points, so that a parcel for
    ``"5"`` finds the building ``"5-7"``. Trailing junk such as ``"8, Floor 6"`` (seen in
    Helsinki) is dropped.
    """
    out: list[str] = []
    for part in re.split(r"[;,]", raw):
        part = part.strip()
        if not part:
            continue
        match = _NUMBER_RE.match(part)
        if not match:
            continue
        key = housenumber_key(part)
        if key not in out:
            out.append(key)
        if match.group(3):
            for end in (match.group(1) + match.group(2), match.group(3) + match.group(4)):
                end_key = housenumber_key(end)
                if end_key not in out:
                    out.append(end_key)
    return out


def clean_housenumber(raw: str) -> str:
    """An OSM house number without the floor notes some mappers add.

    ``"2, 2. krs./Floor 2"`` -> ``"2"``; lists (``"76, 76a"``) and ranges stay as they are.
    """
    parts = [p.strip() for p in re.split(r"[;,]", raw) if p.strip()]
    good = [p for p in parts if _NUMBER_RE.match(p)]
    if not good or len(good) == len(parts):
        return raw.strip()
    return ", ".join(good)


# --- parsing free text -----------------------------------------------------------------

_UNIT_PATTERNS = [
    r"\bc/o\b.*$",
    r"\bz\.\s?h(?:d)?\.?\s.*$",
    r"\b\d{1,2}\s*\.\s*(?:stock|og|ug|etage|obergeschoss|stockwerk|krs|kerros|floor|vaning)\b",
    r"\b(?:stock|etage|floor|kerros|krs|vaning|våning)\s*\d{1,2}\b",
    r"\b\d{1,2}(?:st|nd|rd|th)\s+floor\b",
    r"\b(?:top|tür|tuer|whg|wohnung|stiege|stg|apt|apartment|unit|suite|ste|flat|room|zimmer|"
    r"as|asunto|lgh|lägenhet|bostad)\.?\s*#?\s*\d+\s*[a-z]?\b",
    r"\b(?:eg|og|ug|dg|hochparterre|parterre|erdgeschoss|dachgeschoss|untergeschoss)\b",
    r"\b(?:hinterhaus|vorderhaus|seiteneingang|hintereingang|rückgebäude|gartenhaus)\b",
    r"\bpostfach\s*\d*\b",
    r"\bpl\s*\d+\b",
]
"""What a courier does not need to find the building: floors, flats, doors, c/o lines."""

_UNIT_RE = re.compile("|".join(f"(?:{p})" for p in _UNIT_PATTERNS), re.IGNORECASE)
_PAREN_RE = re.compile(r"\([^)]*\)|\[[^\]]*\]")
_POSTCODE_CITY_RE = re.compile(r"^(?:(?:[A-Z]{1,3})\s*-\s*)?(\d{4,5})(?:\s+(.*))?$", re.IGNORECASE)
_CITY_POSTCODE_RE = re.compile(r"^(\D+?)\s+(\d{4,5})$")
_NUM = r"\d{1,5}\s?[a-zA-Z]?(?:\s?[-\u2013/]\s?\d{1,5}\s?[a-zA-Z]?)?"
_STREET_NUMBER_RE = re.compile(rf"^(?P<street>.*?[^\W\d][^\d]*?)\s*(?P<number>{_NUM})$")
_NUMBER_STREET_RE = re.compile(rf"^(?P<number>{_NUM})\s*,?\s+(?P<street>[^\d].*)$")
_STAIR_FLAT_RE = re.compile(
    r"^(?P<street>.*\D)\s+(?P<number>\d{1,5})\s+(?P<stair>[a-zA-Z])\s+(?P<flat>\d{1,4})$"
)
_INLINE_POSTCODE_RE = re.compile(rf"^(.*?\D)\s*({_NUM})\s+(\d{{4,5}})(?:\s+(\D.*))?$")
_INLINE_TOWN_RE = re.compile(rf"^(.*?\D)\s*({_NUM})\s+([^\W\d][^\d]{{2,}})$")
_COUNTRY_WORDS = {
    "liechtenstein",
    "fl",
    "li",
    "schweiz",
    "switzerland",
    "ch",
    "suisse",
    "osterreich",
    "austria",
    "at",
    "deutschland",
    "germany",
    "de",
    "suomi",
    "finland",
    "fi",
}


@dataclass(frozen=True)
class ParsedAddress:
    """Free-text address split into parts; any part may be missing.

    ``unit`` collects what was removed as floor/flat/door information and ``extra`` the
    parts that could not be placed; both are kept so that a person can see them, but they
    never take part in matching.
    """

    text: str
    street: str | None = None
    housenumber: str | None = None
    postcode: str | None = None
    city: str | None = None
    unit: tuple[str, ...] = ()
    extra: tuple[str, ...] = field(default=())

    @property
    def number_key(self) -> str | None:
        """The house number in comparison form, or ``None``."""
        return housenumber_key(self.housenumber) if self.housenumber else None


def _strip_units(part: str, units: list[str]) -> str:
    """Remove floor/flat/door words from one comma-separated part.

    When removing them would destroy the only street-and-number of the part, they were
    part of the street name ("Am Stock 12") and stay.
    """
    found = [m.group(0).strip() for m in _UNIT_RE.finditer(part)]
    if not found:
        return part.strip(" ,;")
    cleaned = re.sub(r"\s+", " ", _UNIT_RE.sub(" ", part)).strip(" ,;")
    if cleaned and _split_street_number(cleaned) is None and _split_street_number(part):
        return part.strip(" ,;")
    units.extend(found)
    return cleaned


def _split_street_number(part: str) -> tuple[str, str] | None:
    """``"Obere Au 40a"`` -> (``"Obere Au"``, ``"40a"``); also ``"12 Main Street"``."""
    match = _STREET_NUMBER_RE.match(part)
    if match:
        return match.group("street").strip(" ,"), match.group("number")
    match = _NUMBER_STREET_RE.match(part)
    if match:
        return match.group("street").strip(" ,"), match.group("number")
    return None


def parse_address(text: str) -> ParsedAddress:
    """Split a typed address into street, house number, postcode and town.

    Accepts the parts in any order, separated by commas or not: ``"Schaan, Torkelgass 4"``,
    ``"Torkelgass 4 9494 Schaan"``, ``"9494 Schaan, Torkelgass 4, Top 3"``. The part with a
    name and a number is the street; a 4- or 5-digit number alone or before words is the
    postcode (and town). Of the remaining parts without digits the first becomes the town
    when a street was found, else the street. Flats, floors and ``c/o`` lines are removed
    into ``unit``; parentheses and unplaced parts into ``extra``.
    """
    units: list[str] = []
    extra: list[str] = [m.group(0) for m in _PAREN_RE.finditer(text)]
    cleaned = _PAREN_RE.sub(" ", text).replace("\n", ",").replace(";", ",")
    parts = [p.strip() for p in cleaned.split(",") if p.strip()]

    # Split "Street 12 9490 Town" (no comma before the postcode) and "Street 12 Town".
    expanded: list[str] = []
    for raw in parts:
        part = _strip_units(raw, units)
        if not part or fold(part) in _COUNTRY_WORDS:
            continue
        match = _INLINE_POSTCODE_RE.match(part)
        if match:
            expanded.append(f"{match.group(1)} {match.group(2)}")
            expanded.append(f"{match.group(3)} {match.group(4) or ''}".strip())
            continue
        # "Torkelgass 4 Schaan": only when no other part is a street with a number.
        others = [p for p in parts if p is not raw]
        tail = (
            _INLINE_TOWN_RE.match(part)
            if _split_street_number(part) is None
            and not any(_split_street_number(_strip_units(p, [])) for p in others)
            else None
        )
        if tail:
            expanded.extend([f"{tail.group(1)} {tail.group(2)}", tail.group(3)])
            continue
        expanded.append(part)

    # The street is the part with a name and a number. When several parts look like that
    # ("Vaduz 9490, Landstrasse 4"), a bare 4-5 digit number is more likely a postcode.
    street_idx: int | None = None
    for i, part in enumerate(expanded):
        if _POSTCODE_CITY_RE.match(part):
            continue
        split = _split_street_number(part)
        if split is None:
            continue
        looks_like_postcode = re.fullmatch(r"\d{4,5}", split[1]) is not None
        if street_idx is None or not looks_like_postcode:
            street_idx = i
        if not looks_like_postcode:
            break

    street: str | None = None
    number: str | None = None
    postcode: str | None = None
    city: str | None = None
    loose: list[str] = []
    for i, part in enumerate(expanded):
        if i == street_idx:
            stair = _STAIR_FLAT_RE.match(part)
            if stair:  # "Mannerheimintie 5 A 12": staircase A, flat 12
                units.append(f"{stair.group('stair')} {stair.group('flat')}")
                street, number = stair.group("street").strip(), stair.group("number")
                continue
            split = _split_street_number(part)
            if split is not None:
                street, number = split
                continue
        pc = _POSTCODE_CITY_RE.match(part)
        if pc and postcode is None:
            postcode = pc.group(1)
            rest = (pc.group(2) or "").strip()
            if rest and fold(rest) not in _COUNTRY_WORDS:
                city = rest
            continue
        cp = _CITY_POSTCODE_RE.match(part)
        if cp and postcode is None:
            city, postcode = cp.group(1).strip(), cp.group(2)
            continue
        if re.search(r"\d", part):
            extra.append(part)
            continue
        loose.append(part)

    if street is None and loose:
        # No part carried a number: the first part is a street without number
        # ("Landstrasse, Vaduz"); the geocoder swaps them when the map says otherwise.
        street = loose.pop(0)
    if city is None and loose:
        city = loose.pop(0)
    extra.extend(loose)
    if number is not None:
        number = re.sub(r"\s+", " ", number).strip()
    return ParsedAddress(
        text=text,
        street=street or None,
        housenumber=number,
        postcode=postcode,
        city=city,
        unit=tuple(units),
        extra=tuple(extra),
    )
