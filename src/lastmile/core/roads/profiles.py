"""Which OSM ways a profile may use, in which direction, and how fast.

The rules are deliberately small and table-driven so that they can be read, documented
(``docs/roads.md``) and hashed into the cache key: change a speed here and every cached
graph is rebuilt on its next load.

Speeds are *travel* speeds (door-to-door averages including junctions), not speed limits:
where a way carries ``maxspeed`` we drive at :data:`MAXSPEED_FACTOR` of it, capped by the
profile's top speed. Access follows the OSM transport-mode hierarchy (``access`` <
``vehicle`` < ``motor_vehicle`` < ``motorcar``/``goods``; ``bicycle``; ``foot``): the most
specific tag that is present wins.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from lastmile.core.model import Profile

PROFILES: tuple[Profile, ...] = tuple(Profile)
"""Every profile, in the fixed order used for arrays in the cache."""

MOTOR_SPEEDS_KMH: Mapping[str, float] = {
    "motorway": 100.0,
    "motorway_link": 60.0,
    "trunk": 80.0,
    "trunk_link": 50.0,
    "primary": 60.0,
    "primary_link": 40.0,
    "secondary": 50.0,
    "secondary_link": 35.0,
    "tertiary": 40.0,
    "tertiary_link": 30.0,
    "unclassified": 35.0,
    "residential": 25.0,
    "road": 25.0,
    "living_street": 10.0,
    "service": 15.0,
}
"""Cars and vans may use these classes unless a tag forbids it (km/h, before caps)."""

MOTOR_ON_REQUEST_KMH: Mapping[str, float] = {
    "track": 10.0,
    "pedestrian": 5.0,
    "footway": 5.0,
    "path": 5.0,
    "cycleway": 5.0,
    "busway": 20.0,
}
"""Classes closed to cars by default but opened by an explicit tag such as
``motor_vehicle=delivery`` (delivery access to pedestrian zones matters for last-mile)."""

BIKE_DEFAULT_CLASSES = frozenset(
    {
        "primary",
        "primary_link",
        "secondary",
        "secondary_link",
        "tertiary",
        "tertiary_link",
        "unclassified",
        "residential",
        "road",
        "living_street",
        "service",
        "cycleway",
        "track",
        "path",
        "busway",
    }
)
"""Bicycles may ride these by default (motorways and trunk roads need ``bicycle=yes``)."""

BIKE_ON_REQUEST = frozenset({"trunk", "trunk_link", "bridleway"})
BIKE_PUSH_CLASSES = frozenset({"footway", "pedestrian", "platform", "corridor"})
"""Bicycles may be pushed here at walking pace unless ``bicycle=no``."""

BIKE_ROUGH_CLASSES = frozenset({"track", "path", "bridleway"})

WALK_CLASSES = frozenset(
    {
        "trunk",
        "trunk_link",
        "primary",
        "primary_link",
        "secondary",
        "secondary_link",
        "tertiary",
        "tertiary_link",
        "unclassified",
        "residential",
        "road",
        "living_street",
        "service",
        "track",
        "path",
        "footway",
        "pedestrian",
        "steps",
        "platform",
        "corridor",
        "elevator",
        "crossing",
        "trail",
    }
)
WALK_ON_REQUEST = frozenset({"cycleway", "bridleway", "motorway", "motorway_link"})

PROFILE_SPEEDS_KMH: Mapping[Profile, Mapping[str, float]] = {
    # cycling: plain roads / rough surfaces / pushing
    Profile.BICYCLE: {"ride": 16.0, "rough": 12.0, "push": 5.0},
    Profile.CARGO_BIKE: {"ride": 14.0, "rough": 10.0, "push": 4.0},
    Profile.WALKING: {"walk": 5.0, "steps": 3.0},
}

VAN_FACTOR = 0.9
"""Vans accelerate and corner slower than cars."""

MAXSPEED_FACTOR = 0.8
"""Average travel speed as a share of the posted limit (junctions, traffic, parking)."""

TOP_SPEED_KMH: Mapping[Profile, float] = {
    Profile.VAN: 90.0,
    Profile.CAR: 110.0,
    Profile.CARGO_BIKE: 14.0,
    Profile.BICYCLE: 16.0,
    Profile.WALKING: 5.0,
}
"""No edge is faster than this; tests check travel time >= straight line / top speed."""

ALLOWED = frozenset(
    {"yes", "permissive", "designated", "destination", "delivery", "customers", "official"}
)
DENIED = frozenset(
    {
        "no",
        "private",
        "agricultural",
        "forestry",
        "military",
        "emergency",
        "permit",
        "use_sidepath",
        "discouraged",
        "bus",
        "psv",
    }
)

MOTOR_PASSABLE_BARRIERS = frozenset(
    {
        "gate",
        "lift_gate",
        "swing_gate",
        "sliding_gate",
        "bump_gate",
        "hampshire_gate",
        "cattle_grid",
        "border_control",
        "toll_booth",
        "sally_port",
        "entrance",
        "height_restrictor",
        "kerb",
        "no",
    }
)
"""Barrier nodes a car or van passes unless an access tag on the node says otherwise;
every other barrier (bollard, block, chain, cycle_barrier, ...) stops motor traffic."""

BLOCKING_BARRIERS: Mapping[Profile, frozenset[str]] = {
    Profile.BICYCLE: frozenset(
        {"stile", "turnstile", "full-height_turnstile", "kissing_gate", "fence", "wall"}
    ),
    Profile.CARGO_BIKE: frozenset(
        {
            "stile",
            "turnstile",
            "full-height_turnstile",
            "kissing_gate",
            "fence",
            "wall",
            "cycle_barrier",
            "motorcycle_barrier",
        }
    ),
    Profile.WALKING: frozenset({"fence", "wall"}),
}
"""Barriers that stop bikes and walkers (the rest they get past: bollards, gates, ...)."""

IMPLIED_ONEWAY = frozenset({"motorway", "motorway_link"})
ROUNDABOUTS = frozenset({"roundabout", "circular"})

ZONE_SPEEDS_KMH: Mapping[str, float] = {
    "urban": 50.0,
    "rural": 80.0,
    "motorway": 120.0,
    "trunk": 100.0,
    "living_street": 20.0,
    "zone30": 30.0,
    "zone20": 20.0,
    "walk": 7.0,
}
_NUMBER = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(mph|km/h|kmh)?\s*$")

Tags = Callable[[str], str | None]
"""A tag lookup: ``tags("oneway") -> "yes" | None`` (keeps pyosmium out of the rules)."""


def parse_maxspeed(value: str | None) -> float | None:
    """``"50"``, ``"30 mph"``, ``"CH:urban"``, ``"walk"`` -> km/h; ``None`` if unknown/none."""
    if value is None:
        return None
    value = value.strip().lower()
    match = _NUMBER.match(value)
    if match:
        speed = float(match.group(1))
        if match.group(2) == "mph":
            speed *= 1.609344
        return speed if speed > 0 else None
    zone = value.split(":", 1)[-1]
    return ZONE_SPEEDS_KMH.get(zone)


def _access(tags: Tags, keys: tuple[str, ...]) -> bool | None:
    """The verdict of the most specific access key present (``None``: no key present).

    Multi-values (``"agricultural;destination"``) grant access if any part does.
    """
    for key in reversed(keys):
        value = tags(key)
        if value is None:
            continue
        parts = {p.strip() for p in value.lower().split(";")}
        if parts & ALLOWED:
            return True
        if parts & DENIED:
            return False
        # unknown values (conditional syntax, typos): look at the next less specific key
    return None


_ACCESS_KEYS: Mapping[Profile, tuple[str, ...]] = {
    Profile.VAN: ("access", "vehicle", "motor_vehicle", "motorcar", "goods"),
    Profile.CAR: ("access", "vehicle", "motor_vehicle", "motorcar"),
    Profile.CARGO_BIKE: ("access", "vehicle", "bicycle", "cargo_bike"),
    Profile.BICYCLE: ("access", "vehicle", "bicycle"),
    Profile.WALKING: ("access", "foot"),
}


@dataclass(frozen=True)
class WayRule:
    """Speeds (m/s) of one way for one profile; ``0.0`` means that direction is closed."""

    forward_ms: float
    backward_ms: float


CLOSED = WayRule(0.0, 0.0)


def _oneway(tags: Tags, highway: str, profile: Profile) -> int:
    """``1`` forward only, ``-1`` backward only, ``0`` both ways (per profile)."""
    if profile is Profile.WALKING:
        value = tags("oneway:foot")
        return 1 if value in ("yes", "true", "1") else -1 if value == "-1" else 0
    value = tags("oneway")
    if profile in (Profile.BICYCLE, Profile.CARGO_BIKE):
        bike = tags("oneway:bicycle")
        if bike is not None:
            value = bike
        elif (tags("cycleway") or "").startswith("opposite"):
            value = "no"
    if value in ("yes", "true", "1"):
        return 1
    if value in ("-1", "reverse"):
        return -1
    if value == "no":
        return 0
    implied = highway in IMPLIED_ONEWAY or tags("junction") in ROUNDABOUTS
    return 1 if implied else 0


RULE_KEYS = (
    "highway", "area", "access", "vehicle", "motor_vehicle", "motorcar", "goods", "bicycle",
    "cargo_bike", "foot", "maxspeed", "oneway", "oneway:foot", "oneway:bicycle", "cycleway",
    "junction", "motorroad",
)  # fmt: skip
"""Every tag :func:`way_rule` reads: ways equal on these get equal rules, so a parse
decides each combination once (a city has a few hundred, against 200k ways)."""


def way_rule(tags: Tags, profile: Profile) -> WayRule:
    """Where and how fast ``profile`` may travel on a way with these tags."""
    highway = tags("highway")
    if highway is None or (tags("area") == "yes" and highway not in ("pedestrian", "footway")):
        return CLOSED
    explicit = _access(tags, _ACCESS_KEYS[profile])
    if explicit is False:
        return CLOSED
    speed_kmh = _speed_kmh(tags, highway, profile, explicit is True)
    if speed_kmh is None:
        return CLOSED
    if profile in (Profile.VAN, Profile.CAR) and tags("oneway") in ("reversible", "alternating"):
        return CLOSED
    speed_ms = min(speed_kmh, TOP_SPEED_KMH[profile]) / 3.6
    direction = _oneway(tags, highway, profile)
    return WayRule(
        forward_ms=speed_ms if direction >= 0 else 0.0,
        backward_ms=speed_ms if direction <= 0 else 0.0,
    )


def way_speeds(
    tags: Mapping[str, str], known: dict[tuple[str | None, ...], list[float]]
) -> list[float]:
    """Forward speeds (m/s) of every profile in :data:`PROFILES` order, then backward ones,
    of a way with these tags; ``known`` remembers them per combination of :data:`RULE_KEYS`
    values, so a parse runs the rules once per combination."""
    key = tuple(map(tags.get, RULE_KEYS))
    row = known.get(key)
    if row is None:
        rules = [way_rule(tags.get, profile) for profile in PROFILES]
        row = known[key] = [r.forward_ms for r in rules] + [r.backward_ms for r in rules]
    return row


def _speed_kmh(tags: Tags, highway: str, profile: Profile, granted: bool) -> float | None:
    """Travel speed on this class for this profile, ``None`` if the class is closed to it."""
    if profile in (Profile.VAN, Profile.CAR):
        if highway in MOTOR_SPEEDS_KMH:
            base = MOTOR_SPEEDS_KMH[highway]
        elif granted and highway in MOTOR_ON_REQUEST_KMH:
            base = MOTOR_ON_REQUEST_KMH[highway]
        else:
            return None
        limit = parse_maxspeed(tags("maxspeed"))
        speed = limit * MAXSPEED_FACTOR if limit is not None else base
        return speed * VAN_FACTOR if profile is Profile.VAN else speed
    if profile in (Profile.BICYCLE, Profile.CARGO_BIKE):
        speeds = PROFILE_SPEEDS_KMH[profile]
        if tags("motorroad") == "yes" and not granted:
            return None
        if highway in BIKE_PUSH_CLASSES:
            return speeds["ride"] if granted else speeds["push"]
        if highway in BIKE_DEFAULT_CLASSES or (granted and highway in BIKE_ON_REQUEST):
            return speeds["rough"] if highway in BIKE_ROUGH_CLASSES else speeds["ride"]
        return None
    speeds = PROFILE_SPEEDS_KMH[Profile.WALKING]
    if tags("motorroad") == "yes" and not granted:
        return None
    if highway in WALK_CLASSES or (granted and highway in WALK_ON_REQUEST):
        return speeds["steps"] if highway == "steps" else speeds["walk"]
    return None


def node_blocks(tags: Tags, profile: Profile) -> bool:
    """Whether a barrier node stops ``profile`` (access tags on the node take precedence).

    A blocked node cuts every way through it for that profile, like a bollard that closes a
    street to cars but not to bikes.
    """
    barrier = tags("barrier")
    if barrier is None:
        return False
    explicit = _access(tags, _ACCESS_KEYS[profile])
    if explicit is not None:
        return not explicit
    if profile in (Profile.VAN, Profile.CAR):
        return barrier not in MOTOR_PASSABLE_BARRIERS
    return barrier in BLOCKING_BARRIERS[profile]


def rules_fingerprint() -> str:
    """A short hash of every table above: part of the cache key, so edits rebuild caches."""
    tables = {
        "motor": MOTOR_SPEEDS_KMH,
        "motor_on_request": MOTOR_ON_REQUEST_KMH,
        "bike_default": sorted(BIKE_DEFAULT_CLASSES),
        "bike_on_request": sorted(BIKE_ON_REQUEST),
        "bike_push": sorted(BIKE_PUSH_CLASSES),
        "bike_rough": sorted(BIKE_ROUGH_CLASSES),
        "walk": sorted(WALK_CLASSES),
        "walk_on_request": sorted(WALK_ON_REQUEST),
        "profile_speeds": {p.value: dict(s) for p, s in PROFILE_SPEEDS_KMH.items()},
        "top": {p.value: s for p, s in TOP_SPEED_KMH.items()},
        "factors": [VAN_FACTOR, MAXSPEED_FACTOR],
        "allowed": sorted(ALLOWED),
        "denied": sorted(DENIED),
        "zones": dict(ZONE_SPEEDS_KMH),
        "keys": {p.value: list(k) for p, k in _ACCESS_KEYS.items()},
        "motor_barriers": sorted(MOTOR_PASSABLE_BARRIERS),
        "blocking_barriers": {p.value: sorted(b) for p, b in BLOCKING_BARRIERS.items()},
    }
    text = json.dumps(tables, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]
