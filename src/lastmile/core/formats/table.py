"""Reading users' spreadsheets: header aliases, typed cells, errors that name row and column.

Real exports name their columns in many ways (``lng``, ``Longitude``, ``Order ID``). Each
format declares canonical fields with aliases; a header is matched after normalising case,
spaces, dashes and dots. Rows are numbered as a spreadsheet shows them: the header is row 1.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from lastmile.core.errors import FieldIssue, InputError
from lastmile.core.times import read_clock


def normalise_header(name: str) -> str:
    """``" Order-ID "`` -> ``"order_id"``; ``"Weight (kg)"`` -> ``"weight_kg"``."""
    text = name.strip().lstrip("\ufeff").lower()
    text = re.sub(r"[^\w]+", "_", text)
    return text.strip("_")


@dataclass
class Columns:
    """The outcome of matching a header row against a format's fields."""

    field_to_column: dict[str, str]
    unknown: list[str]
    extra: dict[str, str] = field(default_factory=dict)
    """Columns claimed by a pattern (e.g. ``capacity_*``): canonical name -> header."""


def match_columns(
    header: Sequence[str],
    aliases: Mapping[str, Sequence[str]],
    *,
    patterns: Sequence[str] = (),
    source: str,
) -> Columns:
    """Map each known field to the header that carries it; list headers nobody understood.

    ``patterns`` are regular expressions on the normalised header for open-ended families
    such as ``capacity_(\\w+)``: matching headers go to ``Columns.extra``.
    """
    lookup: dict[str, str] = {}
    for canonical, names in aliases.items():
        for name in (canonical, *names):
            lookup[normalise_header(name)] = canonical
    found: dict[str, str] = {}
    unknown: list[str] = []
    extra: dict[str, str] = {}
    issues: list[FieldIssue] = []
    for column in header:
        key = normalise_header(column)
        if not key:
            continue
        match = lookup.get(key)
        if match is not None:
            canonical = match
            if canonical in found:
                issues.append(
                    FieldIssue(
                        1,
                        column,
                        None,
                        f"means the same as column {found[canonical]!r} ({canonical}); keep one",
                    )
                )
            found[canonical] = column
            continue
        if any(re.fullmatch(p, key) for p in patterns):
            extra[key] = column
            continue
        unknown.append(column)
    if issues:
        raise InputError(issues=issues, source=source)
    return Columns(found, unknown, extra)


def decode_upload(data: bytes, *, source: str) -> str:
    """Text of an uploaded CSV: UTF-8 (with or without BOM), else Windows-1252 (Excel)."""
    not_text = InputError(
        issues=[FieldIssue(None, None, None, "the file is not text (UTF-8 or Windows-1252)")],
        source=source,
    )
    if data.count(b"\x00") * 4 > len(data):  # UTF-16 or binary
        raise not_text
    # A few NUL characters in text: the CSV reader names their row and column.
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1252")
    except UnicodeDecodeError:
        raise not_text from None


