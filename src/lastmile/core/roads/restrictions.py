"""Turn restrictions (``type=restriction`` relations) built into the node-based graph.

A restriction forbids (``no_*``) or prescribes (``only_*``) the turn from one way onto
another at a *via* node. We keep the graph node-based (what the hierarchy and the snapping
work on) and honour restrictions by **splitting the via node** for each incoming segment
that is restricted: that segment's arrival direction is redirected to a copy of the node
(same coordinates), and the copy gets copies of the outgoing segments the restriction
allows, per profile. Unrestricted arrivals keep using the original node. This is exact for
restrictions via a node, costs a handful of segments per restriction, and every profile
routes on the same segments with its own speeds (0 = closed), so it holds in all of them.

Which profiles a restriction binds: ``restriction=*`` all vehicles (car, van, bicycle,
cargo bike; never walkers), minus those named in ``except=*``; ``restriction:motorcar`` /
``:motor_vehicle`` car and van, ``:goods`` van, ``:bicycle`` bicycle and cargo bike.
Restrictions via a way, with missing members or of unknown kind are skipped.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from lastmile.core.model import Profile
from lastmile.core.roads.profiles import PROFILES

Int64Array = npt.NDArray[np.int64]
Float64Array = npt.NDArray[np.float64]
Float32Array = npt.NDArray[np.float32]

VEHICLES = (Profile.CAR, Profile.VAN, Profile.BICYCLE, Profile.CARGO_BIKE)
MODE_PROFILES: Mapping[str, tuple[Profile, ...]] = {
    "motorcar": (Profile.CAR, Profile.VAN),
    "motor_vehicle": (Profile.CAR, Profile.VAN),
    "vehicle": VEHICLES,
    "goods": (Profile.VAN,),
    "bicycle": (Profile.BICYCLE, Profile.CARGO_BIKE),
}
"""``restriction:<mode>`` and ``except=<mode>`` values -> the profiles they name."""


@dataclass(frozen=True)
class TurnRestriction:
    """One relation as read: ``only`` (prescribes) or not (forbids), OSM ids of members."""

    only: bool
    from_ways: tuple[int, ...]
    via_node: int
    to_ways: tuple[int, ...]
    profiles: frozenset[Profile]


def read_restriction(
    tags: Mapping[str, str], members: list[tuple[str, int, str]]
) -> TurnRestriction | None:
    """A :class:`TurnRestriction` from a relation's tags and ``(type, ref, role)`` members."""
    if tags.get("type") != "restriction":
        return None
    profiles: set[Profile] = set()
    kind = None
    for key, value in tags.items():
        if key == "restriction":
            kind = value
            profiles.update(VEHICLES)
        elif key.startswith("restriction:") and key[len("restriction:") :] in MODE_PROFILES:
            kind = value
            profiles.update(MODE_PROFILES[key[len("restriction:") :]])
    if kind is None or not (kind.startswith("no_") or kind.startswith("only_")):
        return None
    for mode in tags.get("except", "").split(";"):
        profiles.difference_update(MODE_PROFILES.get(mode.strip(), ()))
    from_ways = tuple(ref for kind_, ref, role in members if kind_ == "w" and role == "from")
    to_ways = tuple(ref for kind_, ref, role in members if kind_ == "w" and role == "to")
    via = [ref for kind_, ref, role in members if role == "via"]
    via_nodes = [ref for kind_, ref, role in members if kind_ == "n" and role == "via"]
    if not profiles or not from_ways or not to_ways or len(via) != 1 or len(via_nodes) != 1:
        return None
    return TurnRestriction(
        kind.startswith("only_"), from_ways, via_nodes[0], to_ways, frozenset(profiles)
    )


@dataclass(frozen=True)
class SplitGraph:
    """Segments after splitting via nodes: the originals first, then the copies."""

    node_lon: Float64Array
    node_lat: Float64Array
    seg_u: Int64Array
    seg_v: Int64Array
    speeds: Float32Array
    """(segments, 2 * profiles): forward speeds, then backward speeds, m/s."""
    seg_origin: Int64Array
    """The original segment each segment copies (itself for originals)."""


