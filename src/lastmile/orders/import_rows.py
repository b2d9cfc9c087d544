"""Reading an orders CSV into rows for the import, the invalid rows left out and reported
with the column a spreadsheet user sees (text only; ``service.import_csv`` writes)."""

from __future__ import annotations

import csv
import io
from typing import Any

from lastmile.core.errors import FieldIssue, InputError
from lastmile.core.formats.orders_csv import OrdersFile, parse_orders_csv

IMPORT_SOURCE = "orders CSV"

_FIELD_TO_CSV = {
    "external_id": "id",
    "service_s": "service_s",
    "windows": "time_window",
}


def parse_valid_rows(
    header: list[str],
    raw_rows: list[tuple[int, dict[str, str]]],
    invalid: dict[int, list[FieldIssue]],
) -> OrdersFile:
    """Parse the file without its invalid rows, collecting those rows' issues in ``invalid``.

    The parser reports every bad cell but returns nothing when any is bad; parsing again with
    the bad rows blanked (blank rows are skipped, row numbers stay) yields the good ones.
    Repeats because dropping a delivery can make the pickup that names it invalid.
    """
    while True:
        try:
            return parse_orders_csv(
                _rewrite(header, raw_rows, set(invalid)),
                require_coordinates=False,
                source=IMPORT_SOURCE,
            )
        except InputError as exc:
            whole_file = [i for i in exc.issues if i.row is None or i.row == 1]
            if whole_file:
                raise InputError(issues=whole_file, source=IMPORT_SOURCE) from None
            fresh = [i for i in exc.issues if i.row is not None and i.row not in invalid]
            if not fresh:  # cannot happen: blanked rows produce no issues
                raise
            for issue in fresh:
                assert issue.row is not None
                invalid.setdefault(issue.row, []).append(issue)


def _rewrite(header: list[str], raw_rows: list[tuple[int, dict[str, str]]], drop: set[int]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, quoting=csv.QUOTE_ALL, lineterminator="\n")
    writer.writerow(header)
    by_row = dict(raw_rows)
    last = max((n for n, _ in raw_rows), default=1)
    blank = [""] * len(header)
    for row_no in range(2, last + 1):
        cells = by_row.get(row_no)
        writer.writerow(
            blank if cells is None or row_no in drop else [cells.get(h, "") for h in header]
        )
    return out.getvalue()


def validation_issue(
    row: int, error: Any, field_to_column: dict[str, str], cells: dict[str, str]
) -> FieldIssue:
    loc = [str(p) for p in error.get("loc", ())]
    name = loc[0] if loc else None
    column: str | None = None
    if name is not None:
        canonical = _FIELD_TO_CSV.get(name, name)
        column = field_to_column.get(canonical)
        if column is None and name == "windows":
            column = field_to_column.get("window_start")
        if column is None and name == "service_s":
            column = field_to_column.get("service_min")
        if column is None and name == "demand" and len(loc) > 1:
            column = loc[1]
    message = str(error.get("msg", "is not valid")).removeprefix("Value error, ")
    if column is None and "address or coordinates" in message:
        column = field_to_column.get("address", "address")
    value = cells.get(column) if column is not None else None
    return FieldIssue(row, column or name, value, message)
