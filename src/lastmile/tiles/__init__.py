"""The offline basemap: vector tiles cut from the organisation's own OpenStreetMap extract.

``build`` runs Debian's tilemaker with our layer definitions (``tilemaker/``) into an MBTiles
file beside the extract; ``store`` reads tiles back for ``GET /tiles/{z}/{x}/{y}.pbf``. The
browser draws them with MapLibre GL (under Leaflet), with street names and house numbers in
the browser's own fonts: no tile server, no glyph server, nothing from the internet.
"""
