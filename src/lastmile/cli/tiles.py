"""``lastmile tiles``: cut the offline basemap (vector tiles with street names) from an extract."""

import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from lastmile.tiles.build import TilesError, build_tiles, is_current, tiles_path_for
from lastmile.tiles.store import open_store

app = typer.Typer(
    help="Offline basemap: vector tiles (streets with names, house numbers, water, parks, "
    "buildings) cut from an OpenStreetMap extract with tilemaker, served by lastmile itself.",
    no_args_is_help=True,
)
console = Console()
err_console = Console(stderr=True)


@app.command("build")
def build(
    extract: Annotated[
        Path, typer.Argument(help="OpenStreetMap extract, .osm.pbf.", dir_okay=False)
    ],
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            help="The .mbtiles file to write. Default: beside the extract "
            "(NAME.osm.tiles.mbtiles), where `lastmile serve` looks for it.",
            dir_okay=False,
        ),
    ] = None,
    rebuild: Annotated[
        bool, typer.Option("--rebuild", help="Rebuild even if the tiles are current.")
    ] = False,
) -> None:
    """Cut the vector tiles of an extract (needs Debian's `tilemaker`) and print their size."""
    if not extract.is_file():
        err_console.print(f"[red]error:[/red] {extract}: no such file", highlight=False)
        raise typer.Exit(code=1)
    target = output or tiles_path_for(extract)
    if not rebuild and output is None and is_current(extract):
        console.print(f"tiles are current: {target}", highlight=False, soft_wrap=True)
        return
    started = time.perf_counter()
    try:
        with err_console.status(f"cutting tiles of {extract.name} with tilemaker…"):
            target = build_tiles(extract, output=output)
    except TilesError as exc:
        err_console.print(f"[red]error:[/red] {exc.message}", highlight=False, soft_wrap=True)
        raise typer.Exit(code=1) from exc
    meta = open_store(target).metadata()
    size_mb = target.stat().st_size / 1e6
    console.print(
        f"{target} ({size_mb:.1f} MB, zoom {meta['minzoom']}-{meta['maxzoom']}, "
        f"layers {', '.join(meta['layers'])}) built in {time.perf_counter() - started:.1f} s",
        highlight=False,
        soft_wrap=True,
    )
    console.print("Map data © OpenStreetMap contributors (ODbL 1.0)", highlight=False)
