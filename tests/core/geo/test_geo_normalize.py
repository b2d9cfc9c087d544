"""Address normalisation: folding, street-type abbreviations, splitting free text."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lastmile.core.geo.normalize import (
    clean_housenumber,
    fold,
    housenumber_key,
    parse_address,
    split_housenumbers,
    street_key,
    street_key_without_article,
    street_keys,
)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Stötz", "Stoetz"),
        ("Stötz", "stotz"),
        ("Oberbühl", "Oberbuehl"),
        ("Dr. Albert Schädler-Strasse", "Dr. Albert Schaedler-Strasse"),
        ("Landstraße", "LANDSTRASSE"),
        ("Töölönlahdenkatu", "Toolonlahdenkatu"),
        ("Mannerheimvägen", "Mannerheimvagen"),
    ],
)
def test_fold_makes_spelling_variants_equal(a: str, b: str) -> None:
    assert fold(a) == fold(b)


@pytest.mark.parametrize(
    ("typed", "key"),
    [
        ("Landstr.", "landstrasse"),
        ("Landstr", "landstrasse"),
        ("Landstraße", "landstrasse"),
        ("Feldkircher Str.", "feldkircherstrasse"),
        ("Feldkircher Strasse", "feldkircherstrasse"),
        ("Feldkircherstrasse", "feldkircherstrasse"),
        ("Sebastianstr", "sebastianstrasse"),
        ("St. Florinsgasse", "sanktflorinsgasse"),
        ("Sankt Florinsgasse", "sanktflorinsgasse"),
        ("Aleksanterink.", "aleksanterinkatu"),
        ("Mannerheimint.", "mannerheimintie"),
        ("Main St", "mainstreet"),
        ("Main Street", "mainstreet"),
        ("Kings Rd.", "kingsroad"),
        ("Haldenweg", "haldenweg"),
        ("Fürst-Franz-Josef-Strasse", "furstfranzjosefstrasse"),
    ],
)
def test_street_key_expands_abbreviations(typed: str, key: str) -> None:
    assert street_key(typed) == key


def test_ambiguous_abbreviation_gives_every_reading() -> None:
    # German "g." is Gasse, Swedish "g." is gatan: the map decides.
    assert street_keys("Torkelg.") == ["torkelgasse", "torkelgatan"]
    assert street_keys("Alexandersg.") == ["alexandersgasse", "alexandersgatan"]
    # Without the dot a trailing letter is part of the name.
    assert street_keys("Haldenweg") == ["haldenweg"]


@pytest.mark.parametrize(
    ("text", "street", "number", "postcode", "city"),
    [
        ("Landstrasse 19, 9490 Vaduz", "Landstrasse", "19", "9490", "Vaduz"),
        ("Schaan, Torkelgass 4", "Torkelgass", "4", None, "Schaan"),
        ("Torkelgass 4 Schaan", "Torkelgass", "4", None, "Schaan"),
        ("LandStr. 19 9490 vaduz, 2. Stock", "LandStr.", "19", "9490", "vaduz"),
        ("Obere Au 40a, 9495 Triesen", "Obere Au", "40a", "9495", "Triesen"),
        ("Haldenweg 5, Triesen", "Haldenweg", "5", None, "Triesen"),
        ("Maschlianstrasse 62, 9495", "Maschlianstrasse", "62", "9495", None),
        ("saxgass 29", "saxgass", "29", None, None),
        ("Wiknelgass 28, 9494 Schaan, Top 3", "Wiknelgass", "28", "9494", "Schaan"),
        ("Donatsweg 5, 9496 Balzers (Hintereingang)", "Donatsweg", "5", "9496", "Balzers"),
        ("c/o Meier AG, Landstrasse 5-7, FL-9490 Vaduz", "Landstrasse", "5-7", "9490", "Vaduz"),
        ("Vaduz 9490, Landstrasse 4", "Landstrasse", "4", "9490", "Vaduz"),
        ("9494 Schaan, Feldkircher Strasse 72, EG", "Feldkircher Strasse", "72", "9494", "Schaan"),
        ("Mannerheimintie 5 A 12, 00100 Helsinki", "Mannerheimintie", "5", "00100", "Helsinki"),
        ("Aleksanterinkatu 52 as. 4, Helsinki", "Aleksanterinkatu", "52", None, "Helsinki"),
        ("Apt 4, 3 Baker Street, London", "Baker Street", "3", None, "London"),
        ("Landstrasse 19, 9490 Vaduz, Liechtenstein", "Landstrasse", "19", "9490", "Vaduz"),
        ("Landstrasse, Vaduz", "Landstrasse", None, None, "Vaduz"),
        ("Landstrasse 19 Vaduz, Liechtenstein", "Landstrasse", "19", None, "Vaduz"),
        ("Landstrasse 5 Top 3, 9490 Vaduz", "Landstrasse", "5", "9490", "Vaduz"),
        ("Am Stock 12, 9490 Vaduz", "Am Stock", "12", "9490", "Vaduz"),  # not a floor
        (
            "Kaivopiha, Mannerheimintie 3, 00100 Helsinki",
            "Mannerheimintie",
            "3",
            "00100",
            "Helsinki",
        ),
    ],
)
def test_parse_address_splits_parts_in_any_order(
    text: str, street: str, number: str | None, postcode: str | None, city: str | None
) -> None:
    parsed = parse_address(text)
    assert (parsed.street, parsed.housenumber, parsed.postcode, parsed.city) == (
        street,
        number,
        postcode,
        city,
    )


def test_units_and_notes_are_kept_aside_not_matched() -> None:
    parsed = parse_address("Spiegelstrasse 24, 9491 Ruggell, 2. Stock (Hintereingang)")
    assert parsed.unit == ("2. Stock",)
    assert parsed.extra == ("(Hintereingang)",)
    assert parse_address("Mannerheimintie 5 A 12").unit == ("A 12",)
    assert parse_address("c/o Hans Muster, Städtle 1, 9490 Vaduz").unit == ("c/o Hans Muster",)


def test_empty_and_numberless_input() -> None:
    assert parse_address("").street is None
    parsed = parse_address("9490 Vaduz")
    assert (parsed.street, parsed.postcode, parsed.city) == (None, "9490", "Vaduz")


@pytest.mark.parametrize(
    ("raw", "keys"),
    [
        ("40a", ["40a"]),
        ("20 B", ["20b"]),
        ("68a;68b", ["68a", "68b"]),
        ("76, 76a, 76b", ["76", "76a", "76b"]),
        ("5-7", ["5-7", "5", "7"]),
        ("14 - 20", ["14-20", "14", "20"]),
        ("8, Floor 6", ["8"]),
        ("Hinterhaus", []),
    ],
)
def test_split_housenumbers(raw: str, keys: list[str]) -> None:
    assert split_housenumbers(raw) == keys


def test_clean_housenumber_drops_floor_notes_only() -> None:
    assert clean_housenumber("2, 2. krs./Floor 2") == "2"
    assert clean_housenumber("76, 76a, 76b") == "76, 76a, 76b"
    assert clean_housenumber("5-7") == "5-7"
    assert housenumber_key(" 40 A ") == "40a"


_names = st.text(
    alphabet=st.sampled_from(list("abcdefghijklmnopqrstuvwxyzäöüß -.")), min_size=1, max_size=30
)


@given(_names)
def test_fold_is_idempotent(name: str) -> None:
    assert fold(fold(name)) == fold(name)


@given(_names)
def test_street_key_ignores_case_and_umlaut_spelling(name: str) -> None:
    ascii_spelling = (
        name.replace("ä", "ae").replace("ö", "oe").replace("ü", "ue").replace("ß", "ss")
    )
    assert street_key(name.upper()) == street_key(name)
    assert street_key(ascii_spelling) == street_key(name)


def test_street_key_without_article() -> None:
    assert street_key_without_article("Im Gamander") == "gamander"
    assert street_key_without_article("In der Egerta") == "egerta"
    assert street_key_without_article("Landstrasse") is None
    assert street_key_without_article("Am Au") is None  # too short to stand alone
