"""A self-contained HTML map of a plan: one file, works offline, no CDN.

Leaflet's JavaScript and CSS are inlined from the copy ``make assets`` installs from the npm
registry into ``web/static/vendor/leaflet``. No tile server is contacted unless a tile URL is
given; the routes, numbered stops and unassigned orders are drawn on a plain background.
"""

from __future__ import annotations

import json
import re
from importlib import resources
from typing import Any

from lastmile.core.errors import LastmileError

PALETTE = [
    "#1f77b4",
    "#d62728",
    "#2ca02c",
    "#9467bd",
    "#ff7f0e",
    "#17becf",
    "#8c564b",
    "#e377c2",
    "#bcbd22",
    "#393b79",
    "#637939",
    "#843c39",
    "#7b4173",
    "#3182bd",
    "#e6550d",
    "#31a354",
]


def vendor_file(*parts: str) -> str:
    """Text of a vendored front-end file, with a clear error if ``make assets`` never ran."""
    resource = resources.files("lastmile.web").joinpath("static", "vendor", *parts)
    try:
        return resource.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise LastmileError(
            f"front-end asset {'/'.join(parts)} is missing: run `make assets` (installs Leaflet "
            "from the npm registry)"
        ) from exc


def render_plan_map(
    document: dict[str, Any], geojson: dict[str, Any], *, title: str, tile_url: str | None = None
) -> str:
    """HTML for ``plan.html``: routes coloured per vehicle, numbered stops, popups, legend."""
    colours = {
        route["vehicle_id"]: PALETTE[i % len(PALETTE)] for i, route in enumerate(document["routes"])
    }
    template = (
        resources.files("lastmile.web").joinpath("templates", "plan_map.html").read_text("utf-8")
    )
    payload = {
        "geojson": geojson,
        "colours": colours,
        "routes": [
            {
                "vehicle_id": r["vehicle_id"],
                "vehicle_name": r["vehicle_name"],
                "stops": sum(1 for s in r["stops"] if s["kind"] == "order"),
                "distance_km": round(r["distance_m"] / 1000, 1),
                "hours": round(r["duration_s"] / 3600, 2),
                "cost": r["cost"],
            }
            for r in document["routes"]
        ],
        "totals": document["totals"],
        "unassigned": document["unassigned"],
        "tile_url": tile_url,
        "attribution": document.get("attribution", ""),
        "date": document["date"],
    }
    data = json.dumps(payload, ensure_ascii=False).replace("</", "<\\/")
    values = {
        "title": _escape(title),
        "leaflet_css": vendor_file("leaflet", "leaflet.css"),
        "leaflet_js": vendor_file("leaflet", "leaflet.js").replace("</script", "<\\/script"),
        "data": data,
    }
    # One pass over the template only (the JS uses ${...}, so no string.Template).
    return re.sub(r"@@(\w+)@@", lambda m: values[m.group(1)], template)


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
