"""The offline basemap, so every map works without a tile server or the internet.

Two ways, best first: vector tiles cut from the extract (``lastmile tiles build``; streets
with names, house numbers, water, parks, buildings), served at ``/tiles/{z}/{x}/{y}.pbf`` to
the dashboard and to customers' tracking pages; without them, road lines of the road graph as
GeoJSON (``/app/api/basemap``), which have no names. Both are public: OpenStreetMap data
only, nothing of any organisation (a customer's tracking page needs them without a login).
"""

from __future__ import annotations

import json
import math
from functools import lru_cache
from pathlib import Path
from typing import Annotated

import numpy as np
from fastapi import APIRouter, Query
from fastapi import Path as PathParam
from fastapi.responses import JSONResponse, Response

from lastmile.common.web import AppSettings
from lastmile.config import Settings
from lastmile.core.errors import FieldIssue, InputError
from lastmile.core.formats.plan_json import OSM_ATTRIBUTION
from lastmile.core.model import Profile as RoadProfile
from lastmile.core.roads import RoadNetwork, default_extract
from lastmile.core.roads.profiles import PROFILES
from lastmile.tiles.build import tiles_path_for
from lastmile.tiles.store import open_store

router = APIRouter(include_in_schema=False)


@lru_cache(maxsize=2)
def _network(extract: Path) -> RoadNetwork:
    return RoadNetwork.load(extract)


@lru_cache(maxsize=256)
def _basemap_cells(extract: Path, key: tuple[int, int, int, int], level: int) -> str:
    """Road lines inside a bbox (snapped outwards to 0.05°, so neighbouring views share the
    cache), as GeoJSON with a ``class`` per line: main, secondary, minor.

    The road graph keeps segments and per-profile speeds, not OSM road classes, so the van's
    speed stands in for the class: >= 40 km/h main roads (always drawn), >= 30 km/h
    secondary (``level`` >= 1), the rest a van may use only when zoomed in (``level`` 2).
    """
    graph = _network(extract).graph
    w, s, e, n = (k / 20 for k in key)
    lon_u, lat_u = graph.node_lon[graph.seg_u], graph.node_lat[graph.seg_u]
    lon_v, lat_v = graph.node_lon[graph.seg_v], graph.node_lat[graph.seg_v]
    inside = (
        (np.maximum(lon_u, lon_v) >= w)
        & (np.minimum(lon_u, lon_v) <= e)
        & (np.maximum(lat_u, lat_v) >= s)
        & (np.minimum(lat_u, lat_v) <= n)
    )
    p = PROFILES.index(RoadProfile.VAN)
    speed = np.maximum(graph.speed_fwd[p], graph.speed_bwd[p]) * 3.6
    classes = [("main", speed >= 40), ("secondary", (speed >= 30) & (speed < 40))]
    classes.append(("minor", (speed > 0) & (speed < 30)))
    features = []
    for cls, mask in classes[: level + 1]:
        idx = np.flatnonzero(inside & mask)
        coords = np.stack([lon_u[idx], lat_u[idx], lon_v[idx], lat_v[idx]], axis=1).round(5)
        features.append(
            {
                "type": "Feature",
                "properties": {"class": cls},
                "geometry": {
                    "type": "MultiLineString",
                    "coordinates": [[[a, b], [c, d]] for a, b, c, d in coords.tolist()],
                },
            }
        )
    return json.dumps(
        {"type": "FeatureCollection", "attribution": OSM_ATTRIBUTION, "features": features},
        separators=(",", ":"),
    )


@router.get("/app/api/basemap")
def basemap(
    settings: AppSettings,
    bbox: Annotated[str, Query(max_length=100)],
    zoom: Annotated[float, Query(ge=0, le=22)] = 12,
) -> Response:
    """GeoJSON lines of the road network in ``bbox`` (w,s,e,n), for the offline basemap
    (public: OSM data only; at most about 1° x 1°, each 0.05° cell cached)."""
    try:
        w, s, e, n = (float(x) for x in bbox.split(","))
    except ValueError:
        raise InputError(
            issues=[FieldIssue(None, "bbox", bbox, "must be four numbers: w,s,e,n")],
            source="basemap",
        ) from None
    key = (
        math.floor(w * 20),
        math.floor(s * 20),
        math.ceil(e * 20),
        math.ceil(n * 20),
    )
    if (key[2] - key[0]) * (key[3] - key[1]) > 400:  # wider than ~1°x1°: too many lines
        empty = {"type": "FeatureCollection", "features": [], "attribution": OSM_ATTRIBUTION}
        return JSONResponse(empty)
    extract = settings.roads_extract or default_extract()
    body = _basemap_cells(extract, key, 2 if zoom >= 14 else (1 if zoom >= 11 else 0))
    return Response(
        body, media_type="application/json", headers={"Cache-Control": "public, max-age=3600"}
    )


MAX_TILE_ZOOM = 22


def tiles_file(settings: Settings) -> Path | None:
    """The vector tiles of the extract the server routes on, if they have been built."""
    path = tiles_path_for(settings.roads_extract or default_extract())
    return path if path.exists() else None


@router.get("/tiles/meta.json")
def tiles_meta(settings: AppSettings) -> JSONResponse:
    """Whether vector tiles exist, and their zoom range and bounds (public: OSM data only)."""
    path = tiles_file(settings)
    if path is None:
        return JSONResponse({"available": False, "attribution": OSM_ATTRIBUTION})
    meta = open_store(path).metadata()
    return JSONResponse(
        {**meta, "available": True, "attribution": OSM_ATTRIBUTION},
        headers={"Cache-Control": "public, max-age=300"},
    )


@router.get("/tiles/{z}/{x}/{y}.pbf")
def tile(
    settings: AppSettings,
    z: Annotated[int, PathParam(ge=0, le=MAX_TILE_ZOOM)],
    x: Annotated[int, PathParam(ge=0)],
    y: Annotated[int, PathParam(ge=0)],
) -> Response:
    """One vector tile (gzip-compressed Mapbox Vector Tile); 204 where the extract has none."""
    if x >= 1 << z or y >= 1 << z:
        raise InputError(
            issues=[FieldIssue(None, "x" if x >= 1 << z else "y", None, f"must be below 2^{z}")],
            source="tile",
        )
    path = tiles_file(settings)
    data = open_store(path).tile(z, x, y) if path is not None else None
    if data is None:
        return Response(status_code=204, headers={"Cache-Control": "public, max-age=3600"})
    return Response(
        data,
        media_type="application/vnd.mapbox-vector-tile",
        headers={"Content-Encoding": "gzip", "Cache-Control": "public, max-age=86400"},
    )
