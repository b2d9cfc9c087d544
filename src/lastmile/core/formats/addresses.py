"""One address line from a spreadsheet row: the only place it is built.

Shops export addresses in one column (``Landstrasse 19, 9490 Vaduz``), in one column without
the town (with separate ``postcode``/``city`` columns), or in parts (``street``,
``house_number``, ``postcode``, ``city``). ``lastmile geocode``, ``lastmile plan`` and the
server's import all call :func:`address_line`, so the same file is geocoded the same way
everywhere (docs/csv-formats.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from lastmile.core.formats.table import Columns

ADDRESS_ALIASES: dict[str, tuple[str, ...]] = {
    "address": (
        "addr",
        "street_address",
        "full_address",
        "delivery_address",
        "address_line",
        "destination",
        "adresse",
        "anschrift",
        "lieferadresse",
    ),
    "street": ("street_name", "strasse", "straße", "road"),
    "house_number": ("housenumber", "house_no", "number", "hausnummer", "nr", "no"),
    "postcode": ("postal_code", "post_code", "zip", "zip_code", "plz", "postleitzahl"),
    "city": ("town", "ort", "municipality", "locality", "gemeinde", "stadt", "wohnort"),
}
"""Address fields and their column names, part of every format with an address."""


@dataclass(frozen=True)
class AddressColumns:
    """Which header carries each part of the address (``None`` when the file has none)."""

    address: str | None = None
    street: str | None = None
    house_number: str | None = None
    postcode: str | None = None
    city: str | None = None

    @classmethod
    def of(cls, columns: Columns) -> AddressColumns:
        """The address columns among a file's matched columns."""
        found = columns.field_to_column
        return cls(
            address=found.get("address"),
            street=found.get("street"),
            house_number=found.get("house_number"),
            postcode=found.get("postcode"),
            city=found.get("city"),
        )

    @property
    def any(self) -> bool:
        """Whether the file has an address at all (one column or the street part)."""
        return self.address is not None or self.street is not None

    @property
    def main(self) -> str:
        """The column to name in messages about the address."""
        return self.address or self.street or "address"


def address_line(cells: Mapping[str, str], columns: AddressColumns) -> str:
    """The address of one row as the geocoder reads it.

    The address column when it is filled, else street and house number; then postcode and
    town, appended when the line does not already contain them (so ``Landstrasse 19, 9490
    Vaduz`` with a ``city`` column of ``Vaduz`` stays as it is).
    """

    def cell(column: str | None) -> str:
        return " ".join(cells.get(column, "").split()) if column else ""

    line = cell(columns.address)
    if not line:
        line = " ".join(p for p in (cell(columns.street), cell(columns.house_number)) if p)
    folded = line.casefold()
    town = [p for p in (cell(columns.postcode), cell(columns.city)) if p]
    missing = [p for p in town if p.casefold() not in folded]
    if missing:
        line = ", ".join(p for p in (line, " ".join(missing)) if p)
    return line
