"""``lastmile geocode``: validate and geocode the addresses of an orders CSV offline.

Every row gets a verdict (exact, corrected, ambiguous, not_found, outside_area) from the
offline address index of an OpenStreetMap extract; see ``docs/geocoding.md``. Addresses
never leave the machine.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from lastmile.cli.common import bundled_extract, fail, read_text, write_outputs
from lastmile.core.errors import FieldIssue, InputError, LastmileError
from lastmile.core.formats.addresses import ADDRESS_ALIASES, AddressColumns, address_line
from lastmile.core.formats.csv_out import write_csv
from lastmile.core.formats.orders_csv import ORDER_ALIASES
from lastmile.core.formats.table import match_columns
from lastmile.core.geo.geocoder import Geocoder, GeocodeResult, Verdict
from lastmile.core.geo.index import ProgressCallback, load_index
from lastmile.core.model import Location

ATTRIBUTION = "Addresses © OpenStreetMap contributors (ODbL 1.0)"

OUT_COLUMNS = (
    "verdict",
    "matched_address",
    "lon",
    "lat",
    "confidence",
    "changes",
    "flags",
)

_console = Console()
_stderr = Console(stderr=True)


@dataclass(frozen=True)
class _Columns:
    """The address columns (shared with the orders CSV) and the optional pin columns."""

    address: AddressColumns
    lon: str | None
    lat: str | None


_ALIASES = {**ADDRESS_ALIASES, "lon": ORDER_ALIASES["lon"], "lat": ORDER_ALIASES["lat"]}


def _columns(headers: Sequence[str], source: str) -> _Columns:
    matched = match_columns(headers, _ALIASES, source=source)
    cols = _Columns(
        address=AddressColumns.of(matched),
        lon=matched.field_to_column.get("lon"),
        lat=matched.field_to_column.get("lat"),
    )
    if not cols.address.any:
        raise InputError(
            [
                FieldIssue(
                    None,
                    "address",
                    None,
                    "missing address column: expected one of address, "
                    + ", ".join(ADDRESS_ALIASES["address"])
                    + " (or street with house_number, postcode, city); found "
                    + (", ".join(headers) if headers else "no header"),
                )
            ],
            source=source,
        )
    if (cols.lon is None) != (cols.lat is None):
        present = cols.lon or cols.lat
        raise InputError(
            [FieldIssue(None, present, None, "coordinates need both a lon and a lat column")],
            source=source,
        )
    return cols


def _read_rows(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    text = read_text(path)
    if not text.strip():
        raise InputError([FieldIssue(None, None, None, "the file is empty")], source=str(path))
    first = text.splitlines()[0]
    try:
        dialect: type[csv.Dialect] | csv.Dialect = csv.Sniffer().sniff(first, delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    reader = csv.DictReader(io.StringIO(text), dialect=dialect)
    headers = [h for h in (reader.fieldnames or []) if h is not None]
    rows = [{k: (v or "") for k, v in row.items() if k is not None} for row in reader]
    return headers, rows


def _hint(row: dict[str, str], cols: _Columns, n: int, issues: list[FieldIssue]) -> Location | None:
    if cols.lon is None or cols.lat is None:
        return None
    lon_text, lat_text = row.get(cols.lon, "").strip(), row.get(cols.lat, "").strip()
    if not lon_text and not lat_text:
        return None
    try:
        lon, lat = float(lon_text.replace(",", ".")), float(lat_text.replace(",", "."))
        if not (math.isfinite(lon) and math.isfinite(lat)):
            raise ValueError
        return Location(lon, lat)
    except ValueError:
        issues.append(
            FieldIssue(n, f"{cols.lon}/{cols.lat}", f"{lon_text}, {lat_text}", "not a lon/lat pair")
        )
        return None


def _result_json(n: int, result: GeocodeResult) -> dict[str, Any]:
    return {
        "row": n,
        "input": result.input,
        "verdict": result.verdict.value,
        "address": result.address.format() if result.address else None,
        "lon": result.location.lon if result.location else None,
        "lat": result.location.lat if result.location else None,
        "confidence": result.confidence,
        "candidates": [
            {
                "address": c.address.format(),
                "lon": c.location.lon,
                "lat": c.location.lat,
                "score": c.score,
                "note": c.note,
            }
            for c in result.candidates
        ],
        "changes": list(result.changes),
        "flags": list(result.flags),
        "pin_distance_m": result.pin_distance_m,
        "reason": result.reason,
    }


def _out_csv(headers: list[str], rows: list[dict[str, str]], results: list[GeocodeResult]) -> str:
    """The input CSV with the verdict columns appended (renamed if the input has them)."""
    names = {c: (f"geocoded_{c}" if c in headers else c) for c in OUT_COLUMNS}
    return write_csv(
        [*headers, *names.values()],
        (
            [
                *(row.get(h, "") for h in headers),
                result.verdict.value,
                result.address.format() if result.address else "",
                f"{result.location.lon:.7f}" if result.location else "",
                f"{result.location.lat:.7f}" if result.location else "",
                f"{result.confidence:.3f}",
                "; ".join(result.changes) if result.changes else result.reason,
                " ".join(result.flags),
            ]
            for row, result in zip(rows, results, strict=True)
        ),
    )


@contextmanager
def _progress(enabled: bool) -> Iterator[Progress]:
    with Progress(
        TextColumn("{task.description:<36}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=_stderr,
        transient=True,
        disable=not enabled,
    ) as progress:
        yield progress


def _summary(results: list[GeocodeResult], rows_shown: int = 200) -> None:
    table = Table(title="Address check", show_lines=False)
    table.add_column("row", justify="right")
    table.add_column("input")
    table.add_column("verdict")
    table.add_column("matched address")
    table.add_column("conf.", justify="right")
    table.add_column("changes / reason")
    colours = {
        Verdict.EXACT: "green",
        Verdict.CORRECTED: "cyan",
        Verdict.AMBIGUOUS: "yellow",
        Verdict.NOT_FOUND: "red",
        Verdict.OUTSIDE_AREA: "magenta",
    }
    for n, r in enumerate(results[:rows_shown], start=1):
        note = "; ".join(r.changes) if r.changes else r.reason
        if r.pin_mismatch:
            note += f" [pin {r.pin_distance_m:.0f} m away]"
        table.add_row(
            str(n),
            escape(r.input),
            f"[{colours[r.verdict]}]{r.verdict.value}[/]",
            escape(r.address.format() if r.address else ""),
            f"{r.confidence:.2f}",
            escape(note),
        )
    _console.print(table)
    if len(results) > rows_shown:
        _console.print(f"... and {len(results) - rows_shown} more rows (see --out or --json)")
    counts = Counter(r.verdict for r in results)
    line = ", ".join(f"{v.value}: {counts.get(v, 0)}" for v in Verdict)
    pins = sum(1 for r in results if r.pin_mismatch)
    _console.print(f"{len(results)} rows — {line}" + (f"; pin mismatches: {pins}" if pins else ""))
    _console.print(ATTRIBUTION)


def geocode(
    orders: Annotated[
        Path,
        typer.Argument(
            help="CSV with an address column (address, addr, street_address, full_address, "
            "or street/house_number/postcode/city) and optional lon/lat.",
            dir_okay=False,
        ),
    ],
    roads: Annotated[
        Path | None,
        typer.Option(
            "--roads",
            help="OSM extract (.osm.pbf) to look addresses up in. Default: the bundled "
            "Liechtenstein extract.",
            dir_okay=False,
        ),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            help="Write the input CSV plus verdict, matched_address, lon, lat, confidence, "
            "changes, flags.",
            dir_okay=False,
        ),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="One JSON object per row on stdout.")
    ] = False,
    cache: Annotated[
        Path | None,
        typer.Option(
            "--cache",
            help="Address index cache file. Default: next to the extract (X.osm.addr.json.gz).",
            dir_okay=False,
        ),
    ] = None,
    pin_tolerance: Annotated[
        float,
        typer.Option(
            "--pin-tolerance", help="Flag rows whose lon/lat is further than this (metres)."
        ),
    ] = 150.0,
) -> None:
    """Validate and geocode the addresses of a CSV offline; every row gets a verdict."""
    try:
        headers, rows = _read_rows(orders)
        cols = _columns(headers, str(orders))
        issues: list[FieldIssue] = []
        hints = [_hint(row, cols, n, issues) for n, row in enumerate(rows, start=1)]
        if issues:
            raise InputError(issues, source=str(orders))
        extract = roads if roads is not None else bundled_extract()
        if not extract.is_file():
            raise InputError(
                [FieldIssue(None, "--roads", str(extract), "file not found")],
                source="command line",
            )
        with _progress(True) as progress:
            task = progress.add_task("address index", total=1.0)

            def report(fraction: float, message: str) -> None:
                progress.update(task, completed=fraction, description=message)

            callback: ProgressCallback = report
            index = load_index(extract, cache_path=cache, on_progress=callback)
            geocoder = Geocoder(index, pin_tolerance_m=pin_tolerance)
            progress.update(task, completed=1.0, visible=False)
            rows_task = progress.add_task("geocoding", total=len(rows))
            results: list[GeocodeResult] = []
            for row, hint in zip(rows, hints, strict=True):
                results.append(geocoder.geocode(address_line(row, cols.address), hint=hint))
                progress.advance(rows_task)
        if out is not None:
            write_outputs({out: _out_csv(headers, rows, results)})
    except LastmileError as error:
        fail(error)

    if as_json:
        for n, result in enumerate(results, start=1):
            typer.echo(json.dumps(_result_json(n, result), ensure_ascii=False))
        _stderr.print(ATTRIBUTION)
    else:
        _summary(results)
        if out is not None:
            _console.print(f"Wrote {out}")
