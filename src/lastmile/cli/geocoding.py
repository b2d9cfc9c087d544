"""Geocoding inside ``lastmile plan``: rows with an address but no coordinates.

Rows that carry ``lon``/``lat`` are planned where they say (never re-geocoded). Rows without
them are looked up offline in the address index of the road extract, with the same verdicts
as ``lastmile geocode`` (docs/geocoding.md). Only ``exact`` and ``corrected`` answers give a
location; every other verdict is *unresolved*: ``plan`` refuses to guess and either stops
(listing the rows) or, with ``--skip-unresolved``, leaves those orders unassigned.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from lastmile.core.errors import FieldIssue, InputError
from lastmile.core.formats.addresses import AddressColumns, address_line
from lastmile.core.formats.orders_csv import ORDER_ALIASES, OrderRow, OrdersFile
from lastmile.core.formats.table import match_columns, read_rows
from lastmile.core.geo.geocoder import Geocoder, GeocodeResult
from lastmile.core.geo.index import load_index

ATTRIBUTION = "Addresses © OpenStreetMap contributors (ODbL 1.0)"


@dataclass(frozen=True)
class GeocodedRow:
    """The geocoder's answer for one order row that had no coordinates."""

    row: int
    """Spreadsheet row number (the header is row 1), as in every other CSV message."""
    order_id: str
    result: GeocodeResult


@dataclass(frozen=True)
class GeocodedOrders:
    """The orders file with geocoded locations filled in, and what the geocoder said."""

    file: OrdersFile
    """Every row of the input; unresolved rows keep the placeholder location (0, 0)."""
    rows: tuple[GeocodedRow, ...]

    @property
    def unresolved(self) -> tuple[GeocodedRow, ...]:
        return tuple(r for r in self.rows if not r.result.verdict.resolved)

    @property
    def corrected(self) -> tuple[GeocodedRow, ...]:
        return tuple(r for r in self.rows if r.result.verdict.resolved and r.result.changes)


def addresses_to_geocode(text: str, *, source: str) -> tuple[str, dict[int, str]]:
    """The address column's header, and row number -> address text for rows without coordinates.

    A row needs geocoding when both coordinate cells are empty or the file has no
    coordinate columns at all. The line is :func:`lastmile.core.formats.addresses.address_line`'s,
    as in ``lastmile geocode`` and the server's import.
    A row with neither coordinates nor an address is an input error.
    """
    header, rows = read_rows(text, source=source)
    columns = match_columns(header, ORDER_ALIASES, source=source)
    lon = columns.field_to_column.get("lon")
    lat = columns.field_to_column.get("lat")
    address = AddressColumns.of(columns)
    wanted: dict[int, str] = {}
    issues: list[FieldIssue] = []
    for row_no, cells in rows:
        if (lon and cells.get(lon)) or (lat and cells.get(lat)):
            continue
        line = address_line(cells, address)
        if not line.strip():
            issues.append(
                FieldIssue(
                    row_no,
                    address.main,
                    None,
                    "has neither coordinates (lon, lat) nor an address to geocode",
                )
            )
            continue
        wanted[row_no] = line.strip()
    if issues:
        raise InputError(issues=issues, source=source)
    return address.main, wanted


def geocode_orders(
    parsed: OrdersFile,
    addresses: dict[int, str],
    *,
    extract: Path,
    cache: Path | None,
    console: Console,
) -> GeocodedOrders:
    """Look up ``addresses`` (row -> text) offline and put the found locations on the orders.

    Shows a progress bar for the address index (built once per extract and cached, see
    :func:`lastmile.core.geo.index.load_index`) and for the rows.
    """
    if not addresses:
        return GeocodedOrders(parsed, ())
    if not extract.is_file():
        raise InputError(
            [FieldIssue(None, "--roads", str(extract), "file not found")], source="command line"
        )
    answers: list[GeocodedRow] = []
    rows: list[OrderRow] = []
    with Progress(
        TextColumn("{task.description:<40}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as progress:
        task = progress.add_task(f"address index of {extract.name}", total=1.0)

        def report(fraction: float, message: str) -> None:
            progress.update(task, completed=fraction, description=message[:40])

        geocoder = Geocoder(load_index(extract, cache_path=cache, on_progress=report))
        progress.update(task, completed=1.0, visible=False)
        rows_task = progress.add_task("geocoding addresses", total=len(addresses))
        for item in parsed.rows:
            text = addresses.get(item.row)
            if text is None:
                rows.append(item)
                continue
            result = geocoder.geocode(text)
            answers.append(GeocodedRow(item.row, item.order.id, result))
            if result.verdict.resolved and result.location is not None:
                order = replace(item.order, location=result.location)
                item = replace(item, order=order)
            rows.append(item)
            progress.advance(rows_task)
    resolved = sum(1 for a in answers if a.result.verdict.resolved)
    console.print(
        f"Geocoded {resolved} of {len(answers)} addresses without coordinates "
        f"({extract.name}; {ATTRIBUTION})",
        highlight=False,
    )
    return GeocodedOrders(replace(parsed, rows=tuple(rows)), tuple(answers))


def _candidates(result: GeocodeResult, limit: int = 3) -> str:
    return "; ".join(c.address.format() for c in result.candidates[:limit]) or "-"


def unresolved_table(rows: Sequence[GeocodedRow]) -> Table:
    """Row, order, input address, verdict, best candidates and the reason, for a person."""
    table = Table(title=f"Addresses that could not be resolved ({len(rows)})", show_lines=False)
    for column in ("row", "order", "input address", "verdict", "best candidates", "reason"):
        table.add_column(column, justify="right" if column == "row" else "left")
    for r in rows:
        table.add_row(
            str(r.row),
            escape(r.order_id),
            escape(r.result.input),
            f"[yellow]{r.result.verdict.value}[/]",
            escape(_candidates(r.result)),
            escape(r.result.reason),
        )
    return table


def correction_lines(rows: Sequence[GeocodedRow]) -> list[str]:
    """One line per corrected address: what was typed, what it became, and what changed."""
    return [
        f"row {r.row} ({r.order_id}): {r.result.input!r} -> "
        f"{r.result.address.format() if r.result.address else ''!r} "
        f"({'; '.join(r.result.changes)})"
        for r in rows
    ]


def unresolved_issues(rows: Sequence[GeocodedRow], column: str) -> list[FieldIssue]:
    """The unresolved rows as input issues (row, column, value), like any other bad cell."""
    issues = []
    for r in rows:
        message = f"address is {r.result.verdict.value}"
        if r.result.reason:
            message += f": {r.result.reason}"
        if r.result.candidates:
            message += f"; best candidates: {_candidates(r.result)}"
        issues.append(FieldIssue(r.row, column, r.result.input, message))
    return issues


def unresolved_message(row: GeocodedRow) -> str:
    """The ``message`` of an ``address_unresolved`` entry in plan.json."""
    text = f"address {row.result.input!r} is {row.result.verdict.value}"
    if row.result.reason:
        text += f": {row.result.reason}"
    if row.result.candidates:
        text += f" (candidates: {_candidates(row.result)})"
    return text
