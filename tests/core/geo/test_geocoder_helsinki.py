"""The geocoder on central Helsinki: Finnish names, Swedish names, and mistakes made to
addresses picked from the extract itself."""

from __future__ import annotations

import pytest

from lastmile.core.geo.distance import haversine_m
from lastmile.core.geo.geocoder import Geocoder, Verdict
from lastmile.core.geo.normalize import housenumber_key, street_key


def _near_map_copy(helsinki: Geocoder, street: str, number: str, text: str) -> None:
    """``text`` resolves to within 30 m of a map object with that street and number."""
    result = helsinki.geocode(text)
    assert result.verdict.resolved, (text, result.verdict, result.reason)
    assert result.address is not None and result.location is not None
    assert street_key(result.address.street) == street_key(street)
    copies = [
        a
        for a in helsinki.index.addresses
        if street_key(a.street) == street_key(street)
        and housenumber_key(a.housenumber) == housenumber_key(number)
    ]
    assert copies
    assert min(haversine_m(result.location, a.location) for a in copies) <= 30.0


@pytest.mark.parametrize(
    "text",
    [
        "Aleksanterinkatu 52, 00100 Helsinki",  # clean
        "aleksanterinkatu 52 helsinki",  # case, no comma, no postcode
        "Aleksantrinkatu 52, Helsinki",  # typo
        "Aleksanterink. 52, 00100 Helsinki",  # Finnish abbreviation
        "Helsinki, Aleksanterinkatu 52",  # swapped order
        "Alexandersgatan 52, Helsingfors",  # Swedish street and town
        "Aleksanterinkatu 52 B 7, 00100 Helsinki",  # staircase and flat
    ],
)
def test_variants_of_aleksanterinkatu_52(helsinki: Geocoder, text: str) -> None:
    _near_map_copy(helsinki, "Aleksanterinkatu", "52", text)


@pytest.mark.parametrize(
    ("text", "street", "number"),
    [
        ("Mannerheimvägen 5, Helsingfors", "Mannerheimintie", "5"),
        ("Mannerheimint. 5", "Mannerheimintie", "5"),
        ("Norra Esplanaden 21", "Pohjoisesplanadi", "21"),
        ("Pohjoisesplandi 21, 00100 Helsinki", "Pohjoisesplanadi", "21"),
        ("Yliopistonkatu 5, Helsinki", "Yliopistonkatu", "5"),
        ("Toolonlahdenkatu 2", "Töölönlahdenkatu", "2"),
    ],
)
def test_other_streets(helsinki: Geocoder, text: str, street: str, number: str) -> None:
    _near_map_copy(helsinki, street, number, text)


def test_swedish_name_is_reported_as_a_change(helsinki: Geocoder) -> None:
    result = helsinki.geocode("Alexandersgatan 52, 00100 Helsingfors")
    assert result.verdict is Verdict.CORRECTED
    assert any("'Alexandersgatan' -> 'Aleksanterinkatu'" in c for c in result.changes)
    assert "town 'Helsingfors' -> 'Helsinki'" in result.changes


@pytest.mark.parametrize(
    "text",
    [
        "Aleksanterinkatu 999, 00100 Helsinki",  # number not on the street
        "Unioninkatu 30",  # 29 and 31 exist, 30 does not
        "Mannerheimintie 5 A",  # "5 A" is not "5": a person must confirm
        "Yliopistonkatu, Helsinki",  # no number
        "Kotikatu 5, Helsinki",  # no such street
        "Mannerheimintie 100, 00250 Helsinki",  # beyond the extract
    ],
)
def test_missing_and_non_existent_are_not_resolved(helsinki: Geocoder, text: str) -> None:
    result = helsinki.geocode(text)
    assert result.verdict in (Verdict.AMBIGUOUS, Verdict.NOT_FOUND), (text, result)
    assert result.location is None


def test_number_inside_a_range_building(helsinki: Geocoder) -> None:
    # "Mannerheimintie 14-20" is one building; an exact "14" wins over the range.
    result = helsinki.geocode("Mannerheimintie 14-20, 00100 Helsinki")
    assert result.verdict is Verdict.EXACT
    assert result.address is not None and result.address.housenumber == "14-20"


def test_address_of_another_country_is_outside(helsinki: Geocoder) -> None:
    assert helsinki.geocode("Landstrasse 19, 9490 Vaduz").verdict is Verdict.OUTSIDE_AREA
