"""The one CSV writer of every export (route sheets, KPIs, geocoded files).

A cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is read as a
formula by Excel, LibreOffice and Google Sheets: an order's address or a customer's note
could then run a formula on the dispatcher's machine ("CSV injection"). Such a cell gets a
leading apostrophe, which spreadsheets show as text and do not evaluate (OWASP's advice).
Plain numbers (``-0.12``, a longitude west of Greenwich) are left as they are: a
spreadsheet reads them as numbers, never as formulas.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable, Sequence

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: object) -> str:
    """The cell as text, neutralised if a spreadsheet would take it for a formula."""
    if value is None:
        return ""
    text = value if isinstance(value, str) else str(value)
    if not text.startswith(FORMULA_STARTS) or _is_number(text):
        return text
    return "'" + text


def _is_number(text: str) -> bool:
    try:
        return math.isfinite(float(text)) and text.strip() == text
    except ValueError:
        return False


def write_csv(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """A CSV document (comma separated, ``\\n`` line ends) with every cell made safe."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([safe_cell(h) for h in header])
    for row in rows:
        writer.writerow([safe_cell(c) for c in row])
    return out.getvalue()
