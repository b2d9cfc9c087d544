"""Cutting vector tiles from an extract with tilemaker (a CLI stage with a cache on disk).

Why tilemaker: it is the well-kept OSM-to-vector-tiles tool packaged by Debian (``apt-get
install tilemaker``), needs no database, and writes one MBTiles (SQLite) file that the server
can read without any other service. The layers are ours (``tilemaker/process.lua``): roads
with names, house numbers, water, green areas, buildings and places.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
import subprocess
import tempfile
from importlib import resources
from pathlib import Path

from lastmile.core.errors import LastmileError

TOOL = "tilemaker"


class TilesError(LastmileError):
    """Tiles could not be built (tilemaker missing or failing)."""

    code = "tiles_error"


def recipe_files() -> tuple[Path, Path]:
    """Our tilemaker ``config.json`` and ``process.lua``, as shipped in the package."""
    folder = Path(str(resources.files("lastmile.tiles") / "tilemaker"))
    return folder / "config.json", folder / "process.lua"


def recipe_version() -> str:
    """A short hash of the layer recipe: tiles built by another recipe are rebuilt."""
    digest = hashlib.sha256()
    for path in recipe_files():
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def tiles_path_for(extract: Path) -> Path:
    """Where the tiles of ``extract`` live: beside it, like the road and address caches."""
    name = extract.name.removesuffix(".pbf").removesuffix(".osm")
    return extract.with_name(f"{name}.osm.tiles.mbtiles")


def built_recipe(mbtiles: Path) -> str | None:
    """The recipe version recorded in an MBTiles file (None: not ours, or unreadable)."""
    try:
        with sqlite3.connect(f"file:{mbtiles}?mode=ro", uri=True) as db:
            row = db.execute("SELECT value FROM metadata WHERE name = 'lastmile_recipe'").fetchone()
    except sqlite3.Error:
        return None
    return str(row[0]) if row else None


def is_current(extract: Path) -> bool:
    """True when the tiles beside ``extract`` exist, are newer than it and of this recipe."""
    target = tiles_path_for(extract)
    return (
        target.exists()
        and target.stat().st_mtime >= extract.stat().st_mtime
        and built_recipe(target) == recipe_version()
    )


def complete_copy(extract: Path, target: Path) -> Path:
    """A copy of ``extract`` without the ways and relations that reference objects it does not
    hold.

    Why: an extract cut by a plain bounding box (``osmium extract -s simple``) keeps ways that
    cross its edge without their outside nodes, and tilemaker stops at the first missing node.
    Dropping those few border objects is what a viewer of the area expects.
    """
    import osmium  # only needed for such extracts

    node_ids: set[int] = set()
    for obj in osmium.FileProcessor(str(extract), osmium.osm.NODE):
        node_ids.add(obj.id)
    way_ids: set[int] = set()
    with osmium.SimpleWriter(str(target)) as writer:
        for obj in osmium.FileProcessor(str(extract)):
            if isinstance(obj, osmium.osm.Node):
                writer.add_node(obj)
            elif isinstance(obj, osmium.osm.Way):
                if all(n.ref in node_ids for n in obj.nodes):
                    way_ids.add(obj.id)
                    writer.add_way(obj)
            elif isinstance(obj, osmium.osm.Relation) and all(
                (m.type == "n" and m.ref in node_ids)
                or (m.type == "w" and m.ref in way_ids)
                or m.type == "r"
                for m in obj.members
            ):
                writer.add_relation(obj)
    return target


def build_tiles(extract: Path, *, output: Path | None = None, threads: int = 0) -> Path:
    """Cut the tiles of ``extract`` into an MBTiles file (written atomically) and return it.

    An extract with ways cut at its edge is retried once on a :func:`complete_copy`.
    Raises :class:`TilesError` naming what to install when tilemaker is missing, or with
    tilemaker's own last lines when it fails.
    """
    exe = shutil.which(TOOL)
    if exe is None:
        raise TilesError(
            "tilemaker is not installed: on Debian/Ubuntu run `apt-get install tilemaker`; "
            "without tiles the map shows road lines only (no street names)"
        )
    target = output or tiles_path_for(extract)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=".tiles-", suffix=".mbtiles", dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    tmp.unlink()  # tilemaker merges into an existing file; it must start from nothing
    try:
        done = _tilemaker(exe, extract, tmp, threads)
        if done.returncode != 0 and "Could not find node" in done.stderr:
            tmp.unlink(missing_ok=True)
            with tempfile.TemporaryDirectory() as work:
                copy = complete_copy(extract, Path(work) / "complete.osm.pbf")
                done = _tilemaker(exe, copy, tmp, threads)
        if done.returncode != 0 or not tmp.exists():
            tail = "\n".join((done.stderr or done.stdout).strip().splitlines()[-5:])
            raise TilesError(f"tilemaker failed on {extract.name}: {tail}")
        with sqlite3.connect(tmp) as db:
            if db.execute("SELECT count(*) FROM tiles").fetchone()[0] == 0:
                raise TilesError(
                    f"{extract.name} holds no map data to draw (is it an .osm.pbf extract?)"
                )
            db.execute(
                "INSERT OR REPLACE INTO metadata (name, value) VALUES ('lastmile_recipe', ?)",
                (recipe_version(),),
            )
        tmp.replace(target)
    finally:
        tmp.unlink(missing_ok=True)
    return target


def _tilemaker(
    exe: str, extract: Path, output: Path, threads: int
) -> subprocess.CompletedProcess[str]:
    config, process = recipe_files()
    with tempfile.TemporaryDirectory() as store:
        return subprocess.run(
                [
                    exe,
                    "--input", str(extract),
                    "--output", str(output),
                    "--config", str(config),
                    "--process", str(process),
                    "--store", store,
                    "--threads", str(threads),
                    # extracts cut by a box reference nodes outside it: draw what is inside
                    "--skip-integrity",
                ],
                capture_output=True,
                text=True,
                check=False,
            )  # fmt: skip
