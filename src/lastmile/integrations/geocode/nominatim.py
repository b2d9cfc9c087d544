"""Geocoding with a Nominatim server (``/search``), answered in lastmile's verdicts.

Why and when
------------
The built-in offline index (``lastmile.core.geo``) is the default: nothing leaves the
machine and it knows how sure it is. Nominatim is for areas or inputs the index does not
cover, typically a self-hosted server over a larger extract. Its answers are mapped to the
same :class:`~lastmile.core.geo.geocoder.GeocodeResult` and verdicts, with the same rule:
**never guess silently**. A location is given (``exact``/``corrected``) only when exactly one
house of Nominatim's answer carries the typed house number, clearly ahead of any other, on a
street that is the typed one or within a small typo of it, in the typed postcode and town
(when those were typed). Everything else is ``ambiguous`` (with Nominatim's hits as
candidates) or ``not_found``. Nominatim cannot tell "outside the map" from "not found", so
this adapter never answers ``outside_area``.

Being a good client
-------------------
* Every answer is cached in a SQLite file (``nominatim-cache.sqlite3`` in ``cache_dir``),
  keyed by server, search parameters and the normalised query, so an address is never
  looked up twice, across runs and processes.
* Requests are spaced by a rate limiter: at most one per ``min_interval_s`` (1 s by default,
  the public service's limit, https://operations.osmfoundation.org/policies/nominatim/).
  The public ``nominatim.openstreetmap.org`` refuses a shorter interval and needs a cache; a
  self-hosted server may set ``min_interval_s=0``.
* A descriptive User-Agent names lastmile and its version (and the operator's e-mail, when
  given, is sent as ``email=`` as the policy asks for bulk users).
* Timeouts on every request; timeouts, connection failures, HTTP 429 and 5xx are retried
  with exponential back-off (honouring ``Retry-After``), then reported as
  :class:`~lastmile.integrations.geocode.base.GeocoderUnavailable` with the URL and the last
  failure. Other HTTP errors raise :class:`GeocoderError` at once.

Addresses © OpenStreetMap contributors (ODbL 1.0), whichever server answers.
"""

from __future__ import annotations

import json
import re
import sqlite3
import threading
import time
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from importlib import metadata
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

import httpx
from rapidfuzz import fuzz

from lastmile.core.geo.distance import haversine_m
from lastmile.core.geo.geocoder import Address, Candidate, GeocodeResult, Verdict
from lastmile.core.geo.normalize import (
    ParsedAddress,
    fold,
    housenumber_key,
    parse_address,
    street_keys,
)
from lastmile.core.model import Location
from lastmile.integrations.geocode.base import GeocoderError, GeocoderUnavailable

__all__ = [
    "DEFAULT_URL",
    "NominatimGeocoder",
    "NominatimStats",
    "RateLimiter",
    "ResponseCache",
    "map_results",
    "normalise_query",
]

DEFAULT_URL = "https://nominatim.openstreetmap.org"
PUBLIC_HOSTS = frozenset({"nominatim.openstreetmap.org"})
PUBLIC_MIN_INTERVAL_S = 1.0
CACHE_FILE = "nominatim-cache.sqlite3"

STREET_KEYS = (
    "road",
    "pedestrian",
    "footway",
    "path",
    "cycleway",
    "living_street",
    "square",
    "place",
    "residential",
)
"""Keys of Nominatim's ``address`` object that hold the street (``addr:street``/``place``)."""
TOWN_KEYS = ("city", "town", "municipality", "village", "hamlet", "suburb", "city_district")
"""Keys that may hold the town; the first present is the answer's town, any may match."""

STREET_SIMILARITY = 0.8
"""Below this (folded street keys, 0..1) Nominatim's street is not the typed one."""


def _user_agent() -> str:
    try:
        version = metadata.version("lastmile")
    except metadata.PackageNotFoundError:
        version = "dev"
    return (
        f"lastmile/{version} (open-source last-mile delivery planner; "
        "geocoding delivery addresses for route planning)"
    )


