"""Offline geocoder and address validation over an :class:`AddressIndex`.

Why this exists
---------------
Most failed deliveries come from wrong addresses, and a confidently wrong answer is worse
than none: the parcel goes to a real but wrong door. So the geocoder answers with a
*verdict* and only says ``exact`` or ``corrected`` when exactly one address of the map fits
the input well:

``exact``
    street, house number, postcode and town all match (case and spacing aside).
``corrected``
    one address fits, after fixes that are listed in ``changes`` (umlaut spelling,
    abbreviation, a typo of one or two letters, postcode or town added/fixed).
``ambiguous``
    several addresses fit about equally well, or the street fits but the house number is
    not on it (we never move a parcel to a neighbouring number); ``candidates`` lists them.
``not_found``
    nothing in the map's area fits.
``outside_area``
    the postcode/town is not in the map's area, or the given pin lies outside the extract.

Rules that keep answers honest:

* a house number is matched exactly (``40a`` is not ``40``); the only liberties are a
  flat after a slash (``19/3`` -> ``19``) and the first number of a range (``5-7`` -> ``5``),
  both reported as changes;
* a street is matched fuzzily only within a few edits that scale with its length, only
  where the corrected street carries the house number, and only when no street of the
  same area fits as well or better;
* when the exact street exists but lacks the number, a look-alike street that happens to
  have the number is *not* taken;
* without postcode and town a typo is only fixed when the address is unique in the whole
  map; an unknown postcode without a known town is never "corrected" into the map.

A pin (``hint``) given with the row is checked against the matched address and flagged
when it is further than ``pin_tolerance_m``; among equally good candidates the one near the
pin is chosen (and the choice is reported as a change).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, replace

from rapidfuzz import fuzz, process

from lastmile.core.geo.answers import Address, Candidate, GeocodeResult, Verdict
from lastmile.core.geo.distance import haversine_m
from lastmile.core.geo.index import AddressIndex, AddressPoint
from lastmile.core.geo.normalize import (
    ParsedAddress,
    fold,
    housenumber_key,
    parse_address,
    street_key_without_article,
    street_keys,
)
from lastmile.core.geo.typos import allowed_edits, typo_distance
from lastmile.core.model import Location

__all__ = [
    "Address",
    "Candidate",
    "GeocodeResult",
    "Geocoder",
    "Verdict",
]


@dataclass
class _Hit:
    """An address of the map that fits the input's street (fuzzily) and house number."""

    key: str
    points: list[int]
    street_sim: float
    street_note: str
    pc_match: bool | None
    city_match: bool | None
    number_change: str | None
    in_range: bool = False
    """The number is inside a range or list of the map's number (``20`` in ``14-20``)."""

    score: float = 0.0


def _agrees(wanted: str | None, have: str | None) -> bool | None:
    """Whether a postcode/town of the input agrees with the map's (None: nothing to compare).

    A map object without a postcode is not evidence against one, so it compares as None.
    """
    if wanted is None or have is None:
        return None
    return wanted == have


def _agrees_any(wanted: str | None, have: list[str | None]) -> bool | None:
    """:func:`_agrees` over the copies of one address: any agreeing copy is enough."""
    votes = [_agrees(wanted, h) for h in have]
    if True in votes:
        return True
    return False if False in votes else None


def _merge(cluster: list[AddressPoint]) -> AddressPoint:
    """Copies of one address -> one point at their mean, with their most common area."""
    lon = sum(p.lon for p in cluster) / len(cluster)
    lat = sum(p.lat for p in cluster) / len(cluster)
    postcodes = Counter(p.postcode for p in cluster if p.postcode)
    cities = Counter(p.city for p in cluster if p.city)
    first = cluster[0]
    return AddressPoint(
        first.street,
        first.housenumber,
        postcodes.most_common(1)[0][0] if postcodes else None,
        cities.most_common(1)[0][0] if cities else None,
        round(lon, 7),
        round(lat, 7),
    )


def _canon(text: str) -> str:
    return " ".join(text.split()).casefold()


