"""Reading vector tiles back from an MBTiles file, for ``GET /tiles/{z}/{x}/{y}.pbf``.

MBTiles rows are keyed TMS-style (y counted from the south); web maps ask XYZ-style (y from
the north), so the row is ``2**z - 1 - y``. Tiles are stored gzip-compressed and sent as they
are, with ``Content-Encoding: gzip``.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any


@dataclass
class TileStore:
    """One MBTiles file, opened read-only once per process (one connection per thread)."""

    path: Path
    _local: threading.local = field(default_factory=threading.local, repr=False)

    def _db(self) -> sqlite3.Connection:
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, check_same_thread=False)
            self._local.db = db
        return db

    def tile(self, z: int, x: int, y: int) -> bytes | None:
        """The stored (gzip-compressed) tile, or None where the extract has nothing."""
        row = (
            self._db()
            .execute(
                "SELECT tile_data FROM tiles WHERE zoom_level = ? AND tile_column = ? AND tile_row = ?",
                (z, x, (1 << z) - 1 - y),
            )
            .fetchone()
        )
        return bytes(row[0]) if row else None

    def metadata(self) -> dict[str, Any]:
        """Zoom range, bounds and centre of the tiles, as a map needs them."""
        rows = dict(self._db().execute("SELECT name, value FROM metadata").fetchall())
        minzoom, maxzoom = int(rows.get("minzoom", 0)), int(rows.get("maxzoom", 14))
        bounds = [float(v) for v in str(rows.get("bounds", "-180,-85,180,85")).split(",")]
        layers = json.loads(rows["json"])["vector_layers"] if "json" in rows else []
        return {
            "minzoom": minzoom,
            "maxzoom": maxzoom,
            "bounds": bounds,
            "attribution": rows.get("attribution", ""),
            "layers": [layer["id"] for layer in layers],
        }


@lru_cache(maxsize=4)
def open_store(path: Path) -> TileStore:
    """The process-wide store of ``path`` (tiles never change while the server runs)."""
    return TileStore(path)
