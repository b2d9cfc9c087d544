"""Offline address index built from an OpenStreetMap extract (``.osm.pbf``).

Why this exists
---------------
Geocoding must work without a network and without sending customer addresses anywhere, so
we read every addressed object of the extract once, keep what the geocoder needs (street,
house number, postcode, town, one point) plus the named streets with their geometry (for
alternative names such as Swedish ``name:sv`` in Helsinki and for street-level answers) and
cache the result next to the extract. The cache records the extract's size and modification
time and a format version, so a replaced extract or a new version of this code rebuilds it.

Data is © OpenStreetMap contributors, ODbL 1.0; a shipped cache stays under the ODbL.
"""

from __future__ import annotations

import gzip
import json
import math
import os
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import osmium

from lastmile.core.errors import FieldIssue, InputError
from lastmile.core.geo.normalize import (
    clean_housenumber,
    fold,
    split_housenumbers,
    street_keys,
)
from lastmile.core.model import Location

__all__ = [
    "CACHE_VERSION",
    "AddressIndex",
    "AddressPoint",
    "ProgressCallback",
    "StreetInfo",
    "build_index",
    "cache_path_for",
    "load_index",
]

CACHE_VERSION = 6
"""Bump when the cache layout or what goes into it changes; old caches are rebuilt."""

ProgressCallback = Callable[[float, str], None]
"""``on_progress(fraction, message)`` with ``fraction`` in 0..1."""

_BYTES_PER_OBJECT = 8.5
"""Rough size of one OSM object in a PBF; only used to estimate build progress."""

_ALIAS_TAGS = (
    "name:fi",
    "name:sv",
    "name:de",
    "name:en",
    "alt_name",
    "alt_name:fi",
    "alt_name:sv",
    "old_name",
    "official_name",
    "short_name",
    "loc_name",
)
"""Other names of a street that people type: the second official language in Helsinki
(``name:sv``), an older name, a short form."""


@dataclass(frozen=True)
class AddressPoint:
    """One addressed object of the map: a building, an entrance or an address node."""

    street: str
    """``addr:street``, or ``addr:place`` for places without streets."""
    housenumber: str
    """The raw ``addr:housenumber`` (``"5-7"``, ``"20 B"``)."""
    postcode: str | None
    city: str | None
    lon: float
    lat: float

    @property
    def location(self) -> Location:
        return Location(self.lon, self.lat)