def read_rows(text: str, *, source: str) -> tuple[list[str], list[tuple[int, dict[str, str]]]]:
    """Parse CSV text (comma, semicolon or tab separated) into header and numbered rows.

    Line endings of any platform are accepted (``\r\n``, ``\n``, a lone ``\r``); a file
    the csv module cannot read is an :class:`InputError` naming the line. A quoted cell may
    not run over a line break: a quote left open by mistake would otherwise swallow every
    following row into one cell, silently (so a multi-line cell is refused too, naming the
    row it starts in).
    """
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if "\x00" in text:
        raise InputError(issues=[_nul_issue(text)], source=source)
    if not text.strip():
        raise InputError(issues=[FieldIssue(None, None, None, "the file is empty")], source=source)
    sample = text[:4096]
    try:
        dialect: type[csv.Dialect] | csv.Dialect = csv.Sniffer().sniff(sample, delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    reader = csv.reader(io.StringIO(text), dialect)
    last_line = text.rstrip("\n").count("\n") + 1
    rows: list[tuple[int, dict[str, str]]] = []
    issues: list[FieldIssue] = []

    def records() -> Iterator[tuple[int, list[str]]]:
        """Each record with the line it starts on; one spanning lines is an issue."""
        while True:
            start = reader.line_num + 1
            cells = next(reader, None)
            if cells is None:
                return
            if reader.line_num > start:
                where = (
                    "runs to the end of the file"
                    if reader.line_num >= last_line
                    else f"runs over a line break into row {start + 1}"
                )
                issues.append(
                    FieldIssue(
                        start,
                        None,
                        None,
                        f'has a quoted cell that {where}: is a closing quote (") missing?',
                    )
                )
                continue
            yield start, cells

    try:
        start = reader.line_num + 1
        header = next(reader)
        if reader.line_num > start:
            raise InputError(
                issues=[
                    FieldIssue(
                        1, None, None, "(the header) has a quoted cell that runs over a line break"
                    )
                ],
                source=source,
            )
        for line_no, cells in records():
            if not any(c.strip() for c in cells):
                continue
            if len(cells) > len(header):
                issues.append(
                    FieldIssue(
                        line_no,
                        None,
                        None,
                        f"has {len(cells)} cells but the header has {len(header)}",
                    )
                )
                continue
            cells = cells + [""] * (len(header) - len(cells))
            rows.append((line_no, dict(zip(header, (c.strip() for c in cells), strict=True))))
    except csv.Error as exc:
        raise InputError(
            issues=[FieldIssue(reader.line_num, None, None, f"is not readable as CSV: {exc}")],
            source=source,
        ) from exc
    if issues:
        raise InputError(issues=issues, source=source)
    return header, rows


def _nul_issue(text: str) -> FieldIssue:
    """Where the first NUL character is (no value may hold one; PostgreSQL cannot store it).

    A file full of them is most often UTF-16 ("Unicode text" from Excel), so say so."""
    before = text[: text.index("\x00")]
    row = before.count("\n") + 1
    first_line = text.split("\n", 1)[0].replace("\x00", "")
    delimiter = max(",;\t", key=first_line.count)
    header = next(csv.reader(io.StringIO(first_line), delimiter=delimiter), [])
    cell = before.rsplit("\n", 1)[-1].count(delimiter)  # a good guess (quoted cells aside)
    column = header[cell] if row > 1 and cell < len(header) else None
    hint = " (a UTF-16 file? save it as CSV UTF-8)" if text.count("\x00") * 3 > len(text) else ""
    return FieldIssue(row, column, None, f"contains a NUL character (\\0){hint}")


class RowReader:
    """Typed access to one row's cells; every failure is recorded with row and column."""

    def __init__(
        self, row_no: int, cells: Mapping[str, str], columns: Columns, issues: list[FieldIssue]
    ) -> None:
        self.row_no = row_no
        self.cells = cells
        self.columns = columns
        self.issues = issues

    def has(self, name: str) -> bool:
        column = self.columns.field_to_column.get(name)
        return column is not None and self.cells.get(column, "") != ""

    def raw(self, name: str) -> str:
        column = self.columns.field_to_column.get(name)
        return self.cells.get(column, "") if column is not None else ""

    def column(self, name: str) -> str:
        return self.columns.field_to_column.get(name, name)

    def fail(self, name: str, value: str | None, message: str) -> None:
        self.issues.append(FieldIssue(self.row_no, self.column(name), value, message))

    def text(self, name: str, *, required: bool = False) -> str:
        value = self.raw(name)
        if required and not value:
            self.fail(name, None, "is empty")
        return value

    def number(
        self,
        name: str,
        *,
        default: float | None = None,
        minimum: float | None = None,
        cell: tuple[str, str] | None = None,
    ) -> float | None:
        """A decimal number; accepts a decimal comma (``17,2``)."""
        value = cell[1] if cell else self.raw(name)
        label = cell[0] if cell else name
        if value == "":
            return default
        try:
            number = (
                float(value.replace(",", "."))
                if value.count(",") == 1 and "." not in value
                else float(value)
            )
        except ValueError:
            self.issues.append(
                FieldIssue(
                    self.row_no, label if cell else self.column(name), value, "is not a number"
                )
            )
            return default
        if number != number or number in (float("inf"), float("-inf")):
            self.issues.append(
                FieldIssue(
                    self.row_no,
                    label if cell else self.column(name),
                    value,
                    "is not a finite number",
                )
            )
            return default
        if minimum is not None and number < minimum:
            self.issues.append(
                FieldIssue(
                    self.row_no,
                    label if cell else self.column(name),
                    value,
                    f"must be at least {minimum:g}",
                )
            )
            return default
        return number

    def clock(self, name: str) -> int | None:
        value = self.raw(name)
        if value == "":
            return None
        try:
            return read_clock(value)
        except ValueError:
            self.fail(name, value, "is not a time of day (HH:MM)")
            return None

    def flag(self, name: str, *, default: bool) -> bool:
        value = self.raw(name).lower()
        if value == "":
            return default
        if value in TRUE_WORDS:
            return True
        if value in FALSE_WORDS:
            return False
        self.fail(name, value, "is not yes/no")
        return default

    def words(self, name: str) -> frozenset[str]:
        value = self.raw(name)
        return frozenset(w.strip().lower() for w in re.split(r"[;,|\s]+", value) if w.strip())


TRUE_WORDS = frozenset({"1", "true", "yes", "y", "ja", "x"})
FALSE_WORDS = frozenset({"0", "false", "no", "n", "nein", ""})


def parse_windows(text: str) -> Iterator[tuple[int, int]]:
    """``"08:00-12:00"`` or ``"08:00-10:00; 14:00-16:00"`` -> (start, end) seconds pairs.

    Each end is read by :func:`lastmile.core.times.read_clock`, so ``19-21``, ``9h-12h``,
    ``9:00 - 12:00``, ``9.00-12.00`` and ``9am-1pm`` are windows too.
    """
    clock = r"\d{1,2}(?:[:.h]\d{2}|h)?\s*(?:[ap]\.?m\.?)?"
    for part in re.split(rf"[;|]|,(?=\s*{clock}\s*[-\u2013])", text):
        part = part.strip()
        if not part:
            continue
        bounds = re.split(r"\s*(?:-|\u2013|to|bis)\s*", part)
        if len(bounds) != 2:
            raise ValueError(
                f"not a time window: {part!r} (write it like 9-12, 09:00-12:00 or 9h-12h)"
            )
        start, end = read_clock(bounds[0]), read_clock(bounds[1])
        if end < start:
            raise ValueError(f"time window ends before it starts: {part!r}")
        yield start, end
