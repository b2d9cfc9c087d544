"""``/tiles``: the offline basemap's vector tiles over HTTP (public: they hold OSM data only),
and the dashboard drawing street names from them in a real browser."""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import mapbox_vector_tile
import pytest
from fastapi.testclient import TestClient

from helpers.browser import chromium
from helpers.live import serve_app
from helpers.service import PASSWORD, make_org, sqlite_settings
from lastmile.app import create_app

SHOTS = Path(__file__).parents[2] / "test-artifacts" / "basemap"
VADUZ_CENTRE = (9.5215, 47.1410)  # Städtle, Vaduz


def tile_of(lon: float, lat: float, z: int) -> tuple[int, int]:
    n = 1 << z
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return x, y


@pytest.fixture(scope="module")
def tiles_client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    settings = sqlite_settings(tmp_path_factory.mktemp("tiles-data"))
    with TestClient(create_app(settings)) as client:
        yield client


def test_meta_and_a_tile_of_vaduz(tiles_client: TestClient) -> None:
    meta = tiles_client.get("/tiles/meta.json")
    assert meta.status_code == 200
    body = meta.json()
    assert body["available"] is True and body["maxzoom"] == 14
    w, s, e, n = body["bounds"]
    assert w < VADUZ_CENTRE[0] < e and s < VADUZ_CENTRE[1] < n
    x, y = tile_of(*VADUZ_CENTRE, 14)
    r = tiles_client.get(f"/tiles/14/{x}/{y}.pbf")  # no login: the tracking page needs them
    assert r.status_code == 200
    assert r.headers["content-encoding"] == "gzip"
    assert r.headers["content-type"] == "application/vnd.mapbox-vector-tile"
    layers = mapbox_vector_tile.decode(r.content)  # httpx has undone the gzip
    names = {f["properties"].get("name") for f in layers["road"]["features"]}
    assert "Städtle" in names


def test_outside_the_extract_is_empty_and_nonsense_is_refused(tiles_client: TestClient) -> None:
    x, y = tile_of(-74.0, 40.7, 14)  # New York: not in the Liechtenstein extract
    assert tiles_client.get(f"/tiles/14/{x}/{y}.pbf").status_code == 204
    assert tiles_client.get("/tiles/3/8/0.pbf").status_code == 422  # x beyond 2^3
    assert tiles_client.get("/tiles/23/0/0.pbf").status_code == 422
    assert tiles_client.get("/tiles/-1/0/0.pbf").status_code == 422
    assert tiles_client.get("/tiles/a/0/0.pbf").status_code == 422


def test_without_tiles_the_meta_says_so(tmp_path: Path) -> None:
    bare = tmp_path / "elsewhere.osm.pbf"
    bare.write_bytes(b"")
    settings = sqlite_settings(tmp_path, roads_extract=bare)
    with TestClient(create_app(settings)) as client:
        assert client.get("/tiles/meta.json").json()["available"] is False
        assert client.get("/tiles/14/0/0.pbf").status_code == 204


@pytest.mark.browser
def test_dashboard_map_shows_street_names_and_house_numbers(tiles_client: TestClient) -> None:
    make_org(tiles_client, "Basemap Co")
    with serve_app(tiles_client.app) as url, chromium() as browser:
        context = browser.new_context(viewport={"width": 1280, "height": 800}, base_url=url)
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto("/app/login")
        page.fill("input[name=email]", "dispatcher@basemap-co.example")
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url("**/app/orders**")
        # The basemap attaches itself once /tiles/meta.json has answered: wait for that.
        page.wait_for_function("() => !!(window.lastmileBasemap && window.lastmileBasemap.map)")
        page.evaluate(
            "([lon, lat]) => window.lastmileBasemap.map.setView([lat, lon], 18)", list(VADUZ_CENTRE)
        )
        names = _rendered(page, "road-name", "name")
        numbers = _rendered(page, "housenumber", "number")
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / "orders-street-zoom.png"))
        assert "Städtle" in names, names
        assert len(numbers) >= 5, numbers
        assert not errors, errors
        context.close()


def _rendered(page: Any, layer: str, field: str) -> set[str]:
    """What the map has drawn of ``layer`` once it has drawn any of it.

    Waiting for ``loaded() && areTilesLoaded()`` alone raced: right after ``setView`` the map
    can still report the previous view as loaded, before it has asked for the new tiles.
    """
    page.wait_for_function(
        "(layer) => { const l = window.lastmileBasemap && window.lastmileBasemap.layer;"
        " const m = l && l.getMaplibreMap();"
        " return !!m && m.loaded() && m.areTilesLoaded()"
        " && m.queryRenderedFeatures({layers: [layer]}).length > 0; }",
        arg=layer,
        timeout=30_000,
    )
    values: list[str] = page.evaluate(
        f"() => window.lastmileBasemap.layer.getMaplibreMap()"
        f".queryRenderedFeatures({{layers: ['{layer}']}}).map(f => f.properties['{field}'])"
    )
    return set(values)