class Geocoder:
    """Geocode and validate free-text addresses against one :class:`AddressIndex`.

    Parameters
    ----------
    index
        The address index of the map area.
    pin_tolerance_m
        A given pin further than this from the matched address is flagged ``pin_mismatch``.
    same_place_m
        Copies of one address closer than this are one candidate (building + entrance).
    margin
        A second candidate within this score of the best makes the answer ambiguous.
    """

    def __init__(
        self,
        index: AddressIndex,
        *,
        pin_tolerance_m: float = 150.0,
        same_place_m: float = 60.0,
        margin: float = 0.08,
    ) -> None:
        self.index = index
        self.pin_tolerance_m = pin_tolerance_m
        self.same_place_m = same_place_m
        self.margin = margin
        self._keys: list[str] = sorted(set(index.by_street) | set(index.streets_by_key))
        self._city_keys: list[str] = sorted(index.cities)
        # "Gamander" for "Im Gamander": keys without leading article words.
        self._short: dict[str, set[str]] = {}
        for key in index.by_street:
            short = street_key_without_article(index.spelling(key))
            if short is not None and short != key:
                self._short.setdefault(short, set()).add(key)

    # --- public -------------------------------------------------------------------------

    def geocode(self, text: str, *, hint: Location | None = None) -> GeocodeResult:
        """Find ``text`` in the index and say how sure we are; see the module docstring."""
        parsed = parse_address(text or "")
        result = self._geocode(parsed, hint)
        return self._check_pin(result, hint)

    def geocode_parts(
        self,
        *,
        street: str,
        housenumber: str | None = None,
        postcode: str | None = None,
        city: str | None = None,
        hint: Location | None = None,
    ) -> GeocodeResult:
        """Geocode an address that arrives in separate fields (CSV columns).

        The fields are trusted as given (a street called "Am Bach" stays a street even
        though it has no number); only a missing house number falls back to parsing.
        """
        text = ", ".join(
            p
            for p in (
                f"{street} {housenumber or ''}".strip(),
                f"{postcode or ''} {city or ''}".strip(),
            )
            if p
        )
        parsed = parse_address(text)
        if housenumber:
            parsed = ParsedAddress(
                text=text,
                street=street.strip() or None,
                housenumber=housenumber.strip(),
                postcode=(postcode or "").strip() or None,
                city=(city or "").strip() or None,
                unit=parsed.unit,
                extra=parsed.extra,
            )
        return self._check_pin(self._geocode(parsed, hint), hint)

    # --- areas --------------------------------------------------------------------------

    def match_city(self, city: str | None) -> str | None:
        """The town of the index that ``city`` names (exactly, as a part, or with a typo)."""
        if not city:
            return None
        key = fold(city)
        if not key:
            return None
        if key in self.index.cities:
            return self.index.cities[key]
        for ckey, name in self.index.cities.items():
            tokens = ckey.split()
            if len(key) >= 4 and (key in tokens or key.replace(" ", "") == ckey.replace(" ", "")):
                return name
            if len(tokens) > 1 and all(t in tokens for t in key.split()):
                return name
        best = process.extractOne(key, self._city_keys, scorer=fuzz.ratio, score_cutoff=80)
        if best is not None:
            return self.index.cities[best[0]]
        return None

    # --- core ---------------------------------------------------------------------------

    def _geocode(self, parsed: ParsedAddress, hint: Location | None) -> GeocodeResult:
        idx = self.index
        if parsed.street is None:
            return self._nothing(parsed, hint, "no street in the input")

        street_text = parsed.street
        city_text = parsed.city
        city = self.match_city(city_text)
        # "Vaduz, Landstrasse" without number parses the town as street: swap back.
        if parsed.housenumber is None and city_text and city is None:
            swapped = self.match_city(street_text)
            if swapped is not None:
                street_text, city_text, city = city_text, street_text, swapped

        postcode = parsed.postcode
        pc_known = postcode is not None and postcode in idx.postcodes
        locality = city_text is not None and fold(city_text) in idx.localities
        city_unknown = city_text is not None and city is None and not locality
        foreign = (postcode is not None and not pc_known and city is None and not locality) or (
            city_unknown and not pc_known
        )

        matches = self._match_streets(street_text)
        number_keys = self._number_keys(parsed.housenumber)

        hits: list[_Hit] = []
        in_area_streets: list[tuple[str, float, str]] = []
        for key, sim, note in matches:
            areas = idx.street_areas.get(key)
            street_in_area = (
                any(
                    _agrees(postcode, pc) is not False and _agrees(city, town) is not False
                    for pc, town in areas
                )
                if areas
                else self._street_geometry_in_area(key, postcode, city)
            )
            if street_in_area:
                in_area_streets.append((key, sim, note))
            for number_key, number_change in number_keys:
                # A building that only *spans* the number ("14-20" for 20) is a weaker
                # match than one with exactly that number.
                pts = idx.by_number.get((key, number_key), [])
                exact = [
                    i for i in pts if housenumber_key(idx.addresses[i].housenumber) == number_key
                ]
                spans = [i for i in pts if i not in exact]
                if exact:
                    hits.append(_Hit(key, exact, sim, note, None, None, number_change))
                if spans:
                    hits.append(
                        _Hit(key, spans, sim, note, None, None, number_change, in_range=True)
                    )
                if exact or spans:
                    break

        if parsed.housenumber is None:
            return self._street_only(parsed, in_area_streets, postcode, city, hint, foreign)

        candidates = self._candidates(hits, postcode, city)
        if not candidates:
            if in_area_streets:
                return self._number_missing(parsed, in_area_streets, postcode, city)
            if foreign or (hint is not None and not idx.contains(hint, margin_m=1000.0)):
                return self._outside(parsed, postcode, city_text, hint)
            return GeocodeResult(
                input=parsed.text,
                verdict=Verdict.NOT_FOUND,
                reason=f"no street like {street_text!r} with number "
                f"{parsed.housenumber} in the map" + self._area_words(postcode, city),
                parsed=parsed,
            )

        candidates.sort(key=lambda c: -c[0].score)
        best_hit, best_point = candidates[0]
        best_loc = best_point.location
        rivals = [
            (h, p)
            for h, p in candidates[1:]
            if h.score >= best_hit.score - self.margin and haversine_m(p.location, best_loc) > 30.0
        ]
        # A street that fits better than the best hit's street but lacks the number means
        # the person probably meant that street: do not jump to a look-alike.
        better_street = [
            (k, s)
            for k, s, _ in in_area_streets
            if s > best_hit.street_sim + 1e-9 and k != best_hit.key
        ]
        # A correctly spelled real street (in another town) is not a typo of this one.
        if not better_street and best_hit.street_sim < 1.0:
            better_street = [(k, s) for k, s, _ in matches if s >= 1.0 and k != best_hit.key]
        cand_list = tuple(self._candidate(h, p) for h, p in candidates[:8])

        if foreign:
            # "Bahnhofstrasse 1, 8001 Zürich": a look-alike exists in the map, but the
            # postcode/town say the address is elsewhere. Show it, never take it.
            outside = self._outside(parsed, postcode, city_text, hint)
            return replace(
                outside,
                candidates=cand_list,
                reason=outside.reason + "; a look-alike in the map is listed as a candidate",
            )

        if better_street:
            names = ", ".join(repr(idx.spelling(k)) for k, _ in better_street[:3])
            extra = self._neighbours(better_street[0][0], parsed, postcode, city)
            return GeocodeResult(
                input=parsed.text,
                verdict=Verdict.AMBIGUOUS,
                candidates=tuple(extra) + cand_list,
                reason=f"{names} exists but not with number {parsed.housenumber}"
                + self._area_words(postcode, city)
                + "; only a similar street has it",
                parsed=parsed,
            )

        if rivals and hint is not None:
            near = [
                (h, p)
                for h, p in [candidates[0], *rivals]
                if haversine_m(p.location, hint) <= self.pin_tolerance_m
            ]
            if len(near) == 1:
                hit, point = near[0]
                return self._resolved(parsed, hit, point, postcode, city, extra=["chosen by pin"])

        if rivals:
            return GeocodeResult(
                input=parsed.text,
                verdict=Verdict.AMBIGUOUS,
                candidates=cand_list,
                confidence=round(best_hit.score * 0.5, 3),
                reason=f"{len(rivals) + 1} addresses fit equally well",
                parsed=parsed,
            )

        # One best candidate. Is it safe to say so?
        unsafe = self._unsafe(best_hit, postcode, city, pc_known, foreign)
        if not unsafe and city_unknown:
            unsafe = f"town {city_text!r} is not in this map"
        if unsafe:
            return GeocodeResult(
                input=parsed.text,
                verdict=Verdict.AMBIGUOUS,
                candidates=cand_list,
                confidence=round(best_hit.score * 0.5, 3),
                reason=unsafe,
                parsed=parsed,
            )
        return self._resolved(parsed, best_hit, best_point, postcode, city)

    # --- matching helpers ---------------------------------------------------------------

    def _match_streets(self, street: str) -> list[tuple[str, float, str]]:
        """Street keys of the index that ``street`` may mean, with similarity 0..1.

        Alternative names (``name:sv``) resolve to the main name's key. Keys are
        deduplicated keeping the best similarity.
        """
        idx = self.index
        best: dict[str, tuple[float, str]] = {}

        def add(key: str, sim: float, note: str) -> None:
            targets = [key] if key in idx.by_street else []
            for main in sorted(idx.aliases.get(key, ())):
                targets.append(main)
                note = note or f"other name {idx.spelling(main)!r}"
            if not targets and key in idx.streets_by_key:
                targets = [key]
            for target in targets:
                if target not in best or best[target][0] < sim:
                    best[target] = (sim, note)

        for qkey in street_keys(street):
            if len(qkey) < 2:
                continue
            if qkey in idx.by_street or qkey in idx.streets_by_key:
                add(qkey, 1.0, "")
            for full in sorted(self._short.get(qkey, ())):
                add(full, 0.95, "leading word added")
            allowed = allowed_edits(len(qkey)) + 1
            cutoff = 100.0 * (1 - 2 * allowed / (2 * len(qkey) - allowed)) - 1e-6
            for key, _score, _ in process.extract(
                qkey, self._keys, scorer=fuzz.ratio, score_cutoff=cutoff, limit=40
            ):
                if key == qkey:
                    continue
                dist = typo_distance(qkey, key)
                if dist is not None:
                    add(key, 1.0 - dist / max(len(qkey), len(key)), "typo")
            # A dotted abbreviation we do not know ("Peter-Kaiser-Pl."): prefix match.
            if street.rstrip().endswith(".") and len(qkey) >= 5:
                for key in self._keys:
                    if key.startswith(qkey) and key != qkey:
                        add(key, 0.95, "abbreviation")
        return [(k, s, n) for k, (s, n) in sorted(best.items(), key=lambda kv: -kv[1][0])]

    @staticmethod
    def _number_keys(number: str | None) -> list[tuple[str, str | None]]:
        """House-number keys to look for, first the literal one, then safe readings."""
        if not number:
            return []
        key = housenumber_key(number)
        out: list[tuple[str, str | None]] = [(key, None)]
        if "/" in key:
            base = key.split("/")[0]
            out.append((base, f"house number {number!r} -> {base!r} (flat after '/')"))
        range_match = re.fullmatch(r"(\d+[a-z]?)-(\d+[a-z]?)", key)
        if range_match:
            first = range_match.group(1)
            out.append((first, f"house number {number!r} -> {first!r} (first of range)"))
        return out

    def _street_geometry_in_area(self, key: str, postcode: str | None, city: str | None) -> bool:
        for i in self.index.streets_by_key.get(key, []):
            street = self.index.streets[i]
            if (postcode is None or street.postcode == postcode) and (
                city is None or street.city == city
            ):
                return True
        return False

    def _score(self, hit: _Hit, postcode: str | None, city: str | None) -> float:
        """Street similarity minus penalties for area evidence that is missing or wrong."""
        score = hit.street_sim
        if hit.pc_match is False:
            score -= 0.15
        if hit.city_match is False:
            score -= 0.15
        if postcode is None and city is None:
            score -= 0.1
        if hit.number_change:
            score -= 0.05
        if hit.in_range:
            score -= 0.1
        return max(0.0, min(1.0, score))

    def _candidates(
        self, hits: Iterable[_Hit], postcode: str | None, city: str | None
    ) -> list[tuple[_Hit, AddressPoint]]:
        """One candidate per distinct place of an address, scored against the input area.

        Copies of one address closer than ``same_place_m`` (a building and its entrance,
        shops inside one building) are one candidate at their mean position, with the
        postcode and town most of them carry (OSM often leaves these off some copies).
        """
        out: list[tuple[_Hit, AddressPoint]] = []
        for hit in hits:
            groups: dict[str, list[AddressPoint]] = {}
            for i in hit.points:
                p = self.index.addresses[i]
                groups.setdefault(housenumber_key(p.housenumber), []).append(p)
            for members in groups.values():
                clusters: list[list[AddressPoint]] = []
                for p in members:
                    for cluster in clusters:
                        if haversine_m(cluster[0].location, p.location) <= self.same_place_m:
                            cluster.append(p)
                            break
                    else:
                        clusters.append([p])
                for cluster in clusters:
                    merged = _merge(cluster)
                    scored = replace(
                        hit,
                        pc_match=_agrees_any(postcode, [p.postcode for p in cluster]),
                        city_match=_agrees_any(city, [p.city for p in cluster]),
                    )
                    scored.score = self._score(scored, postcode, city)
                    # Same place reached through several keys (typo and alias): keep best.
                    dup = next(
                        (
                            k
                            for k, (_, q) in enumerate(out)
                            if q.street == merged.street
                            and housenumber_key(q.housenumber)
                            == housenumber_key(merged.housenumber)
                            and haversine_m(q.location, merged.location) <= self.same_place_m
                        ),
                        None,
                    )
                    if dup is None:
                        out.append((scored, merged))
                    elif out[dup][0].score < scored.score:
                        out[dup] = (scored, merged)
        return out

    def _unsafe(
        self,
        hit: _Hit,
        postcode: str | None,
        city: str | None,
        pc_known: bool,
        foreign: bool,
    ) -> str:
        """Why the single best candidate must not be given as an answer ('' if safe).

        A wrong postcode with the right town is fixed only when the street name is exact and
        the given postcode has no street of that name at all: then the postcode is the
        mistake. A wrong town is never fixed: people misremember postcodes, not towns.
        """
        if foreign:
            return "the postcode/town is not in this map's area"
        if hit.pc_match is False and hit.city_match is False:
            return "the street and number exist, but in another town"
        if hit.city_match is False:
            return "the street and number exist, but in another town"
        if hit.pc_match is False and (pc_known or hit.street_sim < 1.0):
            if (
                hit.city_match is True
                and hit.street_sim >= 1.0
                and not self._street_has(hit.key, postcode=postcode, city=None)
            ):
                return ""
            return "the street and number exist, but under another postcode"
        if postcode is None and city is None and hit.street_sim < 0.9:
            return "no postcode or town to confirm a corrected street name"
        return ""

    def _street_has(self, key: str, *, postcode: str | None, city: str | None) -> bool:
        """Whether the street ``key`` has any address (or way) in that postcode/town."""
        for pc, town in self.index.street_areas.get(key, ()):
            if (postcode is None or pc == postcode) and (city is None or town == city):
                return True
        return self._street_geometry_in_area(key, postcode, city)

    # --- answers ------------------------------------------------------------------------

    def _candidate(self, hit: _Hit, point: AddressPoint, note: str = "") -> Candidate:
        return Candidate(
            address=Address(point.street, point.housenumber, point.postcode, point.city),
            location=point.location,
            score=round(hit.score, 3),
            note=note or hit.street_note,
        )

    def _resolved(
        self,
        parsed: ParsedAddress,
        hit: _Hit,
        point: AddressPoint,
        postcode: str | None,
        city: str | None,
        *,
        extra: list[str] | None = None,
    ) -> GeocodeResult:
        changes: list[str] = []
        street_in = parsed.street or ""
        if _canon(street_in) != _canon(point.street):
            why = f" ({hit.street_note})" if hit.street_note else ""
            changes.append(f"street {street_in!r} -> {point.street!r}{why}")
        if hit.number_change:
            changes.append(hit.number_change)
        elif parsed.housenumber and housenumber_key(parsed.housenumber) != housenumber_key(
            point.housenumber
        ):
            changes.append(f"house number {parsed.housenumber!r} -> {point.housenumber!r}")
        if point.postcode and parsed.postcode is None:
            changes.append("postcode added")
        elif point.postcode and parsed.postcode != point.postcode:
            changes.append(f"postcode {parsed.postcode!r} -> {point.postcode!r}")
        if point.city and parsed.city is None:
            changes.append("town added")
        elif point.city and _canon(parsed.city or "") != _canon(point.city):
            changes.append(f"town {parsed.city!r} -> {point.city!r}")
        changes.extend(extra or [])
        verdict = Verdict.CORRECTED if changes else Verdict.EXACT
        confidence = 1.0 if verdict is Verdict.EXACT else hit.score * (0.97 ** len(changes))
        flags = ("unit_removed",) if parsed.unit else ()
        address = Address(point.street, point.housenumber, point.postcode, point.city)
        return GeocodeResult(
            input=parsed.text,
            verdict=verdict,
            address=address,
            location=point.location,
            confidence=round(max(0.0, min(1.0, confidence)), 3),
            candidates=(self._candidate(hit, point),),
            changes=tuple(changes),
            flags=flags,
            reason="matches the map exactly" if not changes else "one address fits after fixes",
            parsed=parsed,
        )

    def _neighbours(
        self, key: str, parsed: ParsedAddress, postcode: str | None, city: str | None
    ) -> list[Candidate]:
        """Numbers near the asked one on a street, plus an interpolated guess — as
        *candidates* for a person to choose, never as an answer."""
        idx = self.index
        asked = re.match(r"\d+", parsed.housenumber or "")
        want = int(asked.group(0)) if asked else None
        numbered: list[tuple[int, AddressPoint]] = []
        for i in idx.by_street.get(key, []):
            p = idx.addresses[i]
            if (postcode is not None and p.postcode != postcode) or (
                city is not None and p.city != city
            ):
                continue
            m = re.match(r"\d+", p.housenumber)
            if m:
                numbered.append((int(m.group(0)), p))
        out: list[Candidate] = []
        if not numbered:
            for i in idx.streets_by_key.get(key, []):
                s = idx.streets[i]
                if (postcode is None or s.postcode == postcode) and (
                    city is None or s.city == city
                ):
                    out.append(
                        Candidate(
                            Address(s.name, None, s.postcode, s.city),
                            s.midpoint,
                            0.3,
                            "street only",
                        )
                    )
            return out[:3]
        if want is None:
            numbered.sort(key=lambda t: t[0])
            p = numbered[len(numbered) // 2][1]
            return [
                Candidate(
                    Address(p.street, None, p.postcode, p.city),
                    p.location,
                    0.3,
                    "street only",
                )
            ]
        numbered.sort(key=lambda t: (abs(t[0] - want), t[0] % 2 != want % 2, t[0]))
        seen: set[str] = set()
        for n, p in numbered:
            if p.housenumber in seen:
                continue
            seen.add(p.housenumber)
            out.append(
                Candidate(
                    Address(p.street, p.housenumber, p.postcode, p.city),
                    p.location,
                    round(max(0.05, 0.4 - 0.02 * abs(n - want)), 3),
                    f"nearby number, not {parsed.housenumber}",
                )
            )
            if len(out) >= 3:
                break
        lower = [t for t in numbered if t[0] < want and t[0] % 2 == want % 2]
        upper = [t for t in numbered if t[0] > want and t[0] % 2 == want % 2]
        if lower and upper:
            lo = max(lower, key=lambda t: t[0])
            hi = min(upper, key=lambda t: t[0])
            if hi[0] - lo[0] <= 20:
                f = (want - lo[0]) / (hi[0] - lo[0])
                loc = Location(
                    lo[1].lon + f * (hi[1].lon - lo[1].lon),
                    lo[1].lat + f * (hi[1].lat - lo[1].lat),
                )
                out.append(
                    Candidate(
                        Address(lo[1].street, parsed.housenumber, lo[1].postcode, lo[1].city),
                        loc,
                        0.2,
                        f"interpolated between {lo[1].housenumber} and {hi[1].housenumber}",
                    )
                )
        return out

    def _number_missing(
        self,
        parsed: ParsedAddress,
        streets: list[tuple[str, float, str]],
        postcode: str | None,
        city: str | None,
    ) -> GeocodeResult:
        best = max(s for _, s, _ in streets)
        top = [k for k, s, _ in streets if s >= best - 1e-9]
        candidates: list[Candidate] = []
        for key in top[:3]:
            candidates.extend(self._neighbours(key, parsed, postcode, city))
        name = self.index.spelling(top[0])
        return GeocodeResult(
            input=parsed.text,
            verdict=Verdict.AMBIGUOUS if candidates else Verdict.NOT_FOUND,
            candidates=tuple(candidates),
            reason=f"{name!r} exists but has no number {parsed.housenumber}"
            + self._area_words(postcode, city),
            parsed=parsed,
        )

    def _street_only(
        self,
        parsed: ParsedAddress,
        streets: list[tuple[str, float, str]],
        postcode: str | None,
        city: str | None,
        hint: Location | None,
        foreign: bool,
    ) -> GeocodeResult:
        if not streets:
            if foreign or (hint is not None and not self.index.contains(hint, margin_m=1000.0)):
                return self._outside(parsed, postcode, parsed.city, hint)
            return GeocodeResult(
                input=parsed.text,
                verdict=Verdict.NOT_FOUND,
                reason=f"no street like {parsed.street!r} in the map"
                + self._area_words(postcode, city),
                parsed=parsed,
            )
        best = max(s for _, s, _ in streets)
        candidates: list[Candidate] = []
        for key, sim, _ in streets:
            if sim >= best - 1e-9:
                candidates.extend(self._neighbours(key, parsed, postcode, city))
        return GeocodeResult(
            input=parsed.text,
            verdict=Verdict.AMBIGUOUS,
            candidates=tuple(candidates[:8]),
            reason="no house number: the street is known, the door is not",
            parsed=parsed,
        )

    def _outside(
        self,
        parsed: ParsedAddress,
        postcode: str | None,
        city_text: str | None,
        hint: Location | None,
    ) -> GeocodeResult:
        what = []
        if postcode is not None and postcode not in self.index.postcodes:
            what.append(f"postcode {postcode}")
        if city_text and self.match_city(city_text) is None:
            what.append(f"town {city_text!r}")
        if hint is not None and not self.index.contains(hint, margin_m=1000.0):
            what.append("the pin")
        return GeocodeResult(
            input=parsed.text,
            verdict=Verdict.OUTSIDE_AREA,
            reason=(" and ".join(what) or "the address") + " is outside this map's area",
            parsed=parsed,
        )

    def _nothing(self, parsed: ParsedAddress, hint: Location | None, why: str) -> GeocodeResult:
        if hint is not None and not self.index.contains(hint, margin_m=1000.0):
            return self._outside(parsed, parsed.postcode, parsed.city, hint)
        return GeocodeResult(
            input=parsed.text, verdict=Verdict.NOT_FOUND, reason=why, parsed=parsed
        )

    @staticmethod
    def _area_words(postcode: str | None, city: str | None) -> str:
        area = " ".join(p for p in (postcode, city) if p)
        return f" in {area}" if area else ""

    def _check_pin(self, result: GeocodeResult, hint: Location | None) -> GeocodeResult:
        """Compare a row's own coordinates with the answer and flag a far pin."""
        if hint is None:
            return result
        flags = list(result.flags)
        distance: float | None = None
        if result.location is not None:
            distance = round(haversine_m(hint, result.location), 1)
            if distance > self.pin_tolerance_m:
                flags.append("pin_mismatch")
        if not self.index.contains(hint, margin_m=1000.0) and "pin_outside_area" not in flags:
            flags.append("pin_outside_area")
        return GeocodeResult(
            input=result.input,
            verdict=result.verdict,
            address=result.address,
            location=result.location,
            confidence=result.confidence,
            candidates=result.candidates,
            changes=result.changes,
            flags=tuple(flags),
            pin_distance_m=distance,
            reason=result.reason,
            parsed=result.parsed,
        )
