"""The geocoder on the Liechtenstein extract: accuracy, and never a confident wrong answer."""

from __future__ import annotations

import csv
import random
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lastmile.core.geo.distance import haversine_m
from lastmile.core.geo.geocoder import Geocoder, Verdict
from lastmile.core.geo.index import AddressIndex
from lastmile.core.geo.normalize import housenumber_key, split_housenumbers, street_key
from lastmile.core.model import Location

NOISY = Path(__file__).parents[2] / "data" / "sample_noisy_addresses.csv"
TOLERANCE_M = 30.0


def _noisy_rows() -> list[dict[str, str]]:
    with NOISY.open(encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def test_noisy_sample_accuracy_and_no_confident_wrong_answer(li: Geocoder) -> None:
    rows = _noisy_rows()
    existing = [r for r in rows if r["exists"] == "1"]
    resolved_right = 0
    confident_wrong: list[str] = []
    for row in rows:
        result = li.geocode(row["address"])
        if not result.verdict.resolved:
            continue
        assert result.location is not None
        if row["exists"] != "1":
            confident_wrong.append(f"{row['id']}: {row['address']} -> {result.address}")
            continue
        truth = Location(float(row["true_lon"]), float(row["true_lat"]))
        distance = haversine_m(result.location, truth)
        if distance <= TOLERANCE_M:
            resolved_right += 1
        else:
            confident_wrong.append(f"{row['id']}: {row['address']} -> {distance:.0f} m off")
    rate = resolved_right / len(existing)
    assert confident_wrong == []
    assert rate >= 0.95, f"resolved {rate:.0%} of existing addresses within {TOLERANCE_M} m"


def test_resolved_sample_addresses_name_the_true_address(li: Geocoder) -> None:
    for row in _noisy_rows():
        result = li.geocode(row["address"])
        if result.verdict.resolved:
            assert result.address is not None
            assert street_key(result.address.street) == street_key(
                row["true_address"].split(",")[0].rsplit(" ", 1)[0]
            )


@pytest.mark.parametrize(
    ("text", "verdict", "change"),
    [
        ("Landstrasse 19, 9490 Vaduz", Verdict.EXACT, None),
        ("landstrasse 19, 9490 VADUZ", Verdict.EXACT, None),
        ("Landstr. 19, 9490 Vaduz", Verdict.CORRECTED, "street 'Landstr.' -> 'Landstrasse'"),
        ("Haldenweg 5, Triesen", Verdict.CORRECTED, "postcode added"),
        ("Stubistrasse 75, 9497", Verdict.CORRECTED, "town added"),
        ("Stoetz 5, 9496 Balzers", Verdict.CORRECTED, "street 'Stoetz' -> 'Stötz'"),
        ("Spigeelstrasse 24, 9491 Ruggell", Verdict.CORRECTED, "(typo)"),
        ("Landstr. 19/3, FL-9490 Vaduz", Verdict.CORRECTED, "(flat after '/')"),
        ("Malbunstrasse 44, Malbun", Verdict.CORRECTED, "town 'Malbun' -> 'Triesenberg'"),
        ("Malbunstrasse 44, 9479 Malbun", Verdict.CORRECTED, "postcode '9479' -> '9497'"),
        ("Landstrasse 174 Triesen, Liechtenstein", Verdict.CORRECTED, "postcode added"),
        ("Gamander 14, Schaan", Verdict.CORRECTED, "'Gamander' -> 'Im Gamander'"),
        # Wrong postcode, right town, and no Gagoz under 9490: the postcode is the mistake.
        ("Gagoz 39, 9490 Balzers", Verdict.CORRECTED, "postcode '9490' -> '9496'"),
    ],
)
def test_verdicts_and_listed_changes(
    li: Geocoder, text: str, verdict: Verdict, change: str | None
) -> None:
    result = li.geocode(text)
    assert result.verdict is verdict, result.reason
    if change is not None:
        assert any(change in c for c in result.changes), result.changes
    if verdict is Verdict.EXACT:
        assert result.changes == () and result.confidence == 1.0
    else:
        assert 0.5 < result.confidence < 1.0


@pytest.mark.parametrize(
    "text",
    [
        "Landstrasse 999, 9490 Vaduz",  # street exists, number does not
        "Obere Au 40, 9495 Triesen",  # only 40a and 40b exist: never "corrected" to them
        "Haldenweg 500, Triesen",
        "Musterstrasse 12, 9490 Vaduz",  # no such street
        "Blumenweg 3, 9494 Schaan",
        "Langstrasse 3, 9490 Vaduz",  # real street of Eschen; Vaduz has Landstrasse 3
        "Haldenweg 5, 9490 Vaduz",  # Haldenweg 5 is in Triesen, not Vaduz
        "Haldenweg 5, 9490 Triesen",  # 9490 (Vaduz) has a Haldenweg too: which one?
        "Gagoz 39, 9496 Vaduz",  # a wrong town is never fixed
        "Landstrasse 19, 9494 Vaduz",  # postcode says Schaan, town says Vaduz
        "Landstrasse 19",  # in three towns
        "Landstrasse, 9490 Vaduz",  # no house number
        "Vaduz",
        "",
    ],
)
def test_non_existent_or_underspecified_addresses_are_never_resolved(
    li: Geocoder, text: str
) -> None:
    result = li.geocode(text)
    assert result.verdict in (Verdict.NOT_FOUND, Verdict.AMBIGUOUS), result
    assert result.location is None and result.address is None


def test_missing_number_offers_neighbours_as_candidates_only(li: Geocoder) -> None:
    result = li.geocode("Landstrasse 999, 9490 Vaduz")
    assert result.verdict is Verdict.AMBIGUOUS
    assert "no number 999" in result.reason
    assert result.candidates
    assert all(c.address.housenumber != "999" for c in result.candidates[:3])
    assert all("nearby number" in c.note for c in result.candidates[:3])


def test_same_address_in_several_towns_is_ambiguous_with_candidates(li: Geocoder) -> None:
    result = li.geocode("Landstrasse 19")
    assert result.verdict is Verdict.AMBIGUOUS
    towns = {c.address.city for c in result.candidates}
    assert {"Vaduz", "Schaan"} <= towns


@pytest.mark.parametrize(
    "text",
    ["Bahnhofstrasse 1, 8001 Zürich", "Landstrasse 19, 9490 Zürich", "Hauptstrasse 5, 10115"],
)
def test_outside_area(li: Geocoder, text: str) -> None:
    result = li.geocode(text)
    assert result.verdict in (Verdict.OUTSIDE_AREA, Verdict.AMBIGUOUS), result
    assert result.location is None
    if "Bahnhofstrasse" in text or "Hauptstrasse" in text:
        assert result.verdict is Verdict.OUTSIDE_AREA


def test_pin_far_from_the_address_is_flagged(li: Geocoder) -> None:
    vaduz_19 = li.geocode("Landstrasse 19, 9490 Vaduz")
    assert vaduz_19.location is not None
    near = Location(vaduz_19.location.lon + 0.0001, vaduz_19.location.lat)  # ~8 m
    far = Location(vaduz_19.location.lon, vaduz_19.location.lat + 0.0045)  # ~500 m
    ok = li.geocode("Landstrasse 19, 9490 Vaduz", hint=near)
    assert not ok.pin_mismatch and ok.pin_distance_m is not None and ok.pin_distance_m < 20
    bad = li.geocode("Landstrasse 19, 9490 Vaduz", hint=far)
    assert bad.pin_mismatch and bad.pin_distance_m is not None and 450 < bad.pin_distance_m < 550
    assert bad.verdict is Verdict.EXACT  # the text is right; the pin is what to check
    strict = Geocoder(li.index, pin_tolerance_m=5.0)
    assert strict.geocode("Landstrasse 19, 9490 Vaduz", hint=near).pin_mismatch


def test_pin_chooses_between_equal_candidates(li: Geocoder) -> None:
    vaduz = li.geocode("Landstrasse 19, 9490 Vaduz").location
    assert vaduz is not None
    result = li.geocode("Landstrasse 19", hint=vaduz)
    assert result.verdict is Verdict.CORRECTED
    assert result.address is not None and result.address.city == "Vaduz"
    assert "chosen by pin" in result.changes


def test_pin_outside_the_extract_for_an_unknown_address(li: Geocoder) -> None:
    result = li.geocode("Musterweg 1", hint=Location(8.54, 47.37))
    assert result.verdict is Verdict.OUTSIDE_AREA
    assert "pin_outside_area" in result.flags


def test_separate_fields(li: Geocoder) -> None:
    result = li.geocode_parts(street="Landstrasse", housenumber="19", city="Vaduz")
    assert result.verdict is Verdict.CORRECTED
    assert result.changes == ("postcode added",)


def _mutations(index: AddressIndex, seed: int, n: int) -> list[tuple[str, Location | None]]:
    """Addresses made from the map with one realistic mistake each; ``None`` truth for
    addresses that do not exist (a number not on the street, a street moved to a town
    that does not have it)."""
    rng = random.Random(seed)
    points = [
        p
        for p in index.addresses
        if p.postcode and p.city and re.fullmatch(r"\d+[a-z]?", p.housenumber)
    ]
    numbers: dict[tuple[str, str | None], set[str]] = {}
    for p in index.addresses:
        numbers.setdefault((street_key(p.street), p.city), set()).update(
            split_housenumbers(p.housenumber)
        )
    towns = sorted({(p.postcode, p.city) for p in points})
    out: list[tuple[str, Location | None]] = []
    while len(out) < n:
        p = rng.choice(points)
        kind = rng.choice(["typo", "no_postcode", "no_town", "reorder", "bad_number", "town"])
        street, number = p.street, p.housenumber
        if kind == "typo":
            i = rng.randrange(1, len(street) - 1)
            street = street[:i] + street[i + 1 :]
        if kind == "bad_number":
            number = str(int(re.match(r"\d+", number).group()) + rng.choice([1, 2, 57]))  # type: ignore[union-attr]
            if number in numbers[(street_key(p.street), p.city)]:
                continue
            out.append((f"{street} {number}, {p.postcode} {p.city}", None))
            continue
        if kind == "town":
            postcode, city = rng.choice(towns)
            if city == p.city or number in numbers.get((street_key(street), city), set()):
                continue
            out.append((f"{street} {number}, {postcode} {city}", None))
            continue
        text = {
            "typo": f"{street} {number}, {p.postcode} {p.city}",
            "no_postcode": f"{street} {number}, {p.city}",
            "no_town": f"{street} {number}, {p.postcode}",
            "reorder": f"{p.city}, {street} {number}",
        }[kind]
        out.append((text, p.location))
    return out


def test_generated_mistakes_never_give_a_confident_wrong_answer(li: Geocoder) -> None:
    cases = _mutations(li.index, seed=8, n=600)
    wrong = []
    resolved = 0
    existing = sum(1 for _, truth in cases if truth is not None)
    for text, truth in cases:
        result = li.geocode(text)
        if not result.verdict.resolved:
            continue
        assert result.location is not None
        if truth is None or haversine_m(result.location, truth) > 60.0:
            wrong.append((text, str(result.address)))
        else:
            resolved += 1
    assert wrong == []
    assert resolved / existing > 0.85


@settings(max_examples=300, deadline=None)
@given(
    pick=st.integers(min_value=0, max_value=10**6),
    number=st.from_regex(r"[1-9][0-9]{0,2}( ?[a-dA-D])?", fullmatch=True),
    with_town=st.booleans(),
)
def test_a_resolved_answer_always_has_the_asked_house_number(
    li: Geocoder, pick: int, number: str, with_town: bool
) -> None:
    """Whatever street and number are asked, an exact/corrected answer carries that number
    (or a building whose range contains it): never a neighbouring one."""
    point = li.index.addresses[pick % len(li.index.addresses)]
    text = f"{point.street} {number}" + (f", {point.city}" if with_town and point.city else "")
    result = li.geocode(text)
    if result.verdict.resolved:
        assert result.address is not None and result.address.housenumber is not None
        assert housenumber_key(number) in split_housenumbers(result.address.housenumber)