def normalise_query(text: str) -> str:
    """The cache key form of a query: case, Unicode form, spacing and commas normalised.

    Umlauts and accents are kept: ``Müller`` and ``Muller`` are different queries to
    Nominatim, even if they often give the same answer.
    """
    text = unicodedata.normalize("NFC", text).casefold()
    text = re.sub(r"\s*,\s*", ", ", text)
    text = re.sub(r"\s+", " ", text)
    return text.strip(" ,;.")


class RateLimiter:
    """Spaces the *starts* of requests at least ``interval_s`` apart (thread-safe).

    ``clock`` and ``sleep`` are injectable so that tests can check the spacing exactly.
    """

    def __init__(
        self,
        interval_s: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if interval_s < 0:
            raise ValueError("interval_s must be >= 0")
        self.interval_s = interval_s
        self._clock = clock
        self._sleep = sleep
        self._next: float | None = None
        self._lock = threading.Lock()

    def wait(self) -> float:
        """Block until the next request may start; return the seconds waited."""
        with self._lock:
            now = self._clock()
            waited = 0.0
            if self._next is not None and now < self._next:
                waited = self._next - now
                self._sleep(waited)
                now = max(self._clock(), self._next)
            self._next = now + self.interval_s
            return waited


class ResponseCache:
    """Nominatim answers by key, in a SQLite file (``None``: in memory, this process only)."""

    def __init__(self, directory: str | Path | None) -> None:
        if directory is None:
            target = ":memory:"
            self.path: Path | None = None
        else:
            folder = Path(directory)
            folder.mkdir(parents=True, exist_ok=True)
            self.path = folder / CACHE_FILE
            target = str(self.path)
        self._db = sqlite3.connect(target, check_same_thread=False, timeout=30)
        self._lock = threading.Lock()
        with self._lock, self._db:
            if self.path is not None:
                self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS nominatim_search ("
                " key TEXT PRIMARY KEY, query TEXT NOT NULL, response TEXT NOT NULL,"
                " fetched_at REAL NOT NULL)"
            )

    def get(self, key: str) -> list[dict[str, Any]] | None:
        with self._lock:
            row = self._db.execute(
                "SELECT response FROM nominatim_search WHERE key = ?", (key,)
            ).fetchone()
        if row is None:
            return None
        data: list[dict[str, Any]] = json.loads(row[0])
        return data

    def put(self, key: str, query: str, response: list[dict[str, Any]]) -> None:
        with self._lock, self._db:
            self._db.execute(
                "INSERT OR REPLACE INTO nominatim_search VALUES (?, ?, ?, ?)",
                (key, query, json.dumps(response, ensure_ascii=False), time.time()),
            )

    def __len__(self) -> int:
        with self._lock:
            (count,) = self._db.execute("SELECT COUNT(*) FROM nominatim_search").fetchone()
        return int(count)

    def close(self) -> None:
        with self._lock:
            self._db.close()


@dataclass
class NominatimStats:
    """What the adapter did: HTTP requests sent (retries included) and cache hits."""

    requests: int = 0
    cache_hits: int = 0
    retries: int = 0
    waited_s: float = 0.0


class NominatimGeocoder:
    """A :class:`~lastmile.integrations.geocode.base.Geocoder` backed by Nominatim's ``/search``.

    Parameters
    ----------
    url
        The server, e.g. ``http://127.0.0.1:8088`` for a self-hosted one (a path prefix such
        as ``https://host/nominatim`` is kept). Default: the public OSMF server.
    cache_dir
        Folder of the SQLite answer cache. ``None`` keeps answers in memory for this object
        only (not allowed with the public server, whose policy asks clients to cache).
    min_interval_s
        Least time between two requests. At least 1 s for the public server.
    email
        Sent as ``email=`` so the server's operator can reach you (public server policy).
    timeout_s
        Per-request timeout (connect and read).
    retries
        Extra attempts after a timeout, a connection failure, HTTP 429 or 5xx.
    backoff_s
        First back-off; doubled on each retry (and at least ``Retry-After`` when sent).
    countrycodes
        Restrict results, e.g. ``"li,ch"``.
    clean_query
        Send the address as lastmile's parser reads it (street and number, postcode and town;
        floors, flats, ``c/o`` and notes removed), which Nominatim handles better than the
        raw text. ``False`` sends the text as typed.
    pin_tolerance_m, same_place_m, margin
        As for the built-in geocoder: pin check, merging of copies of one house (building,
        entrance, shops in it), and the score gap under which two houses are ambiguous.
    transport, clock, sleep
        Injectable for tests (an ``httpx.MockTransport``, a fake clock).
    """

    def __init__(
        self,
        url: str = DEFAULT_URL,
        *,
        cache_dir: str | Path | None = None,
        min_interval_s: float = PUBLIC_MIN_INTERVAL_S,
        user_agent: str | None = None,
        email: str | None = None,
        timeout_s: float = 10.0,
        retries: int = 2,
        backoff_s: float = 1.0,
        countrycodes: str | None = None,
        clean_query: bool = True,
        pin_tolerance_m: float = 150.0,
        same_place_m: float = 60.0,
        margin: float = 0.08,
        transport: httpx.BaseTransport | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.url = url.rstrip("/")
        host = (urlsplit(self.url).hostname or "").lower()
        if host in PUBLIC_HOSTS:
            if min_interval_s < PUBLIC_MIN_INTERVAL_S:
                raise ValueError(
                    f"{host} allows at most one request per second "
                    "(https://operations.osmfoundation.org/policies/nominatim/); "
                    "use min_interval_s >= 1 or a self-hosted server"
                )
            if cache_dir is None:
                raise ValueError(f"{host} requires results to be cached: give cache_dir")
        if retries < 0 or timeout_s <= 0:
            raise ValueError("retries must be >= 0 and timeout_s > 0")
        self.email = email
        self.retries = retries
        self.backoff_s = backoff_s
        self.timeout_s = timeout_s
        self.countrycodes = countrycodes
        self.clean_query = clean_query
        self.pin_tolerance_m = pin_tolerance_m
        self.same_place_m = same_place_m
        self.margin = margin
        self.stats = NominatimStats()
        self._sleep = sleep
        self._limiter = RateLimiter(min_interval_s, clock=clock, sleep=sleep)
        self._cache = ResponseCache(cache_dir)
        self._client = httpx.Client(
            base_url=self.url,
            headers={"User-Agent": user_agent or _user_agent(), "Accept": "application/json"},
            timeout=httpx.Timeout(timeout_s),
            transport=transport,
            follow_redirects=True,
        )

    # --- lifecycle ----------------------------------------------------------------------

    def close(self) -> None:
        self._client.close()
        self._cache.close()

    def __enter__(self) -> NominatimGeocoder:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # --- public -------------------------------------------------------------------------

    def geocode(self, text: str, *, hint: Location | None = None) -> GeocodeResult:
        """Look ``text`` up and answer with a verdict; see the module docstring."""
        parsed = parse_address(text or "")
        query = self.query_for(text, parsed)
        if not query:
            return GeocodeResult(
                input=text, verdict=Verdict.NOT_FOUND, reason="empty address", parsed=parsed
            )
        results = self.search(query)
        return map_results(
            text,
            results,
            parsed=parsed,
            hint=hint,
            pin_tolerance_m=self.pin_tolerance_m,
            same_place_m=self.same_place_m,
            margin=self.margin,
        )

    def query_for(self, text: str, parsed: ParsedAddress | None = None) -> str:
        """The text sent to Nominatim for ``text`` (see ``clean_query``)."""
        if not self.clean_query:
            return text.strip()
        parsed = parsed or parse_address(text)
        if parsed.street is None:
            return text.strip()
        first = " ".join(p for p in (parsed.street, parsed.housenumber) if p)
        town = " ".join(p for p in (parsed.postcode, parsed.city) if p)
        return ", ".join(p for p in (first, town) if p)

    def search(self, query: str) -> list[dict[str, Any]]:
        """Nominatim's raw ``jsonv2`` answer for ``query``, from the cache when there."""
        params = self._params(query)
        key = self.url + "?" + "&".join(f"{k}={v}" for k, v in sorted(params.items()) if k != "q")
        key += "&q=" + normalise_query(query)
        cached = self._cache.get(key)
        if cached is not None:
            self.stats.cache_hits += 1
            return cached
        results = self._fetch(params)
        self._cache.put(key, query, results)
        return results

    # --- HTTP ---------------------------------------------------------------------------

    def _params(self, query: str) -> dict[str, str]:
        params = {"q": query, "format": "jsonv2", "addressdetails": "1", "limit": "5"}
        if self.countrycodes:
            params["countrycodes"] = self.countrycodes
        if self.email:
            params["email"] = self.email
        return params

    def _fetch(self, params: Mapping[str, str]) -> list[dict[str, Any]]:
        failure = ""
        delay = self.backoff_s
        for attempt in range(self.retries + 1):
            if attempt:
                self.stats.retries += 1
                self._sleep(delay)
                delay *= 2
            self.stats.waited_s += self._limiter.wait()
            self.stats.requests += 1
            try:
                response = self._client.get("/search", params=params)
            except httpx.TimeoutException:
                failure = f"no answer within {self.timeout_s:g} s (timeout)"
                continue
            except httpx.TransportError as exc:
                failure = f"cannot connect ({type(exc).__name__}: {exc})"
                continue
            status = response.status_code
            if status == 429 or status >= 500:
                failure = f"HTTP {status} {response.reason_phrase}".strip()
                retry_after = response.headers.get("Retry-After", "")
                if retry_after.isdigit():
                    delay = max(delay, min(float(retry_after), 60.0))
                continue
            if status != 200:
                raise GeocoderError(
                    f"Nominatim at {self.url} refused the search: HTTP {status} "
                    f"{response.reason_phrase}: {response.text[:200].strip()}"
                )
            return _results(response, self.url)
        raise GeocoderUnavailable(
            f"Nominatim at {self.url} is unavailable: {failure}, "
            f"{self.retries + 1} attempt(s). Is the server running and the URL right?"
        )


def _results(response: httpx.Response, url: str) -> list[dict[str, Any]]:
    try:
        data = response.json()
    except ValueError as exc:
        raise GeocoderError(f"Nominatim at {url} did not answer with JSON") from exc
    if isinstance(data, dict) and "error" in data:
        raise GeocoderError(f"Nominatim at {url} answered with an error: {data['error']}")
    if not isinstance(data, list) or not all(isinstance(d, dict) for d in data):
        raise GeocoderError(f"Nominatim at {url} answered with an unexpected JSON shape")
    return data


# --- mapping Nominatim's answer to a verdict ---------------------------------------------


@dataclass
class _Hit:
    address: Address
    location: Location
    towns: tuple[str, ...]
    rank: int
    score: float = 0.0
    street_similarity: float = 0.0
    postcode_agrees: bool | None = None
    town_agrees: bool | None = None
    members: list[_Hit] = field(default_factory=list)


def _first(address: Mapping[str, Any], keys: Sequence[str]) -> str | None:
    for key in keys:
        value = address.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None


def _hit(raw: Mapping[str, Any]) -> _Hit | None:
    try:
        location = Location(float(raw["lon"]), float(raw["lat"]))
    except (KeyError, TypeError, ValueError):
        return None
    details = raw.get("address")
    address: Mapping[str, Any] = details if isinstance(details, Mapping) else {}
    street = _first(address, STREET_KEYS) or str(raw.get("name") or "")
    keyed = [v.strip() for k in TOWN_KEYS if isinstance(v := address.get(k), str) and v.strip()]
    # The address object leaves out areas it considers redundant (Balzers for a house in
    # its village Mäls); display_name lists every area, so those count as towns too.
    skip = {street, address.get("house_number"), address.get("postcode"), address.get("country")}
    shown = [p.strip() for p in str(raw.get("display_name") or "").split(",") if p.strip()]
    towns = tuple(dict.fromkeys([*keyed, *(p for p in shown if p not in skip)]))
    try:
        rank = int(raw.get("place_rank", 0))
    except (TypeError, ValueError):
        rank = 0
    return _Hit(
        address=Address(
            street=street,
            housenumber=_first(address, ("house_number", "housenumber")),
            postcode=_first(address, ("postcode",)),
            city=keyed[0] if keyed else None,
        ),
        location=location,
        towns=towns,
        rank=rank,
    )


def _street_similarity(typed: str | None, found: str) -> float:
    if not typed or not found:
        return 0.0
    a, b = street_keys(typed), street_keys(found)
    if set(a) & set(b):
        return 1.0
    return max(fuzz.ratio(x, y) for x in a for y in b) / 100.0


def _town_match(typed: str | None, towns: Sequence[str]) -> str | None:
    """The town name that ``typed`` stands for, or ``None`` when no town of the hit fits.

    Exact (folded) names match; so does a double name made of the hit's areas
    (``Gamprin-Bendern`` for a house in Bendern, Gamprin), which keeps the typed spelling,
    and a part of one (``Bendern`` for ``Gamprin-Bendern``), which gives the hit's name.
    """
    if not typed:
        return None
    key = fold(typed)
    for town in towns:
        if key.replace(" ", "") == fold(town).replace(" ", ""):
            return town
    tokens = {t for t in key.split() if len(t) >= 4}
    known = {t for town in towns for t in fold(town).split()}
    if tokens and tokens <= known:
        return typed
    for town in towns:
        if tokens and tokens <= set(fold(town).split()):
            return town
    return None


def _numbers(value: str | None) -> set[str]:
    if not value:
        return set()
    return {housenumber_key(p) for p in re.split(r"[;,]", value) if p.strip()}


def _score(hit: _Hit, parsed: ParsedAddress) -> None:
    hit.street_similarity = _street_similarity(parsed.street, hit.address.street)
    hit.postcode_agrees = (
        None
        if not parsed.postcode or not hit.address.postcode
        else parsed.postcode.replace(" ", "") == hit.address.postcode.replace(" ", "")
    )
    town = _town_match(parsed.city, hit.towns)
    hit.town_agrees = None if not parsed.city else town is not None
    if town is not None and town != hit.address.city:
        hit.address = replace(hit.address, city=town)

    def part(agrees: bool | None) -> float:
        return 0.5 if agrees is None else float(agrees)

    hit.score = round(
        0.6 * hit.street_similarity + 0.2 * part(hit.postcode_agrees) + 0.2 * part(hit.town_agrees),
        3,
    )


def _places(hits: list[_Hit], same_place_m: float) -> list[_Hit]:
    """Copies of one house (building, entrance, shop inside) closer than ``same_place_m``."""
    places: list[_Hit] = []
    for hit in sorted(hits, key=lambda h: -h.score):
        for place in places:
            if haversine_m(place.location, hit.location) < same_place_m:
                place.members.append(hit)
                break
        else:
            hit.members = [hit]
            places.append(hit)
    for place in places:
        if len(place.members) > 1:
            n = len(place.members)
            place.location = Location(
                sum(m.location.lon for m in place.members) / n,
                sum(m.location.lat for m in place.members) / n,
            )
    return places


def _candidate(hit: _Hit, note: str = "") -> Candidate:
    return Candidate(hit.address, hit.location, hit.score, note)


def _same_text(a: str | None, b: str | None) -> bool:
    return " ".join((a or "").casefold().split()) == " ".join((b or "").casefold().split())


def map_results(
    text: str,
    results: Sequence[Mapping[str, Any]],
    *,
    parsed: ParsedAddress | None = None,
    hint: Location | None = None,
    pin_tolerance_m: float = 150.0,
    same_place_m: float = 60.0,
    margin: float = 0.08,
) -> GeocodeResult:
    """Turn Nominatim's ``jsonv2`` results for ``text`` into a verdict; never guess.

    Pure (no network), so the rules are unit-tested against Nominatim's documented format.
    """
    parsed = parsed or parse_address(text or "")
    flags: tuple[str, ...] = ("unit_removed",) if parsed.unit else ()
    hits = [h for h in (_hit(r) for r in results) if h is not None]
    for h in hits:
        _score(h, parsed)
    hits.sort(key=lambda h: -h.score)
    candidates = tuple(_candidate(h) for h in hits)

    def answer(verdict: Verdict, reason: str, **kw: Any) -> GeocodeResult:
        result = GeocodeResult(
            input=text,
            verdict=verdict,
            candidates=kw.pop("candidates", candidates),
            flags=flags,
            reason=reason,
            parsed=parsed,
            **kw,
        )
        return _check_pin(result, hint, pin_tolerance_m)

    if not hits:
        return answer(Verdict.NOT_FOUND, "Nominatim found nothing for this address")
    if not parsed.housenumber:
        return answer(
            Verdict.AMBIGUOUS,
            "no house number: a street or place is not a delivery address",
            confidence=0.3,
        )
    wanted = housenumber_key(parsed.housenumber)
    houses = [h for h in hits if wanted in _numbers(h.address.housenumber)]
    if not houses:
        return answer(
            Verdict.AMBIGUOUS,
            f"Nominatim has no house number {parsed.housenumber} matching this address "
            "(only other numbers, streets or places)",
            confidence=0.3,
        )
    places = _places(houses, same_place_m)
    if len(places) > 1 and places[0].score - places[1].score < margin:
        return answer(
            Verdict.AMBIGUOUS,
            f"{len(places)} addresses fit about equally well",
            candidates=tuple(_candidate(p) for p in places),
            confidence=min(0.5, places[0].score / 2),
        )
    best = places[0]
    doubts = []
    if best.street_similarity < STREET_SIMILARITY:
        doubts.append(f"the street {best.address.street!r} is not the typed {parsed.street!r}")
    if best.town_agrees is False:
        doubts.append(f"it is in {best.address.city!r}, not in {parsed.city!r}")
    if best.postcode_agrees is False:
        doubts.append(f"its postcode is {best.address.postcode}, not {parsed.postcode}")
    if doubts:
        return answer(
            Verdict.AMBIGUOUS,
            "Nominatim's only match differs: " + "; ".join(doubts),
            candidates=tuple(_candidate(p) for p in places),
            confidence=min(0.5, best.score / 2),
        )
    changes: list[str] = []
    if not _same_text(parsed.street, best.address.street):
        note = " (typo)" if best.street_similarity < 1.0 else ""
        changes.append(f"street {parsed.street!r} -> {best.address.street!r}{note}")
    if not _same_text(parsed.housenumber, best.address.housenumber):
        changes.append(f"house number {parsed.housenumber!r} -> {best.address.housenumber!r}")
    if best.address.postcode and not parsed.postcode:
        changes.append("postcode added")
    if not parsed.city and best.address.city:
        changes.append("town added")
    elif parsed.city and not any(
        _same_text(parsed.city, t) for t in (*best.towns, best.address.city)
    ):
        changes.append(f"town {parsed.city!r} -> {best.address.city!r}")
    confidence = 1.0 if not changes else max(0.55, 0.95 - 0.05 * len(changes))
    confidence = round(confidence * (1.0 if best.street_similarity == 1.0 else 0.9), 3)
    return answer(
        Verdict.CORRECTED if changes else Verdict.EXACT,
        "one address of Nominatim fits" + (" after the listed changes" if changes else ""),
        address=best.address,
        location=best.location,
        confidence=confidence,
        changes=tuple(changes),
        candidates=tuple(_candidate(p) for p in places),
    )


def _check_pin(result: GeocodeResult, hint: Location | None, tolerance_m: float) -> GeocodeResult:
    if hint is None or result.location is None:
        return result
    distance = haversine_m(hint, result.location)
    flags = result.flags + (("pin_mismatch",) if distance > tolerance_m else ())
    return replace(result, pin_distance_m=round(distance, 1), flags=flags)