@dataclass(frozen=True)
class StreetInfo:
    """A named street: its names, where it is, and the postcode/town around it."""

    name: str
    aliases: tuple[str, ...]
    lines: tuple[tuple[tuple[float, float], ...], ...]
    """One ``(lon, lat)`` polyline per OSM way."""
    postcode: str | None
    city: str | None

    @property
    def midpoint(self) -> Location:
        """A vertex near the middle of the longest piece: a street-level answer."""
        line = max(self.lines, key=len)
        lon, lat = line[len(line) // 2]
        return Location(lon, lat)


@dataclass
class AddressIndex:
    """Everything the geocoder looks up, with lookup tables derived on construction.

    Build one with :func:`load_index` (cached) or :func:`build_index`.
    """

    addresses: list[AddressPoint]
    streets: list[StreetInfo]
    bounds: tuple[float, float, float, float]
    """``(min_lon, min_lat, max_lon, max_lat)`` of the extract (its header box when it has
    one, else of its addresses)."""
    source: str = ""
    by_street: dict[str, list[int]] = field(default_factory=dict, repr=False)
    """Street key -> indices into :attr:`addresses`."""
    by_number: dict[tuple[str, str], list[int]] = field(default_factory=dict, repr=False)
    """(street key, house-number key) -> indices into :attr:`addresses`, for every number an
    address stands for (``"5-7"`` is filed under ``5-7``, ``5`` and ``7``)."""
    street_areas: dict[str, set[tuple[str | None, str | None]]] = field(
        default_factory=dict, repr=False
    )
    """Street key -> the (postcode, town) pairs its addresses use."""
    street_names: dict[str, Counter[str]] = field(default_factory=dict, repr=False)
    """Street key -> how often each spelling of the data uses it (the most common wins)."""
    aliases: dict[str, set[str]] = field(default_factory=dict, repr=False)
    """Key of another name (``name:sv``) -> keys of the street names it stands for."""
    streets_by_key: dict[str, list[int]] = field(default_factory=dict, repr=False)
    """Street key (of names and aliases) -> indices into :attr:`streets`."""
    postcodes: dict[str, Counter[str]] = field(default_factory=dict, repr=False)
    """Postcode -> towns used with it, with counts."""
    cities: dict[str, str] = field(default_factory=dict, repr=False)
    """Folded town name -> the town as the data writes it (plus aliases of towns)."""
    city_postcodes: dict[str, set[str]] = field(default_factory=dict, repr=False)
    """Town as the data writes it -> its postcodes."""
    place_aliases: dict[str, str] = field(default_factory=dict)
    localities: set[str] = field(default_factory=set)
    """Folded names of every place (``place=*``: villages, districts, hamlets) of the
    extract: a "town" the input names that is one of these is in the area even when no
    address uses it (``Malbun``, ``Kaivopiha``)."""
    """Folded other name of a town (``Helsingfors``) -> the town as addresses write it."""

    def __post_init__(self) -> None:
        for i, point in enumerate(self.addresses):
            key = street_keys(point.street)[0]
            self.by_street.setdefault(key, []).append(i)
            for number in split_housenumbers(point.housenumber):
                self.by_number.setdefault((key, number), []).append(i)
            self.street_areas.setdefault(key, set()).add((point.postcode, point.city))
            self.street_names.setdefault(key, Counter())[point.street] += 1
            if point.postcode:
                counter = self.postcodes.setdefault(point.postcode, Counter())
                if point.city:
                    counter[point.city] += 1
            if point.city:
                self.cities.setdefault(fold(point.city), point.city)
                if point.postcode:
                    self.city_postcodes.setdefault(point.city, set()).add(point.postcode)
        for alias, city in self.place_aliases.items():
            self.cities.setdefault(alias, city)
        for i, street in enumerate(self.streets):
            main = street_keys(street.name)[0]
            self.streets_by_key.setdefault(main, []).append(i)
            for alias in street.aliases:
                for akey in street_keys(alias)[:1]:
                    if akey != main:
                        self.aliases.setdefault(akey, set()).add(main)
                        self.streets_by_key.setdefault(akey, []).append(i)

    def spelling(self, key: str) -> str:
        """How the data spells the street with this key (its most common spelling)."""
        names = self.street_names.get(key)
        if names:
            return names.most_common(1)[0][0]
        for i in self.streets_by_key.get(key, []):
            if street_keys(self.streets[i].name)[0] == key:
                return self.streets[i].name
        return key

    def contains(self, location: Location, *, margin_m: float = 0.0) -> bool:
        """Whether a point lies inside the extract's bounds (plus ``margin_m``)."""
        min_lon, min_lat, max_lon, max_lat = self.bounds
        dlat = margin_m / 111_320.0
        dlon = dlat / max(0.01, math.cos(math.radians((min_lat + max_lat) / 2)))
        return (
            min_lon - dlon <= location.lon <= max_lon + dlon
            and min_lat - dlat <= location.lat <= max_lat + dlat
        )

    @property
    def street_count(self) -> int:
        """Number of distinct street keys that carry addresses."""
        return len(self.by_street)


# --- building ---------------------------------------------------------------------------


def _ring_centroid(coords: Sequence[tuple[float, float]]) -> tuple[float, float]:
    """Area centroid of a closed ring (vertex mean when degenerate or open).

    The vertex mean drifts toward the detailed side of a building; the area centroid
    does not, which matters for the 30 m we promise.
    """
    pts = list(coords)
    if len(pts) >= 4 and pts[0] == pts[-1]:
        lon0, lat0 = pts[0]
        scale = math.cos(math.radians(lat0))
        xs = [(lon - lon0) * scale for lon, _ in pts]
        ys = [lat - lat0 for _, lat in pts]
        area = cx = cy = 0.0
        for i in range(len(pts) - 1):
            cross = xs[i] * ys[i + 1] - xs[i + 1] * ys[i]
            area += cross
            cx += (xs[i] + xs[i + 1]) * cross
            cy += (ys[i] + ys[i + 1]) * cross
        if abs(area) > 1e-14:
            return (lon0 + cx / (3 * area) / scale, lat0 + cy / (3 * area))
        pts = pts[:-1]
    lon = sum(p[0] for p in pts) / len(pts)
    lat = sum(p[1] for p in pts) / len(pts)
    return (lon, lat)


def _way_coords(way: Any) -> list[tuple[float, float]]:
    coords: list[tuple[float, float]] = []
    for node in way.nodes:
        loc = node.location
        if loc.valid():
            coords.append((round(loc.lon, 7), round(loc.lat, 7)))
    return coords


def _addr_fields(tags: Any) -> tuple[str, str, str | None, str | None] | None:
    number = tags.get("addr:housenumber")
    street = tags.get("addr:street") or tags.get("addr:place")
    if not number or not street:
        return None
    return (
        street.strip(),
        clean_housenumber(number),
        tags.get("addr:postcode"),
        tags.get("addr:city"),
    )


def _header_bounds(path: Path) -> tuple[float, float, float, float] | None:
    reader = osmium.io.Reader(str(path), osmium.osm.osm_entity_bits.NOTHING)
    try:
        box = reader.header().box()
        if not box.valid():
            return None
        return (
            float(box.bottom_left.lon),
            float(box.bottom_left.lat),
            float(box.top_right.lon),
            float(box.top_right.lat),
        )
    finally:
        reader.close()


def build_index(path: str | Path, *, on_progress: ProgressCallback | None = None) -> AddressIndex:
    """Read an extract and return its address index (no cache; see :func:`load_index`).

    Nodes and ways with ``addr:housenumber`` and ``addr:street``/``addr:place`` become
    address points (ways at their area centroid, multipolygon relations at the mean of their
    outer ways); ``highway=*`` ways with a ``name`` become streets. Progress is an estimate
    from the file size (PBF does not say how many objects it holds).
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(
            [FieldIssue(None, None, str(path), "OSM extract not found")], source="address index"
        )
    report = on_progress or (lambda _f, _m: None)
    report(0.0, f"reading {path.name}")
    try:
        return _build(path, report)
    except RuntimeError as exc:  # libosmium: not a PBF, truncated file, ...
        raise InputError(
            [FieldIssue(None, None, str(path), f"not a readable OSM extract ({exc})")],
            source="address index",
        ) from exc


def _build(path: Path, report: ProgressCallback) -> AddressIndex:

    # Pass 1: addressed multipolygon relations need their outer ways' geometry.
    relation_ways: dict[int, int] = {}
    relation_addr: list[tuple[str, str, str | None, str | None]] = []
    for rel in osmium.FileProcessor(str(path), osmium.osm.RELATION).with_filter(
        osmium.filter.KeyFilter("addr:housenumber")
    ):
        if not isinstance(rel, osmium.osm.Relation):
            continue
        fields = _addr_fields(rel.tags)
        if fields is None or rel.tags.get("type") != "multipolygon":
            continue
        for member in rel.members:
            if member.type == "w" and member.role in ("outer", ""):
                relation_ways[member.ref] = len(relation_addr)
        relation_addr.append(fields)
    relation_points: dict[int, list[tuple[float, float]]] = defaultdict(list)

    addresses: list[AddressPoint] = []
    street_lines: dict[str, list[tuple[tuple[float, float], ...]]] = defaultdict(list)
    street_aliases: dict[str, set[str]] = defaultdict(set)
    place_aliases: dict[str, str] = {}
    localities: set[str] = set()
    expected = max(1.0, path.stat().st_size / _BYTES_PER_OBJECT)
    seen = 0
    processor = osmium.FileProcessor(str(path), osmium.osm.NODE | osmium.osm.WAY)
    for obj in processor.with_locations():
        seen += 1
        if seen % 50_000 == 0:
            report(min(0.9, 0.9 * seen / expected), f"read {seen:,} objects")
        tags = obj.tags
        if not len(tags):
            continue
        if isinstance(obj, osmium.osm.Node):
            fields = _addr_fields(tags)
            if fields is not None and obj.location.valid():
                addresses.append(
                    AddressPoint(*fields, round(obj.location.lon, 7), round(obj.location.lat, 7))
                )
            if "place" in tags and "name" in tags:
                for key in ("name:fi", "name:sv", "name:de", "name:en", "alt_name"):
                    if key in tags:
                        place_aliases[fold(tags[key])] = tags["name"]
                localities.update(
                    fold(t.v) for t in tags if t.k == "name" or t.k.startswith("name:")
                )
            continue
        if not isinstance(obj, osmium.osm.Way):
            continue
        fields = _addr_fields(tags)
        in_relation = obj.id in relation_ways
        highway = "highway" in tags and "name" in tags
        if fields is None and not in_relation and not highway:
            continue
        coords = _way_coords(obj)
        if not coords:
            continue
        if fields is not None:
            lon, lat = _ring_centroid(coords)
            addresses.append(AddressPoint(*fields, round(lon, 7), round(lat, 7)))
        if in_relation:
            relation_points[relation_ways[obj.id]].append(_ring_centroid(coords))
        if highway:
            name = tags["name"].strip()
            street_lines[name].append(tuple(coords))
            for key in _ALIAS_TAGS:
                alias = tags.get(key)
                if alias:
                    for one in alias.split(";"):
                        if one.strip() and one.strip() != name:
                            street_aliases[name].add(one.strip())

    for idx, pts in relation_points.items():
        lon = sum(p[0] for p in pts) / len(pts)
        lat = sum(p[1] for p in pts) / len(pts)
        addresses.append(AddressPoint(*relation_addr[idx], round(lon, 7), round(lat, 7)))

    report(0.92, f"{len(addresses):,} addresses, {len(street_lines):,} streets")
    addresses = _fill_missing_areas(_strip_building_names(addresses, set(street_lines)))
    streets = _locate_streets(addresses, street_lines, street_aliases)
    bounds = _header_bounds(path)
    if bounds is None:
        lons = [a.lon for a in addresses] or [0.0]
        lats = [a.lat for a in addresses] or [0.0]
        bounds = (min(lons), min(lats), max(lons), max(lats))
    # Only keep town aliases whose town actually appears in addresses.
    towns = {a.city for a in addresses if a.city}
    place_aliases = {k: v for k, v in place_aliases.items() if v in towns}
    index = AddressIndex(
        addresses=addresses,
        streets=streets,
        bounds=bounds,
        source=path.name,
        place_aliases=place_aliases,
        localities=localities,
    )
    report(1.0, f"index ready: {len(addresses):,} addresses")
    return index


def _project(
    lons: npt.NDArray[np.float64], lats: npt.NDArray[np.float64], lat0: float
) -> npt.NDArray[np.float64]:
    """Local equirectangular metres: plenty for "nearest address within a few hundred m"."""
    x = np.radians(lons) * math.cos(math.radians(lat0)) * 6_371_008.8
    y = np.radians(lats) * 6_371_008.8
    return np.column_stack([x, y])


def _strip_building_names(
    addresses: list[AddressPoint], street_names: set[str]
) -> list[AddressPoint]:
    """``addr:street="Galleria Esplanad, Aleksanterinkatu"`` -> ``"Aleksanterinkatu"``.

    Some mappers put a building or courtyard name in front of the street. When the part
    after the last comma is a real street of the extract, that part is the street.
    """
    known = street_names | {a.street for a in addresses if "," not in a.street}
    out: list[AddressPoint] = []
    for a in addresses:
        if "," in a.street:
            last = a.street.rsplit(",", 1)[1].strip()
            if last in known:
                a = AddressPoint(last, a.housenumber, a.postcode, a.city, a.lon, a.lat)
        out.append(a)
    return out


def _fill_missing_areas(addresses: list[AddressPoint]) -> list[AddressPoint]:
    """Give addresses without postcode or town those of their neighbours.

    Mappers often tag only street and number. An address with no postcode/town cannot be
    checked against the town a customer wrote, and would otherwise match any town. We take
    the majority of the (up to) five nearest addresses within 300 m that have them; an
    address with no such neighbours stays as it is.
    """
    from scipy.spatial import cKDTree

    missing = [i for i, a in enumerate(addresses) if not a.postcode or not a.city]
    donors = [a for a in addresses if a.postcode and a.city]
    if not missing or not donors:
        return addresses
    lat0 = float(np.mean([a.lat for a in donors]))
    tree = cKDTree(
        _project(np.array([a.lon for a in donors]), np.array([a.lat for a in donors]), lat0)
    )
    out = list(addresses)
    for i in missing:
        a = addresses[i]
        xy = _project(np.array([a.lon]), np.array([a.lat]), lat0)[0]
        dist, idx = tree.query(xy, k=min(5, len(donors)), distance_upper_bound=300.0)
        votes: Counter[tuple[str | None, str | None]] = Counter()
        for d, j in zip(np.atleast_1d(dist), np.atleast_1d(idx), strict=True):
            if math.isfinite(float(d)):
                votes[(donors[int(j)].postcode, donors[int(j)].city)] += 1
        if not votes:
            continue
        postcode, city = votes.most_common(1)[0][0]
        out[i] = AddressPoint(
            a.street, a.housenumber, a.postcode or postcode, a.city or city, a.lon, a.lat
        )
    return out


def _locate_streets(
    addresses: list[AddressPoint],
    street_lines: dict[str, list[tuple[tuple[float, float], ...]]],
    street_aliases: dict[str, set[str]],
) -> list[StreetInfo]:
    """Give every named street the postcode and town of the addresses around it.

    A street with addresses takes the most common postcode/town of its own addresses near
    it; a street without any takes those of the nearest address (within 500 m), so that
    ``"Some Lane, Vaduz"`` can still be checked against the town.
    """
    from scipy.spatial import cKDTree

    if not street_lines:
        return []
    have = [a for a in addresses if a.postcode or a.city]
    lat0 = float(np.mean([a.lat for a in have])) if have else 0.0
    tree = None
    if have:
        tree = cKDTree(
            _project(np.array([a.lon for a in have]), np.array([a.lat for a in have]), lat0)
        )
    streets: list[StreetInfo] = []
    for name, lines in sorted(street_lines.items()):
        # A name can repeat in several towns (Landstrasse): split by town.
        by_area: dict[tuple[str | None, str | None], list[tuple[tuple[float, float], ...]]] = (
            defaultdict(list)
        )
        for line in lines:
            area: tuple[str | None, str | None] = (None, None)
            if tree is not None:
                mid = line[len(line) // 2]
                xy = _project(np.array([mid[0]]), np.array([mid[1]]), lat0)
                dist, idx = tree.query(xy[0], k=8, distance_upper_bound=500.0)
                votes: Counter[tuple[str | None, str | None]] = Counter()
                for d, i in zip(np.atleast_1d(dist), np.atleast_1d(idx), strict=True):
                    if math.isfinite(float(d)):
                        votes[(have[int(i)].postcode, have[int(i)].city)] += 1
                if votes:
                    area = votes.most_common(1)[0][0]
            by_area[area].append(line)
        for (postcode, city), group in by_area.items():
            streets.append(
                StreetInfo(
                    name=name,
                    aliases=tuple(sorted(street_aliases.get(name, ()))),
                    lines=tuple(group),
                    postcode=postcode,
                    city=city,
                )
            )
    return streets


# --- cache ------------------------------------------------------------------------------


def cache_path_for(path: str | Path) -> Path:
    """``X.osm.pbf`` -> ``X.osm.addr.json.gz`` next to the extract."""
    path = Path(path)
    name = path.name[: -len(".pbf")] if path.name.endswith(".pbf") else path.name
    return path.with_name(f"{name}.addr.json.gz")


def _fingerprint(path: Path) -> dict[str, int]:
    stat = path.stat()
    return {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns}


def _to_json(index: AddressIndex, fingerprint: dict[str, int]) -> dict[str, Any]:
    cols: dict[str, list[Any]] = {k: [] for k in ("s", "n", "p", "c", "x", "y")}
    for a in index.addresses:
        cols["s"].append(a.street)
        cols["n"].append(a.housenumber)
        cols["p"].append(a.postcode)
        cols["c"].append(a.city)
        cols["x"].append(a.lon)
        cols["y"].append(a.lat)
    return {
        "version": CACHE_VERSION,
        "source": {"name": index.source, **fingerprint},
        "bounds": list(index.bounds),
        "addresses": cols,
        "streets": [
            {
                "name": s.name,
                "aliases": list(s.aliases),
                "postcode": s.postcode,
                "city": s.city,
                "lines": [[c for pt in line for c in pt] for line in s.lines],
            }
            for s in index.streets
        ],
        "place_aliases": index.place_aliases,
        "localities": sorted(index.localities),
        "attribution": "© OpenStreetMap contributors, ODbL 1.0",
    }


def _pairs(flat: Iterable[float]) -> tuple[tuple[float, float], ...]:
    values = list(flat)
    return tuple((values[i], values[i + 1]) for i in range(0, len(values) - 1, 2))


def _from_json(data: dict[str, Any]) -> AddressIndex:
    cols = data["addresses"]
    addresses = [
        AddressPoint(s, n, p, c, x, y)
        for s, n, p, c, x, y in zip(
            cols["s"], cols["n"], cols["p"], cols["c"], cols["x"], cols["y"], strict=True
        )
    ]
    streets = [
        StreetInfo(
            name=s["name"],
            aliases=tuple(s["aliases"]),
            lines=tuple(_pairs(line) for line in s["lines"]),
            postcode=s["postcode"],
            city=s["city"],
        )
        for s in data["streets"]
    ]
    min_lon, min_lat, max_lon, max_lat = data["bounds"]
    return AddressIndex(
        addresses=addresses,
        streets=streets,
        bounds=(min_lon, min_lat, max_lon, max_lat),
        source=data["source"]["name"],
        place_aliases=dict(data.get("place_aliases", {})),
        localities=set(data.get("localities", [])),
    )


def load_index(
    path: str | Path,
    *,
    cache_path: str | Path | None = None,
    use_cache: bool = True,
    on_progress: ProgressCallback | None = None,
) -> AddressIndex:
    """The address index of an extract, from its cache when the cache is still valid.

    The cache (default :func:`cache_path_for`) is valid when its format version and the
    extract's size and modification time match; otherwise the extract is read again and the
    cache rewritten. A cache that cannot be written (read-only install) is not an error:
    the index is simply rebuilt next time.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(
            [FieldIssue(None, None, str(path), "OSM extract not found")], source="address index"
        )
    target = Path(cache_path) if cache_path is not None else cache_path_for(path)
    fingerprint = _fingerprint(path)
    report = on_progress or (lambda _f, _m: None)
    if use_cache and target.is_file():
        try:
            with gzip.open(target, "rt", encoding="utf-8") as fh:
                data = json.load(fh)
            source = data.get("source", {})
            if (
                data.get("version") == CACHE_VERSION
                and source.get("size") == fingerprint["size"]
                and source.get("mtime_ns") == fingerprint["mtime_ns"]
            ):
                index = _from_json(data)
                report(1.0, f"address index loaded from {target.name}")
                return index
            report(0.0, f"{target.name} is stale, rebuilding")
        except (OSError, ValueError, KeyError, TypeError):
            report(0.0, f"{target.name} is unreadable, rebuilding")
    index = build_index(path, on_progress=on_progress)
    if use_cache:
        tmp = target.with_name(target.name + f".{os.getpid()}.tmp")
        try:
            with gzip.open(tmp, "wt", encoding="utf-8", compresslevel=6) as fh:
                json.dump(_to_json(index, fingerprint), fh, ensure_ascii=False)
            tmp.replace(target)
        except OSError:
            tmp.unlink(missing_ok=True)
    return index