def apply_restrictions(
    node_lon: Float64Array,
    node_lat: Float64Array,
    seg_u: Int64Array,
    seg_v: Int64Array,
    speeds: Float32Array,
    restrictions: list[TurnRestriction],
    way_segments: Mapping[int, tuple[int, int]],
    node_index: Mapping[int, int],
) -> SplitGraph:
    """Split the via node of every restriction (see the module docstring)."""
    p_count = len(PROFILES)
    segments_u = seg_u.tolist()
    segments_v = seg_v.tolist()

    def touching(way: int, node: int) -> list[int]:
        first, count = way_segments.get(way, (0, 0))
        return [s for s in range(first, first + count) if node in (segments_u[s], segments_v[s])]

    # (incoming segment, via node) -> profile -> allowed outgoing segments (None: all)
    allowed: dict[tuple[int, int], dict[Profile, set[int] | None]] = defaultdict(dict)
    forbidden: dict[tuple[int, int], dict[Profile, set[int]]] = defaultdict(dict)
    for restriction in restrictions:
        via = node_index.get(restriction.via_node)
        if via is None:
            continue
        incoming = [s for way in restriction.from_ways for s in touching(way, via)]
        outgoing = {s for way in restriction.to_ways for s in touching(way, via)}
        if not incoming or not outgoing:
            continue
        for s in incoming:
            for profile in restriction.profiles:
                if restriction.only:
                    current = allowed[(s, via)].get(profile)
                    allowed[(s, via)][profile] = (
                        set(outgoing) if current is None else current & outgoing
                    )
                else:
                    forbidden[(s, via)].setdefault(profile, set()).update(outgoing)

    keys = sorted(set(allowed) | set(forbidden))
    if not keys:
        return SplitGraph(node_lon, node_lat, seg_u, seg_v, speeds, np.arange(len(seg_u)))
    at_node: dict[int, list[int]] = defaultdict(list)
    via_nodes = {via for _, via in keys}
    for s, (a, b) in enumerate(zip(segments_u, segments_v, strict=True)):
        if a in via_nodes:
            at_node[a].append(s)
        if b in via_nodes and b != a:
            at_node[b].append(s)

    speeds = speeds.copy()
    new_lon: list[float] = []
    new_lat: list[float] = []
    new_u: list[int] = []
    new_v: list[int] = []
    new_speeds: list[npt.NDArray[np.float32]] = []
    new_origin: list[int] = []
    next_node = len(node_lon)
    for s, via in keys:
        rules_only = allowed.get((s, via), {})
        rules_no = forbidden.get((s, via), {})
        bound = [PROFILES.index(p) for p in PROFILES if p in rules_only or p in rules_no]
        copy = next_node
        next_node += 1
        new_lon.append(float(node_lon[via]))
        new_lat.append(float(node_lat[via]))
        # the incoming segment: its arrival at ``via`` now reaches the copy
        into_forward = segments_v[s] == via  # u -> via along the way
        row = np.zeros(2 * p_count, dtype=np.float32)
        column = np.array(bound, dtype=np.int64) + (0 if into_forward else p_count)
        row[column] = speeds[s, column]
        speeds[s, column] = 0.0
        new_u.append(copy if segments_u[s] == via else segments_u[s])
        new_v.append(copy if segments_v[s] == via else segments_v[s])
        new_speeds.append(row)
        new_origin.append(s)
        # the ways on from the copy, as the restriction allows them, per profile
        for t in at_node[via]:
            out_forward = segments_u[t] == via
            row = np.zeros(2 * p_count, dtype=np.float32)
            for p in bound:
                profile = PROFILES[p]
                only = rules_only.get(profile)
                if only is not None and t not in only:
                    continue
                if t in rules_no.get(profile, set()):
                    continue
                column_p = p if out_forward else p + p_count
                row[column_p] = speeds[t, column_p]  # (t == s: a U-turn, the other way)
            if not row.any():
                continue
            new_u.append(copy if segments_u[t] == via else segments_u[t])
            new_v.append(copy if segments_v[t] == via else segments_v[t])
            new_speeds.append(row)
            new_origin.append(t)
    return SplitGraph(
        node_lon=np.concatenate([node_lon, np.array(new_lon)]),
        node_lat=np.concatenate([node_lat, np.array(new_lat)]),
        seg_u=np.concatenate([seg_u, np.array(new_u, dtype=np.int64)]),
        seg_v=np.concatenate([seg_v, np.array(new_v, dtype=np.int64)]),
        speeds=np.concatenate([speeds, np.array(new_speeds, dtype=np.float32)]),
        seg_origin=np.concatenate([np.arange(len(seg_u)), np.array(new_origin, dtype=np.int64)]),
    )
