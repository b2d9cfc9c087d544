// The offline basemap shared by the dashboard and the customer's tracking page: vector tiles
// cut from the organisation's own OpenStreetMap extract (`lastmile tiles build`), drawn by
// MapLibre GL under Leaflet (maplibre-gl-leaflet). No glyph server: MapLibre draws street
// names and house numbers with the browser's own fonts (no `glyphs` in the style).
// Layer names come from src/lastmile/tiles/tilemaker/process.lua.
(function () {
  "use strict";
  var FONT = ["sans-serif"];
  var ATTRIBUTION = "© OpenStreetMap contributors";

  function roadWidth(main, secondary, minor) {
    return ["interpolate", ["exponential", 1.6], ["zoom"],
      10, ["match", ["get", "class"], "main", main[0], "secondary", secondary[0], minor[0]],
      18, ["match", ["get", "class"], "main", main[1], "secondary", secondary[1], minor[1]]];
  }

  function style(meta) {
    var tiles = window.location.origin + "/tiles/{z}/{x}/{y}.pbf";
    var source = { type: "vector", tiles: [tiles], minzoom: meta.minzoom, maxzoom: meta.maxzoom,
      bounds: meta.bounds, attribution: ATTRIBUTION };
    var road = function (id, filter, extra) {
      return Object.assign({ id: id, type: "line", source: "osm", "source-layer": "road",
        filter: filter, layout: { "line-cap": "round", "line-join": "round" } }, extra);
    };
    var carriageway = ["match", ["get", "class"], ["main", "secondary", "minor", "service"], true, false];
    return {
      version: 8,
      sources: { osm: source },
      layers: [
        { id: "background", type: "background", paint: { "background-color": "#f3f1ec" } },
        { id: "landcover", type: "fill", source: "osm", "source-layer": "landcover",
          paint: { "fill-color": ["match", ["get", "class"], "wood", "#cfe0c0", "park", "#d9ebcb", "#e3eed8"] } },
        { id: "water", type: "fill", source: "osm", "source-layer": "water", paint: { "fill-color": "#aad3df" } },
        { id: "waterway", type: "line", source: "osm", "source-layer": "waterway",
          paint: { "line-color": "#aad3df", "line-width": ["match", ["get", "class"], "river", 3, 1.2] } },
        { id: "building", type: "fill", source: "osm", "source-layer": "building", minzoom: 14,
          paint: { "fill-color": "#e2ddd5", "fill-outline-color": "#cfc8bd" } },
        road("path", ["==", ["get", "class"], "path"], { minzoom: 14,
          paint: { "line-color": "#c9b9a6", "line-width": 1, "line-dasharray": [2, 1.5] } }),
        road("road-casing", carriageway, {
          paint: { "line-color": "#c6bfb3", "line-width": roadWidth([2.6, 20], [1.8, 16], [1, 12]) } }),
        road("road", carriageway, {
          paint: { "line-color": ["match", ["get", "class"], "main", "#fcd6a4", "secondary", "#fff7c2", "#ffffff"],
            "line-width": roadWidth([1.8, 17], [1.2, 13], [0.5, 9.5]) } }),
        { id: "place", type: "symbol", source: "osm", "source-layer": "place", maxzoom: 15,
          layout: { "text-field": ["get", "name"], "text-font": FONT, "text-size": 13 },
          paint: { "text-color": "#444", "text-halo-color": "#fff", "text-halo-width": 1.5 } },
        { id: "road-name", type: "symbol", source: "osm", "source-layer": "road", minzoom: 14,
          filter: ["has", "name"],
          layout: { "symbol-placement": "line", "text-field": ["get", "name"], "text-font": FONT,
            "text-size": ["interpolate", ["linear"], ["zoom"], 14, 10, 18, 13] },
          paint: { "text-color": "#3d3a35", "text-halo-color": "#ffffff", "text-halo-width": 1.5 } },
        { id: "housenumber", type: "symbol", source: "osm", "source-layer": "housenumber", minzoom: 17,
          layout: { "text-field": ["get", "number"], "text-font": FONT, "text-size": 10 },
          paint: { "text-color": "#6b655c", "text-halo-color": "#f3f1ec", "text-halo-width": 1 } },
      ],
    };
  }

  // The fallback when this server has no vector tiles: the road lines of the road graph (no
  // names), fetched for the view, so a map is never an empty grey box.
  function lines(map) {
    window.lastmileBasemap.map = map;
    if (map.attributionControl) map.attributionControl.addAttribution(ATTRIBUTION);
    var roads = L.geoJSON(null, {
      interactive: false,
      style: function (f) {
        return {
          main: { color: "#a8a293", weight: 3, opacity: 1 },
          secondary: { color: "#c4bfb3", weight: 1.8, opacity: 1 },
          minor: { color: "#d9d5cc", weight: 1, opacity: 1 },
        }[f.properties.class];
      },
    }).addTo(map);
    var loaded = null;
    function refresh() {
      var b = map.getBounds().pad(0.2);
      var zoom = map.getZoom();
      var key = [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()].map(function (x) { return x.toFixed(2); }).join(",") +
        "|" + (zoom >= 14 ? 2 : zoom >= 11 ? 1 : 0);
      if (loaded === key) return;
      var url = "/app/api/basemap?bbox=" + [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()].join(",") + "&zoom=" + zoom;
      fetch(url, { credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (data) {
          if (!data) return;
          roads.clearLayers(); roads.addData(data); roads.bringToBack();
          loaded = key;
          window.lastmileBasemap.lines = roads;
        })
        .catch(function (err) { console.warn("basemap", err); });
    }
    map.on("moveend", refresh);
    map.whenReady(function () { setTimeout(refresh, 0); });
    return roads;
  }

  // Adds the vector basemap under a Leaflet map; resolves to the MapLibre layer, or to null
  // when this server has no tiles, after drawing the road lines instead.
  function add(map) {
    if (!window.maplibregl || !window.L || !L.maplibreGL) { lines(map); return Promise.resolve(null); }
    var worker = document.querySelector('script[data-maplibre-worker]');
    if (worker) maplibregl.setWorkerUrl(worker.dataset.maplibreWorker);
    return fetch("/tiles/meta.json", { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : { available: false }; })
      .then(function (meta) {
        if (!meta.available) { lines(map); return null; }
        var layer = L.maplibreGL({ style: style(meta), attribution: ATTRIBUTION, interactive: false });
        layer.addTo(map);
        window.lastmileBasemap.layer = layer;
        window.lastmileBasemap.map = map;
        return layer;
      })
      .catch(function (err) { console.warn("basemap", err); lines(map); return null; });
  }

  window.lastmileBasemap = { style: style, add: add, layer: null, map: null, lines: null };
})();
